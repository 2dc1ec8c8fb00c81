"""What `Model` asks of a backend: the contract the NumPy reference and the Numba engine both keep.

A backend turns token ids into vectors. It knows nothing of text, prefixes, long-text policies or
output precisions: those are `Model`'s. Batches arrive already planned (see `batching`), each a
list of id sequences no longer than the model's limit.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Backend(Protocol):
    """A forward pass behind `Model`: token ids in, sentence vectors (or hidden states) out."""

    name: str  # "numpy" or "numba", as `load(backend=...)` names it
    dtype: np.dtype  # of the vectors it returns: float32, or float64 for the reference's ground truth
    pads_batches: bool  # True: a batch costs its size x its longest text; False: its real tokens
    max_batch_tokens: int  # the most tokens (padded or real, as above) one batch should hold

    def embed(self, ids: list[np.ndarray], pooling: str, normalize: bool) -> np.ndarray:  # B ragged -> [B, H]
        """One batch's sentence vectors: `pooling` ("mean", "cls", "max"), then L2 normalisation
        if `normalize`."""
        ...

    def hidden_states(self, ids: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        # B ragged -> L+1 x [B, T, H], [B, T]
        """The embeddings' output and every layer's, padded to [B, T, H], with the attention mask."""
        ...
