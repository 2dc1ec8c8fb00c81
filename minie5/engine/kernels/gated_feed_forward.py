"""The gating of SwiGLU and GeGLU, act(gate) * up (twin of reference.gated_feed_forward.glu), on the
rows of the fused gate/up product."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .math import CACHE, FASTMATH

SILU, GELU_TANH = 0, 1  # the activations, by reference.gated_feed_forward.ACTIVATIONS' names below
ACTIVATION_CODES = {"silu": SILU, "swish": SILU, "gelu_pytorch_tanh": GELU_TANH, "gelu_new": GELU_TANH}
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def glu(gate_up, activation, out):  # [M, 2F] -> out [M, F]
    """gate_up holds each token's gate (first F) and up (last F) projections; out = act(gate) * up.
    Computed in float64 per value: exp and tanh through libm, one call per value."""
    M, F = out.shape
    for i in prange(M):
        for c in range(F):
            g = np.float64(gate_up[i, c])
            if activation == SILU:
                a = g / (1.0 + math.exp(-g))
            else:
                a = 0.5 * g * (1.0 + math.tanh(SQRT_2_OVER_PI * (g + 0.044715 * g * g * g)))
            out[i, c] = np.float32(a * gate_up[i, F + c])
