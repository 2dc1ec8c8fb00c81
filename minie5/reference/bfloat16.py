"""The bfloat16 product x @ W^T as the engine's dtype="bfloat16" computes it, in plain NumPy: the
specification its kernel (engine/kernels/bfloat16.py) is tested against.

bfloat16 is float32 with the low 16 bits of the mantissa dropped: the same sign and 8-bit exponent
(so the same range, and no scales to choose), 8 bits of significand instead of 24. Each operand is
rounded to it, to nearest with ties to even; the product of two bfloat16 values is exact in
float32, so what is lost is the rounding of the inputs alone (a relative 2^-8 at most per value):

    (x @ W^T)[m, n] ~= sum_k bf16(x[m, k]) * bf16(W[n, k])        summed in float32

tools/int8_recipes.py measured it on all-MiniLM-L6-v2 beside the int8 recipes: min cosine to
float32 0.99997 over 600 texts, where int8 in blocks of 32 reached 0.99869 (docs/engine-guide.md,
"bfloat16").
"""

from __future__ import annotations

import numpy as np


def round_bfloat16(a: np.ndarray) -> np.ndarray:  # float32 [...] -> uint16 [...]: the bfloat16 bits
    """Each value rounded to bfloat16, to nearest, ties to even (finite values; the rounding can
    carry into the exponent, and the largest float32 values round to infinity, as they must)."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def bfloat16_values(bits: np.ndarray) -> np.ndarray:  # uint16 [...] -> float32 [...], exactly
    return (bits.astype(np.uint32) << 16).view(np.float32)


def linear_bfloat16(x: np.ndarray, weight: np.ndarray) -> np.ndarray:  # [M, K] @ [N, K]^T -> [M, N] float64
    """x @ W^T of both operands rounded to bfloat16, without the bias, summed in float64."""
    xr, wr = (bfloat16_values(round_bfloat16(a)).astype(np.float64) for a in (x, weight))
    return xr @ wr.T
