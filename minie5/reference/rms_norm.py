"""RMSNorm (Zhang & Sennrich 2019), the normalisation of Llama-style models (Qwen3, Gemma3,
and their q/k norms): LayerNorm without the mean and without the bias. Each vector is divided by
its root mean square and scaled per channel; it keeps its direction's centring, costs one
reduction instead of two, and trains as well.

    Qwen3RMSNorm:  x / sqrt(mean(x^2) + eps) * weight
    Gemma3RMSNorm: x / sqrt(mean(x^2) + eps) * (1 + weight)

Gemma stores the scale as an offset from one (its weights start at zero), so its checkpoints hold
`weight` where the other form would hold `1 + weight`; reading a Gemma checkpoint with the plain
form shrinks every vector to nearly nothing. `offset` is that 1 (0 for the plain form).
"""

import numpy as np


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float, offset: float = 0.0) -> np.ndarray:  # [..., H] -> [..., H]
    mean_square = np.square(x).mean(axis=-1, keepdims=True)
    return x / np.sqrt(mean_square + eps) * (weight + offset)
