"""SPLADE (Formal et al. 2021, "SPLADE v2", arXiv 2109.10086) in NumPy: the specification the fast
head (sparse/head.py) is tested against.

A SPLADE model is a BERT with its masked-language-model head kept. For every token the head says
how much each vocabulary entry fits at that position; SPLADE keeps those scores, squashes them
with log(1 + ReLU) and takes, for each vocabulary entry, the largest over the text's tokens. Most
entries end at exactly 0 (no token wanted them), so a text becomes a sparse vector over the
vocabulary, scored against others by dot product, which an inverted index serves.

    T  tokens of one text     H  hidden size     V  vocabulary size

The head is transformers' BertOnlyMLMHead (modeling_bert.py): BertPredictionHeadTransform (dense
H -> H, the config's activation, LayerNorm), then the decoder H -> V, whose weight is the word
embedding table (tied) and whose bias is `cls.predictions.bias`. The pooling is
sentence-transformers' SpladePooling: activation "relu" (log(1 + ReLU(x))) or "log1p_relu"
(log(1 + log(1 + ReLU(x)))), strategy "max" (SPLADE v2 and later) or "sum" (SPLADE v1), over the
text's real tokens ([CLS] and [SEP] included, padding excluded).

The inference-free query side (Geng et al. 2024, arXiv 2411.04403; sentence-transformers'
SparseStaticEmbedding) needs no encoder: a query's vector holds, for each distinct token of the
query, a learned weight of that token.
"""

from __future__ import annotations

import numpy as np

from ..reference.feed_forward import gelu
from ..reference.layer_norm import layer_norm
from ..reference.linear import linear

POOLING_STRATEGIES = ("max", "sum")
ACTIVATIONS = ("relu", "log1p_relu")


def mlm_head_transform(hidden: np.ndarray, transform: dict, eps: float) -> np.ndarray:  # [T, H] -> [T, H]
    """BertPredictionHeadTransform: dense, GELU (BERT's hidden_act), LayerNorm."""
    return layer_norm(gelu(linear(hidden, **transform["dense"])), **transform["LayerNorm"], eps=eps)


def mlm_logits(hidden: np.ndarray, head: dict, eps: float) -> np.ndarray:  # [T, H] -> [T, V]
    """The masked-LM head's score of every vocabulary entry at every token."""
    return linear(mlm_head_transform(hidden, head["transform"], eps), **head["decoder"])


def splade_activation(logits: np.ndarray, activation: str = "relu") -> np.ndarray:  # [T, V] -> [T, V]
    """log(1 + ReLU(x)), or applied twice for "log1p_relu": large scores grow slowly, so no single
    term dominates, and the ReLU makes most of them exactly zero."""
    weights = np.log1p(np.maximum(logits, 0))
    return np.log1p(weights) if activation == "log1p_relu" else weights


def splade_pool(logits: np.ndarray, strategy: str = "max", activation: str = "relu") -> np.ndarray:  # [T, V] -> [V]
    """One text's sparse vector: the activated scores, the largest (or the sum) over its tokens."""
    weights = splade_activation(logits, activation)
    return weights.max(axis=0) if strategy == "max" else weights.sum(axis=0)


def splade(hidden: np.ndarray, head: dict, eps: float, strategy: str = "max",
           activation: str = "relu") -> np.ndarray:  # [T, H] -> [V]
    """A text's SPLADE vector from its last hidden states."""
    return splade_pool(mlm_logits(hidden, head, eps), strategy, activation)


def static_embedding(ids: np.ndarray, weight: np.ndarray) -> np.ndarray:  # [T] token ids, [V] -> [V]
    """The inference-free side: each distinct token of the text (no special tokens) counts once,
    with its learned weight; every other entry is zero."""
    out = np.zeros_like(weight)
    present = np.unique(ids)
    out[present] = weight[present]
    return out
