"""From token vectors to one sentence vector, then to unit length.

e5 averages the last hidden states over the real tokens (E5 paper, section 4.1; the model card's
`average_pool`), as all-MiniLM does. Other models, bge among them, take the vector of the first
token, [CLS], which BERT's pre-training set aside to summarise the sequence (BERT paper, section 3).
Some take the per-channel maximum over tokens; decoder models (Qwen3-Embedding) take the last token
(reference/last_token_pool.py). sentence-transformers' Pooling module offers all four;
`loading.sentence_transformers` reads which one a model uses. After pooling, scaling to unit length makes
the dot product of two embeddings their cosine similarity.
"""

import numpy as np

from .last_token_pool import last_token_pool


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:  # [B, T, H], [B, T] -> [B, H]
    mask = attention_mask[:, :, None].astype(hidden.dtype)  # 1 for real tokens, 0 for padding
    return (hidden * mask).sum(axis=1) / mask.sum(axis=1)


def cls_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:  # [B, T, H], [B, T] -> [B, H]
    return hidden[:, 0]  # the first token: [CLS] (or <s>), never padding


def max_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:  # [B, T, H], [B, T] -> [B, H]
    # Padding must never win the maximum: it is taken over real tokens only.
    return np.where(attention_mask[:, :, None] > 0, hidden, -np.inf).max(axis=1)


POOLINGS = {"mean": mean_pool, "cls": cls_pool, "max": max_pool, "lasttoken": last_token_pool}


def pool(hidden: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:  # [B, T, H], [B, T] -> [B, H]
    return POOLINGS[mode](hidden, attention_mask)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:  # [B, H] -> [B, H]
    # eps as in torch.nn.functional.normalize: a zero vector stays zero instead of becoming NaN.
    norm = np.sqrt(np.square(x).sum(axis=-1, keepdims=True))
    return x / np.maximum(norm, eps)
