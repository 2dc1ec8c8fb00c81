"""The NumPy reference run as a backend: pad a batch, run `reference.bert`, mean-pool.

Slow next to the Numba engine but short enough to check by eye; it is the specification the engine
is tested against, and it runs in float64 for a ground truth.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .config import BertConfig


def pad_batch(ids: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:  # B ragged -> [B, T] ids, [B, T] mask
    """Right-pad token id sequences to the longest. The pad id is 0 ([PAD] in BERT vocabularies),
    but any valid id would do: the mask removes padding from attention and from the mean pool."""
    T = max(len(seq) for seq in ids)
    input_ids = np.zeros((len(ids), T), dtype=np.int64)
    attention_mask = np.zeros((len(ids), T), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = seq
        attention_mask[row, :len(seq)] = 1
    return input_ids, attention_mask


class NumpyBackend:
    name = "numpy"
    pads_batches = True  # a batch costs its size times its longest text
    max_batch_tokens = 16384  # padded tokens: attention scores of 12 x 32 x 512^2 floats, ~400 MB

    def __init__(self, params: dict, config: BertConfig):
        self.params = params
        self.config = config

    def hidden_states(self, ids: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """The embeddings' output and every layer's output for a padded batch, with its mask."""
        input_ids, attention_mask = pad_batch(ids)
        return reference.bert(input_ids, attention_mask, self.params, self.config), attention_mask

    def embed(self, ids: list[np.ndarray], normalize: bool) -> np.ndarray:  # B ragged -> [B, H]
        hidden_states, attention_mask = self.hidden_states(ids)
        pooled = reference.mean_pool(hidden_states[-1], attention_mask)
        return reference.l2_normalize(pooled) if normalize else pooled
