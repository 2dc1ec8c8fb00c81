"""Multi-head self-attention (Vaswani et al. 2017, section 3.2), as in transformers' BertAttention.

Attention is the only step of the encoder that mixes information across tokens: every token's new
vector is a weighted average of all tokens' value vectors, the weights coming from how well its
query matches their keys. The vectors are cut into N heads of D = H / N channels that attend
independently, so one head can track syntax while another tracks topic.

Padding: texts of a batch are padded to a common length T, and the mask keeps a real token from
attending to padding. With the padded keys' weights exactly zero, a real token's result is the
same as if its text were alone.
"""

import numpy as np

from .layer_norm import layer_norm
from .linear import linear


def softmax(x: np.ndarray) -> np.ndarray:  # [..., T] -> [..., T], each row sums to 1
    # Subtracting the row maximum leaves the result unchanged and keeps exp() from overflowing.
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def split_heads(x: np.ndarray, num_heads: int) -> np.ndarray:  # [B, T, H] -> [B, N, T, D]
    B, T, H = x.shape
    return x.reshape(B, T, num_heads, H // num_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:  # [B, N, T, D] -> [B, T, H]
    B, N, T, D = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, N * D)


def attention_probs(q: np.ndarray, k: np.ndarray,
                    attention_mask: np.ndarray) -> np.ndarray:  # [B, N, T, D] x 2, [B, T] -> [B, N, T, T]
    """How much each query token (row) attends to each key token (column), per head."""
    D = q.shape[-1]
    # Scaled dot product: dividing by sqrt(D) keeps the scores' spread independent of the head size.
    scores = (q @ k.transpose(0, 1, 3, 2)) * D ** -0.5  # [B, N, T, T]: query rows, key columns
    # A padded key gets a score of -inf, so softmax gives it a weight of exactly 0.
    scores = np.where(attention_mask[:, None, None, :] > 0, scores, -np.inf)
    return softmax(scores)


def attention_context(probs: np.ndarray, v: np.ndarray) -> np.ndarray:  # [B, N, T, T], [B, N, T, D] -> [B, T, H]
    """Each token's new vector: the average of the value vectors, weighted by its attention."""
    return merge_heads(probs @ v)


def self_attention(x: np.ndarray, attention_mask: np.ndarray, query: dict, key: dict, value: dict,
                   num_heads: int) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """BertSelfAttention: project to queries, keys and values, attend, merge the heads."""
    q = split_heads(linear(x, **query), num_heads)  # [B, N, T, D]
    k = split_heads(linear(x, **key), num_heads)
    v = split_heads(linear(x, **value), num_heads)
    return attention_context(attention_probs(q, k, attention_mask), v)


def attention(x: np.ndarray, attention_mask: np.ndarray, params: dict, num_heads: int,
              eps: float) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """BertAttention: self-attention, then BertSelfOutput's projection, residual and LayerNorm."""
    h = self_attention(x, attention_mask, **params["self"], num_heads=num_heads)
    output = params["output"]
    return layer_norm(linear(h, **output["dense"]) + x, **output["LayerNorm"], eps=eps)
