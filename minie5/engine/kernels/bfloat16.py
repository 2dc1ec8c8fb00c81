"""The bfloat16 products of dtype="bfloat16": weights rounded to bfloat16 at load, each product's
input rounded per value, pairs of products summed into float32 by AVX-512 BF16's vdpbf16ps. Twins
of reference/bfloat16.py.

    pack_weight     W [N, K] float32 -> BFloat16Weight, once at load (NumPy)
    round_rows      x [M, K] float32 -> xb [M, Kp] uint16, the bfloat16 bits (Kp = K rounded up to even)
    linear_bfloat16 xb . W^T -> out [M, Np] float32, with vdpbf16ps          (needs AVX-512 BF16)

The layout is linear.py's with pairs: a vector register's 16 lanes are 16 output columns, and one
vdpbf16ps multiplies, in every lane, two consecutive k of the token (broadcast: 4 bytes) by the
same two k of that lane's column, adding both products to the lane's float32 sum. So the weights
of 16 columns are stored as [K/2, 16, 2] bfloat16 values, one 64-byte load per pair of k:
BFloat16Weight.packed is [N/16, K * 16], a row per group. The tile is linear's too, six rows by
four groups (24 float32 accumulators), and the same stand-ins make a row's arithmetic the same in
any batch. Only compiled where the CPU has AVX-512 BF16 (intrinsics.has_avx512_bf16: compiling
vdpbf16ps for a CPU without it aborts the process); without it the engine runs float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ...reference.bfloat16 import round_bfloat16
from .linear import LANES, ROW_BLOCK, TILE_ROWS, store_groups, tile_rows
from .math import CACHE
from .simd import broadcast_bytes, dot_bfloat16, load_bytes, zeros

TILE_GROUPS = 4  # AVX-512 BF16 implies AVX-512's 32 registers


@dataclass
class BFloat16Weight:
    """A [N, K] weight as linear_bfloat16 reads it (see the module's docstring for the layout)."""

    packed: np.ndarray  # [G, Kp * 16] uint16, G = Np / 16; zero columns pad N to Np, a zero k pads K to Kp
    rows: int  # N

    @property
    def padded_rows(self) -> int:
        return self.packed.shape[0] * LANES


def pack_weight(weight: np.ndarray) -> BFloat16Weight:  # [N, K] float32 -> BFloat16Weight
    """torch.nn.Linear's [out, in] weight rounded to bfloat16 and laid out for vdpbf16ps."""
    N, K = weight.shape
    groups, Kp = -(-N // LANES), K + K % 2
    padded = np.zeros((groups * LANES, Kp), np.uint16)
    padded[:N, :K] = round_bfloat16(weight)
    packed = padded.reshape(groups, LANES, Kp // 2, 2).transpose(0, 2, 1, 3).reshape(groups, Kp * LANES)
    return BFloat16Weight(np.ascontiguousarray(packed), N)


@njit(parallel=True, cache=CACHE)
def round_rows(x, xb):  # [M, K] float32 -> xb [M, Kp] uint16
    """Twin of reference.round_bfloat16 on every value of x (to nearest, ties to even), as the bits
    vdpbf16ps reads; a padding column (K odd) is zero."""
    M, K = x.shape
    for m in prange(M):
        bits = x[m].view(np.uint32)
        row = xb[m]
        for k in range(K):
            b = bits[k]
            row[k] = np.uint16((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
        for k in range(K, xb.shape[1]):
            row[k] = 0


@njit(parallel=True, cache=CACHE)
def linear_bfloat16(xb, packed, out):  # [M, Kp] uint16 . packed [G, Kp * 16] -> out [M, G * 16] float32
    """Twin of reference.linear_bfloat16 (summed in float32, in order of k pairs), with vdpbf16ps:
    AVX-512 BF16 only (choose it with intrinsics.has_avx512_bf16 before the first call). Tasks are
    four groups x ROW_BLOCK rows, group by group, as in kernels.linear."""
    M, Kp = xb.shape
    groups = packed.shape[0]
    if packed.shape[1] != Kp * LANES or out.shape[0] != M or out.shape[1] != groups * LANES:
        raise ValueError("linear_bfloat16: xb [M, Kp], packed [G, 16 Kp] and out [M, 16 G] do not agree")
    tile_columns = (groups + TILE_GROUPS - 1) // TILE_GROUPS
    row_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    for task in prange(tile_columns * row_blocks):
        first_group, first_row = (task // row_blocks) * TILE_GROUPS, (task % row_blocks) * ROW_BLOCK
        for m in range(first_row, min(M, first_row + ROW_BLOCK), TILE_ROWS):
            _tile_6x4(xb, packed, m, first_group, out)


@njit(inline="always")
def _step4(u, p, q, r, s, a, b, c, d):  # one row's four accumulators, each moved on by a pair of k
    return dot_bfloat16(a, u, p), dot_bfloat16(b, u, q), dot_bfloat16(c, u, r), dot_bfloat16(d, u, s)


@njit(cache=CACHE)
def _tile_6x4(xb, packed, m, g0, out):  # rows m..m+5 . groups g0..g0+3 -> out
    groups = packed.shape[0]
    w0, w1, w2, w3 = packed[g0], packed[min(g0 + 1, groups - 1)], packed[min(g0 + 2, groups - 1)], \
        packed[min(g0 + 3, groups - 1)]
    x0, x1, x2, x3, x4, x5 = tile_rows(xb, m)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = c0 = c1 = c2 = c3 = zeros()
    d0 = d1 = d2 = d3 = e0 = e1 = e2 = e3 = f0 = f1 = f2 = f3 = zeros()
    for k in range(0, xb.shape[1], 2):  # a pair of k per step: 32 uint16 of each group's row
        at = k * LANES
        p, q, r, s = load_bytes(w0, at), load_bytes(w1, at), load_bytes(w2, at), load_bytes(w3, at)
        a0, a1, a2, a3 = _step4(broadcast_bytes(x0, k), p, q, r, s, a0, a1, a2, a3)
        b0, b1, b2, b3 = _step4(broadcast_bytes(x1, k), p, q, r, s, b0, b1, b2, b3)
        c0, c1, c2, c3 = _step4(broadcast_bytes(x2, k), p, q, r, s, c0, c1, c2, c3)
        d0, d1, d2, d3 = _step4(broadcast_bytes(x3, k), p, q, r, s, d0, d1, d2, d3)
        e0, e1, e2, e3 = _step4(broadcast_bytes(x4, k), p, q, r, s, e0, e1, e2, e3)
        f0, f1, f2, f3 = _step4(broadcast_bytes(x5, k), p, q, r, s, f0, f1, f2, f3)
    rows, stored = min(TILE_ROWS, xb.shape[0] - m), min(4, groups - g0)  # the rest stood in
    store_groups(out[m], g0, stored, False, a0, a1, a2, a3)
    if rows > 1:
        store_groups(out[m + 1], g0, stored, False, b0, b1, b2, b3)
    if rows > 2:
        store_groups(out[m + 2], g0, stored, False, c0, c1, c2, c3)
    if rows > 3:
        store_groups(out[m + 3], g0, stored, False, d0, d1, d2, d3)
    if rows > 4:
        store_groups(out[m + 4], g0, stored, False, e0, e1, e2, e3)
    if rows > 5:
        store_groups(out[m + 5], g0, stored, False, f0, f1, f2, f3)

