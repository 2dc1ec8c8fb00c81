"""The int8 product x @ W^T as the engine's dtype="int8" computes it, in plain NumPy: the
specification its kernels (engine/kernels/int8.py) are tested against.

Both operands are rounded to int8 in blocks of BLOCK = 32 consecutive values along K, each block
with its own scale, the largest magnitude in it mapped to 127 (symmetric: 0 stays exactly 0):

    x[m, k] ~= xs[m, b] * xq[m, k]        W[n, k] ~= ws[n, b] * wq[n, k]        b = k // 32

so that the product is a sum over blocks of exact integer dot products, each scaled once:

    (x @ W^T)[m, n] ~= sum_b  xs[m, b] * ws[n, b] * sum_{k in b} xq[m, k] * wq[n, k]

Why blocks of 32 along K rather than one scale per row or per output channel: a trained BERT's
hidden states have a few channels far larger than the rest, and one scale per token spends most of
the 255 levels on them; a block's scale only has to cover its own 32 values.
tools/int8_recipes.py measured the choice on all-MiniLM-L6-v2 (docs/engine-guide.md, "int8").
The activations' scales come from each token's own values, so a text's vector never depends on
the other texts of its batch.
"""

from __future__ import annotations

import numpy as np

BLOCK = 32  # values along K that share one scale
LEVELS = 127  # the largest magnitude of a block maps to +-127; -128 is never used


def quantize_blocks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # [R, K] -> [R, Kp] int8, [R, Kp/32] float32
    """Each row's runs of BLOCK values rounded to int8 with their own scale (K padded with zeros to
    a multiple of BLOCK). A run of zeros has scale 0 and rounds to zeros."""
    a = np.asarray(a, dtype=np.float32)
    R, K = a.shape
    padded = np.zeros((R, -(-K // BLOCK) * BLOCK), dtype=np.float32)
    padded[:, :K] = a
    runs = padded.reshape(R, -1, BLOCK)
    largest = np.abs(runs).max(axis=2)
    scale = largest / np.float32(LEVELS)
    # Multiplying by 127 / largest (rather than dividing by the scale) is what the kernel does too.
    inverse = np.where(largest > 0, np.float32(LEVELS) / np.where(largest > 0, largest, 1), 0).astype(np.float32)
    q = np.clip(np.rint(runs * inverse[:, :, None]), -LEVELS, LEVELS).astype(np.int8)
    return q.reshape(R, -1), scale.astype(np.float32)


def linear_int8(xq: np.ndarray, xs: np.ndarray, wq: np.ndarray, ws: np.ndarray) -> np.ndarray:  # -> [M, N]
    """x @ W^T from both operands' blocks (quantize_blocks of x and of W), without the bias: the
    integer dot products exactly, the sum over blocks in float64."""
    M, N, blocks = xq.shape[0], wq.shape[0], xs.shape[1]
    dots = np.einsum("mbk,nbk->mnb", xq.reshape(M, blocks, BLOCK).astype(np.int64),
                     wq.reshape(N, blocks, BLOCK).astype(np.int64))
    scales = xs[:, None, :] * ws[None, :, :]  # float32, as the kernel rounds each block's scale
    return (dots * scales.astype(np.float64)).sum(axis=2).astype(np.float32)
