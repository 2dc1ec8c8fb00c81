"""The feed-forward's activation, after the product that left out its bias."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .int8 import quantize_row
from .math import CACHE, FASTMATH, erf


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def add_bias_gelu(h, bias, hq=None, hs=None):  # [M, F] in place
    """Twin of reference.gelu(h + bias), the exact erf GELU, with erf from its rational fit. With
    hq and hs (dtype="int8"), each row is also rounded for the next product (int8.quantize_row)."""
    M, F = h.shape
    for i in prange(M):
        for c in range(F):
            x = np.float64(h[i, c] + bias[c])
            h[i, c] = np.float32(0.5 * x * (1.0 + erf(x * 0.7071067811865476)))
        if hq is not None:
            quantize_row(h[i], hq[i], hs[i])


