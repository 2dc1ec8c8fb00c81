"""int8 products on AMX tiles (TDPBSSD), in blocks of 64 along K: the AMX twin of kernels/int8.py,
and on CPUs without AMX run by the tile emulator (amx_emulator.py) with the same schedule.

    quantize_blocks      a [R, K] float32 -> q [R, Kp] int8, scales [R, Kp/64] (NumPy: the reference)
    quantize_rows        the same for a product's input, per token, in Numba (its twin, bit for bit)
    pack_weight          W [N, K] float32 -> AmxInt8Weight, once at load (NumPy)
    linear_amx_int8      xq . W^T -> out [M, Np] float32, tiles=None on the CPU's tiles, or emulated

The recipe: both operands rounded to int8 (symmetric, the largest magnitude of a block to 127) in
blocks of 64 consecutive k, each with its own scale, as reference/quantized.py does in blocks of
32. tools/int8_recipes.py measured blocks of 64 on both sides on all-MiniLM-L6-v2 at min cosine
0.99891 and mean 0.999495 to float32 over 600 texts (docs/engine-guide.md, "int8"), inside this
project's int8 goal; one scale per token and per output channel, which would keep the int32 sums in
the tiles for the whole of K, reached only 0.99404. 64 int8 values are exactly one tile row, so each
block of k is one step of the schedule:

    per block of 32 rows x 32 columns (4 accumulator tiles, 2 A, 2 B: amx_bfloat16.py's layout)
        per block b of 64 k:  zero C; C += A . B (4 x TDPBSSD, exact int32); store C;
                              acc[m, n] = fma(float32(C[m, n]), ws[n, b] * xs[m, b], acc[m, n])

which is kernels/int8.py's arithmetic (an exact integer sum per block, scaled once, added with one
rounding) with blocks of 64. B is stored as 1,024-byte tiles [16 quads of k, 16 columns, 4],
K padded to a multiple of 64 and N to a multiple of 16 with zeros at packing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .amx import configure, dot_int8, load, release, set_tile, store, zero
from .math import CACHE
from .simd import fma

BLOCK = 64  # int8 values of k per scale, and per tile row
LEVELS = 127
ROWS = 16
LANES = 16
COLUMN_BLOCKS = 4


def quantize_blocks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # [R, K] -> [R, Kp] int8, [R, Kp/64] float32
    """Each row's runs of 64 values rounded to int8 with their own scale (K padded with zeros to a
    multiple of 64), as reference.quantized.quantize_blocks does with 32."""
    a = np.asarray(a, dtype=np.float32)
    R, K = a.shape
    padded = np.zeros((R, -(-K // BLOCK) * BLOCK), np.float32)
    padded[:, :K] = a
    runs = padded.reshape(R, -1, BLOCK)
    largest = np.abs(runs).max(axis=2)
    inverse = np.where(largest > 0, np.float32(LEVELS) / np.where(largest > 0, largest, 1), 0).astype(np.float32)
    q = np.clip(np.rint(runs * inverse[:, :, None]), -LEVELS, LEVELS).astype(np.int8)
    return q.reshape(R, -1), (largest / np.float32(LEVELS)).astype(np.float32)


@dataclass
class AmxInt8Weight:
    """A [N, K] weight as linear_amx_int8 reads it (see the module's docstring)."""

    packed: np.ndarray  # [G, KB * 1024] int8
    scales: np.ndarray  # [G, KB * 16] float32: ws[n, b] for the group's 16 columns, block by block
    rows: int  # N

    @property
    def padded_rows(self) -> int:
        return self.packed.shape[0] * LANES

    @property
    def padded_cols(self) -> int:  # Kp
        return self.packed.shape[1] // LANES


def padded_width(K: int) -> int:
    return -(-K // BLOCK) * BLOCK


def pack_weight(weight: np.ndarray) -> AmxInt8Weight:  # [N, K] float32 -> AmxInt8Weight
    N, K = weight.shape
    q, scale = quantize_blocks(weight)  # [N, Kp], [N, KB]
    groups = -(-N // LANES)
    Kp, blocks = q.shape[1], scale.shape[1]
    q = np.concatenate([q, np.zeros((groups * LANES - N, Kp), np.int8)])
    scale = np.concatenate([scale, np.zeros((groups * LANES - N, blocks), np.float32)])
    # [G, 16 columns, KB, 16 quads, 4] -> [G, KB, 16 quads, 16 columns, 4]
    tiles = q.reshape(groups, LANES, blocks, BLOCK // 4, 4).transpose(0, 2, 3, 1, 4).reshape(groups, -1)
    scales = scale.reshape(groups, LANES, blocks).transpose(0, 2, 1).reshape(groups, -1)
    return AmxInt8Weight(np.ascontiguousarray(tiles), np.ascontiguousarray(scales), N)


@njit(parallel=True, cache=CACHE)
def quantize_rows(x, xq, xs):  # [M, K] float32 -> xq [M, Kp] int8, xs [M, Kp/64] float32
    """Twin of quantize_blocks, row by row (the same exact operations: a maximum, one division,
    one product per value, rounding to nearest even)."""
    M, K = x.shape
    for m in prange(M):
        row, out, scales = x[m], xq[m], xs[m]
        for b in range(xs.shape[1]):
            first, end = b * BLOCK, min(K, (b + 1) * BLOCK)
            largest = np.float32(0.0)
            for k in range(first, end):
                largest = max(largest, abs(row[k]))
            inverse = np.float32(LEVELS) / largest if largest > 0 else np.float32(0.0)
            for k in range(first, end):
                out[k] = np.int8(min(max(np.rint(row[k] * inverse), np.float32(-LEVELS)), np.float32(LEVELS)))
            for k in range(end, (b + 1) * BLOCK):
                out[k] = 0
            scales[b] = largest / np.float32(LEVELS)


@njit(parallel=True, cache=CACHE)
def linear_amx_int8(xq, xs, packed, scales, out, tiles):  # [M, Kp] int8 . packed [G, KB * 1024] -> out [M, G * 16]
    """xq . W^T in blocks of 64 on AMX tiles (tiles=None: the CPU's, which only amx.amx_status()
    may allow) or on the emulator's (amx_emulator.tile_files())."""
    M, Kp = xq.shape
    groups = packed.shape[0]
    if Kp % BLOCK != 0 or packed.shape[1] != Kp * LANES or xs.shape[0] != M or xs.shape[1] != Kp // BLOCK \
            or out.shape[0] != M or out.shape[1] != groups * LANES:
        raise ValueError("linear_amx_int8: xq [M, Kp], xs [M, Kp/64], packed [G, 16 Kp] and out [M, 16 G] "
                         "do not agree (Kp a multiple of 64)")
    row_blocks = (M + 2 * ROWS - 1) // (2 * ROWS)
    column_blocks = (groups + 1) // 2
    runs = (column_blocks + COLUMN_BLOCKS - 1) // COLUMN_BLOCKS
    x, w = xq.reshape(-1), packed.reshape(-1)
    for task in prange(row_blocks * runs):
        first_row = (task % row_blocks) * 2 * ROWS
        first_block = (task // row_blocks) * COLUMN_BLOCKS
        _task(tiles, x, xs, w, scales, out, M, Kp, groups, first_row, first_block,
              min(column_blocks, first_block + COLUMN_BLOCKS))


@njit(cache=CACHE)
def _task(tiles, x, xs, w, ws, out, M, Kp, groups, m0, first_block, end_block):
    rows0 = min(ROWS, M - m0)
    rows1 = min(ROWS, max(0, M - m0 - ROWS))
    config = np.zeros(64, np.uint8)
    config[0] = 1
    for t, rows in ((0, rows0), (1, rows0), (2, rows1), (3, rows1), (4, rows0), (5, rows1)):
        set_tile(config, t, rows, 64 if rows > 0 else 0)
    set_tile(config, 6, ROWS, 64)
    set_tile(config, 7, ROWS, 64)
    configure(tiles, config)
    sums = np.zeros((2 * ROWS, 2 * LANES), np.int32)  # one block's C tiles, stored for the epilogue
    acc = np.zeros((2 * ROWS, 2 * LANES), np.float32)
    s = sums.reshape(-1)
    blocks, tile_bytes = Kp // BLOCK, ROWS * BLOCK
    for block in range(first_block, end_block):
        g0 = 2 * block
        two = g0 + 1 < groups
        acc[:] = 0
        for kb in range(blocks):
            zero(tiles, 0)
            load(tiles, 4, x, m0 * Kp + kb * BLOCK, Kp)
            load(tiles, 6, w, (g0 * blocks + kb) * tile_bytes, 64)
            dot_int8(tiles, 0, 4, 6)
            store(tiles, 0, s, 0, 2 * LANES * 4)
            if two:
                zero(tiles, 1)
                load(tiles, 7, w, ((g0 + 1) * blocks + kb) * tile_bytes, 64)
                dot_int8(tiles, 1, 4, 7)
                store(tiles, 1, s, LANES, 2 * LANES * 4)
            if rows1 > 0:
                zero(tiles, 2)
                load(tiles, 5, x, (m0 + ROWS) * Kp + kb * BLOCK, Kp)
                dot_int8(tiles, 2, 5, 6)
                store(tiles, 2, s, ROWS * 2 * LANES, 2 * LANES * 4)
                if two:
                    zero(tiles, 3)
                    dot_int8(tiles, 3, 5, 7)
                    store(tiles, 3, s, ROWS * 2 * LANES + LANES, 2 * LANES * 4)
            _scale_and_add(sums, acc, xs, ws, m0, rows0 + rows1, g0, LANES * (2 if two else 1), kb)
        for r in range(rows0 + rows1):
            out[m0 + r, g0 * LANES:g0 * LANES + (2 if two else 1) * LANES] = acc[r, :(2 if two else 1) * LANES]
    release(tiles)


@njit(inline="always")
def _scale_and_add(sums, acc, xs, ws, m0, rows, g0, columns, kb):  # acc += sums * xs * ws, one rounding each
    for r in range(rows):
        t = xs[m0 + r, kb]
        for n in range(columns):
            g, lane = g0 + n // LANES, n % LANES
            acc[r, n] = fma(np.float32(sums[r, n]), ws[g, kb * LANES + lane] * t, acc[r, n])
