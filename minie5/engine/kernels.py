"""Numba kernels for the forward pass, each the fast twin of a NumPy reference function.

Layout. A batch is packed: the real tokens of all its texts stacked into one [M, H] matrix, text s
owning rows offsets[s]:offsets[s+1]. No row is padding, so no work is spent on padding, and
attention runs per text at its true length. The matrix products between these kernels are `linear`
(this file's own product kernel) or, on long batches where it is faster, NumPy `matmul` calls
(OpenBLAS) made by the caller; each kernel adds the bias the product left out.

    M  tokens in the batch (all texts)     B  texts          T  tokens of one text
    H  hidden size                         N  heads          D  head size, H / N
    F  feed-forward size                   V  vocabulary

Kernels write into arrays the caller owns and return nothing. `prange` runs over the outermost
independent loop: rows for the per-token kernels, (text, head) pairs for attention.

Arithmetic. The elementwise functions that C computes one call at a time (exp, erf) are written
out as polynomials here, so that LLVM can turn the loops into SIMD code; their accuracy is fitted
and tested (tools/fit_erf.py, tests/test_kernels.py). Sums over a row use FASTMATH, which lets LLVM
reorder additions into vector lanes; that changes rounding at the level of float32's last bit, and
the golden tests bound the effect on the final vectors. Everything else is plain IEEE arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import binding, ir
from numba import njit, prange, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from .. import jit_cache

CACHE = jit_cache.available()  # False where no folder can hold compiled kernels

# Reassociation (vectorised sums and maxima) and fused multiply-add only: no assumption that values
# are finite, so a NaN or an infinity still propagates to where it can be seen.
FASTMATH = {"reassoc", "contract"}

# erf(x) ~= x * P(x^2) / Q(x^2) on |x| <= 4, fitted by tools/fit_erf.py (max error 2e-8 in
# float64, below float32's resolution; erf(4) rounds to 1 in float32, so the tails are clamped).
ERF_X_MAX = 4.0
ERF_P = (1.1283789765995853, 0.1962482556764465, 0.053467372916422465, 0.0040036060583855376,
         0.00028803893645722, 1.9748182525725446e-06)
ERF_Q = (1.0, 0.5072516487006943, 0.11647611624321906, 0.015444352069940749,
         0.001216346789388174, 3.748060240282145e-05)
P0, P1, P2, P3, P4, P5 = ERF_P
Q0, Q1, Q2, Q3, Q4, Q5 = ERF_Q

# exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, in float32: r by Cody and Waite's
# two-part ln 2 (the high part has few enough bits that n * LN_2_HIGH is exact), exp(r) by its
# Taylor series to r^7 / 7! (truncation error 6e-9, below float32's rounding), 2^n from its bits.
LOG2_E = np.float32(1.4426950408889634)
LN_2_HIGH = np.float32(0.693359375)
LN_2_LOW = np.float32(-2.12194440e-4)
EXP_X_MIN = np.float32(-87.0)  # exp(-87) = 1.6e-38, just above float32's smallest normal number
TAYLOR = tuple(np.float32(1 / math.factorial(k)) for k in range(8))
E0, E1, E2, E3, E4, E5, E6, E7 = TAYLOR
HALF = np.float32(0.5)


@njit(inline="always", fastmath=FASTMATH)
def erf(x):  # float64 -> float64
    x = max(-ERF_X_MAX, x)
    x = min(ERF_X_MAX, x)
    s = x * x
    p = ((((P5 * s + P4) * s + P3) * s + P2) * s + P1) * s + P0
    q = ((((Q5 * s + Q4) * s + Q3) * s + Q2) * s + Q1) * s + Q0
    return x * p / q


@njit(inline="always", fastmath=FASTMATH)
def exp_row(values, n, bits):  # [T] float32 in place: values[j] <- exp(values[j]), values <= 0
    """exp of a row of non-positive numbers, in two SIMD loops: reduce x to n ln2 + r and
    evaluate exp(r) while writing 2^n's IEEE bits (exponent n + 127, zero mantissa) to `bits`;
    then multiply. Inputs are clamped at EXP_X_MIN so that 2^n stays a normal float32; LLVM
    vectorises both loops (the clamp becomes a vector max)."""
    scale = bits.view(np.float32)
    for j in range(n):
        x = values[j]
        x = max(EXP_X_MIN, x)
        k = np.floor(x * LOG2_E + HALF)
        r = (x - k * LN_2_HIGH) - k * LN_2_LOW
        bits[j] = (np.int32(k) + np.int32(127)) << np.int32(23)
        values[j] = E0 + r * (E1 + r * (E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * E7))))))
    for j in range(n):
        values[j] *= scale[j]


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def embeddings_layer_norm(input_ids, positions, word, position, token_type, weight, bias, eps,
                          out):  # [M] ids, [M] positions -> out [M, H]
    """Twin of reference.embeddings with token type 0: gather word + type + position, LayerNorm."""
    M, H = out.shape
    for i in prange(M):
        row = out[i]
        for c in range(H):
            row[c] = word[input_ids[i], c] + token_type[0, c] + position[positions[i], c]
        _layer_norm_row(row, weight, bias, eps)


@njit(inline="always", fastmath=FASTMATH)
def _layer_norm_row(row, weight, bias, eps):  # [H] in place
    H = row.shape[0]
    total = 0.0  # float64 accumulators: exact enough that summation order does not matter
    for c in range(H):
        total += row[c]
    mean = total / H
    squares = 0.0
    for c in range(H):
        d = row[c] - mean
        squares += d * d
    inv_std = 1.0 / math.sqrt(squares / H + eps)
    for c in range(H):
        row[c] = np.float32((row[c] - mean) * inv_std * weight[c] + bias[c])


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def add_bias_residual_layer_norm(y, bias, residual, weight, ln_bias, eps):  # [M, H] -> residual [M, H]
    """Twin of the reference's `layer_norm(linear(h) + x)` after a matmul that left out the
    bias: residual <- LayerNorm(y + bias + residual). Used after attention and after the
    feed-forward (BertSelfOutput, BertOutput)."""
    M, H = y.shape
    for i in prange(M):
        row = residual[i]
        for c in range(H):
            row[c] = y[i, c] + bias[c] + row[c]
        _layer_norm_row(row, weight, ln_bias, eps)


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def add_bias_gelu(h, bias):  # [M, F] in place
    """Twin of reference.gelu(h + bias), the exact erf GELU, with erf from its rational fit."""
    M, F = h.shape
    for i in prange(M):
        for c in range(F):
            x = np.float64(h[i, c] + bias[c])
            h[i, c] = np.float32(0.5 * x * (1.0 + erf(x * 0.7071067811865476)))


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def self_attention(qkv_t, bias, offsets, num_heads, out):  # [3H, M] -> out [M, H]
    """Twin of reference.self_attention on packed texts: for every text and head,
    softmax(q k^T / sqrt(D)) v at the text's true length, in the reference's three steps:
    scores (attention_probs' product), softmax, weighted values (attention_context).

    The input is transposed, a row per channel and a column per token: qkv_t = [Wq; Wk; Wv] x^T
    as the matrix product left it (biases not yet added). The scores too are kept transposed,
    scores_t[j, i] for key j and query i. Then every inner loop runs along tokens over contiguous
    memory (the products, the softmax down each column, the weighted sum of values) and LLVM makes
    SIMD code of all of them. The context is written a row per token, as the next product reads it
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
    # A contiguous copy: rows of qkv_t lie M floats apart, and when M is a multiple of 1024 they
    # all fall into the same few cache sets; copying a row is a cheap contiguous run.
    queries_t = np.ascontiguousarray(qkv_t[q_row:q_row + D, start:end])  # [D, T], no bias
    scores_t = np.empty((T, T), dtype=np.float32)
    keys = np.empty((T, D), dtype=np.float32)
    for j in range(T):
        offset = np.float32(0.0)
        for d in range(D):
            keys[j, d] = (qkv_t[k_row + d, start + j] + bias[k_row + d]) * scale
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
    serves eight of them: measured on 2 cores, 1.45x the attention throughput of one at a time."""
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


def _vector_registers() -> int:
    """How many SIMD registers the code Numba generates can use: 32 where it targets AVX-512
    (zmm0-31), 16 otherwise (AVX2's ymm0-15). Numba compiles for the host unless NUMBA_CPU_NAME and
    NUMBA_CPU_FEATURES say otherwise, and its cache keys compiled code by the same features."""
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else binding.get_host_cpu_features().flatten()
    return 32 if "+avx512f" in features.split(",") else 16


# kernels.linear's tile: rows of x by rows of the weight, one accumulator register per pair, as many
# as the registers hold beside the operands. Measured with tools/linear_tiles.py on the 2-core Zen 5
# machine, this model's products at 4,096 rows: with AVX-512, 4 x 4 (16 accumulators) at 280-355
# GFLOP/s, 2 x 8 at 235-320, 2 x 4 at 270-300 (OpenBLAS's AVX2 kernels, as the machine sets them:
# 205-220); compiled for AVX2 (16 registers), 2 x 4 at 190-200, where 4 x 4 spills and falls to 55.
LINEAR_TILE_ROWS = 4 if _vector_registers() >= 32 else 2
LINEAR_TILE_COLS = 4
# Rows of x per task, which stay in cache while the block's weight tiles pass them: in L1 when they
# are short (16 rows of 384 floats: 329 against 298 GFLOP/s for 64 rows, at 8,192 x 384 x 1,152),
# in L2 when they are long (at K = 1,536 the two sizes ran alike).
LINEAR_ROW_BLOCK_SHORT, LINEAR_SHORT_K = 16, 768
LINEAR_ROW_BLOCK = 64
LINEAR_COL_BLOCK = 64  # output columns per task
LINEAR_PANEL_ROWS = 256  # rows whose tasks run column by column (see linear)
# While a tile computes, the weight rows this many columns on are requested from memory. With a few
# rows of x, reading the weights is most of the work, and the processor's own prefetcher ramps up
# too slowly on rows of 1.5 kB: on the 2-core Zen 5 machine, a 10-token pass's 48 products took
# 3.1 instead of 3.7 ms (1 token: 1.9 instead of 2.2; 32 tokens: 6.9 instead of 8.1).
LINEAR_PREFETCH_COLS = 4


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def linear(x, weight, out):  # [M, K] @ [N, K]^T -> out [M, N]
    """Twin of reference.linear without the bias (the next kernel adds it), for any number of rows,
    with one arithmetic for every row: an output's value depends on its row of x and its row of the
    weight only, never on how many rows there are or where its row sits in the batch.

    Each output is a dot product of a row of x with a row of the weight, as torch.nn.Linear stores
    it ([out, in]), vectorised along K. A tile of LINEAR_TILE_ROWS rows of x by four rows of the
    weight is done together, so that each load feeds several multiply-adds; where the rows run
    out, the batch's last row stands in for the missing ones (into a spare output), so every row goes
    through exactly the same code. Work is split into blocks of 16 or 64 rows x 64 columns, one per
    task; within a block the four weight rows of a tile stay in L1 while all the block's rows pass
    them, and the next tile's weight rows are prefetched.

    Because the arithmetic per output is fixed, vectors are bit-identical whatever the batch. It
    is also the short-input path: with a few rows, OpenBLAS spends longer packing the weights than
    multiplying."""
    M = x.shape[0]
    N = weight.shape[0]
    row_block = LINEAR_ROW_BLOCK_SHORT if x.shape[1] <= LINEAR_SHORT_K else LINEAR_ROW_BLOCK
    # Tasks in the order panel (at most LINEAR_PANEL_ROWS rows, panels of equal size), then column
    # block, then row block: each thread takes a run of them, so a few hundred rows are split by
    # columns and every weight is read from memory once, while a long batch is split by panels, each
    # small enough to stay in L2 while all the weights pass it.
    panels = (M + LINEAR_PANEL_ROWS - 1) // LINEAR_PANEL_ROWS
    blocks_per_panel = ((M + panels - 1) // panels + row_block - 1) // row_block
    panel_rows = blocks_per_panel * row_block
    col_blocks = (N + LINEAR_COL_BLOCK - 1) // LINEAR_COL_BLOCK
    for task in prange(panels * col_blocks * blocks_per_panel):
        panel, rest = task // (col_blocks * blocks_per_panel), task % (col_blocks * blocks_per_panel)
        first_row = panel * panel_rows + (rest % blocks_per_panel) * row_block
        first_col = (rest // blocks_per_panel) * LINEAR_COL_BLOCK
        if first_row >= M:  # the last panel can be a block short
            continue
        end_row = min(M, first_row + row_block)
        end_col = min(N, first_col + LINEAR_COL_BLOCK)
        spare = np.empty((LINEAR_TILE_ROWS, N), dtype=np.float32)  # outputs of stand-in rows
        n = first_col
        while n + LINEAR_TILE_COLS <= end_col:
            ahead = n + LINEAR_PREFETCH_COLS
            if ahead + LINEAR_TILE_COLS <= end_col:
                for c in range(ahead, ahead + LINEAR_TILE_COLS):
                    _prefetch_row(weight[c])
            for m in range(first_row, end_row, LINEAR_TILE_ROWS):
                _linear_tile(x, weight, m, n, LINEAR_TILE_COLS, out, spare)
            n += LINEAR_TILE_COLS
        while n < end_col:  # widths that are not a multiple of 4: one column at a time
            for m in range(first_row, end_row, LINEAR_TILE_ROWS):
                _linear_tile(x, weight, m, n, 1, out, spare)
            n += 1


@intrinsic
def _prefetch(typingctx, row, index):
    """Ask for the cache line holding row[index] (llvm.prefetch: read, keep in all cache levels).
    A hint only: it changes no value, and where a processor lacks it LLVM emits nothing."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1]])
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch")
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(row, index), codegen


if config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1 runs the kernels as plain Python, where a hint is nothing
    def _prefetch(row, index):  # noqa: F811
        pass


@njit(inline="always")
def _prefetch_row(row):  # every 64-byte cache line of a float32 row
    for k in range(0, row.shape[0], 16):
        _prefetch(row, k)


@njit(inline="always", fastmath=FASTMATH)
def _linear_tile(x, weight, m, n, cols, out, spare):  # rows m.. of x . weight[n:n+cols] -> out
    M = x.shape[0]
    x0, o0 = x[m], out[m]
    x1 = x[min(m + 1, M - 1)]
    o1 = out[m + 1] if m + 1 < M else spare[1]
    if LINEAR_TILE_ROWS == 2:
        if cols == 1:
            _dot_2x1(x0, x1, weight[n], n, o0, o1)
        else:
            _dot_2x4(x0, x1, weight, n, o0, o1)
    else:
        x2, x3 = x[min(m + 2, M - 1)], x[min(m + 3, M - 1)]
        o2 = out[m + 2] if m + 2 < M else spare[2]
        o3 = out[m + 3] if m + 3 < M else spare[3]
        if cols == 1:
            _dot_2x1(x0, x1, weight[n], n, o0, o1)
            _dot_2x1(x2, x3, weight[n], n, o2, o3)
        else:
            _dot_4x4(x0, x1, x2, x3, weight, n, o0, o1, o2, o3)


@njit(inline="always", fastmath=FASTMATH)
def _dot_4x4(x0, x1, x2, x3, weight, n, o0, o1, o2, o3):  # four rows . weight[n:n+4] -> o0..o3[n:n+4]
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = np.float32(0.0)
    c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = np.float32(0.0)
    w0, w1, w2, w3 = weight[n], weight[n + 1], weight[n + 2], weight[n + 3]
    for k in range(x0.shape[0]):
        p, q, r, s = w0[k], w1[k], w2[k], w3[k]
        u = x0[k]
        a0 += u * p
        a1 += u * q
        a2 += u * r
        a3 += u * s
        u = x1[k]
        b0 += u * p
        b1 += u * q
        b2 += u * r
        b3 += u * s
        u = x2[k]
        c0 += u * p
        c1 += u * q
        c2 += u * r
        c3 += u * s
        u = x3[k]
        d0 += u * p
        d1 += u * q
        d2 += u * r
        d3 += u * s
    o0[n], o0[n + 1], o0[n + 2], o0[n + 3] = a0, a1, a2, a3
    o1[n], o1[n + 1], o1[n + 2], o1[n + 3] = b0, b1, b2, b3
    o2[n], o2[n + 1], o2[n + 2], o2[n + 3] = c0, c1, c2, c3
    o3[n], o3[n + 1], o3[n + 2], o3[n + 3] = d0, d1, d2, d3


@njit(inline="always", fastmath=FASTMATH)
def _dot_2x4(x0, x1, weight, n, o0, o1):  # two rows . weight[n:n+4] -> o0/o1[n:n+4]
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = np.float32(0.0)
    w0, w1, w2, w3 = weight[n], weight[n + 1], weight[n + 2], weight[n + 3]
    for k in range(x0.shape[0]):
        p, q, r, s = w0[k], w1[k], w2[k], w3[k]
        u = x0[k]
        a0 += u * p
        a1 += u * q
        a2 += u * r
        a3 += u * s
        u = x1[k]
        b0 += u * p
        b1 += u * q
        b2 += u * r
        b3 += u * s
    o0[n], o0[n + 1], o0[n + 2], o0[n + 3] = a0, a1, a2, a3
    o1[n], o1[n + 1], o1[n + 2], o1[n + 3] = b0, b1, b2, b3


@njit(inline="always", fastmath=FASTMATH)
def _dot_2x1(x0, x1, w, n, out0, out1):  # two rows . one weight row -> out0/out1[n]
    a = b = np.float32(0.0)
    for k in range(x0.shape[0]):
        a += x0[k] * w[k]
        b += x1[k] * w[k]
    out0[n], out1[n] = a, b


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def mean_pool(hidden, offsets, normalize, out):  # [M, H] -> out [B, H]
    """Twin of reference.mean_pool (and l2_normalize when `normalize`) on packed texts."""
    B, H = out.shape
    for s in prange(B):
        start, end = offsets[s], offsets[s + 1]
        acc = np.zeros(H, dtype=np.float64)
        for i in range(start, end):
            for c in range(H):
                acc[c] += hidden[i, c]
        acc /= end - start
        _store_row(acc, normalize, out[s])


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def cls_pool(hidden, offsets, normalize, out):  # [M, H] -> out [B, H]
    """Twin of reference.cls_pool (and l2_normalize when `normalize`): each text's first token."""
    for s in prange(out.shape[0]):
        _store_row(hidden[offsets[s]].astype(np.float64), normalize, out[s])


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def max_pool(hidden, offsets, normalize, out):  # [M, H] -> out [B, H]
    """Twin of reference.max_pool (and l2_normalize when `normalize`) on packed texts."""
    B, H = out.shape
    for s in prange(B):
        start, end = offsets[s], offsets[s + 1]
        acc = hidden[start].astype(np.float64)
        for i in range(start + 1, end):
            for c in range(H):
                acc[c] = max(acc[c], hidden[i, c])
        _store_row(acc, normalize, out[s])


@njit(inline="always", fastmath=FASTMATH)
def _store_row(acc, normalize, out_row):  # [H] float64 -> out_row [H] float32
    if normalize:  # reference.l2_normalize, with its eps
        acc /= max(math.sqrt(np.sum(acc * acc)), 1e-12)
    for c in range(acc.shape[0]):
        out_row[c] = acc[c]
