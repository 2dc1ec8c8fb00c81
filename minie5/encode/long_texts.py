"""Texts longer than the model's limit (512 tokens for e5): what `encode(long=...)` does with them.

BERT's position table ends at 512, so a longer text cannot be embedded whole. The tokenizer cuts
every text into windows of at most `max_length` tokens (see `loading.tokenizer.tokenize_windows`);
then "truncate" keeps the first window, as the e5 model card does, "chunk" embeds every window and
averages them, and "error" refuses the text.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import TextTooLong, TruncationWarning

LONG_MODES = ("truncate", "chunk", "error")


def refuse(first: int, count: int, max_length: int) -> None:
    """long="error": the texts over the limit are refused, the first of them named."""
    raise TextTooLong(first, f"is longer than {max_length} tokens ({count} text(s) are)",
                    "pass long='truncate' or long='chunk'")


def warn_truncated(count: int, total: int, max_length: int) -> None:
    """long="truncate": one warning saying how many texts were cut."""
    warnings.warn(TruncationWarning(count, total, max_length), stacklevel=4)


def weighted_window_mean(window_lengths: list[list[int]],
                         pooled: np.ndarray) -> np.ndarray:  # [windows, H] -> [texts, H] float64
    """Each text's vector as the token-weighted mean of its windows' pooled vectors (in text order,
    `pooled` row k for the k-th window overall): a window of n tokens counts n times."""
    pooled = pooled.astype(np.float64)
    out = np.empty((len(window_lengths), pooled.shape[1]), dtype=np.float64)
    start = 0
    for i, lengths in enumerate(window_lengths):
        weights = np.array(lengths, dtype=np.float64)
        out[i] = weights @ pooled[start:start + len(lengths)] / weights.sum()
        start += len(lengths)
    return out
