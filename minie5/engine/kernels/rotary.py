"""RMSNorm of each head's query and key, then their rotary turn, in place on the rows of the fused
q/k/v product (twins of reference/rms_norm.py and reference/rotary.py, half-split layout)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .math import CACHE, FASTMATH


@njit(inline="always", fastmath=FASTMATH)
def norm_rotate_head(row, start, D, weight, eps, offset, cos, sin):  # row[start:start+D] in place
    squares = 0.0
    for c in range(D):
        squares += np.float64(row[start + c]) * row[start + c]
    inv = np.float32(1.0 / math.sqrt(squares / D + eps))
    for c in range(D):
        row[start + c] = row[start + c] * inv * (weight[c] + np.float32(offset))
    half = D // 2
    for c in range(half):  # (a, b) -> (a cos - b sin, b cos + a sin) for the pair (c, c + D/2)
        a, b = row[start + c], row[start + half + c]
        row[start + c] = a * cos[c] - b * sin[c]
        row[start + half + c] = b * cos[half + c] + a * sin[half + c]


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def qk_norm_rotary(qkv, positions, cos, sin, q_norm, k_norm, num_heads, num_kv_heads, eps, offset):
    """qkv [M, (N + 2 Nkv) D]: queries, keys, values of each token side by side. Each query and
    key head is RMS-normalised (q_norm / k_norm [D]) and turned by its token's angles, cos/sin
    [positions, D] as reference.rotary_cos_sin gives them; values are left alone."""
    M = qkv.shape[0]
    D = q_norm.shape[0]
    for i in prange(M):
        row = qkv[i]
        p = positions[i]
        for h in range(num_heads):
            norm_rotate_head(row, h * D, D, q_norm, eps, offset, cos[p], sin[p])
        for h in range(num_kv_heads):
            norm_rotate_head(row, (num_heads + h) * D, D, k_norm, eps, offset, cos[p], sin[p])
