"""minie5.sparse against sentence-transformers' own SparseEncoder (tools/make_sparse_golden.py), on
seeded random weights with the real heads' shapes, laid out by the files sentence-transformers wrote.

What is compared: every text's active entries (the same vocabulary ids, as a set) and their weights.
An entry near zero may be active on one side and not the other (float32 rounding of a score at the
ReLU's edge), so the active sets must agree up to entries smaller than the weight tolerance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minie5.sparse
from tests.support import random_sparse

VOCAB = random_sparse.MLM_CONFIG["vocab_size"]
# float32 against torch's float32: measured 6e-6 (engine and reference alike), bounded here at 5e-5.
ATOL = 5e-5


def compare(got: np.ndarray, want: np.ndarray, atol: float) -> dict:
    """Max abs difference, and whether the active sets agree apart from entries below atol."""
    diff = float(np.abs(got - want).max())
    only_one = (got > 0) != (want > 0)
    edge = float(np.maximum(got, want)[only_one].max()) if only_one.any() else 0.0
    assert diff <= atol, f"max abs difference {diff:.2e} > {atol:.0e}"
    assert edge <= atol, f"an entry of weight {edge:.2e} is active on one side only"
    return {"max_abs": diff, "active_agreement": 1 - only_one.sum() / max(1, ((got > 0) | (want > 0)).sum())}


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_splade_matches_sentence_transformers(sparse_model_dir, backend):
    about, arrays = random_sparse.golden("splade-random")
    encoder = minie5.sparse.load_sparse(sparse_model_dir("splade-random"), backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the long text's truncation
        documents = encoder.encode_document(about["texts"], batch_size=3)
    want = random_sparse.golden_rows(arrays, "document", VOCAB)
    assert (want > 0).sum(axis=1).min() > 50, "the golden vectors should be sparse but not empty"
    compare(documents.to_dense(), want, ATOL)
    if backend == "numpy":
        return  # the reference is slow on the vocabulary-wide head: the engine covers the other calls
    compare(encoder.encode_query(about["texts"][:-1]).to_dense(),
            random_sparse.golden_rows(arrays, "query", VOCAB)[:-1], ATOL)
    top = encoder.encode_document(about["texts"][:-1], max_active_dims=about["max_active_dims"])
    assert (top.active_dims() == about["max_active_dims"]).all()
    compare(top.to_dense(), random_sparse.golden_rows(arrays, "document_top", VOCAB)[:-1], ATOL)


def test_inference_free_matches_sentence_transformers(sparse_model_dir):
    about, arrays = random_sparse.golden("inference-free-random")
    encoder = minie5.sparse.load_sparse(sparse_model_dir("inference-free-random"))
    assert encoder.layout.inference_free
    queries = encoder.encode_query(about["texts"])
    want = random_sparse.golden_rows(arrays, "query", VOCAB)
    assert np.array_equal(queries.to_dense(), want)  # weights looked up, no arithmetic: exact
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        documents = encoder.encode_document(about["texts"], batch_size=3)
    compare(documents.to_dense(), random_sparse.golden_rows(arrays, "document", VOCAB), ATOL)
