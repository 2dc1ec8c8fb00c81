"""Numba kernels for the forward pass, a file per concept, each kernel the fast twin of a NumPy
reference function (named in its docstring) and tested against it in tests/engine/test_kernels.py.

    math.py          exp and erf as polynomials that vectorise       (reference/erf.py, np.exp)
    embeddings.py    word + type + position, then LayerNorm          (reference/embeddings.py)
    layer_norm.py    bias + residual, then LayerNorm                  (reference/layer_norm.py)
    feed_forward.py  bias, then the exact erf GELU                    (reference/feed_forward.py)
    attention.py     multi-head self-attention on packed texts        (reference/attention.py)
    linear.py        x @ W^T, packed weights, one arithmetic per row  (reference/linear.py)
    int8.py          x @ W^T in int8 blocks on AVX-512 VNNI           (reference/quantized.py)
    amx_bfloat16.py  x @ W^T in bfloat16 on AMX tiles (TDPBF16PS)     (reference/bfloat16.py)
    amx_int8.py      x @ W^T in int8 blocks of 64 on AMX tiles (TDPBSSD)
    amx.py           the tile operations, on the CPU's tiles or the emulator's; may this process use AMX
    amx_emulator.py  AMX's tiles modelled in plain loops: the AMX kernels' twin on any CPU
    simd.py          16-lane vector registers as Numba values: the products' inner loops
    pooling.py       mean, [CLS] or max over each text's tokens       (reference/pooling.py)
    intrinsics.py    what the CPU offers beyond plain Numba: its vector registers, llvm.prefetch

Layout. A batch is packed: the real tokens of all its texts stacked into one [M, H] matrix, text s
owning rows offsets[s]:offsets[s+1]. No row is padding, so no work is spent on padding, and
attention runs per text at its true length. The matrix products between these kernels are
`linear` (weights packed at load by `pack_weight`) or, on long batches where it is faster, OpenBLAS
calls made by the caller; each kernel after a product adds the bias the product left out.

    M  tokens in the batch (all texts)     B  texts          T  tokens of one text
    H  hidden size                         N  heads          D  head size, H / N
    F  feed-forward size                   V  vocabulary     K  a product's inner size

Kernels write into arrays the caller owns and return nothing. `prange` runs over the outermost
independent loop: rows for the per-token kernels, (text, head) pairs for attention, tiles for
`linear`. Sums over a row use FASTMATH (see math.py), whose effect on the final vectors the golden
tests bound; everything else is plain IEEE arithmetic.
"""

from .attention import self_attention
from .embeddings import embeddings_layer_norm
from .feed_forward import add_bias_gelu
from .int8 import linear_int8, linear_int8_portable, quantize_rows
from .layer_norm import add_bias_residual_layer_norm
from .linear import TILE_GROUPS, PackedWeight, linear, pack_weight
from .math import EXP_X_MIN, erf, exp_row
from .pooling import POOLINGS, cls_pool, max_pool, mean_pool

__all__ = ["EXP_X_MIN", "POOLINGS", "TILE_GROUPS", "PackedWeight", "add_bias_gelu", "add_bias_residual_layer_norm",
           "cls_pool", "embeddings_layer_norm", "erf", "exp_row", "linear", "linear_int8", "linear_int8_portable",
           "max_pool", "mean_pool", "pack_weight", "quantize_rows", "self_attention"]
