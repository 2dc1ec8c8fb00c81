"""The NumPy reference run as a backend: pad a batch, run the model family's forward pass
(`reference.bert` for BERT and RoBERTa; minie5/families.py names each family's), pool.

Slow next to the Numba engine but short enough to check by eye; it is the specification the engine
is tested against, and it runs in float64 for a ground truth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..loading.config import BertConfig
from .encoder import bert
from .padding import pad_batch
from .pooling import pool


class NumpyBackend:
    """The reference forward pass behind the `Backend` interface: padded batches, any float dtype."""

    name = "numpy"
    pads_batches = True  # a batch costs its size times its longest text
    max_batch_tokens = 16384  # padded tokens: attention scores of 12 x 32 x 512^2 floats, ~400 MB

    def __init__(self, params: dict, config: BertConfig, forward: Callable = bert):
        self.params = params  # float32, or float64 for a ground truth: the pass computes in their dtype
        self.config = config
        self.forward = forward  # (input_ids, attention_mask, params, config, types) -> L+1 hidden states
        self.dtype = first_array(params).dtype

    def hidden_states(self, ids: list[np.ndarray],
                      token_types: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """The embeddings' output and every layer's output for a padded batch, with its mask."""
        input_ids, attention_mask = pad_batch(ids, self.config.pad_token_id)
        types = None if token_types is None else pad_batch(token_types, 0)[0]
        return self.forward(input_ids, attention_mask, self.params, self.config, types), attention_mask

    def embed(self, ids: list[np.ndarray], pooling: str,
              token_types: list[np.ndarray] | None = None) -> np.ndarray:  # B ragged -> [B, H], in self.dtype
        hidden_states, attention_mask = self.hidden_states(ids, token_types)
        return pool(hidden_states[-1], attention_mask, pooling)

    def token_states(self, ids: list[np.ndarray], head):
        """The last layer's token vectors of a batch, packed [M, H] (padding dropped) with each text's
        rows offsets[s]:offsets[s+1], handed to `head(x, offsets)`: the engine's `token_states`."""
        hidden_states, attention_mask = self.hidden_states(ids)
        real = attention_mask > 0
        offsets = np.concatenate([[0], np.cumsum(real.sum(axis=1))]).astype(np.int64)
        return head(hidden_states[-1][real], offsets)


def first_array(params) -> np.ndarray:
    """The first weight of a nested params dict: all of them share one dtype."""
    while not isinstance(params, np.ndarray):
        params = next(iter(params.values())) if isinstance(params, dict) else params[0]
    return params
