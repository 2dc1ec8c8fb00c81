"""From each text's token rows to one vector: mean, [CLS] or max, in float64.

The vectors come out in float64 and unnormalised: what happens next (averaging a long text's
windows, keeping the first dimensions, scaling to unit length) is the text pipeline's
(minie5/encode/pipeline.py), done once there for every backend.
"""

from __future__ import annotations

from numba import njit, prange

from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def mean_pool(hidden, offsets, out):  # [M, H] -> out [B, H] float64
    """Twin of reference.mean_pool on packed texts."""
    B, H = out.shape
    for s in prange(B):
        start, end = offsets[s], offsets[s + 1]
        acc = out[s]
        acc[:] = 0.0
        for i in range(start, end):
            for c in range(H):
                acc[c] += hidden[i, c]
        acc /= end - start


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def cls_pool(hidden, offsets, out):  # [M, H] -> out [B, H] float64
    """Twin of reference.cls_pool: each text's first token."""
    for s in prange(out.shape[0]):
        out[s, :] = hidden[offsets[s]]


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def max_pool(hidden, offsets, out):  # [M, H] -> out [B, H] float64
    """Twin of reference.max_pool on packed texts."""
    B, H = out.shape
    for s in prange(B):
        start, end = offsets[s], offsets[s + 1]
        acc = out[s]
        acc[:] = hidden[start]
        for i in range(start + 1, end):
            for c in range(H):
                acc[c] = max(acc[c], hidden[i, c])


POOLINGS = {"mean": mean_pool, "cls": cls_pool, "max": max_pool}
