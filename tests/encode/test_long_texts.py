"""Texts longer than the model's limit (all-MiniLM-L6-v2: 256 tokens, as its
sentence_bert_config.json says): truncated with a warning, chunked, or refused."""

import warnings

import numpy as np
import pytest

LONG = "passage: the committee met again to review the proposal and its costs " * 90  # ~1,100 tokens
TEXTS = ["query: summit define", LONG]


@pytest.fixture(scope="module")
def model(minilm_dir):
    import minie5

    return minie5.load(minilm_dir)


def test_truncation_is_reported(model):
    with pytest.warns(UserWarning, match="1 of 2 texts were longer than 256 tokens and were truncated"):
        model.encode(TEXTS)
    np.testing.assert_array_equal(model.truncated(TEXTS), [False, True])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.encode(TEXTS[:1])  # nothing cut, nothing said


def test_error_mode_names_the_text(model):
    with pytest.raises(ValueError, match=r"texts\[1\] is longer than 256 tokens"):
        model.encode(TEXTS, long="error")
    assert model.encode(TEXTS[:1], long="error").shape == (1, 384)
    with pytest.raises(ValueError, match="long must be one of"):
        model.encode(TEXTS, long="split")


@pytest.mark.parametrize("overlap", [0, 100])
def test_chunk_is_the_token_weighted_mean_of_the_windows(model, minilm, overlap):
    """Checked against the NumPy reference embedding each window on its own."""
    windows = minilm.tokenizer.tokenize_windows([LONG], overlap)[0]
    assert len(windows) >= 3 and all(len(w) <= 256 for w in windows)  # about 1,100 tokens
    assert all(w[0] == 101 and w[-1] == 102 for w in windows)
    if overlap:  # successive windows share `overlap` tokens
        assert np.array_equal(windows[0][-1 - overlap:-1], windows[1][1:1 + overlap])
    pooled = minilm.backend.embed(windows, "mean").astype(np.float64)
    weights = np.array([len(w) for w in windows], dtype=np.float64)
    expected = weights @ pooled / weights.sum()
    expected /= np.linalg.norm(expected)
    got = model.encode(TEXTS, long="chunk", overlap=overlap)
    np.testing.assert_allclose(got[1], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got[0], model.encode(TEXTS[0]), rtol=0, atol=1e-6)  # one window: as before
    assert np.dot(got[1], model.encode(LONG)) < 1  # it differs from the truncated embedding


def test_bad_overlap(model):
    with pytest.raises(ValueError, match="overlap must be between 0 and 253 tokens"):
        model.encode(TEXTS, long="chunk", overlap=254)
