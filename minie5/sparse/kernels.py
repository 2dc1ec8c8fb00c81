"""Numba kernels of the sparse head, each the fast twin of a function in sparse/splade.py (tested
against it in tests/sparse/test_head.py).

    layer_norm_rows   LayerNorm of each row in place        (splade.mlm_head_transform's last step)
    splade_max_pool   bias, log(1 + ReLU), max over a text  (splade.splade_pool, strategy "max")
    splade_sum_pool   bias, log(1 + ReLU), sum over a text  (splade.splade_pool, strategy "sum")

The logits arrive as a product left them: [m, Vp] for the m packed tokens of a few texts, Vp the
vocabulary padded to a multiple of 16, without the decoder's bias. Max pooling adds the bias and
takes the maximum of the raw scores, then applies log(1 + ReLU) once per entry: both are
monotone, so max(log1p(relu(x))) = log1p(relu(max(x))), and the activation costs V per text
instead of T x V.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..engine.kernels.layer_norm import layer_norm_row
from ..engine.kernels.math import CACHE, FASTMATH

COLUMN_BLOCK = 512  # vocabulary entries per task: a task's rows of logits stay in L1/L2 across its tokens


@njit(parallel=True, cache=CACHE, fastmath=FASTMATH)
def layer_norm_rows(x, weight, bias, eps):  # [M, H] in place
    for i in prange(x.shape[0]):
        layer_norm_row(x[i], weight, bias, eps)


@njit(parallel=True, cache=CACHE)
def splade_max_pool(logits, bias, offsets, double_log, out):  # [m, Vp], [V], [b + 1] -> out [b, V]
    """out[s, v] = activation(max over text s's rows r of logits[r, v] + bias[v]), activation
    log(1 + ReLU(x)), or applied twice with double_log ("log1p_relu")."""
    V = bias.shape[0]
    texts = offsets.shape[0] - 1
    blocks = (V + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for task in prange(texts * blocks):
        s, v0 = task // blocks, (task % blocks) * COLUMN_BLOCK
        v1 = min(V, v0 + COLUMN_BLOCK)
        row = out[s]
        for v in range(v0, v1):
            row[v] = 0.0  # ReLU's floor: a maximum below zero ends at zero anyway
        for r in range(offsets[s], offsets[s + 1]):
            scores = logits[r]
            for v in range(v0, v1):
                row[v] = max(row[v], scores[v] + bias[v])
        for v in range(v0, v1):
            w = math.log1p(row[v])
            row[v] = math.log1p(w) if double_log else w


@njit(parallel=True, cache=CACHE)
def splade_sum_pool(logits, bias, offsets, double_log, out):  # [m, Vp], [V], [b + 1] -> out [b, V]
    """out[s, v] = sum over text s's rows of activation(logits[r, v] + bias[v]), summed in float64."""
    V = bias.shape[0]
    texts = offsets.shape[0] - 1
    blocks = (V + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    for task in prange(texts * blocks):
        s, v0 = task // blocks, (task % blocks) * COLUMN_BLOCK
        v1 = min(V, v0 + COLUMN_BLOCK)
        sums = np.zeros(v1 - v0)
        for r in range(offsets[s], offsets[s + 1]):
            for v in range(v0, v1):
                x = logits[r, v] + bias[v]
                if x > 0:
                    w = math.log1p(x)
                    sums[v - v0] += math.log1p(w) if double_log else w
        for v in range(v0, v1):
            out[s, v] = sums[v - v0]
