"""Cutting a list of token sequences into batches for a backend, and proving them in range.

The reference pads a batch to its longest text (reference/padding.py); the engine packs a batch's
real tokens end to end. Either way, texts of like length should share a batch, so both sort by
length first.
"""

from __future__ import annotations

import numpy as np


def plan_batches(lengths: list[int], batch_size: int, max_tokens: int, padded: bool) -> list[list[int]]:
    """Group texts (by index) into batches of at most `batch_size` texts and `max_tokens` tokens,
    longest first, so texts of like length share a batch and a padded batch wastes little. A
    padded batch costs its size times its first (longest) text; a packed one, the sum of its texts.
    A text longer than the budget still gets a batch of its own."""
    batches: list[list[int]] = []
    tokens = 0  # real tokens in the last batch
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else []
        cost = lengths[batch[0]] * (len(batch) + 1) if padded and batch else tokens + lengths[i]
        if batch and len(batch) < batch_size and cost <= max_tokens:
            batch.append(i)
            tokens += lengths[i]
        else:
            batches.append([i])
            tokens = lengths[i]
    return batches


def check_ids(ids: list[np.ndarray], vocab_size: int, max_tokens: int, index: list[int] | None = None) -> None:
    """Prove every index the forward pass will use is in range before it runs: token ids inside
    the word-embedding table, and lengths inside the position table. The kernels index without
    bounds checks, so this is what keeps a bad tokenizer or caller from reading outside them.
    `index[k]`, if given, is the caller's number for ids[k], used in the error."""
    if not ids:
        return
    lengths = np.fromiter((len(seq) for seq in ids), dtype=np.int64, count=len(ids))
    if lengths.min() < 1 or lengths.max() > max_tokens:
        i = int(np.argmax((lengths < 1) | (lengths > max_tokens)))
        raise ValueError(f"ids[{index[i] if index else i}] has {lengths[i]} tokens; the position table "
                         f"allows 1 to {max_tokens}")
    flat = np.concatenate(ids)
    if flat.min() < 0 or flat.max() >= vocab_size:
        bad = int(flat[(flat < 0) | (flat >= vocab_size)][0])
        i = next(i for i, seq in enumerate(ids) if ((seq < 0) | (seq >= vocab_size)).any())
        raise ValueError(f"ids[{index[i] if index else i}] holds token id {bad}, outside the vocabulary "
                         f"(ids 0 to {vocab_size - 1})")
