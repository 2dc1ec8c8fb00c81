"""RMSNorm over each token's row (twin of reference/rms_norm.py), and the residual sum of pre-norm layers."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def rms_norm(x, weight, eps, offset, out):  # [M, H] -> out [M, H] (out may be x)
    """Twin of reference.rms_norm.rms_norm: out = x / sqrt(mean(x^2) + eps) * (weight + offset),
    offset 1 for Gemma's stored form. The mean square is summed in float64."""
    M, H = x.shape
    for i in prange(M):
        squares = 0.0
        for c in range(H):
            squares += np.float64(x[i, c]) * x[i, c]
        inv = np.float32(1.0 / math.sqrt(squares / H + eps))
        for c in range(H):
            out[i, c] = x[i, c] * inv * (weight[c] + np.float32(offset))


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def add_rms_norm(residual, y, weight, eps, offset, out):  # residual [M, H] += y; out = RMSNorm(residual)
    """The pre-norm layer's step between blocks: the block's output joins the residual stream,
    and the next block reads it normalised."""
    M, H = residual.shape
    for i in prange(M):
        squares = 0.0
        for c in range(H):
            v = residual[i, c] + y[i, c]
            residual[i, c] = v
            squares += np.float64(v) * v
        inv = np.float32(1.0 / math.sqrt(squares / H + eps))
        for c in range(H):
            out[i, c] = residual[i, c] * inv * (weight[c] + np.float32(offset))
