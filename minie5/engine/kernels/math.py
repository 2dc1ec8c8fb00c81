"""exp and erf written out as polynomials, so that LLVM turns the loops that call them into SIMD
code (C's exp and erf are one call per value). Twins of np.exp (in reference.softmax) and of
reference/erf.py; their accuracy is fitted by tools/fit_erf.py and tested in
tests/engine/test_kernels.py.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ... import jit_cache

CACHE = jit_cache.available()  # False where no folder can hold compiled kernels

# Reassociation (vectorised sums and maxima) and fused multiply-add only: no assumption that values
# are finite, so a NaN or an infinity still propagates to where it can be seen. Reordered sums
# change rounding at the level of float32's last bit; the golden tests bound the effect.
FASTMATH = {"reassoc", "contract"}

# erf(x) ~= x * P(x^2) / Q(x^2) on |x| <= 4, fitted by tools/fit_erf.py (max error 2e-8 in
# float64, below float32's resolution; erf(4) rounds to 1 in float32, so the tails are clamped).
ERF_X_MAX = 4.0
ERF_P = (1.1283789765995853, 0.1962482556764465, 0.053467372916422465, 0.0040036060583855376,
         0.00028803893645722, 1.9748182525725446e-06)
ERF_Q = (1.0, 0.5072516487006943, 0.11647611624321906, 0.015444352069940749,
         0.001216346789388174, 3.748060240282145e-05)
P0, P1, P2, P3, P4, P5 = ERF_P
Q0, Q1, Q2, Q3, Q4, Q5 = ERF_Q

# exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, in float32: r by Cody and Waite's
# two-part ln 2 (the high part has few enough bits that n * LN_2_HIGH is exact), exp(r) by its
# Taylor series to r^7 / 7! (truncation error 6e-9, below float32's rounding), 2^n from its bits.
LOG2_E = np.float32(1.4426950408889634)
LN_2_HIGH = np.float32(0.693359375)
LN_2_LOW = np.float32(-2.12194440e-4)
EXP_X_MIN = np.float32(-87.0)  # exp(-87) = 1.6e-38, just above float32's smallest normal number
TAYLOR = tuple(np.float32(1 / math.factorial(k)) for k in range(8))
E0, E1, E2, E3, E4, E5, E6, E7 = TAYLOR
HALF = np.float32(0.5)


@njit(inline="always", fastmath=FASTMATH)
def erf(x):  # float64 -> float64
    x = max(-ERF_X_MAX, x)
    x = min(ERF_X_MAX, x)
    s = x * x
    p = ((((P5 * s + P4) * s + P3) * s + P2) * s + P1) * s + P0
    q = ((((Q5 * s + Q4) * s + Q3) * s + Q2) * s + Q1) * s + Q0
    return x * p / q


@njit(inline="always", fastmath=FASTMATH)
def exp_row(values, n, bits):  # [T] float32 in place: values[j] <- exp(values[j]), values <= 0
    """exp of a row of non-positive numbers, in two SIMD loops: reduce x to n ln2 + r and
    evaluate exp(r) while writing 2^n's IEEE bits (exponent n + 127, zero mantissa) to `bits`;
    then multiply. Inputs are clamped at EXP_X_MIN so that 2^n stays a normal float32; LLVM
    vectorises both loops (the clamp becomes a vector max)."""
    scale = bits.view(np.float32)
    for j in range(n):
        x = values[j]
        x = max(EXP_X_MIN, x)
        k = np.floor(x * LOG2_E + HALF)
        r = (x - k * LN_2_HIGH) - k * LN_2_LOW
        bits[j] = (np.int32(k) + np.int32(127)) << np.int32(23)
        values[j] = E0 + r * (E1 + r * (E2 + r * (E3 + r * (E4 + r * (E5 + r * (E6 + r * E7))))))
    for j in range(n):
        values[j] *= scale[j]


