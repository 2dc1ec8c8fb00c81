"""The error function as a NumPy ufunc.

NumPy has no erf, and the feed-forward's GELU needs one accurate to the last bit of float64 for the
float64 ground truth. Numba compiles C's `erf`/`erff` into a ufunc that works on arrays of either
precision, as `scipy.special.erf` would, without adding SciPy as a dependency.
"""

import math

from numba import vectorize

from .. import jit_cache


@vectorize(["float32(float32)", "float64(float64)"], cache=jit_cache.available())
def erf(x):  # [...] -> [...], elementwise
    return math.erf(x)
