"""Output precisions: float16, int8/uint8 with calibration ranges, packed sign bits."""

import numpy as np
import pytest

import minie5
from minie5.encode.quantize import calibration_ranges, hamming_distance, quantize

rng = np.random.RandomState(0)
X = rng.standard_normal((50, 384)).astype(np.float32)


def test_int8_codes_decode_to_within_half_a_step():
    ranges = calibration_ranges(X)
    steps = (ranges[1] - ranges[0]) / 255
    for precision, offset in (("int8", 128), ("uint8", 0)):
        codes = quantize(X, precision, ranges)
        assert codes.dtype == np.dtype(precision) and codes.shape == X.shape
        decoded = (codes.astype(np.float32) + offset) * steps + ranges[0]
        assert np.all(np.abs(decoded - X) <= steps / 2 + 1e-6)
    assert quantize(X, "int8", ranges).min() == -128 and quantize(X, "int8", ranges).max() == 127


def test_values_outside_the_calibration_range_saturate():
    ranges = calibration_ranges(X)
    codes = quantize(np.stack([ranges[0] - 1, ranges[1] + 1]), "int8", ranges)
    assert np.all(codes[0] == -128) and np.all(codes[1] == 127)


def test_binary_packs_the_sign_bits():
    u = quantize(X, "ubinary")
    assert u.dtype == np.uint8 and u.shape == (50, 48)
    np.testing.assert_array_equal(np.unpackbits(u, axis=1).astype(bool), X > 0)
    b = quantize(X, "binary")
    assert b.dtype == np.int8
    np.testing.assert_array_equal(b.astype(np.int16) + 128, u)


def test_hamming_distance_counts_differing_signs():
    expected = np.array([[np.sum((q > 0) != (p > 0)) for p in X] for q in X[:5]])
    np.testing.assert_array_equal(hamming_distance(quantize(X[:5], "binary"), quantize(X, "binary")), expected)
    np.testing.assert_array_equal(hamming_distance(quantize(X[:5], "ubinary"), quantize(X, "ubinary")), expected)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="precision must be one of"):
        quantize(X, "int4")
    with pytest.raises(ValueError, match=r"ranges must be \[2, 384\]"):
        quantize(X, "int8", np.zeros((384,)))
    with pytest.raises(ValueError, match="not a multiple of 8"):
        quantize(X[:, :20], "binary")


def test_encode_precision(minilm):
    texts = ["query: summit define", "passage: the highest point of a mountain"]
    full = minilm.encode(texts)
    np.testing.assert_array_equal(minilm.encode(texts, precision="float16"), full.astype(np.float16))
    np.testing.assert_array_equal(minilm.encode(texts, precision="ubinary"), np.packbits(full > 0, axis=1))
    ranges = calibration_ranges(full)
    np.testing.assert_array_equal(minilm.encode(texts[0], precision="int8", ranges=ranges),
                                  quantize(full, "int8", ranges)[0])
    with pytest.raises(ValueError, match="precision must be one of"):
        minilm.encode(texts, precision="int4")
    assert minie5.quantize is quantize


def test_int8_without_ranges_refuses_too_few_vectors():
    one = np.linspace(-1, 1, 384, dtype=np.float32)[None]
    with pytest.raises(ValueError, match="1 vectors alone, too few to calibrate on .*minie5.calibration_ranges"):
        quantize(one, "uint8")
    with pytest.raises(ValueError, match="at least 2 embeddings"):
        calibration_ranges(one)


def test_hamming_distance_names_misshapen_arguments():
    codes = quantize(np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32), "ubinary")
    assert hamming_distance(codes[0], codes).shape == (1, 5)
    with pytest.raises(ValueError, match=r"corpus \[48\] \(swapped\?\)"):
        hamming_distance(codes, codes[0])
    with pytest.raises(ValueError, match="must be packed binary codes .* got float32"):
        hamming_distance(codes[0].astype(np.float32), codes)
