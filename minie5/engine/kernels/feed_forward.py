"""The feed-forward's activation, after the product that left out its bias."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .math import CACHE, FASTMATH, erf


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def add_bias_gelu(h, bias):  # [M, F] in place
    """Twin of reference.gelu(h + bias), the exact erf GELU, with erf from its rational fit."""
    M, F = h.shape
    for i in prange(M):
        for c in range(F):
            x = np.float64(h[i, c] + bias[c])
            h[i, c] = np.float32(0.5 * x * (1.0 + erf(x * 0.7071067811865476)))


