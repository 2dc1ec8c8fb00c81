"""The rotary turn of every query and key head, in place on the rows of the fused q/k/v product
(twin of reference.rotary.apply_rotary, half-split layout), for encoders that rotate without
normalising each head first (NomicBERT, ModernBERT; the decoders' qk_norm_rotary does both)."""

from __future__ import annotations

from numba import njit, prange

from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def rotate_queries_keys(qkv, positions, cos, sin, num_heads, D):  # qkv [M, 3 N D] in place
    """qkv holds each token's N query heads, N key heads and N value heads side by side; every query
    and key head is turned by its token's angles (cos/sin [positions, D] as
    reference.rotary_cos_sin gives them); values are left alone."""
    M = qkv.shape[0]
    half = D // 2
    for i in prange(M):
        row = qkv[i]
        c_row, s_row = cos[positions[i]], sin[positions[i]]
        for h in range(2 * num_heads):
            start = h * D
            for c in range(half):  # (a, b) -> (a cos - b sin, b cos + a sin) for the pair (c, c + D/2)
                a, b = row[start + c], row[start + half + c]
                row[start + c] = a * c_row[c] - b * s_row[c]
                row[start + half + c] = b * c_row[half + c] + a * s_row[half + c]
