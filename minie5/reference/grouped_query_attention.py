"""Grouped-query attention (Ainslie et al. 2023, "GQA"), with the masks decoder models use: causal,
bidirectional, and a sliding window, as transformers' eager_attention_forward and masking_utils
compute them (Qwen3, Gemma3).

Multi-head attention gives every head its own keys and values. GQA lets a group of G query heads
share one key/value head: N query heads, N / G key/value heads. Keys and values are what a
generating model caches per token, so this divides that cache by G at almost no cost in quality
(GQA paper, section 4). For an encoder it only means fewer key and value channels to compute;
each query head h reads key/value head h // G.

The mask says which key (column) each query (row) may see:
    padding         never a padded token
    causal          only itself and tokens before it (a decoder's training objective)
    bidirectional   every token of the text (an encoder; EmbeddingGemma)
    sliding window  only tokens fewer than W positions away (behind it, if causal): Gemma3's
                    local layers, which keep attention's cost linear in the text's length

Legend: B texts, T tokens, N query heads, Nkv key/value heads, G = N / Nkv, D head size.
"""

from __future__ import annotations

import numpy as np


def repeat_kv(x: np.ndarray, groups: int) -> np.ndarray:  # [B, Nkv, T, D] -> [B, Nkv * G, T, D]
    """Each key/value head repeated for the G query heads of its group (transformers' repeat_kv):
    query head h then lines up with key/value head h // G."""
    return np.repeat(x, groups, axis=1)


def attention_mask_4d(attention_mask: np.ndarray, causal: bool,
                      sliding_window: int | None = None) -> np.ndarray:  # [B, T] -> [B, 1, T, T] bool
    """Which key each query may attend to, from the padding mask and the layer's kind. Distances are
    counted in the padded row (as transformers' masks do), which is each text's own position
    count under right padding."""
    T = attention_mask.shape[1]
    q = np.arange(T)[:, None]  # [T, 1] query index
    k = np.arange(T)[None, :]  # [1, T] key index
    allowed = np.ones((T, T), dtype=bool)
    if causal:
        allowed &= k <= q
    if sliding_window is not None:
        # transformers' sliding_window_overlay (causal: q - W < k) and Gemma3's bidirectional window
        # (|q - k| < W): both "fewer than W positions away".
        allowed &= np.abs(q - k) < sliding_window
    return allowed[None, None] & (attention_mask[:, None, None, :] > 0)


def grouped_query_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray,
                            scaling: float) -> np.ndarray:  # [B,N,T,D], [B,Nkv,T,D] x 2, [B,1,T,T] -> [B,N,T,D]
    """softmax(q k^T * scaling, masked) v, each query head reading its group's key/value head.
    `scaling` is head_dim^-0.5 for Qwen3, query_pre_attn_scalar^-0.5 for Gemma3. A query that may
    see no key at all (a padding token under left padding) gets zeros, where torch would give NaN
    or an average; no real token ever reads it."""
    groups = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, groups), repeat_kv(v, groups)
    scores = (q @ k.transpose(0, 1, 3, 2)) * scaling  # [B, N, T, T]
    scores = np.where(mask, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0))  # 0 where masked
    total = e.sum(axis=-1, keepdims=True)
    probs = e / np.where(total > 0, total, 1)
    return probs @ v
