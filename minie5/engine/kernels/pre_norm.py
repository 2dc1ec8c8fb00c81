"""The kernels of a pre-norm encoder layer (ModernBERT): the residual stream is added to and never
normalised itself; each branch reads a LayerNorm-ed copy. Twins of reference.modernbert's `norm`
and `mlp` (GeGLU with the exact GELU)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .layer_norm import layer_norm_row
from .math import CACHE, FASTMATH, erf


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def layer_norm_rows(x, weight, bias, eps, out):  # [M, H] -> out [M, H]
    """out = LayerNorm(x), row by row (reference.layer_norm; a zero bias where the model has none)."""
    for i in prange(x.shape[0]):
        out[i] = x[i]
        layer_norm_row(out[i], weight, bias, eps)


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def add_layer_norm(residual, y, weight, bias, eps, out):  # residual [M, H] += y; out = LayerNorm(residual)
    """A branch's output added to the residual stream, and the stream normalised for the next
    branch (or the final norm), in one pass over each row."""
    for i in prange(residual.shape[0]):
        for c in range(residual.shape[1]):
            residual[i, c] += y[i, c]
        out[i] = residual[i]
        layer_norm_row(out[i], weight, bias, eps)


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def gelu_glu(input_gate, out):  # [M, 2F] -> out [M, F]
    """GeGLU as ModernBertMLP gates: exact GELU of the first half, times the second half."""
    M, F = out.shape
    for i in prange(M):
        for c in range(F):
            x = np.float64(input_gate[i, c])
            out[i, c] = np.float32(0.5 * x * (1.0 + erf(x * 0.7071067811865476)) * input_gate[i, F + c])
