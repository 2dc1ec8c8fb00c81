"""The NumPy reference run as a backend: pad a batch, run `reference.bert`, pool.

Slow next to the Numba engine but short enough to check by eye; it is the specification the engine
is tested against, and it runs in float64 for a ground truth.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .config import BertConfig


def pad_batch(ids: list[np.ndarray], pad_token_id: int = 0) -> tuple[np.ndarray, np.ndarray]:  # B ragged -> [B, T] ids, [B, T] mask
    """Right-pad token id sequences to the longest with the model's padding id. The mask removes
    padding from attention and from pooling; XLM-R also reads the padding id to number positions."""
    T = max(len(seq) for seq in ids)
    input_ids = np.full((len(ids), T), pad_token_id, dtype=np.int64)
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
        self.params = params  # float32, or float64 for a ground truth: the pass computes in their dtype
        self.config = config
        self.dtype = params["embeddings"]["LayerNorm"]["weight"].dtype

    def hidden_states(self, ids: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        """The embeddings' output and every layer's output for a padded batch, with its mask."""
        input_ids, attention_mask = pad_batch(ids, self.config.pad_token_id)
        return reference.bert(input_ids, attention_mask, self.params, self.config), attention_mask

    def embed(self, ids: list[np.ndarray], pooling: str, normalize: bool) -> np.ndarray:  # B ragged -> [B, H]
        hidden_states, attention_mask = self.hidden_states(ids)
        pooled = reference.pool(hidden_states[-1], attention_mask, pooling)
        return reference.l2_normalize(pooled) if normalize else pooled
