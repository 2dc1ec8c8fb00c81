"""Multi-head self-attention on packed texts: per text and head, at the text's true length."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .intrinsics import prefetch_row
from .linear import LANES, TILE_GROUPS, TILE_ROWS, multiply_tile
from .math import CACHE, FASTMATH, exp_row

AHEAD = 16  # tokens ahead whose channels the copies ask for


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def self_attention(qkv_t, bias, offsets, num_heads, out):  # [3H, M] -> out [M, H]
    """Twin of reference.self_attention on packed texts: for every text and head,
    softmax(q k^T / sqrt(D)) v at the text's true length, in the reference's three steps:
    scores (attention_probs' product), softmax, weighted values (attention_context).

    The input is read transposed, a row per channel and a column per token: qkv_t = [Wq; Wk; Wv] x^T,
    the transposed view of the product's [M, 3H] output (biases not yet added). Each head's
    queries, keys and values are copied out of it, and the scores are kept transposed,
    scores_t[j, i] for key j and query i, so that both products are linear.multiply_tile's (a
    register tile, a row's values broadcast against 16 columns at a time) on row-major matrices,
    and the softmax runs down each column with every inner loop along contiguous queries:

        scores_t = keys [T, D] @ queries_t [D, T']          T' = T rounded up to a multiple of 16
        context_t = values_t [D, T] @ weights_t [T, T']     the softmax's exps, by column
        out[token, head's channels] = context_t^T / column sums + value bias

    The columns past T are padding (zero queries): computed, never read back.

    The biases are folded in rather than added to the inputs: with q' = q + bq,
    k'.q' = k'.q + k'.bq, so each key's row of scores starts at k'.bq; and since each column of
    weights sums to 1, adding bv to every value adds bv to the context."""
    H = out.shape[1]
    D = H // num_heads
    n_texts = offsets.shape[0] - 1
    for task in prange(n_texts * num_heads):
        text, head = task // num_heads, task % num_heads
        start, end = offsets[text], offsets[text + 1]
        scores_t = _attention_scores_t(qkv_t, bias, start, end, head * D, H + head * D, D)
        inverse_totals = _softmax_columns(scores_t)
        _attention_context(scores_t, inverse_totals, qkv_t, bias, start, 2 * H + head * D, head * D, D, out)


@njit(inline="always", fastmath=FASTMATH)
def _attention_scores_t(qkv_t, bias, start, end, q_row, k_row, D):  # -> scores_t [T, T'], key rows
    """Scaled dot products of one text's keys (rows) with its queries (columns), biases folded in."""
    T = end - start
    padded = (T + LANES - 1) // LANES * LANES
    scale = np.float32(1.0 / math.sqrt(D))
    keys = np.empty((T, D), dtype=np.float32)
    queries_t = np.zeros((D, padded), dtype=np.float32)  # no bias
    for j in range(T):  # token by token: each reads a run of the product's row
        if j + AHEAD < T:
            prefetch_row(qkv_t[k_row:k_row + D, start + j + AHEAD])
            prefetch_row(qkv_t[q_row:q_row + D, start + j + AHEAD])
        for d in range(D):
            keys[j, d] = (qkv_t[k_row + d, start + j] + bias[k_row + d]) * scale
        for d in range(D):
            queries_t[d, j] = qkv_t[q_row + d, start + j]
    scores_t = np.empty((T, padded), dtype=np.float32)
    for j in range(T):
        # A sum of its own, over the copy alone. In the loop above, with the input a row per token,
        # LLVM vectorises only behind a run-time check that the copy's stores and the input's loads
        # do not overlap; with the sum inside it, a text's vector alone and in a batch differed by
        # an ulp in 9 of 75 processes, most likely as the check went one way or the other
        # (docs/engine-guide.md, "int8"); 0 of 20 since.
        offset = np.float32(0.0)
        for d in range(D):
            offset += keys[j, d] * bias[q_row + d]
        scores_t[j, :] = offset
    groups = padded // LANES
    flat = queries_t.reshape(D * padded)
    for j in range(0, T, TILE_ROWS):
        for g in range(0, groups, TILE_GROUPS):
            multiply_tile(keys, flat, LANES, padded, groups, j, g, 0, D, True, scores_t)
    return scores_t


@njit(inline="always", fastmath=FASTMATH)
def _softmax_columns(scores_t):  # [T, T] in place -> [T] 1 / each column's sum
    """exp(score - column max) in place, down each column (over keys); returns 1 / column sums,
    which the context multiplies by rather than dividing every weight."""
    T = scores_t.shape[0]
    # Subtracting the column maximum keeps exp() in range.
    top = scores_t[0].copy()
    for j in range(1, T):
        for i in range(T):
            top[i] = max(top[i], scores_t[j, i])
    total = np.zeros(T, dtype=np.float32)
    bits = np.empty(T, dtype=np.int32)
    for j in range(T):
        row = scores_t[j]
        for i in range(T):
            row[i] -= top[i]
        exp_row(row, T, bits)
        for i in range(T):
            total[i] += row[i]
    for i in range(T):
        total[i] = np.float32(1.0) / total[i]
    return total


@njit(inline="always", fastmath=FASTMATH)
def _attention_context(weights_t, inverse_totals, qkv_t, bias, start, v_row, out_col, D, out):
    """One head's context at one text's rows of out: the values averaged by the weights
    (unnormalised exps, scaled by 1 / their column sums here), plus the value bias."""
    T, padded = weights_t.shape
    values_t = np.empty((D, T), dtype=np.float32)  # no bias
    for j in range(T):
        if j + AHEAD < T:
            prefetch_row(qkv_t[v_row:v_row + D, start + j + AHEAD])
        for d in range(D):
            values_t[d, j] = qkv_t[v_row + d, start + j]
    context_t = np.empty((D, padded), dtype=np.float32)
    groups = padded // LANES
    flat = weights_t.reshape(T * padded)
    for d in range(0, D, TILE_ROWS):
        for g in range(0, groups, TILE_GROUPS):
            multiply_tile(values_t, flat, LANES, padded, groups, d, g, 0, T, False, context_t)
    for i in range(T):
        for d in range(D):
            out[start + i, out_col + d] = context_t[d, i] * inverse_totals[i] + bias[v_row + d]

