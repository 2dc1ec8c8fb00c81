"""Grouped-query attention on packed texts, with the causal mask and sliding windows of decoder
models (twin of reference/grouped_query_attention.py)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .math import CACHE, FASTMATH


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def grouped_query_attention(qkv, offsets, num_heads, num_kv_heads, scaling, causal, window, out):
    """qkv [M, (N + 2 Nkv) D] after qk_norm_rotary; out [M, N D]. For every text and query head:
    softmax(q k^T * scaling) v over the keys its mask allows (the key/value head h // G of its
    group; causal: keys up to the query; window > 0: keys fewer than `window` positions away),
    each text at its true length. One (text, head) pair per parallel iteration."""
    B = offsets.shape[0] - 1
    D = out.shape[1] // num_heads
    groups = num_heads // num_kv_heads
    longest = 0
    for s in range(B):
        longest = max(longest, offsets[s + 1] - offsets[s])
    for task in prange(B * num_heads):
        s, h = task // num_heads, task % num_heads
        start, end = offsets[s], offsets[s + 1]
        q0, k0, v0 = h * D, (num_heads + h // groups) * D, (num_heads + num_kv_heads + h // groups) * D
        scores = np.empty(longest, dtype=np.float32)
        context = np.empty(D, dtype=np.float32)
        for i in range(start, end):
            lo, hi = start, end
            if causal:
                hi = i + 1
            if window > 0:
                lo = max(lo, i - window + 1)
                hi = min(hi, i + window)
            top = -np.inf
            for j in range(lo, hi):
                dot = np.float32(0.0)
                for c in range(D):
                    dot += qkv[i, q0 + c] * qkv[j, k0 + c]
                scores[j - lo] = dot * scaling
                top = max(top, scores[j - lo])
            total = 0.0
            for j in range(hi - lo):
                e = np.float32(math.exp(scores[j] - top))
                scores[j] = e
                total += e
            context[:] = 0.0
            for j in range(lo, hi):
                w = scores[j - lo]
                for c in range(D):
                    context[c] += w * qkv[j, v0 + c]
            inv = np.float32(1.0 / total)
            for c in range(D):
                out[i, h * D + c] = context[c] * inv
