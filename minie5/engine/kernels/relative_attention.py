"""Self-attention with a bias added to every score by how far apart the two tokens are: MPNet's
relative position buckets (reference/mpnet.py), on packed texts.

The scores, softmax and weighted values are kernels.self_attention's own steps (the same tiles);
the one difference is the bias added between the scores and the softmax. The bias depends only on
the distance j - i, so the caller builds one table for the batch's longest text and every text
reads its top-left corner: its tokens sit at positions 0..T-1 as in a right-padded batch.
"""

from __future__ import annotations

from numba import njit, prange

from .attention import _attention_context, _attention_scores_t, _softmax_columns
from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def self_attention_relative(qkv_t, bias, offsets, num_heads, position_bias_t, out):  # [3H, M] -> out [M, H]
    """Twin of reference.mpnet.self_attention before its output projection: for every text and
    head, softmax(q k^T / sqrt(D) + position_bias) v. `position_bias_t[head, j, i]` is the bias of
    key j for query i (transposed, as the scores are kept: see kernels.self_attention)."""
    H = out.shape[1]
    D = H // num_heads
    n_texts = offsets.shape[0] - 1
    for task in prange(n_texts * num_heads):
        text, head = task // num_heads, task % num_heads
        start, end = offsets[text], offsets[text + 1]
        scores_t = _attention_scores_t(qkv_t, bias, start, end, head * D, H + head * D, D)
        for j in range(end - start):
            for i in range(end - start):
                scores_t[j, i] += position_bias_t[head, j, i]
        inverse_totals = _softmax_columns(scores_t)
        _attention_context(scores_t, inverse_totals, qkv_t, bias, start, 2 * H + head * D, head * D, D, out)
