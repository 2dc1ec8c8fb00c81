"""Properties of the NumPy reference that the golden files alone do not pin down."""

import math

import numpy as np
import pytest

from minie5 import reference
from minie5.reference.padding import pad_batch

TEXTS = ["query: how much protein should a female eat", "", "passage: a mountain's summit " * 40,
         "query: summit define", "x"]


def test_a_text_embeds_the_same_alone_and_in_a_padded_batch(minilm):
    together = minilm.encode(TEXTS, batch_size=len(TEXTS))
    alone = np.stack([minilm.encode(t) for t in TEXTS])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 64])
def test_batch_size_does_not_change_embeddings(minilm, batch_size):
    np.testing.assert_allclose(minilm.encode(TEXTS, batch_size=batch_size),
                               minilm.encode(TEXTS, batch_size=len(TEXTS)), rtol=0, atol=1e-6)


def test_padding_never_reaches_real_tokens(minilm):
    """Whatever ids stand in the padded positions, the real tokens' states are bit for bit the same:
    the mask gives padded keys a weight of exactly zero."""
    ids = minilm.tokenizer.tokenize(TEXTS)
    input_ids, mask = pad_batch(ids)
    other_pads = np.where(mask > 0, input_ids, 1000 + np.arange(input_ids.size).reshape(input_ids.shape))
    a = reference.bert(input_ids, mask, minilm.backend.params, minilm.config)[-1]
    b = reference.bert(other_pads, mask, minilm.backend.params, minilm.config)[-1]
    np.testing.assert_array_equal(a[mask > 0], b[mask > 0])


def test_gelu_is_the_exact_erf_form():
    x = np.linspace(-6, 6, 1001)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(reference.gelu(x), exact, rtol=1e-15, atol=1e-15)
    assert reference.gelu(x.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(reference.gelu(x.astype(np.float32)), exact, rtol=1e-6, atol=1e-7)
    # The tanh approximation differs by up to ~1e-3: make sure that is not what we compute.
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    assert np.abs(reference.gelu(x) - tanh_form).max() > 1e-4


def test_layer_norm_normalises_then_scales():
    x = np.random.RandomState(0).standard_normal((3, 5, 384)) * 7 + 3
    y = reference.layer_norm(x, np.ones(384), np.zeros(384), eps=1e-12)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, atol=1e-10)
    w, b = np.full(384, 2.0), np.full(384, -1.0)
    np.testing.assert_allclose(reference.layer_norm(x, w, b, eps=1e-12), 2 * y - 1, atol=1e-12)


def test_softmax_ignores_masked_scores():
    scores = np.array([[1.0, 2.0, -np.inf, 3.0]])
    p = reference.softmax(scores)
    assert p[0, 2] == 0 and math.isclose(p.sum(), 1)
    np.testing.assert_allclose(p[0, [0, 1, 3]], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_mean_pool_counts_only_real_tokens():
    hidden = np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(reference.mean_pool(hidden, mask), [[1, 2], [6, 7]])
    np.testing.assert_allclose(np.linalg.norm(reference.l2_normalize(hidden[:, 0]), axis=-1), 1)
    assert not np.isnan(reference.l2_normalize(np.zeros((1, 4)))).any()


def test_float64_weights_give_a_float64_forward_pass(minilm):
    params64 = _cast(minilm.backend.params, np.float64)
    ids, mask = pad_batch(minilm.tokenizer.tokenize(TEXTS[:2]))
    h64 = reference.bert(ids, mask, params64, minilm.config)[-1]
    h32 = reference.bert(ids, mask, minilm.backend.params, minilm.config)[-1]
    assert h64.dtype == np.float64 and h32.dtype == np.float32
    assert np.abs(h64 - h32)[mask > 0].max() < 1e-4


def _cast(node, dtype):
    if isinstance(node, dict):
        return {k: _cast(v, dtype) for k, v in node.items()}
    if isinstance(node, list):
        return [_cast(v, dtype) for v in node]
    return node.astype(dtype)
