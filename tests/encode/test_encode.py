"""The public API: minie5.load and Model.encode / encode_queries / encode_passages."""

import warnings

import numpy as np
import pytest

import minie5

QUERY = "how much protein should a female eat"


def test_shapes_and_dtype(minilm):
    assert minilm.dim == 384 and minilm.config.num_hidden_layers == 6
    many = minilm.encode(["a", "b", "c"])
    assert many.shape == (3, 384) and many.dtype == np.float32
    one = minilm.encode("a")
    assert one.shape == (384,) and one.dtype == np.float32
    np.testing.assert_array_equal(one, many[0])
    empty = minilm.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32
    assert minilm.encode(iter(["a", "b"])).shape == (2, 384)  # any iterable of str


def test_normalize(minilm):
    texts = ["query: " + QUERY, "passage: protein"]
    unit = minilm.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1, atol=1e-6)
    raw = minilm.encode(texts, normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-6)


def test_texts_are_embedded_as_given_and_prefixes_added_once(e5_named):
    prefixed = e5_named.encode(["query: " + QUERY, "passage: " + QUERY])
    assert not np.allclose(e5_named.encode(QUERY), prefixed[0])
    np.testing.assert_array_equal(e5_named.encode_queries(QUERY), prefixed[0])
    np.testing.assert_array_equal(e5_named.encode_queries([QUERY, "query: " + QUERY]), prefixed[[0, 0]])
    np.testing.assert_array_equal(e5_named.encode_passages([QUERY]), prefixed[[1]])
    assert e5_named.encode_queries([QUERY], normalize=False).shape == (1, 384)


def test_a_model_without_prompts_embeds_queries_as_given(minilm_dir):
    """encode_queries and encode_query are one behaviour: a model that declares no prompt (not an
    e5 model, no config_sentence_transformers.json) gets its texts as given. Asked for by name, it
    says so, once; the role methods say nothing, as sentence-transformers' encode_query."""
    model = minie5.load(minilm_dir, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        queries = model.encode_queries([QUERY, "summit"])
        np.testing.assert_array_equal(model.encode_query([QUERY, "summit"]), queries)
    with pytest.warns(UserWarning, match="declares no 'query' prompt"):
        np.testing.assert_array_equal(model.encode([QUERY, "summit"], prompt_name="query"), queries)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per model and name
        model.encode([QUERY], prompt_name="query")
    np.testing.assert_array_equal(queries, model.encode([QUERY, "summit"]))


def test_model_card_example_ranks_the_right_passages(minilm):
    queries = minilm.encode_queries(["how much protein should a female eat", "summit define"])
    passages = minilm.encode_passages([
        "As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is 46 grams per day.",
        "Definition of summit for English Language Learners. : 1  the highest point of a mountain"])
    scores = queries @ passages.T
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]


@pytest.mark.parametrize("texts, error, message", [
    ([1, "a"], TypeError, r"texts\[0\] is int, expected str"),
    (["a", None], TypeError, r"texts\[1\] is NoneType"),
    (b"bytes", TypeError, "got bytes"),
    (5, TypeError, "got int"),
])
def test_bad_texts_are_named(minilm, texts, error, message):
    with pytest.raises(error, match=message):
        minilm.encode(texts)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_bad_batch_size_is_refused(minilm, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        minilm.encode(["a"], batch_size=batch_size)


def test_bad_load_arguments(tmp_path, minilm_dir):
    with pytest.raises(ValueError, match="backend must be one of 'numba', 'numpy', got 'torch'"):
        minie5.load(minilm_dir, backend="torch")
    with pytest.raises(minie5.Minie5Error, match="no such model folder"):
        minie5.load(tmp_path / "missing")
    with pytest.raises(minie5.ConfigError, match="config.json: no such file"):
        minie5.load(tmp_path)


def test_e5_models_warn_once_about_missing_prefixes(tmp_path, minilm_dir):
    from tests.support.model_files import copy_model

    e5 = minie5.load(copy_model(minilm_dir, tmp_path / "e5-small-v2"), backend="numpy")
    assert e5.expects_prefixes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e5.encode_queries(["no prefix"])  # the prefix is added: nothing to say
        e5.encode(["passage: has one", "query: has one"])
    with pytest.warns(UserWarning, match="1 of 2 texts start with neither 'query: ' nor 'passage: '"):
        e5.encode(["no prefix", "query: fine"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e5.encode(["still no prefix"])  # once per model


def test_other_models_do_not_warn(minilm):
    assert not minilm.expects_prefixes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minilm.encode(["no prefix"])
