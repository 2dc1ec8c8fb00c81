"""Gemma3 text (transformers' Gemma3TextModel), the decoder behind EmbeddingGemma, written to be read.

EmbeddingGemma is Gemma3's stack turned into an encoder: attention is bidirectional
(`use_bidirectional_attention`), the token vectors are mean-pooled, and two Dense projections
follow (loading/sentence_transformers.py). Next to Qwen3 (reference/qwen3.py), whose attention it
shares, a layer differs in four ways:

    x = embed_tokens[ids] * sqrt(H)         the word vectors scaled up to the residual's size
    x = x + RMSNorm(attention(RMSNorm(x)))  "sandwich" norms: each block's output normalised too
    x = x + RMSNorm(GeGLU(RMSNorm(x)))      the gate through GELU's tanh form, not SiLU
    every RMSNorm scales by 1 + weight      (reference/rms_norm.py)

and layers alternate: five of every six attend within a sliding window of nearby tokens, with
rotary base rope_local_base_freq (10,000), the sixth attends to the whole text with base
rope_theta (1,000,000). Scores are scaled by query_pre_attn_scalar^-1/2 rather than D^-1/2.

Legend: B texts, T tokens (right-padded), H hidden size, D head size (256), L layers.
"""

from __future__ import annotations

import numpy as np

from ..loading.decoder_config import DecoderConfig
from .gated_feed_forward import gated_feed_forward
from .grouped_query_attention import attention_mask_4d
from .qwen3 import self_attention
from .rms_norm import rms_norm
from .rotary import rotary_cos_sin


def embed(input_ids: np.ndarray, embed_tokens: dict, hidden_size: int) -> np.ndarray:  # [B, T] -> [B, T, H]
    """Gemma3TextScaledWordEmbedding: the word vectors times sqrt(H), the factor rounded to the
    weights' dtype first, as transformers does."""
    weight = embed_tokens["weight"]
    return weight[input_ids] * np.asarray(np.sqrt(hidden_size), dtype=weight.dtype)


def decoder_layer(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, mask: np.ndarray, params: dict,
                  config: DecoderConfig) -> np.ndarray:  # [B, T, H] -> [B, T, H]
    """Gemma3DecoderLayer: attention and GeGLU, each normalised before and after, added to the residual."""
    eps = config.rms_norm_eps
    h = rms_norm(x, **params["input_layernorm"], eps=eps, offset=1.0)
    h = self_attention(h, cos, sin, mask, **params["self_attn"], config=config, eps=eps)
    x = x + rms_norm(h, **params["post_attention_layernorm"], eps=eps, offset=1.0)
    h = rms_norm(x, **params["pre_feedforward_layernorm"], eps=eps, offset=1.0)
    h = gated_feed_forward(h, **params["mlp"], activation=config.hidden_act)
    return x + rms_norm(h, **params["post_feedforward_layernorm"], eps=eps, offset=1.0)


def gemma3(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: DecoderConfig,
           types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] mask -> L+1 x [B, T, H]
    """Gemma3TextModel on a right-padded batch: the scaled word vectors, then every layer's output,
    the last one after the final norm (transformers' output_hidden_states)."""
    if types is not None:
        raise ValueError("Gemma3 has no token types (segments): a pair is one text, joined by its template")
    dtype = params["norm"]["weight"].dtype
    x = embed(input_ids, params["embed_tokens"], config.hidden_size)
    positions = np.broadcast_to(np.arange(input_ids.shape[1]), input_ids.shape)
    hidden_states = [x]
    for i, layer in enumerate(params["layers"]):
        cos, sin = rotary_cos_sin(positions, config.head_dim, config.rope_base(i), dtype)
        mask = attention_mask_4d(attention_mask, config.causal, config.window(i))
        hidden_states.append(decoder_layer(hidden_states[-1], cos, sin, mask, layer, config))
    hidden_states[-1] = rms_norm(hidden_states[-1], **params["norm"], eps=config.rms_norm_eps, offset=1.0)
    return hidden_states
