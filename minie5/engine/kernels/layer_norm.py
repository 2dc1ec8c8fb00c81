"""LayerNorm over each token's row, with the bias and residual of the product before it folded in."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .int8 import quantize_row
from .math import CACHE, FASTMATH


@njit(inline="always", fastmath=FASTMATH)
def layer_norm_row(row, weight, bias, eps):  # [H] in place
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
def add_bias_residual_layer_norm(y, bias, residual, weight, ln_bias, eps, xq=None, xs=None):  # -> residual [M, H]
    """Twin of the reference's `layer_norm(linear(h) + x)` after a matmul that left out the
    bias: residual <- LayerNorm(y + bias + residual). Used after attention and after the
    feed-forward (BertSelfOutput, BertOutput). With xq and xs (dtype="int8"), each row is also
    rounded for the next product, as int8.quantize_rows would, while it is in cache (Numba
    compiles the call without them separately, the branch gone)."""
    M, H = y.shape
    for i in prange(M):
        row = residual[i]
        for c in range(H):
            row[c] = y[i, c] + bias[c] + row[c]
        layer_norm_row(row, weight, ln_bias, eps)
        if xq is not None:
            quantize_row(row, xq[i], xs[i])


