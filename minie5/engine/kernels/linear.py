"""The float32 products x @ W^T: weights packed at load in groups of 16 columns, and a kernel that
broadcasts x and keeps a tile of outputs in vector registers. Twin of reference.linear.

    pack_weight   W [N, K] float32 -> PackedWeight, once at load (NumPy)
    linear        x [M, K] . packed -> out [M, Np] float32, Np = N rounded up to a multiple of 16

The layout. A vector register holds 16 float32 lanes: 16 output columns. The weights of columns
16g..16g+15 are stored k by k, PackedWeight.packed[g] = [K, 16] flattened, so for each k one 64-byte
load (one cache line) gives the 16 columns' weights, and one multiply-add by x[m, k] broadcast to
every lane moves all 16 of row m's outputs on by one term:

    acc[m, 16g:16g+16] += x[m, k] * packed[g, 16k:16k+16]         for k = 0 .. K-1

The tile. TILE_ROWS rows of x by TILE_GROUPS groups: 6 x 4 = 24 accumulators where the compiled code
has AVX-512's 32 registers, 6 x 1 where it has AVX2's 16 (a 16-lane value is then two registers).
Per k: TILE_GROUPS weight loads and six broadcasts feed 6 * TILE_GROUPS multiply-adds; nothing
spills, and no horizontal sum is ever needed (docs/engine-guide.md, "The products", has the
measurements that chose the tile).

One arithmetic for every row. Each output is summed in chunks of K_CHUNK values of k: within a
chunk in order of k, one multiply-add at a time (fused where the CPU has FMA), from zero; then the
chunk's sum is added to the output (a sum of 1,536 terms in one chain rounded twice as far from
float64's as OpenBLAS's did; in chunks of 384, as close). All of it whatever the batch: where the
rows run out, the batch's last row stands in for the missing ones (their outputs are not stored),
and where the groups run out, the last group does. So a text's vector is the same bits alone or in
any batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numba import njit, prange

from .intrinsics import vector_registers
from .math import CACHE
from .simd import add, load_float, multiply_add, splat, store_float, zeros

LANES = 16  # output columns per vector register, and per packed group
TILE_ROWS = 6
TILE_GROUPS = 4 if vector_registers() >= 32 else 1
# Rows of x per task: a task's rows pass its weight groups one tile at a time, the weights staying
# in L1/L2 between tiles. Tasks run group by group, so a few rows (a query) are split by columns
# and every weight is read from memory once.
ROW_BLOCK = 48
K_CHUNK = 384


@dataclass
class PackedWeight:
    """A [N, K] weight as `linear` reads it (see the module's docstring for the layout)."""

    packed: np.ndarray  # [G, K * 16] float32, G = Np / 16; columns N..Np are zeros
    rows: int  # N, the output width

    @property
    def padded_rows(self) -> int:
        return self.packed.shape[0] * LANES

    @cached_property
    def dense(self) -> np.ndarray:  # [N, K]: torch.nn.Linear's layout, for OpenBLAS (built on first use)
        groups, size = self.packed.shape
        columns = self.packed.reshape(groups, size // LANES, LANES).transpose(0, 2, 1)
        return np.ascontiguousarray(columns.reshape(groups * LANES, -1)[:self.rows])


def pack_weight(weight: np.ndarray) -> PackedWeight:  # [N, K] float32 -> PackedWeight
    """torch.nn.Linear's [out, in] weight in groups of 16 columns, each stored k by k."""
    N, K = weight.shape
    groups = -(-N // LANES)
    padded = np.zeros((groups * LANES, K), np.float32)
    padded[:N] = weight
    packed = padded.reshape(groups, LANES, K).transpose(0, 2, 1).reshape(groups, K * LANES)
    return PackedWeight(np.ascontiguousarray(packed), N)


@njit(parallel=True, cache=CACHE)
def linear(x, packed, out):  # [M, K] . packed [G, K * 16] -> out [M, G * 16], C-contiguous
    """Twin of reference.linear without the bias (the next kernel adds it): out = x @ W^T for W
    packed by pack_weight, for any number of rows, with one arithmetic for every row (see the
    module's docstring). Tasks are TILE_GROUPS groups x ROW_BLOCK rows, group by group."""
    M, K = x.shape
    groups = packed.shape[0]
    if packed.shape[1] != K * LANES or out.shape[0] != M or out.shape[1] != groups * LANES:
        raise ValueError("linear: x [M, K], packed [G, 16 K] and out [M, 16 G] do not agree")
    weights = packed.reshape(packed.size)
    tile_columns = (groups + TILE_GROUPS - 1) // TILE_GROUPS
    row_blocks = (M + ROW_BLOCK - 1) // ROW_BLOCK
    for task in prange(tile_columns * row_blocks):
        first_group, first_row = (task // row_blocks) * TILE_GROUPS, (task % row_blocks) * ROW_BLOCK
        for m in range(first_row, min(M, first_row + ROW_BLOCK), TILE_ROWS):
            for k0 in range(0, K, K_CHUNK):
                multiply_tile(x, weights, K * LANES, LANES, groups, m, first_group, k0, min(K, k0 + K_CHUNK), k0 > 0,
                              out)


@njit(cache=CACHE)
def multiply_tile(x, b, group_step, k_step, groups, m, g, k0, k1, more, out):
    """One tile of out = x @ B, for a B [K, 16 * groups] read from the flat array b, its element
    [k, 16 g + lane] at b[g * group_step + k * k_step + lane]: rows m..m+5 of x by groups g..g+3
    (g alone on AVX2), over k in [k0, k1). Stored into out's rows, or with `more` added to what
    they hold. `linear` reads packed weights (group_step = 16 K, k_step = 16); attention reads
    row-major matrices (group_step = 16, k_step = their width).

    The tiles are compiled as functions of their own, called once per tile, not inlined by Numba
    (inline="always"): inlined, linear and attention took 11 and 35 s to compile instead of 1.8 and
    9, for 2-6% more speed on products of 12 to 1,024 rows (tools/linear_tiles.py, one run)."""
    if TILE_GROUPS == 4:
        _tile_6x4(x, b, group_step, k_step, groups, m, g, k0, k1, more, out)
    else:
        _tile_6x1(x, b, group_step, k_step, m, g, k0, k1, more, out)


@njit(inline="always")
def tile_rows(x, m):  # rows m..m+5 of x, the last row standing in for those past the end
    last = x.shape[0] - 1
    return x[m], x[min(m + 1, last)], x[min(m + 2, last)], x[min(m + 3, last)], x[min(m + 4, last)], \
        x[min(m + 5, last)]


@njit(inline="always")
def _step4(u, p, q, r, s, a, b, c, d):  # one row's four accumulators, each moved on by u * its weights
    return multiply_add(a, u, p), multiply_add(b, u, q), multiply_add(c, u, r), multiply_add(d, u, s)


@njit(cache=CACHE)
def _tile_6x4(x, b, group_step, k_step, groups, m, g0, k0, k1, more, out):  # see multiply_tile
    g1, g2, g3 = min(g0 + 1, groups - 1), min(g0 + 2, groups - 1), min(g0 + 3, groups - 1)
    i0, i1, i2, i3 = g0 * group_step, g1 * group_step, g2 * group_step, g3 * group_step
    x0, x1, x2, x3, x4, x5 = tile_rows(x, m)
    a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = c0 = c1 = c2 = c3 = zeros()
    d0 = d1 = d2 = d3 = e0 = e1 = e2 = e3 = f0 = f1 = f2 = f3 = zeros()
    for k in range(k0, k1):
        at = k * k_step
        p, q, r, s = load_float(b, i0 + at), load_float(b, i1 + at), load_float(b, i2 + at), load_float(b, i3 + at)
        a0, a1, a2, a3 = _step4(splat(x0[k]), p, q, r, s, a0, a1, a2, a3)
        b0, b1, b2, b3 = _step4(splat(x1[k]), p, q, r, s, b0, b1, b2, b3)
        c0, c1, c2, c3 = _step4(splat(x2[k]), p, q, r, s, c0, c1, c2, c3)
        d0, d1, d2, d3 = _step4(splat(x3[k]), p, q, r, s, d0, d1, d2, d3)
        e0, e1, e2, e3 = _step4(splat(x4[k]), p, q, r, s, e0, e1, e2, e3)
        f0, f1, f2, f3 = _step4(splat(x5[k]), p, q, r, s, f0, f1, f2, f3)
    rows, stored = min(TILE_ROWS, x.shape[0] - m), min(4, groups - g0)  # the rest stood in
    store_groups(out[m], g0, stored, more, a0, a1, a2, a3)
    if rows > 1:
        store_groups(out[m + 1], g0, stored, more, b0, b1, b2, b3)
    if rows > 2:
        store_groups(out[m + 2], g0, stored, more, c0, c1, c2, c3)
    if rows > 3:
        store_groups(out[m + 3], g0, stored, more, d0, d1, d2, d3)
    if rows > 4:
        store_groups(out[m + 4], g0, stored, more, e0, e1, e2, e3)
    if rows > 5:
        store_groups(out[m + 5], g0, stored, more, f0, f1, f2, f3)


@njit(cache=CACHE)
def store_groups(row, g0, stored, more, a, b, c, d):  # the first `stored` of four groups' sums -> row[16 g0:]
    _store(row, g0 * LANES, more, a)
    if stored > 1:
        _store(row, (g0 + 1) * LANES, more, b)
    if stored > 2:
        _store(row, (g0 + 2) * LANES, more, c)
    if stored > 3:
        _store(row, (g0 + 3) * LANES, more, d)


@njit(cache=CACHE)
def _store(row, column, more, sums):  # sums -> row[column:column + 16], or added to what it holds
    store_float(row, column, add(load_float(row, column), sums) if more else sums)


@njit(cache=CACHE)
def _tile_6x1(x, b, group_step, k_step, m, g, k0, k1, more, out):  # see multiply_tile
    x0, x1, x2, x3, x4, x5 = tile_rows(x, m)
    a0 = a1 = a2 = a3 = a4 = a5 = zeros()
    first = g * group_step
    for k in range(k0, k1):
        p = load_float(b, first + k * k_step)
        a0, a1 = multiply_add(a0, splat(x0[k]), p), multiply_add(a1, splat(x1[k]), p)
        a2, a3 = multiply_add(a2, splat(x2[k]), p), multiply_add(a3, splat(x3[k]), p)
        a4, a5 = multiply_add(a4, splat(x4[k]), p), multiply_add(a5, splat(x5[k]), p)
    rows, column = min(TILE_ROWS, x.shape[0] - m), g * LANES
    _store(out[m], column, more, a0)
    if rows > 1:
        _store(out[m + 1], column, more, a1)
    if rows > 2:
        _store(out[m + 2], column, more, a2)
    if rows > 3:
        _store(out[m + 3], column, more, a3)
    if rows > 4:
        _store(out[m + 4], column, more, a4)
    if rows > 5:
        _store(out[m + 5], column, more, a5)
