"""What `encode` does with awkward input: odd Unicode, huge strings, bad arguments, and more texts
than fit in memory at once."""

import time
import tracemalloc
import warnings

import numpy as np
import pytest

import minie5
from tests.support.model_files import small_model


@pytest.fixture(scope="module")
def small(minilm_dir, tmp_path_factory):
    return minie5.load(small_model(minilm_dir, tmp_path_factory.mktemp("small")))


def test_a_lone_surrogate_is_named_with_its_text(small):
    with pytest.raises(ValueError, match=r"texts\[1\] holds a lone surrogate \(U\+D800\) at character 3"):
        small.encode(["fine", "bad\ud800text"])


@pytest.mark.parametrize("kwargs, message", [
    ({"overlap": 1.5, "long": "chunk"}, "overlap must be a non-negative integer"),
    ({"overlap": -1, "long": "chunk"}, "overlap must be a non-negative integer"),
    ({"normalize": "no"}, "normalize must be True, False or None, got 'no'"),
    ({"precision": "int4"}, "precision must be one of"),
    ({"long": "cut"}, "long must be one of"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"precision": "int8", "ranges": np.full((2, 32), np.nan)}, "ranges hold NaN"),
    ({"precision": "int8", "ranges": np.stack([np.ones(32), np.zeros(32)])}, "minima\\) exceed"),
])
def test_bad_arguments_are_named(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        small.encode(["a text"], **kwargs)


def test_a_huge_string_costs_what_the_window_uses(small):
    """A 10 MB string: only the characters the 512-token window can use are tokenized."""
    words = "the river rises in the hills north of the town and reaches the sea "
    huge = words * (10_000_000 // len(words))
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="1 of 1 texts were longer"):
        vector = small.encode(huge)
    assert time.perf_counter() - start < 3
    head = huge[:5000]  # far more than 512 tokens: the same first window
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(vector, small.encode(head))


@pytest.mark.parametrize("text", [
    " " * 100_000 + "late words " * 2000,           # the budget is spent on spaces the tokenizer drops
    "\u0000\u200b" * 60_000 + "words after " * 2000,  # control and zero-width characters, dropped too
    "x" * 300_000,                                   # no whitespace to cut at: tokenized whole
    "a " * 30_000,                                   # exactly at the edge of word boundaries
])
def test_the_character_budget_never_changes_the_result(small, text):
    first, longer = small.tokenizer.tokenize_first([text])
    whole = small.tokenizer.tokenize_windows([text])[0]
    np.testing.assert_array_equal(first[0], whole[0])
    assert longer[0] == (len(whole) > 1)


def test_encode_iter_gives_encode_in_chunks(small):
    texts = [f"text {i} " + "word " * (i % 40) for i in range(250)]
    chunks = list(small.encode_iter(iter(texts), chunk_size=100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    # Other chunks, other batches: equal up to the engine's batch-composition rounding (README).
    np.testing.assert_allclose(np.concatenate(chunks), small.encode(texts), rtol=0, atol=5e-7)
    with pytest.raises(ValueError, match="needs ranges="):
        next(small.encode_iter(texts, precision="int8"))
    with pytest.raises(TypeError, match=r"texts\[3\] is int"):
        list(small.encode_iter(["a", "b", "c", 4]))


def test_memory_is_bounded_by_the_batch_not_the_texts(small):
    """Peak memory of encode_iter over 4,000 texts and over 16,000 is the same: texts are
    tokenized and embedded a chunk at a time (tracemalloc counts NumPy's buffers)."""
    def peak(n):
        texts = (f"passage {i}: " + "the train leaves at noon " * 10 for i in range(n))
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in small.encode_iter(texts, chunk_size=1000):
                pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    peak(1000)  # buffers the engine keeps between calls
    small_run, big_run = peak(4000), peak(16000)
    assert big_run < 1.3 * small_run, (small_run, big_run)
