"""Qwen3 (transformers' Qwen3Model), the decoder behind Qwen3-Embedding, written to be read.

A decoder-only language model used as an encoder: the same stack of layers that predicts the next
token, run once over the text, its last token's final state taken as the embedding
(reference/last_token_pool.py). Next to BERT (reference/encoder.py) each layer is "pre-norm":

    x = x + attention(RMSNorm(x))       grouped-query, causal, rotary positions, RMSNorm on q and k
    x = x + SwiGLU(RMSNorm(x))          gated feed-forward, no biases anywhere
    ...
    out = RMSNorm(x)                    one final norm after the last layer

Normalising each block's input rather than its output leaves the residual path x -> x + ... a
plain sum from the first layer to the last, which is what lets these stacks train 28 or more
layers deep. Positions enter only through the rotation of queries and keys (reference/rotary.py),
so there is no position table. The causal mask is the language model's: token t sees tokens
0..t only.

Legend: B texts, T tokens (right-padded), H hidden size, N query heads, Nkv key/value heads,
D head size (not H / N: 128 for every Qwen3 size), F feed-forward size, L layers.
"""

from __future__ import annotations

import numpy as np

from ..loading.decoder_config import DecoderConfig
from .gated_feed_forward import gated_feed_forward
from .grouped_query_attention import attention_mask_4d, grouped_query_attention
from .linear import linear
from .rms_norm import rms_norm
from .rotary import apply_rotary, rotary_cos_sin


def split_heads(x: np.ndarray, head_dim: int) -> np.ndarray:  # [B, T, n * D] -> [B, n, T, D]
    B, T, _ = x.shape
    return x.reshape(B, T, -1, head_dim).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:  # [B, N, T, D] -> [B, T, N * D]
    B, N, T, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, N * D)


def self_attention(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, mask: np.ndarray, q_proj: dict, k_proj: dict,
                   v_proj: dict, o_proj: dict, q_norm: dict, k_norm: dict, config: DecoderConfig,
                   eps: float) -> np.ndarray:  # [B, T, H], [B, T, D] x 2, [B, 1, T, T] -> [B, T, H]
    """Qwen3Attention (and Gemma3Attention): project, RMSNorm each head's query and key (which
    keeps the scores' scale in check without a LayerNorm on x), turn them by their positions,
    attend with key/value heads shared by groups of query heads, project back."""
    D, offset = config.head_dim, config.norm_offset
    q = rms_norm(split_heads(linear(x, **q_proj), D), **q_norm, eps=eps, offset=offset)  # [B, N, T, D]
    k = rms_norm(split_heads(linear(x, **k_proj), D), **k_norm, eps=eps, offset=offset)  # [B, Nkv, T, D]
    v = split_heads(linear(x, **v_proj), D)  # [B, Nkv, T, D]
    q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    context = grouped_query_attention(q, k, v, mask, config.scaling)  # [B, N, T, D]
    return linear(merge_heads(context), **o_proj)


def decoder_layer(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, mask: np.ndarray, params: dict,
                  config: DecoderConfig) -> np.ndarray:  # [B, T, H] -> [B, T, H]
    """Qwen3DecoderLayer: pre-norm attention and pre-norm SwiGLU, each added to the residual."""
    eps = config.rms_norm_eps
    h = rms_norm(x, **params["input_layernorm"], eps=eps)
    x = x + self_attention(h, cos, sin, mask, **params["self_attn"], config=config, eps=eps)
    h = rms_norm(x, **params["post_attention_layernorm"], eps=eps)
    return x + gated_feed_forward(h, **params["mlp"], activation=config.hidden_act)


def qwen3(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: DecoderConfig,
          types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] mask -> L+1 x [B, T, H]
    """Qwen3Model on a right-padded batch: the word vectors, then every layer's output, the last one
    after the final norm (as transformers' output_hidden_states returns them; the last is
    last_hidden_state). `types` is refused: these models have no segments."""
    if types is not None:
        raise ValueError("Qwen3 has no token types (segments): a pair is one text, joined by its template")
    dtype = params["norm"]["weight"].dtype
    x = params["embed_tokens"]["weight"][input_ids]  # [B, T, H]: no position vectors, no norm
    positions = np.broadcast_to(np.arange(input_ids.shape[1]), input_ids.shape)
    hidden_states = [x]
    for i, layer in enumerate(params["layers"]):
        cos, sin = rotary_cos_sin(positions, config.head_dim, config.rope_base(i), dtype)
        mask = attention_mask_4d(attention_mask, config.causal, config.window(i))
        hidden_states.append(decoder_layer(hidden_states[-1], cos, sin, mask, layer, config))
    hidden_states[-1] = rms_norm(hidden_states[-1], **params["norm"], eps=config.rms_norm_eps)
    return hidden_states
