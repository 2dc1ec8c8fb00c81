"""The affine map of torch.nn.Linear, which every projection in BERT is."""

from __future__ import annotations

import numpy as np


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:  # [..., in] -> [..., out]
    # weight is stored [out, in], as torch.nn.Linear keeps it, hence the transpose. Decoder-style
    # models (Qwen3, Gemma3) have no biases: bias=None.
    y = x @ weight.T
    return y if bias is None else y + bias
