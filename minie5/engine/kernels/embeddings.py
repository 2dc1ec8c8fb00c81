"""The embedding layer on packed tokens: three look-ups summed, then LayerNorm."""

from __future__ import annotations

from numba import njit, prange

from .layer_norm import layer_norm_row
from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def embeddings_layer_norm(input_ids, positions, types, word, position, token_type, weight, bias, eps,
                          out):  # [M] ids, [M] positions, [M] token types -> out [M, H]
    """Twin of reference.embeddings: gather word + type + position, LayerNorm."""
    M, H = out.shape
    for i in prange(M):
        row = out[i]
        for c in range(H):
            row[c] = word[input_ids[i], c] + token_type[types[i], c] + position[positions[i], c]
        layer_norm_row(row, weight, bias, eps)


