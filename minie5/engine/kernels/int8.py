"""The int8 products of dtype="int8": activations rounded per token in blocks of 32, weights
rounded at load in blocks of 32, integer dot products on AVX-512 VNNI. Twins of
reference/quantized.py.

    quantize_rows     x [M, K] float32 -> xq [M, Kp] uint8 (q + 128), xs [M, Kp/32] scales
    pack_weight       W [N, K] float32 -> QuantizedWeight, once at load (NumPy)
    linear_int8       xq . W^T -> out [M, Np] float32, with vpdpbusd       (needs AVX-512 VNNI)
    linear_int8_portable   the same numbers from plain loops, on any CPU: what runs with
                      NUMBA_DISABLE_JIT=1, and the VNNI kernel's bit-for-bit check; at a tenth of
                      float32's speed, so without VNNI the engine runs float32 instead

The arithmetic. VNNI's vpdpbusd multiplies *unsigned* bytes by *signed* bytes, four pairs per
int32 lane, and adds them to the lane. The activations are signed (q in [-127, 127]), so they are
stored shifted, u = q + 128 in [1, 255], and each block's dot product then carries an extra
128 * (sum of the block's weights), a constant per block and output column, subtracted by starting
the block's accumulator at -128 * colsum instead of 0 (no instruction spent on it):

    sum_k u[k] * w[k] = sum_k q[k] * w[k] + 128 * sum_k w[k]

Each block's exact int32 sum is then scaled by xs[m, b] * ws[n, b] and added to a float32
accumulator with one rounding (fma). The portable kernel does the same integer sums and the same
float32 operations in the same order, so both give the same bits (tests/engine/test_int8.py).

The packed weight layout, for vpdpbusd. A zmm register holds 16 lanes of 4 bytes; one
instruction takes 4 consecutive K values of 16 output columns against 4 bytes of one token
broadcast to all lanes. So the weights of 16 columns are stored as [K/4, 16, 4] bytes: one 64-byte
load per 4 K values, a "group". QuantizedWeight.packed is [N/16, K*16], a row per group; the
scales and column sums are [N/16, K/32 * 16], 16 columns per block side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ...reference.quantized import BLOCK, LEVELS, quantize_blocks
from .math import CACHE
from .simd import (
    broadcast_bytes,
    dot_bytes,
    fma,
    fma_int,
    load_bytes,
    load_float,
    load_int,
    multiply,
    splat,
    store_float,
    zeros,
)

LANES = 16  # output columns per vector register, and per packed group
SHIFT = 128  # u8 = q + SHIFT
ROW_BLOCK = 32  # rows of x per task: their bytes stay in L1 while a pair of groups' weights pass
TILE_ROWS = 4  # a 4 x 2-group tile: 8 int32 and 8 float32 accumulators, 2 weight registers


@dataclass
class QuantizedWeight:
    """A [N, K] weight as linear_int8 reads it (see the module's docstring for the layout)."""

    packed: np.ndarray  # [G, Kp * 16] int8, G = Np / 16
    scales: np.ndarray  # [G, Kp / 32 * 16] float32: ws[n, b] for the group's 16 columns, block by block
    start: np.ndarray  # [G, Kp / 32 * 16] int32: -128 * sum of wq[n, block b]
    rows: int  # N, the output width (packed has Np >= N: zero columns pad it to a multiple of 16)
    cols: int  # K, the input width (padded with zero weights to Kp, a multiple of 32)

    @property
    def padded_rows(self) -> int:
        return self.packed.shape[0] * LANES


def pack_weight(weight: np.ndarray) -> QuantizedWeight:  # [N, K] float32 -> QuantizedWeight
    """Round torch.nn.Linear's [out, in] weight to int8 in blocks of 32 along K (reference.quantized)
    and lay it out for vpdpbusd."""
    N, K = weight.shape
    q, scale = quantize_blocks(weight)  # [N, Kp], [N, Kp/32]
    groups = -(-N // LANES)
    Np, Kp, blocks = groups * LANES, q.shape[1], scale.shape[1]
    q = np.concatenate([q, np.zeros((Np - N, Kp), np.int8)])
    scale = np.concatenate([scale, np.zeros((Np - N, blocks), np.float32)])
    packed = q.reshape(groups, LANES, Kp // 4, 4).transpose(0, 2, 1, 3).reshape(groups, Kp * LANES)
    colsum = q.astype(np.int32).reshape(groups, LANES, blocks, BLOCK).sum(axis=3)  # [G, 16, blocks]
    start = (-SHIFT * colsum).transpose(0, 2, 1).reshape(groups, blocks * LANES)
    scales = scale.reshape(groups, LANES, blocks).transpose(0, 2, 1).reshape(groups, blocks * LANES)
    return QuantizedWeight(np.ascontiguousarray(packed), np.ascontiguousarray(scales, dtype=np.float32),
                           np.ascontiguousarray(start, dtype=np.int32), N, K)


@njit(parallel=True, cache=CACHE)
def quantize_rows(x, xq, xs):  # [M, K] float32 -> xq [M, Kp] uint8, xs [M, Kp/32] float32
    """Twin of reference.quantize_blocks on each row of x, stored shifted (q + 128) for vpdpbusd.
    The kernels that produce a product's input (LayerNorm, GELU) call quantize_row themselves."""
    for m in prange(x.shape[0]):
        quantize_row(x[m], xq[m], xs[m])


@njit(inline="always")
def quantize_row(row, out, scales):  # [K] float32 -> out [Kp] uint8, scales [Kp/32] float32
    """One row of quantize_rows; columns K..Kp are zeros (128). Only exact operations (a maximum,
    one division, one product, rounding), so the result is the same under any fastmath flags of a
    kernel this is inlined into."""
    K = row.shape[0]
    whole = K // BLOCK
    for b in range(whole):  # a fixed count of 32 values: LLVM unrolls the block into a few vector ops
        scales[b] = _quantize_block(row[b * BLOCK:(b + 1) * BLOCK], out[b * BLOCK:(b + 1) * BLOCK], BLOCK)
    if whole < scales.shape[0]:  # K not a multiple of 32: the last block is part values, part padding
        first = whole * BLOCK
        out[first:] = SHIFT
        scales[whole] = _quantize_block(row[first:], out[first:], K - first)


@njit(inline="always", fastmath={"nnan", "nsz"})  # a maximum's order does not matter; nnan lets it vectorise
def _largest(values, n):
    largest = np.float32(0.0)
    for k in range(n):
        largest = max(largest, abs(values[k]))
    return largest


@njit(inline="always")
def _quantize_block(values, out, n):  # values[:n] -> out[:n] (q + 128); returns the block's scale
    largest = _largest(values, n)
    inverse = np.float32(LEVELS) / largest if largest > 0 else np.float32(0.0)
    for k in range(n):
        q = min(max(np.rint(values[k] * inverse), np.float32(-LEVELS)), np.float32(LEVELS))
        out[k] = np.uint8(np.int32(q) + SHIFT)
    return largest / np.float32(LEVELS)


@njit(parallel=True, cache=CACHE)
def linear_int8(xq, xs, packed, scales, start, out):  # [M, Kp] uint8 . packed -> out [M, Np] float32
    """Twin of reference.linear_int8 with vpdpbusd: AVX-512 VNNI only (choose it in Python with
    intrinsics.has_avx512_vnni before the first call; see simd.py).

    Tiles of 4 rows x 32 columns (two groups): per 4 K values, two 64-byte weight loads and four
    4-byte broadcasts feed eight vpdpbusd; per block of 32, each of the 8 int32 sums is converted,
    scaled and added to its float32 accumulator. Where the rows run out, the last row stands in
    for the missing ones (and is not stored twice), so every row goes through the same code and a
    row's numbers never depend on its batch. Tasks are ROW_BLOCK rows x one pair of groups."""
    M = xq.shape[0]
    groups = packed.shape[0]
    blocks = xs.shape[1]
    pairs = (groups + 1) // 2
    row_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    for task in prange(row_blocks * pairs):
        first_row, pair = (task // pairs) * ROW_BLOCK, task % pairs
        end_row = min(M, first_row + ROW_BLOCK)
        g0 = 2 * pair
        g1 = min(g0 + 1, groups - 1)  # an odd last group is computed twice and stored once
        for m in range(first_row, end_row, TILE_ROWS):
            m1, m2, m3 = min(m + 1, M - 1), min(m + 2, M - 1), min(m + 3, M - 1)
            _tile_4x2(xq[m], xq[m1], xq[m2], xq[m3], xs[m], xs[m1], xs[m2], xs[m3],
                      packed[g0], packed[g1], scales[g0], scales[g1], start[g0], start[g1], blocks,
                      out[m], out[m1], out[m2], out[m3], min(TILE_ROWS, M - m), g0 * LANES, g1 * LANES, g1 != g0)


@njit(inline="always")
def _tile_4x2(x0, x1, x2, x3, s0, s1, s2, s3, w0, w1, v0, v1, c0, c1, blocks,
              o0, o1, o2, o3, rows, n0, n1, distinct):  # 4 rows . 2 groups -> o*[n0:n0+16], o*[n1:n1+16]
    f00 = f10 = f20 = f30 = f01 = f11 = f21 = f31 = zeros()
    for b in range(blocks):
        i00 = i10 = i20 = i30 = load_int(c0, b * 16)
        i01 = i11 = i21 = i31 = load_int(c1, b * 16)
        for step in range(BLOCK // 4):
            k = b * BLOCK + step * 4
            a, c = load_bytes(w0, k * 16), load_bytes(w1, k * 16)
            u = broadcast_bytes(x0, k)
            i00, i01 = dot_bytes(i00, u, a), dot_bytes(i01, u, c)
            u = broadcast_bytes(x1, k)
            i10, i11 = dot_bytes(i10, u, a), dot_bytes(i11, u, c)
            u = broadcast_bytes(x2, k)
            i20, i21 = dot_bytes(i20, u, a), dot_bytes(i21, u, c)
            u = broadcast_bytes(x3, k)
            i30, i31 = dot_bytes(i30, u, a), dot_bytes(i31, u, c)
        p, q = load_float(v0, b * 16), load_float(v1, b * 16)
        t = splat(s0[b])
        f00, f01 = fma_int(f00, i00, multiply(p, t)), fma_int(f01, i01, multiply(q, t))
        t = splat(s1[b])
        f10, f11 = fma_int(f10, i10, multiply(p, t)), fma_int(f11, i11, multiply(q, t))
        t = splat(s2[b])
        f20, f21 = fma_int(f20, i20, multiply(p, t)), fma_int(f21, i21, multiply(q, t))
        t = splat(s3[b])
        f30, f31 = fma_int(f30, i30, multiply(p, t)), fma_int(f31, i31, multiply(q, t))
    # Only the first `rows` rows are real; the others stood in for missing rows (repeats of the last).
    _store_row(o0, n0, n1, f00, f01, distinct)
    if rows > 1:
        _store_row(o1, n0, n1, f10, f11, distinct)
    if rows > 2:
        _store_row(o2, n0, n1, f20, f21, distinct)
    if rows > 3:
        _store_row(o3, n0, n1, f30, f31, distinct)


@njit(inline="always")
def _store_row(out, n0, n1, first, second, distinct):  # a row's two groups of 16 -> out[n0:], out[n1:]
    store_float(out, n0, first)
    if distinct:  # an odd last group was computed twice: stored once
        store_float(out, n1, second)


@njit(parallel=True, cache=CACHE)
def linear_int8_portable(xq, xs, packed, scales, start, out):  # [M, Kp] uint8 . packed -> out [M, Np]
    """linear_int8's numbers from plain loops (NUMBA_DISABLE_JIT=1 runs this one): per row and group
    of 16 columns, the same exact integer sums and the same float32 operations in the same order,
    so the same bits. About 13 GOP/s on two Zen 4 cores, a tenth of kernels.linear's float32
    rate, which is why a CPU without VNNI runs dtype="int8" as float32 (engine/numba_backend.py)."""
    M = xq.shape[0]
    groups = packed.shape[0]
    blocks = xs.shape[1]
    for task in prange(M * groups):
        m, g = task // groups, task % groups
        x, w, v, c = xq[m], packed[g], scales[g], start[g]
        acc = np.zeros(LANES, dtype=np.float32)
        dots = np.empty(LANES, dtype=np.int32)
        for b in range(blocks):
            for lane in range(LANES):
                dots[lane] = c[b * 16 + lane]
            for quad in range(b * BLOCK // 4, (b + 1) * BLOCK // 4):
                u0, u1, u2, u3 = np.int32(x[4 * quad]), np.int32(x[4 * quad + 1]), np.int32(x[4 * quad + 2]), \
                    np.int32(x[4 * quad + 3])
                for lane in range(LANES):
                    at = quad * 64 + lane * 4
                    dots[lane] += u0 * w[at] + u1 * w[at + 1] + u2 * w[at + 2] + u3 * w[at + 3]
            t = xs[m, b]
            for lane in range(LANES):
                acc[lane] = fma(np.float32(dots[lane]), v[b * 16 + lane] * t, acc[lane])
        out[m, g * 16:(g + 1) * 16] = acc
