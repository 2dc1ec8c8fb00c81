"""dtype="int8": the int8 kernels against their NumPy twins (reference/quantized.py), exactly where
the arithmetic is integer; the model's vectors against float32's on the real all-MiniLM-L6-v2
weights; batch independence; and CPUs without AVX-512 VNNI, which must get a warning and the
same vectors, never a crash."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minie5
from minie5.engine import kernels
from minie5.engine.kernels import int8
from minie5.engine.kernels.intrinsics import has_avx512_bf16, has_avx512_vnni
from minie5.reference.quantized import BLOCK, linear_int8, quantize_blocks
from tests.support.engine import assert_same_bits_in_any_batch_and_thread_count, varied_texts

VNNI = has_avx512_vnni()
needs_vnni = pytest.mark.skipif(not VNNI, reason="this CPU has no AVX-512 VNNI: only the portable kernel runs")
PRODUCTS = [int8.linear_int8_portable] + ([int8.linear_int8] if VNNI else [])
SHAPES = [(1, 64, 16), (5, 384, 48), (37, 100, 40), (130, 1536, 384), (9, 32, 1152)]  # M, K, N


def rounded(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x through kernels.quantize_rows: (q + 128 as uint8, scales)."""
    blocks = -(-x.shape[1] // BLOCK)
    xq, xs = np.empty((x.shape[0], blocks * BLOCK), np.uint8), np.empty((x.shape[0], blocks), np.float32)
    kernels.quantize_rows(x, xq, xs)
    return xq, xs


def product(kernel, xq, xs, weight: int8.QuantizedWeight) -> np.ndarray:
    out = np.full((xq.shape[0], weight.padded_rows), np.nan, np.float32)
    kernel(xq, xs, weight.packed, weight.scales, weight.start, out)
    return out[:, :weight.rows]


@pytest.mark.parametrize("K", [32, 100, 384, 1536])
def test_quantize_rows_is_its_reference_exactly(K):
    rng = np.random.default_rng(K)
    x = rng.standard_normal((23, K)).astype(np.float32) * rng.uniform(0.01, 30, (23, 1)).astype(np.float32)
    x[3] = 0.0  # a row of zeros: scale 0, all q 0
    x[5, :BLOCK] = 0.0
    x[7, 1] = 1e4  # an outlier: only its own block loses resolution
    xq, xs = rounded(x)
    q, scale = quantize_blocks(x)
    assert np.array_equal(xq.astype(np.int16) - 128, q) and np.array_equal(xs, scale)
    assert q.min() >= -127 and q.max() <= 127
    np.testing.assert_allclose(q.reshape(23, -1, BLOCK) * scale[:, :, None],
                               np.pad(x, ((0, 0), (0, q.shape[1] - K))).reshape(23, -1, BLOCK),
                               atol=float(scale.max()) / 2 * 1.0001)


@pytest.mark.parametrize("kernel", PRODUCTS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("M, K, N", SHAPES)
def test_integer_products_are_exact(kernel, M, K, N):
    """Integer operands whose blocks each hold a +-127 round to themselves with scale 1, so the
    kernel's output must be NumPy's int64 product exactly (every partial sum is below 2^24, where
    float32 holds integers exactly)."""
    rng = np.random.default_rng(M * K + N)
    x = rng.integers(-127, 128, (M, K)).astype(np.float32)
    w = rng.integers(-127, 128, (N, K)).astype(np.float32)
    for a in (x, w):  # every block's largest magnitude is 127: scale exactly 1
        a.reshape(a.shape[0], -1)[:, ::BLOCK] = 127
    xq, xs = rounded(x)
    weight = int8.pack_weight(w)
    assert np.all(xs[:, :K // BLOCK] == 1) and np.all(quantize_blocks(w)[1][:, :K // BLOCK] == 1)
    exact = x.astype(np.int64) @ w.astype(np.int64).T
    assert np.abs(exact).max() < 2 ** 24
    assert np.array_equal(product(kernel, xq, xs, weight), exact.astype(np.float32))


@pytest.mark.parametrize("kernel", PRODUCTS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("M, K, N", SHAPES)
def test_products_match_the_reference(kernel, M, K, N):
    rng = np.random.default_rng(M + K + N)
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((N, K)).astype(np.float32)
    xq, xs = rounded(x)
    expected = linear_int8(*quantize_blocks(x), *quantize_blocks(w))
    got = product(kernel, xq, xs, int8.pack_weight(w))
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6 * np.abs(expected).max())
    # and the rounding costs what it should: a few tenths of a percent of the float32 product
    assert np.abs(got - x @ w.T).max() < 0.02 * np.abs(x @ w.T).max()


@needs_vnni
@pytest.mark.parametrize("M, K, N", SHAPES)
def test_portable_kernel_gives_the_vnni_kernels_bits(M, K, N):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((N, K)).astype(np.float32)
    xq, xs = rounded(x)
    weight = int8.pack_weight(w)
    assert np.array_equal(product(int8.linear_int8, xq, xs, weight), product(int8.linear_int8_portable, xq, xs, weight))


def test_layer_norm_and_gelu_round_their_rows_as_quantize_rows():
    rng = np.random.default_rng(3)
    M, H, F = 11, 384, 1536
    y, residual = rng.standard_normal((M, H)).astype(np.float32), rng.standard_normal((M, H)).astype(np.float32)
    bias, gamma, beta = (rng.standard_normal(H).astype(np.float32) for _ in range(3))
    plain, fused = residual.copy(), residual.copy()
    kernels.add_bias_residual_layer_norm(y, bias, plain, gamma, beta, 1e-12)
    xq, xs = np.empty((M, H), np.uint8), np.empty((M, H // BLOCK), np.float32)
    kernels.add_bias_residual_layer_norm(y, bias, fused, gamma, beta, 1e-12, xq, xs)
    assert np.array_equal(plain, fused)
    assert all(np.array_equal(a, b) for a, b in zip((xq, xs), rounded(plain)))
    h = rng.standard_normal((M, F)).astype(np.float32)
    h_bias = rng.standard_normal(F).astype(np.float32)
    plain, fused = h.copy(), h.copy()
    kernels.add_bias_gelu(plain, h_bias)
    hq, hs = np.empty((M, F), np.uint8), np.empty((M, F // BLOCK), np.float32)
    kernels.add_bias_gelu(fused, h_bias, hq, hs)
    assert np.array_equal(plain, fused)
    assert all(np.array_equal(a, b) for a, b in zip((hq, hs), rounded(plain)))


@pytest.fixture(scope="module")
def engine(minilm_dir):
    return minie5.load(minilm_dir)


@pytest.fixture(scope="module")
def int8_model(minilm_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no VNNI: the warning that float32 runs instead
        return minie5.load(minilm_dir, dtype="int8")


def test_int8_vectors_stay_close_to_float32_on_real_weights(minilm_dir, int8_model, engine):
    """all-MiniLM-L6-v2's trained weights, which have the outlier channels random ones lack; the
    issue's bar is min cosine 0.998 over 500+ varied texts (tools/bench.py and
    tools/quantization_loss.py measure it on real prose), this checks it on 200."""
    texts = varied_texts(200) + ["query: how much protein should a female eat", "x", ""]
    cos = np.sum(int8_model.encode(texts) * engine.encode(texts), axis=1)
    assert cos.min() >= 0.998 and cos.mean() >= 0.999, (cos.min(), cos.mean())
    assert int8_model.backend.weights == ("int8" if VNNI else "float32")
    assert int8_model.backend.products() == ("kernels.int8" if VNNI else "kernels.linear")


@needs_vnni  # without VNNI it is float32, whose vectors are the same bits in any batch with deterministic=True
def test_int8_vectors_are_the_same_bits_in_any_batch_and_thread_count(minilm_dir, int8_model):
    assert_same_bits_in_any_batch_and_thread_count(int8_model, minilm_dir, "int8", seed=1)


def test_int8_reranker_and_option_errors(minilm_dir):
    with pytest.raises(ValueError, match="dtype='int8' needs backend='numba'"):
        minie5.load(minilm_dir, dtype="int8", backend="numpy")
    with pytest.raises(ValueError, match="dtype"):
        minie5.load(minilm_dir, dtype="int4")


# Numba compiles for NUMBA_CPU_NAME with the host's features unless NUMBA_CPU_FEATURES says which:
# "haswell" alone on a VNNI host still has VNNI (and BF16, where the host has it); with Haswell's own
# features it has neither; "generic" has none. Each must embed; without VNNI, dtype="int8" says
# once that it runs float32 instead (deterministic, as int8 is), where the portable int8 loops
# would be slower than float32; without BF16, dtype="bfloat16" says the same.
HASWELL_FEATURES = ("+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fsgsbase,+fxsr,+invpcid,+lzcnt,"
                    "+mmx,+movbe,+pclmul,+popcnt,+rdrnd,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave,"
                    "+xsaveopt")


@pytest.mark.parametrize("cpu", ["haswell", "haswell-features", "generic"])
def test_cpus_without_vnni_or_bf16_get_a_correct_vector_and_a_warning_never_a_crash(tmp_path, minilm_dir, engine, cpu):
    env = dict(os.environ, NUMBA_CPU_NAME=cpu.removesuffix("-features"), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    if cpu == "haswell-features":
        env["NUMBA_CPU_FEATURES"] = HASWELL_FEATURES
    code = ("import sys, warnings, numpy as np, minie5\n"
            "warnings.simplefilter('always')\n"
            "texts = ['query: summit define', 'passage: the highest point of a mountain']\n"
            "print(minie5.load(sys.argv[1]).backend.products())\n"
            "for dtype, path in (('int8', sys.argv[2]), ('bfloat16', sys.argv[3])):\n"
            "    m = minie5.load(sys.argv[1], dtype=dtype)\n"
            "    print(m.backend.products())\n"
            "    np.save(path, m.encode(texts))\n")
    result = subprocess.run([sys.executable, "-c", code, str(minilm_dir), str(tmp_path / "v.npy"),
                             str(tmp_path / "b.npy")], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    expect_vnni, expect_bf16 = cpu == "haswell" and VNNI, cpu == "haswell" and has_avx512_bf16()
    float32, int8_products, bf16_products = result.stdout.split()
    # Without their instructions, int8 and bfloat16 run what float32 runs there, never something slower.
    assert [int8_products, bf16_products] == ["kernels.int8" if expect_vnni else float32,
                                              "kernels.bfloat16" if expect_bf16 else float32]
    assert result.stderr.count("has no AVX-512 VNNI") == (0 if expect_vnni else 1), result.stderr[-2000:]
    assert result.stderr.count("has no AVX-512 BF16") == (0 if expect_bf16 else 1), result.stderr[-2000:]
    # With VNNI under another target, the products' integer sums are the same, but LayerNorm, GELU
    # and attention vectorise differently (their sums in another order, 1e-7 apart), and a value
    # that moves across a rounding boundary of the next product's int8 grid moves its product by a
    # step: so the bar is int8's own, the cosine to float32's vectors.
    exact = engine.encode(["query: summit define", "passage: the highest point of a mountain"])
    assert np.sum(np.load(tmp_path / "v.npy") * exact, axis=1).min() >= 0.998
    assert np.sum(np.load(tmp_path / "b.npy") * exact, axis=1).min() >= 0.9999
