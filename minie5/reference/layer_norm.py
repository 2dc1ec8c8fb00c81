"""Layer normalisation (Ba et al. 2016), as torch.nn.LayerNorm computes it.

BERT applies it after every residual addition ("post-LN", Vaswani et al. 2017, section 3.1), so
each layer hands the next one vectors of zero mean and unit variance, rescaled per channel.
"""

import numpy as np


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:  # [..., H] -> [..., H]
    mean = x.mean(axis=-1, keepdims=True)
    # The biased variance (divide by H, not H - 1), as torch.nn.LayerNorm uses.
    variance = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias
