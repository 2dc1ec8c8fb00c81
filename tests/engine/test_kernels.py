"""Each Numba kernel against its NumPy reference twin, on random inputs of awkward sizes."""

import math

import numpy as np
import pytest

from minie5 import reference
from minie5.engine import kernels

H, N, F = 384, 12, 1536
rng = np.random.RandomState(0)


def random(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def pack(lengths):
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return offsets, int(offsets[-1])


def test_exp_row_matches_numpy():
    x = np.concatenate([-np.geomspace(1e-8, 120, 5000), [0.0, -0.0, -87.0, -86.9, -1e30]]).astype(np.float32)
    y = x.copy()
    kernels.exp_row.py_func(y, y.size, np.empty(y.size, np.int32))  # the kernel's code, run by NumPy
    z = x.copy()
    _exp_row_compiled(z)
    exact = np.exp(x.astype(np.float64))
    in_range = x >= kernels.EXP_X_MIN  # below, the result is clamped to exp(-87) = 1.6e-38: zero for softmax
    for got in (y, z):
        np.testing.assert_allclose(got[in_range], exact[in_range], rtol=2e-7)
        assert np.all(got[~in_range] <= 1.65e-38)


def _exp_row_compiled(values):
    from numba import njit

    @njit
    def run(v):
        kernels.exp_row(v, v.size, np.empty(v.size, np.int32))

    run(values)


def test_erf_fit_is_accurate():
    from numba import njit

    erf = njit(lambda x: kernels.erf(x))
    for x in np.linspace(-7, 7, 20001):
        assert abs(erf(x) - math.erf(x)) < 3e-8


@pytest.mark.parametrize("lengths", [[1], [2], [511], [512], [int(n) for n in rng.randint(1, 80, 33)]])
def test_embeddings_layer_norm(lengths):
    V, P = 1000, 512
    offsets, M = pack(lengths)
    ids = rng.randint(0, V, M).astype(np.int64)
    positions = np.concatenate([np.arange(n) for n in lengths]).astype(np.int64)
    segments = rng.randint(0, 2, M).astype(np.int64)  # a cross-encoder's pairs: types 0 and 1
    word, pos, types = random(V, H), random(P, H), random(2, H)
    weight, bias = random(H), random(H)
    out = np.empty((M, H), np.float32)
    kernels.embeddings_layer_norm(ids, positions, segments, word, pos, types, weight, bias, 1e-12, out)
    for s in range(len(lengths)):
        rows = slice(offsets[s], offsets[s + 1])
        expected = reference.embeddings(ids[None, rows], positions[None, rows], segments[None, rows],
                                        {"weight": word}, {"weight": pos}, {"weight": types},
                                        {"weight": weight, "bias": bias}, eps=1e-12)[0]
        np.testing.assert_allclose(out[rows], expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("M", [1, 2, 33, 512])
def test_add_bias_residual_layer_norm(M):
    y, bias, x = random(M, H, scale=3), random(H), random(M, H)
    weight, ln_bias = random(H), random(H)
    expected = reference.layer_norm(y + bias + x, weight, ln_bias, eps=1e-12)
    kernels.add_bias_residual_layer_norm(y, bias, x, weight, ln_bias, 1e-12)
    np.testing.assert_allclose(x, expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("M", [1, 2, 33, 512])
def test_add_bias_gelu(M):
    h, bias = random(M, F, scale=3), random(F)
    expected = reference.gelu(h + bias)
    kernels.add_bias_gelu(h, bias)
    np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("lengths", [[1], [2], [511], [512], [1, 2, 3], [int(n) for n in rng.randint(1, 100, 33)]])
def test_attention(lengths):
    check_attention(lengths, H, N)


@pytest.mark.parametrize("hidden, heads", [(60, 5), (36, 2)])  # head sizes 12 and 18: not multiples of 8
def test_attention_with_other_head_sizes(hidden, heads):
    check_attention([1, 5, 37, 64], hidden, heads)


def check_attention(lengths, H, N):
    offsets, M = pack(lengths)
    x = random(M, H)
    params = {name: {"weight": random(H, H, scale=1.5 / math.sqrt(H)), "bias": random(H, scale=0.2)}
              for name in ("query", "key", "value")}
    weight = np.concatenate([params[n]["weight"] for n in ("query", "key", "value")])
    bias = np.concatenate([params[n]["bias"] for n in ("query", "key", "value")])
    qkv_t = np.ascontiguousarray((x @ weight.T).T)  # the kernel works on channels x tokens
    out = np.empty((M, H), np.float32)
    kernels.self_attention(qkv_t, bias, offsets, N, out)
    for s, n in enumerate(lengths):
        rows = slice(offsets[s], offsets[s + 1])
        expected = reference.self_attention(x[None, rows], np.ones((1, n)), **params, num_heads=N)[0]
        np.testing.assert_allclose(out[rows], expected, rtol=0, atol=5e-5 * np.abs(expected).max())


@pytest.mark.parametrize("model_type, pad", [("bert", 0), ("xlm-roberta", 1)])
def test_packed_position_ids(model_type, pad):
    """Each packed text numbers its positions as reference.position_ids numbers a padded batch's
    (for XLM-R from the ids: a <pad> id inside a text keeps position padding_idx, as in transformers)."""
    from minie5.engine.numba_backend import packed_position_ids
    from minie5.loading.config import BertConfig
    from minie5.reference.padding import pad_batch

    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=514, model_type=model_type,
                        pad_token_id=pad)
    lengths = [1, 5, 3, 40]
    offsets, M = pack(lengths)
    ids = rng.randint(2, 50, M).astype(np.int64)
    ids[offsets[3] + 7] = pad  # a literal padding token inside a text
    texts = [ids[offsets[s]:offsets[s + 1]] for s in range(len(lengths))]
    input_ids, mask = pad_batch(texts, pad)
    expected = reference.position_ids(input_ids, pad, config.position_offset)[mask > 0]
    np.testing.assert_array_equal(packed_position_ids(ids, offsets, config), expected)


POOL_KERNELS = {"mean": kernels.mean_pool, "cls": kernels.cls_pool, "max": kernels.max_pool}


@pytest.mark.parametrize("lengths", [[1], [2], [512], [int(n) for n in rng.randint(1, 50, 33)]])
@pytest.mark.parametrize("mode", ["mean", "cls", "max"])
def test_pooling(lengths, mode):
    offsets, M = pack(lengths)
    hidden = random(M, H)
    out = np.empty((len(lengths), H), np.float64)
    POOL_KERNELS[mode](hidden, offsets, out)
    T = max(lengths)
    padded, mask = np.full((len(lengths), T, H), 100, np.float32), np.zeros((len(lengths), T))  # loud padding
    for s, n in enumerate(lengths):
        padded[s, :n], mask[s, :n] = hidden[offsets[s]:offsets[s + 1]], 1
    expected = reference.pool(padded, mask, mode)
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6)


def linear(x, weight):  # kernels.linear as the engine calls it: packed weights, a [M, Np] output cut to N
    packed = kernels.pack_weight(weight)
    out = np.full((x.shape[0], packed.padded_rows), np.nan, np.float32)
    kernels.linear(x, packed.packed, out)
    return out[:, :weight.shape[0]]


@pytest.mark.parametrize("M", [1, 2, 6, 7, 16, 131])
@pytest.mark.parametrize("K, N", [(384, 1152), (1536, 384), (1000, 389), (32, 16)])
def test_linear(M, K, N):
    """Against float64: as close as OpenBLAS gets (its largest error on these is 3.3e-6 too)."""
    x, weight = random(M, K), random(N, K, scale=1 / math.sqrt(K))
    expected = reference.linear(x.astype(np.float64), weight.astype(np.float64), np.zeros(N))
    np.testing.assert_allclose(linear(x, weight), expected, rtol=0, atol=4e-6)


def test_pack_weight_pads_columns_with_zeros_and_unpacks_to_the_weight():
    weight = random(389, 100)
    packed = kernels.pack_weight(weight)
    assert packed.packed.shape == (25, 100 * 16) and packed.padded_rows == 400 and packed.rows == 389
    np.testing.assert_array_equal(packed.dense, weight)  # what OpenBLAS is given
    out = np.empty((3, 400), np.float32)
    kernels.linear(random(3, 100), packed.packed, out)
    assert np.all(out[:, 389:] == 0)


@pytest.mark.parametrize("N", [1152, 389])  # 389: columns that are not a multiple of 16 (nor of 64)
def test_linear_gives_a_row_the_same_bits_in_any_batch(N):
    """One arithmetic for every row: a row's outputs do not depend on how many rows there are, where
    the row sits, or whether it is the odd one out."""
    x, weight = random(131, 1536), random(N, 1536, scale=1 / math.sqrt(1536))
    whole = linear(x, weight)
    for rows in ([0], [130], [5, 6, 7], list(range(64, 129)), [7, 3, 7, 100]):
        np.testing.assert_array_equal(linear(np.ascontiguousarray(x[rows]), weight), whole[rows])


AVX2_CHECK = """
import numpy as np
from minie5.engine import kernels
assert kernels.TILE_GROUPS == 1, kernels.TILE_GROUPS
rng = np.random.default_rng(0)

def linear(x, weight):
    packed = kernels.pack_weight(weight)
    out = np.empty((x.shape[0], packed.padded_rows), np.float32)
    kernels.linear(x, packed.packed, out)
    return out[:, :weight.shape[0]]

for M, K, N in ((1, 384, 1152), (7, 384, 389), (131, 1536, 384)):
    x = rng.standard_normal((M, K), dtype=np.float32)
    weight = rng.standard_normal((N, K), dtype=np.float32) / np.float32(np.sqrt(K))
    out = linear(x, weight)
    expected = x.astype(np.float64) @ weight.T.astype(np.float64)
    assert np.abs(out - expected).max() < 4e-6, np.abs(out - expected).max()
    for rows in ([0], [M - 1], [M - 1, 0, M - 1]):
        assert np.array_equal(linear(np.ascontiguousarray(x[rows]), weight), out[rows])
print("ok")
"""


def test_linear_compiled_for_avx2_uses_its_own_tile():
    """On a machine without AVX-512 the kernel takes its 6 x 1-group tile (16 vector registers):
    compiled here for Haswell, it must still match float64 and give a row the same bits in any batch."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CPU_NAME="haswell",
               NUMBA_CPU_FEATURES="+avx,+avx2,+fma,+sse4.2,+sse4.1,+ssse3,+sse3,+sse2,+sse,+f16c,+popcnt,-avx512f")
    result = subprocess.run([sys.executable, "-c", AVX2_CHECK], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
