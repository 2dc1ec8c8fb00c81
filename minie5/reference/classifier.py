"""Sequence-classification heads: what a cross-encoder adds on top of the encoder to score a pair.

A cross-encoder reads the query and the document together, as one sequence, and its head turns the
first token's last hidden state into one logit per label (a reranker has one label: relevance).

    BertForSequenceClassification        logits = classifier(tanh(pooler.dense(h[CLS])))
    XLMRobertaForSequenceClassification  logits = out_proj(tanh(dense(h[<s>])))

The two are the same computation under different names (BERT's pooler was trained for next-sentence
prediction; RoBERTa's head is its own), as transformers' BertPooler and
XLMRobertaClassificationHead compute them (dropout is off at inference).
"""

import numpy as np

from .linear import linear


def classification_head(first: np.ndarray, params: dict) -> np.ndarray:  # [B, H] -> [B, labels]
    """Logits from each sequence's first-token hidden state; `params` as loading.heads reads them:
    {"dense": {weight, bias}, "out": {weight, bias}}."""
    return linear(np.tanh(linear(first, **params["dense"])), **params["out"])


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), written as (1 + tanh(x / 2)) / 2, which never overflows."""
    return 0.5 * (1 + np.tanh(logits / 2))


def softmax(logits: np.ndarray) -> np.ndarray:  # [B, labels] -> rows summing to 1
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
