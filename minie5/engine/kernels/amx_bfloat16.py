"""The bfloat16 products of dtype="bfloat16" on AMX tiles (TDPBF16PS): weights rounded to bfloat16
and packed once at load, each product's input rounded per value (kernels/bfloat16.round_rows), the
products summed into float32 by the tiles. Twin of reference/bfloat16.py, and on CPUs without AMX
run by the tile emulator (amx_emulator.py) with the same schedule.

    pack_weight          W [N, K] float32 -> AmxBFloat16Weight, once at load (NumPy)
    linear_amx_bfloat16  xb [M, Kp] uint16 . W^T -> out [M, Np] float32, tiles=None on the CPU's
                         tiles (amx.amx_status() must say yes), or on the emulator's

The schedule is oneDNN's brgemm for AMX (oneDNN's src/cpu/x64/brgemm/): the output in blocks of
32 rows x 32 columns, each held in 4 accumulator tiles of 16 x 16 float32 for the whole of K, fed
per step of 32 k by 2 tiles of A (16 rows x 32 bfloat16 = 64 bytes a row, read from xb with its
row stride) and 2 tiles of B (16 pairs of k x 16 columns x 2 bfloat16), so that each tile load
serves two products. Tile numbers: C00 0, C01 1, C10 2, C11 3, A0 4, A1 5, B0 6, B1 7.

    B's layout ("VNNI"): TDPBF16PS reads a B row as 16 columns x 2 consecutive k. So each block of
    16 columns and 32 k is stored at load as one contiguous 1,024-byte tile, [16 pairs, 16 columns,
    2], and loaded with a 64-byte stride; AmxBFloat16Weight.packed is [G, KB * 512] uint16, G =
    Np / 16 column groups, KB = Kp / 32 blocks of k. K is padded with zeros to Kp (a multiple of 32)
    at packing, N to Np (a multiple of 16), so no tile has a ragged edge along K or N.

A task is a block of 32 rows (16 where the rows run out: A1, C10, C11 get the remaining rows, or
none) and a run of COLUMN_BLOCKS blocks of 32 columns; the tiles are configured once per task and
released at its end. A row's sums never depend on the rows beside it (each tile row is summed on
its own), so a text's vector is the same bits in any batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ...reference.bfloat16 import round_bfloat16
from .amx import configure, dot_bfloat16, load, release, set_tile, store, zero
from .math import CACHE

K_BLOCK = 32  # bfloat16 values of k per tile row: 64 bytes
ROWS = 16  # a tile's rows
LANES = 16  # float32 columns of an accumulator tile
COLUMN_BLOCKS = 4  # blocks of 32 columns per task: 128 columns, 3 x 128 for e5's query/key/value


@dataclass
class AmxBFloat16Weight:
    """A [N, K] weight as linear_amx_bfloat16 reads it (see the module's docstring)."""

    packed: np.ndarray  # [G, KB * 512] uint16
    rows: int  # N

    @property
    def padded_rows(self) -> int:
        return self.packed.shape[0] * LANES

    @property
    def padded_cols(self) -> int:  # Kp: the width the product's rounded input must have
        return self.packed.shape[1] // (LANES * 2) * 2


def padded_width(K: int) -> int:
    return -(-K // K_BLOCK) * K_BLOCK


def pack_weight(weight: np.ndarray) -> AmxBFloat16Weight:  # [N, K] float32 -> AmxBFloat16Weight
    """torch.nn.Linear's [out, in] weight rounded to bfloat16 and laid out as B tiles."""
    N, K = weight.shape
    groups, Kp = -(-N // LANES), padded_width(K)
    padded = np.zeros((groups * LANES, Kp), np.uint16)
    padded[:N, :K] = round_bfloat16(weight)
    # [G, 16 columns, KB, 16 pairs, 2] -> [G, KB, 16 pairs, 16 columns, 2]
    tiles = padded.reshape(groups, LANES, Kp // K_BLOCK, K_BLOCK // 2, 2).transpose(0, 2, 3, 1, 4)
    return AmxBFloat16Weight(np.ascontiguousarray(tiles.reshape(groups, -1)), N)


@njit(parallel=True, cache=CACHE)
def linear_amx_bfloat16(xb, packed, out, tiles):  # [M, Kp] uint16 . packed [G, KB * 512] -> out [M, G * 16] float32
    """Twin of reference.linear_bfloat16 on AMX tiles (tiles=None: the CPU's, which only
    amx.amx_status() may allow) or on the emulator's (amx_emulator.tile_files())."""
    M, Kp = xb.shape
    groups = packed.shape[0]
    if Kp % K_BLOCK != 0 or packed.shape[1] != Kp * LANES or out.shape[0] != M or out.shape[1] != groups * LANES:
        raise ValueError("linear_amx_bfloat16: xb [M, Kp], packed [G, 16 Kp] and out [M, 16 G] do not agree "
                         "(Kp a multiple of 32)")
    row_blocks = (M + 2 * ROWS - 1) // (2 * ROWS)
    column_blocks = (groups + 1) // 2
    runs = (column_blocks + COLUMN_BLOCKS - 1) // COLUMN_BLOCKS
    x, w, o = xb.reshape(-1), packed.reshape(-1), out.reshape(-1)
    for task in prange(row_blocks * runs):
        first_row = (task % row_blocks) * 2 * ROWS  # neighbouring tasks share their weights
        first_block = (task // row_blocks) * COLUMN_BLOCKS
        _task(tiles, x, w, o, M, Kp, groups, first_row, first_block, min(column_blocks, first_block + COLUMN_BLOCKS))


@njit(cache=CACHE)
def _task(tiles, x, w, o, M, Kp, groups, m0, first_block, end_block):  # rows m0.. x column blocks -> o
    rows0 = min(ROWS, M - m0)
    rows1 = min(ROWS, max(0, M - m0 - ROWS))
    config = np.zeros(64, np.uint8)
    config[0] = 1
    for t, rows in ((0, rows0), (1, rows0), (2, rows1), (3, rows1), (4, rows0), (5, rows1)):
        set_tile(config, t, rows, 64 if rows > 0 else 0)
    set_tile(config, 6, ROWS, 64)
    set_tile(config, 7, ROWS, 64)
    configure(tiles, config)
    a_stride, o_stride, blocks = Kp * 2, groups * LANES * 4, Kp // K_BLOCK
    tile_elements = ROWS * K_BLOCK  # uint16 in one B tile
    for block in range(first_block, end_block):
        g0 = 2 * block
        two = g0 + 1 < groups  # an odd last group: B1, C01, C11 idle
        zero(tiles, 0)
        if two:
            zero(tiles, 1)
        if rows1 > 0:
            zero(tiles, 2)
            if two:
                zero(tiles, 3)
        for kb in range(blocks):
            load(tiles, 4, x, m0 * Kp + kb * K_BLOCK, a_stride)
            load(tiles, 6, w, (g0 * blocks + kb) * tile_elements, 64)
            dot_bfloat16(tiles, 0, 4, 6)
            if two:
                load(tiles, 7, w, ((g0 + 1) * blocks + kb) * tile_elements, 64)
                dot_bfloat16(tiles, 1, 4, 7)
            if rows1 > 0:
                load(tiles, 5, x, (m0 + ROWS) * Kp + kb * K_BLOCK, a_stride)
                dot_bfloat16(tiles, 2, 5, 6)
                if two:
                    dot_bfloat16(tiles, 3, 5, 7)
        first = m0 * groups * LANES + g0 * LANES
        store(tiles, 0, o, first, o_stride)
        if two:
            store(tiles, 1, o, first + LANES, o_stride)
        if rows1 > 0:
            second = first + ROWS * groups * LANES
            store(tiles, 2, o, second, o_stride)
            if two:
                store(tiles, 3, o, second + LANES, o_stride)
    release(tiles)
