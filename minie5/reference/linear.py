"""The affine map of torch.nn.Linear, which every projection in BERT is."""

import numpy as np


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:  # [..., in] -> [..., out]
    # weight is stored [out, in], as torch.nn.Linear keeps it, hence the transpose.
    return x @ weight.T + bias
