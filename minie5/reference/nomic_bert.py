"""NomicBERT (Nussbaum et al. 2024, "Nomic Embed"), as transformers' NomicBertModel computes it:
the encoder of nomic-embed-text-v1/v1.5. BERT's post-LN layer with three changes from decoders:

    positions     rotary (reference/rotary.py, base rope_theta = 1000) on queries and keys in
                  every layer, instead of a learned table added at the input: the embeddings are
                  word + token type only, LayerNorm-ed
    feed-forward  SwiGLU (reference/gated_feed_forward.py): down(silu(gate(x)) * up(x))
    linear layers without biases (the LayerNorms keep theirs)

nomic-embed-text-v1.5 was trained with Matryoshka representation learning: its first 768, 512,
256, 128 or 64 dimensions each embed on their own (encode's truncate_dim keeps them, normalising
after), and its texts carry task prefixes ("search_query: ", "search_document: ") that its
config_sentence_transformers.json declares as prompts.

Legend as reference/__init__.py: B batch, T tokens, H hidden, N heads, D head size, F intermediate.
"""

import numpy as np

from ..loading.encoder_configs import NomicBertConfig
from .attention import attention_probs, merge_heads, split_heads
from .embeddings import token_type_ids
from .gated_feed_forward import gated_feed_forward
from .layer_norm import layer_norm
from .linear import linear
from .rotary import apply_rotary, rotary_cos_sin


def embeddings(input_ids: np.ndarray, types: np.ndarray, word_embeddings: dict, token_type_embeddings: dict,
               LayerNorm: dict, eps: float) -> np.ndarray:  # [B, T] ids -> [B, T, H]
    """NomicBertEmbeddings: word + token type, LayerNorm-ed; no position vector."""
    x = word_embeddings["weight"][input_ids] + token_type_embeddings["weight"][types]
    return layer_norm(x, **LayerNorm, eps=eps)


def self_attention(x: np.ndarray, attention_mask: np.ndarray, q_proj: dict, k_proj: dict, v_proj: dict,
                   o_proj: dict, config: NomicBertConfig) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """NomicBertAttention: q, k, v; rotary on q and k (positions 0..T-1); BERT's attention; o_proj."""
    B, T, _ = x.shape
    N = config.num_attention_heads
    q, k, v = (split_heads(linear(x, **p), N) for p in (q_proj, k_proj, v_proj))  # [B, N, T, D]
    cos, sin = rotary_cos_sin(np.broadcast_to(np.arange(T), (B, T)), config.head_size, config.rope_theta,
                              dtype=x.dtype)  # [B, T, D]
    q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    return linear(merge_heads(attention_probs(q, k, attention_mask) @ v), **o_proj)


def layer(x: np.ndarray, attention_mask: np.ndarray, params: dict,
          config: NomicBertConfig) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """NomicBertLayer: attention, + x, LayerNorm; SwiGLU, + x, LayerNorm (post-LN, as BERT)."""
    eps = config.layer_norm_eps
    x = layer_norm(x + self_attention(x, attention_mask, **params["self_attn"], config=config),
                   **params["post_attention_layernorm"], eps=eps)
    return layer_norm(x + gated_feed_forward(x, **params["mlp"], activation=config.hidden_act),
                      **params["post_mlp_layernorm"], eps=eps)


def nomic_bert(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: NomicBertConfig,
               types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] -> L+1 x [B, T, H]
    """NomicBertModel: the embeddings' output and every layer's."""
    types = token_type_ids(input_ids) if types is None else types
    hidden_states = [embeddings(input_ids, types, **params["embeddings"], eps=config.layer_norm_eps)]
    for params_i in params["layers"]:
        hidden_states.append(layer(hidden_states[-1], attention_mask, params_i, config))
    return hidden_states
