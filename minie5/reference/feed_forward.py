"""The position-wise feed-forward network (Vaswani et al. 2017, section 3.3), as in transformers'
BertIntermediate + BertOutput: widen each token vector to F = 4H, apply GELU, project back to H,
add the residual, LayerNorm. It works on each token alone; attention did the mixing.
"""

import math

import numpy as np

from .erf import erf
from .layer_norm import layer_norm
from .linear import linear


def gelu(x: np.ndarray) -> np.ndarray:  # [...] -> [...]
    # The exact GELU of Hendrycks & Gimpel (2016): x * Phi(x), with Phi the standard normal CDF,
    # written through erf. transformers' "gelu" is this one, not the tanh approximation.
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def feed_forward(x: np.ndarray, intermediate: dict, output: dict, eps: float) -> np.ndarray:  # [B, T, H] -> [B, T, H]
    h = gelu(linear(x, **intermediate["dense"]))  # [B, T, F]
    return layer_norm(linear(h, **output["dense"]) + x, **output["LayerNorm"], eps=eps)
