"""Multi-head self-attention on packed texts: per text and head, at the text's true length."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .math import CACHE, FASTMATH, exp_row


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def self_attention(qkv_t, bias, offsets, num_heads, out):  # [3H, M] -> out [M, H]
    """Twin of reference.self_attention on packed texts: for every text and head,
    softmax(q k^T / sqrt(D)) v at the text's true length, in the reference's three steps:
    scores (attention_probs' product), softmax, weighted values (attention_context).

    The input is read transposed, a row per channel and a column per token: qkv_t = [Wq; Wk; Wv] x^T,
    the transposed view of the product's [M, 3H] output (biases not yet added), each head's block
    gathered into a contiguous copy. The scores too are kept transposed, scores_t[j, i] for key j
    and query i. Then every inner loop runs along tokens over contiguous memory (the products, the
    softmax down each column, the weighted sum of values) and LLVM makes SIMD code of all of them. The context is written a row per token, as the next product reads it
    (transposing [H, M] afterwards cost as much as a third of that product).

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
def _attention_scores_t(qkv_t, bias, start, end, q_row, k_row, D):  # -> scores_t [T, T], key rows
    """Scaled dot products of one text's keys (rows) with its queries (columns), biases folded in.
    Four keys' rows are filled together, so that each query value loaded serves four of them."""
    T = end - start
    scale = np.float32(1.0 / math.sqrt(D))
    # A contiguous copy of the head's queries, a row per channel, gathered from the product's rows.
    queries_t = np.ascontiguousarray(qkv_t[q_row:q_row + D, start:end])  # [D, T], no bias
    scores_t = np.empty((T, T), dtype=np.float32)
    keys = np.empty((T, D), dtype=np.float32)
    for j in range(T):
        for d in range(D):
            keys[j, d] = (qkv_t[k_row + d, start + j] + bias[k_row + d]) * scale
    for j in range(T):
        # A sum of its own, over the copy alone. In the loop above, with the input a row per token
        # (dtype="int8"), LLVM vectorises only behind a run-time check that the copy's stores and
        # the input's loads do not overlap; with the sum inside it, a text's vector alone and in a
        # batch differed by an ulp in 9 of 75 processes, most likely as the check went one way or
        # the other (docs/engine-guide.md, "int8"); 0 of 20 since.
        offset = np.float32(0.0)
        for d in range(D):
            offset += keys[j, d] * bias[q_row + d]
        scores_t[j, :] = offset
    j = 0
    while j + 4 <= T:
        _accumulate_rows_4(scores_t[j:j + 4], keys[j:j + 4], queries_t)
        j += 4
    while j < T:
        _accumulate_rows(scores_t[j], keys[j], queries_t)
        j += 1
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
    (unnormalised exps, scaled by 1 / their column sums here), plus the value bias. Eight
    channels are done together, so that each pass over the [T, T] weights (in L2 for long texts)
    serves eight of them (docs/engine-guide.md has the measurement)."""
    T = weights_t.shape[0]
    values = np.ascontiguousarray(qkv_t[v_row:v_row + D, start:start + T])  # [D, T], no bias
    context = np.empty((8, T), dtype=np.float32)
    d = 0
    while d < D:
        channels = min(8, D - d)
        context[:] = 0.0
        if channels == 8:
            _accumulate_rows_8(context, values[d:d + 8], weights_t)
        else:  # head sizes that are not a multiple of 8
            for c in range(channels):
                _accumulate_rows(context[c], values[d + c], weights_t)
        for i in range(T):
            for c in range(channels):
                out[start + i, out_col + d + c] = context[c, i] * inverse_totals[i] + bias[v_row + d + c]
        d += channels


@njit(inline="always", fastmath=FASTMATH)
def _accumulate_rows(acc, weights, rows):  # acc[:] += sum_k weights[k] * rows[k, :]
    n = weights.shape[0]
    k = 0
    while k + 4 <= n:
        w0, w1, w2, w3 = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
        r0, r1, r2, r3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        for i in range(acc.shape[0]):
            acc[i] += w0 * r0[i] + w1 * r1[i] + w2 * r2[i] + w3 * r3[i]
        k += 4
    while k < n:
        w, r = weights[k], rows[k]
        for i in range(acc.shape[0]):
            acc[i] += w * r[i]
        k += 1



@njit(inline="always", fastmath=FASTMATH)
def _accumulate_rows_4(acc, weights, rows):  # acc[r, :] += sum_k weights[r, k] * rows[k, :], r < 4
    """_accumulate_rows for four accumulators at once: each row loaded feeds four of them."""
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    w0, w1, w2, w3 = weights[0], weights[1], weights[2], weights[3]
    n = rows.shape[0]
    k = 0
    while k + 4 <= n:
        r0, r1, r2, r3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        p0, p1, p2, p3 = w0[k], w0[k + 1], w0[k + 2], w0[k + 3]
        q0, q1, q2, q3 = w1[k], w1[k + 1], w1[k + 2], w1[k + 3]
        s0, s1, s2, s3 = w2[k], w2[k + 1], w2[k + 2], w2[k + 3]
        t0, t1, t2, t3 = w3[k], w3[k + 1], w3[k + 2], w3[k + 3]
        for i in range(a0.shape[0]):
            x0, x1, x2, x3 = r0[i], r1[i], r2[i], r3[i]
            a0[i] += p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3
            a1[i] += q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3
            a2[i] += s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3
            a3[i] += t0 * x0 + t1 * x1 + t2 * x2 + t3 * x3
        k += 4
    while k < n:
        r, p, q, s, t = rows[k], w0[k], w1[k], w2[k], w3[k]
        for i in range(a0.shape[0]):
            a0[i] += p * r[i]
            a1[i] += q * r[i]
            a2[i] += s * r[i]
            a3[i] += t * r[i]
        k += 1


@njit(inline="always", fastmath=FASTMATH)
def _accumulate_rows_8(acc, weights, rows):  # acc[r, :] += sum_k weights[r, k] * rows[k, :], r < 8
    """_accumulate_rows for eight accumulators at once, two rows per step (sixteen weights in
    registers)."""
    a0, a1, a2, a3, a4, a5, a6, a7 = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]
    w0, w1, w2, w3, w4, w5, w6, w7 = (weights[0], weights[1], weights[2], weights[3], weights[4], weights[5],
                                      weights[6], weights[7])
    n = rows.shape[0]
    k = 0
    while k + 2 <= n:
        r0, r1 = rows[k], rows[k + 1]
        p0, p1, p2, p3, p4, p5, p6, p7 = w0[k], w1[k], w2[k], w3[k], w4[k], w5[k], w6[k], w7[k]
        q0, q1, q2, q3 = w0[k + 1], w1[k + 1], w2[k + 1], w3[k + 1]
        q4, q5, q6, q7 = w4[k + 1], w5[k + 1], w6[k + 1], w7[k + 1]
        for i in range(a0.shape[0]):
            x, y = r0[i], r1[i]
            a0[i] += p0 * x + q0 * y
            a1[i] += p1 * x + q1 * y
            a2[i] += p2 * x + q2 * y
            a3[i] += p3 * x + q3 * y
            a4[i] += p4 * x + q4 * y
            a5[i] += p5 * x + q5 * y
            a6[i] += p6 * x + q6 * y
            a7[i] += p7 * x + q7 * y
        k += 2
    if k < n:
        r = rows[k]
        p0, p1, p2, p3, p4, p5, p6, p7 = w0[k], w1[k], w2[k], w3[k], w4[k], w5[k], w6[k], w7[k]
        for i in range(a0.shape[0]):
            x = r[i]
            a0[i] += p0 * x
            a1[i] += p1 * x
            a2[i] += p2 * x
            a3[i] += p3 * x
            a4[i] += p4 * x
            a5[i] += p5 * x
            a6[i] += p6 * x
            a7[i] += p7 * x


