"""The products x @ W^T: a register-tiled kernel with one arithmetic for every row."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .intrinsics import prefetch_row, vector_registers
from .math import CACHE, FASTMATH

# The tile: rows of x by rows of the weight, one accumulator register per pair, as many as the
# registers hold beside the operands: 4 x 4 (16 accumulators) with AVX-512's 32 registers, 2 x 4 with
# AVX2's 16, where 4 x 4 spills (tools/linear_tiles.py measures the shapes; docs/engine-guide.md).
LINEAR_TILE_ROWS = 4 if vector_registers() >= 32 else 2
LINEAR_TILE_COLS = 4
# Rows of x per task, which stay in cache while the block's weight tiles pass them: in L1 when they
# are short (16 rows of 384 floats), in L2 when they are long (64 rows of 1,536).
LINEAR_ROW_BLOCK_SHORT, LINEAR_SHORT_K = 16, 768
LINEAR_ROW_BLOCK = 64
LINEAR_COL_BLOCK = 64  # output columns per task
LINEAR_PANEL_ROWS = 256  # rows whose tasks run column by column (see linear)
# While a tile computes, the weight rows this many columns on are requested from memory. With a few
# rows of x, reading the weights is most of the work, and the processor's own prefetcher ramps up
# too slowly on rows of 1.5 kB.
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
                    prefetch_row(weight[c])
            for m in range(first_row, end_row, LINEAR_TILE_ROWS):
                _linear_tile(x, weight, m, n, LINEAR_TILE_COLS, out, spare)
            n += LINEAR_TILE_COLS
        while n < end_col:  # widths that are not a multiple of 4: one column at a time
            for m in range(first_row, end_row, LINEAR_TILE_ROWS):
                _linear_tile(x, weight, m, n, 1, out, spare)
            n += 1


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


