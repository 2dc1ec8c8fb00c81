"""From token vectors to one sentence vector (E5 paper, section 4.1; the model card's
`average_pool`): average the last hidden states over the real tokens, then scale to unit length so
that a dot product between two embeddings is their cosine similarity."""

import numpy as np


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:  # [B, T, H], [B, T] -> [B, H]
    mask = attention_mask[:, :, None].astype(hidden.dtype)  # 1 for real tokens, 0 for padding
    return (hidden * mask).sum(axis=1) / mask.sum(axis=1)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:  # [B, H] -> [B, H]
    # eps as in torch.nn.functional.normalize: a zero vector stays zero instead of becoming NaN.
    norm = np.sqrt(np.square(x).sum(axis=-1, keepdims=True))
    return x / np.maximum(norm, eps)
