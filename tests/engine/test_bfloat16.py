"""dtype="bfloat16": the rounding kernel bit for bit against its NumPy twin
(reference/bfloat16.py), the product kernel against the reference, the model's vectors against
float32's on the real all-MiniLM-L6-v2 weights, and batch independence. CPUs without AVX-512 BF16
(a warning and float32, never a crash) are tested with int8's in test_int8.py's subprocesses."""

import math
import warnings

import numpy as np
import pytest

import minie5
from minie5.engine.kernels import bfloat16
from minie5.engine.kernels.intrinsics import has_avx512_bf16
from minie5.reference.bfloat16 import bfloat16_values, linear_bfloat16, round_bfloat16
from tests.support.engine import assert_same_bits_in_any_batch_and_thread_count, varied_texts

BF16 = has_avx512_bf16()
needs_bf16 = pytest.mark.skipif(not BF16, reason="this CPU has no AVX-512 BF16: dtype='bfloat16' runs float32")


def rounded(x: np.ndarray) -> np.ndarray:
    xb = np.full((x.shape[0], x.shape[1] + x.shape[1] % 2), 0xFFFF, np.uint16)
    bfloat16.round_rows(x, xb)
    return xb


@pytest.mark.parametrize("K", [1, 31, 384, 1536])
def test_round_rows_is_its_reference_exactly(K):
    rng = np.random.default_rng(K)
    x = (rng.standard_normal((9, K)) * rng.uniform(1e-3, 1e3, (9, 1))).astype(np.float32)
    x[0, 0] = 0.0
    x[1, 0] = -0.0
    # Ties, both ways: 1 + 2^-8 lies halfway between two bfloat16 values (the even one below),
    # 1 + 3 * 2^-8 halfway between two (the even one above).
    x[2, 0] = np.float32(1 + 2 ** -8)
    x[3, 0] = np.float32(1 + 3 * 2 ** -8)
    x[4, 0] = np.float32(-3.4e38)  # rounds to -infinity, as it must
    xb = rounded(x)
    assert np.array_equal(xb[:, :K], round_bfloat16(x))
    assert K % 2 == 0 or np.all(xb[:, K] == 0)  # the padding column
    values = bfloat16_values(xb[:, :K])
    assert values[2, 0] == 1.0 and values[3, 0] == np.float32(1 + 2 ** -6) and values[4, 0] == -np.inf
    finite = np.isfinite(values) & (x != 0)
    assert np.all(np.abs(values[finite] / x[finite] - 1) <= 2 ** -8)  # half a unit of the last of 8 bits


@needs_bf16
@pytest.mark.parametrize("M, K, N", [(1, 384, 1152), (7, 100, 40), (37, 31, 389), (130, 1536, 384)])
def test_products_match_the_reference(M, K, N):
    """The kernel sums exact products in float32; the reference sums the same products in float64."""
    rng = np.random.default_rng(M + K + N)
    x = rng.standard_normal((M, K)).astype(np.float32)
    weight = (rng.standard_normal((N, K)) / math.sqrt(K)).astype(np.float32)
    packed = bfloat16.pack_weight(weight)
    out = np.full((M, packed.padded_rows), np.nan, np.float32)
    bfloat16.linear_bfloat16(rounded(x), packed.packed, out)
    np.testing.assert_allclose(out[:, :N], linear_bfloat16(x, weight), rtol=0, atol=1e-5)
    assert np.all(out[:, N:] == 0)  # zero columns pad N to a multiple of 16


@pytest.fixture(scope="module")
def engine(minilm_dir):
    return minie5.load(minilm_dir)


@pytest.fixture(scope="module")
def bf16_model(minilm_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no BF16: the warning that float32 runs instead
        return minie5.load(minilm_dir, dtype="bfloat16")


def test_bfloat16_vectors_stay_close_to_float32_on_real_weights(bf16_model, engine):
    """tools/int8_recipes.py measured min 0.99997 over 600 real texts; this checks 0.9999 on 203."""
    texts = varied_texts(200) + ["query: how much protein should a female eat", "x", ""]
    cos = np.sum(bf16_model.encode(texts) * engine.encode(texts), axis=1)
    assert cos.min() >= 0.9999 and cos.mean() >= 0.99999, (cos.min(), cos.mean())
    assert bf16_model.backend.weights == ("bfloat16" if BF16 else "float32")
    # Without BF16 it runs exactly what dtype="float32" runs, never something slower.
    assert bf16_model.backend.products() == ("kernels.bfloat16" if BF16 else engine.backend.products())


@needs_bf16  # without BF16 it is float32, whose vectors are the same bits in any batch with deterministic=True
def test_bfloat16_vectors_are_the_same_bits_in_any_batch_and_thread_count(minilm_dir, bf16_model):
    assert_same_bits_in_any_batch_and_thread_count(bf16_model, minilm_dir, "bfloat16", seed=2)


def test_bfloat16_needs_the_numba_backend(minilm_dir):
    with pytest.raises(ValueError, match="dtype='bfloat16' needs backend='numba'"):
        minie5.load(minilm_dir, dtype="bfloat16", backend="numpy")
