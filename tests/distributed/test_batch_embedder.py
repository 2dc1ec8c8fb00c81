"""BatchEmbedder: the same batch back, of the same type, with an embedding column; bad rows by
policy; picklable, one model per process, threads from what the worker was given."""

import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from minie5.batch_embedder import BadRowError, BatchEmbedder

TEXTS = ["the summit is covered in snow", "trains leave every fifteen minutes", "protein needs vary"]


@pytest.fixture(scope="module")
def small_dir(minilm_dir, tmp_path_factory):
    from tests.support.model_files import small_model

    return small_model(minilm_dir, tmp_path_factory.mktemp("small"))


@pytest.mark.parametrize("make", [
    lambda: pd.DataFrame({"id": [1, 2, 3], "text": TEXTS}),
    lambda: pa.table({"id": [1, 2, 3], "text": TEXTS}),
    lambda: {"id": np.array([1, 2, 3]), "text": np.array(TEXTS, dtype=object)},
])
def test_each_batch_type_comes_back_with_its_columns(small_dir, make):
    embedder = BatchEmbedder(small_dir, prefix="passage")
    out = embedder(make())
    assert type(out) is type(make())
    expected = embedder.model.encode_passages(TEXTS)
    if isinstance(out, pa.Table):
        assert out.column_names == ["id", "text", "embedding"] and out.column("id").to_pylist() == [1, 2, 3]
        assert out.schema.field("embedding").type == pa.list_(pa.float32())
        got = np.array(out.column("embedding").to_pylist(), np.float32)
    else:
        assert list(out["id"]) == [1, 2, 3]
        got = np.stack(list(out["embedding"]))
    np.testing.assert_array_equal(got, expected)


def test_bad_rows_follow_the_policy(small_dir):
    batch = pd.DataFrame({"id": [1, 2, 3, 4], "text": ["fine", None, 7, "also fine"]})
    with pytest.raises(BadRowError, match=r"row 1: 'text' is null, not a string \(2 such row\(s\)"):
        BatchEmbedder(small_dir)(batch)
    skipped = BatchEmbedder(small_dir, on_bad_row="skip")(batch)
    assert list(skipped["id"]) == [1, 4] and len(skipped["embedding"]) == 2
    kept = BatchEmbedder(small_dir, on_bad_row="empty")(batch)
    assert list(kept["id"]) == [1, 2, 3, 4] and kept["embedding"][1] is None and kept["embedding"][2] is None
    np.testing.assert_array_equal(kept["embedding"][3], BatchEmbedder(small_dir).model.encode("also fine"))


def test_picklable_and_one_model_per_process(small_dir):
    embedder = BatchEmbedder(small_dir, threads=1)
    first = embedder.model
    clone = pickle.loads(pickle.dumps(embedder))  # as Ray, Dask and Spark ship it to workers
    assert clone.model is first  # loaded once per process, shared by every copy
    assert len(pickle.dumps(embedder)) < 2000  # the settings travel, never the weights


def test_int8_engine_is_its_own_model(small_dir):
    """dtype="int8" loads a model of its own (not the float32 one of the same settings)."""
    import warnings

    exact, rounded = BatchEmbedder(small_dir, threads=1), BatchEmbedder(small_dir, threads=1, dtype="int8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no VNNI: float32 runs, with a warning
        assert rounded.model is not exact.model
        a, b = exact.model.encode(TEXTS), rounded.model.encode(TEXTS)
    assert np.sum(a * b, axis=1).min() > 0.99


def test_threads_come_from_the_worker(small_dir, monkeypatch):
    monkeypatch.delenv("MINIE5_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Ray sets for an actor with num_cpus=1
    assert BatchEmbedder(small_dir).model.backend.threads.threads == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"prefix": "question"}, "prefix must be"),
    ({"precision": "int8"}, "needs ranges="),
    ({"on_bad_row": "ignore"}, "on_bad_row must be"),
    ({"dtype": "int4"}, "dtype must be"),
    ({"dtype": "int8", "backend": "numpy"}, "dtype='int8' needs backend='numba'"),
])
def test_bad_settings_are_refused_at_once(small_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchEmbedder(small_dir, **kwargs)


def test_a_missing_column_is_named(small_dir):
    with pytest.raises(KeyError, match="no column 'body' \\(columns: id, text\\)"):
        BatchEmbedder(small_dir, column="body")(pd.DataFrame({"id": [1], "text": ["x"]}))
