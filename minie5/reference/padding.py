"""A batch of texts as one rectangle, as transformers runs it: right padding and the attention mask.

The engine packs texts instead and never pads; this is the reference's way, and the layout that
traces and the peers (transformers, ONNX Runtime) are compared in.
"""

from __future__ import annotations

import numpy as np


def pad_batch(ids: list[np.ndarray],
              pad_token_id: int = 0) -> tuple[np.ndarray, np.ndarray]:  # B ragged -> [B, T] ids, [B, T] mask
    """Right-pad token id sequences to the longest with the model's padding id. The mask removes
    padding from attention and from pooling; XLM-R also reads the padding id to number positions."""
    T = max(len(seq) for seq in ids)
    input_ids = np.full((len(ids), T), pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((len(ids), T), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = seq
        attention_mask[row, :len(seq)] = 1
    return input_ids, attention_mask
