"""Last-token pooling on packed texts (twin of reference/last_token_pool.py): each text's final row.
Packed texts have no padding, so the last token is simply the row before the next text's first."""

from __future__ import annotations

from numba import njit, prange

from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def last_token_pool(hidden, offsets, out):  # [M, H] -> out [B, H] float64
    for s in prange(out.shape[0]):
        out[s, :] = hidden[offsets[s + 1] - 1]
