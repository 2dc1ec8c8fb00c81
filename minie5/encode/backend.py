"""What the text pipeline asks of a backend: the contract the NumPy reference and the Numba engine
both keep.

A backend turns token ids into pooled vectors. It knows nothing of text, prompts, long-text
policies, normalisation or output precisions: those are the pipeline's (embedder.py). Batches
arrive already planned (batching.py), each a list of id sequences no longer than the model's limit.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    """A forward pass: token ids in, pooled sentence vectors (or hidden states) out."""

    name: str  # "numpy" or "numba", as `load(backend=...)` names it
    dtype: np.dtype  # of the vectors the pipeline returns: float32, or float64 for the reference's ground truth
    pads_batches: bool  # True: a batch costs its size x its longest text; False: its real tokens
    max_batch_tokens: int  # the most tokens (padded or real, as above) one batch should hold

    def embed(self, ids: list[np.ndarray], pooling: str,
              token_types: list[np.ndarray] | None = None) -> np.ndarray:  # B ragged -> [B, H]
        """One batch's pooled vectors ("mean", "cls" or "max"), unnormalised, in `dtype` or wider
        (the engine pools in float64); the pipeline normalises in the dtype it gets. `token_types`
        (one per sequence, default all 0) are a text pair's segments, for cross-encoders."""
        ...

    def hidden_states(self, ids: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        # B ragged -> L+1 x [B, T, H], [B, T]
        """The embeddings' output and every layer's, padded to [B, T, H], with the attention mask."""
        ...
