"""Sparse retrieval: the inverted index against plain dot products, BM25 against bm25s, the two
fusions, exhaustive MaxSim against its definition, and the evaluation of every kind on a small set."""

from __future__ import annotations

import numpy as np
import pytest

import minie5
from minie5.evaluation import Dataset, load_beir
from minie5.multi_vector import maxsim
from minie5.multi_vector.search import evaluate_multi_vector, maxsim_search
from minie5.sparse.bm25 import BM25
from minie5.sparse.hybrid import reciprocal_rank_fusion, weighted_sum
from minie5.sparse.index import InvertedIndex
from minie5.sparse.retrieval import evaluate_bm25, evaluate_sparse
from minie5.sparse.vectors import SparseEmbeddings


def random_sparse_rows(rng, n, dim, density):
    return np.where(rng.uniform(size=(n, dim)) < density, rng.uniform(0.1, 2, (n, dim)), 0).astype(np.float32)


def test_inverted_index_gives_the_dot_products():
    rng = np.random.default_rng(0)
    docs, queries = random_sparse_rows(rng, 50, 300, 0.05), random_sparse_rows(rng, 7, 300, 0.03)
    docs[3] = 0  # an empty document
    index = InvertedIndex(SparseEmbeddings.from_dense(docs))
    scores, rows = index.search(SparseEmbeddings.from_dense(queries), k=10)
    want = queries @ docs.T
    for i in range(len(queries)):
        np.testing.assert_allclose(scores[i], want[i, rows[i]], rtol=1e-5)
        np.testing.assert_allclose(scores[i], np.sort(want[i])[::-1][:10], rtol=1e-5)


CORPUS = ["the quick brown fox jumps over the lazy dog", "a fast brown fox", "dogs and cats living together",
          "quick quick quick thinking", "nothing in common here at all", "lazy afternoons with a dog"]
QUERIES = ["quick fox", "lazy dog", "cats", "brown afternoons thinking"]


def test_bm25_scores_are_bm25s_lucene():
    bm25s = pytest.importorskip("bm25s")
    ours = BM25(CORPUS, stopwords=())
    theirs = bm25s.BM25(method="lucene")
    theirs.index(bm25s.tokenize(CORPUS, stopwords=[], show_progress=False), show_progress=False)
    rows, scores = theirs.retrieve(bm25s.tokenize(QUERIES, stopwords=[], show_progress=False), k=len(CORPUS),
                                   show_progress=False)
    our_scores, our_rows = ours.search(QUERIES, k=len(CORPUS))
    for i in range(len(QUERIES)):
        want = dict(zip(rows[i].tolist(), scores[i].tolist()))
        got = dict(zip(our_rows[i].tolist(), our_scores[i].tolist()))
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_bm25_takes_documents_and_queries_without_terms():
    bm25 = BM25(["", "the of and", "disk full"])  # empty, stopwords only, words
    scores, rows = bm25.search(["disk", "", "unknown words"], k=3)
    assert rows[0, 0] == 2 and scores[0, 0] > 0 and scores[0, 1:].tolist() == [0, 0]
    assert not scores[1:].any()


def test_fusions():
    dense = {"q": {"a": 0.9, "b": 0.8, "c": 0.1}}
    sparse = {"q": {"c": 12.0, "a": 3.0, "d": 1.0}}
    rrf = reciprocal_rank_fusion([dense, sparse], k=60)["q"]
    assert rrf["a"] == pytest.approx(1 / 61 + 1 / 62) and rrf["d"] == pytest.approx(1 / 63)
    assert list(rrf)[0] == "a"
    mixed = weighted_sum(dense, sparse, 0.5)["q"]
    assert mixed["c"] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    assert mixed["a"] == pytest.approx(0.5 * 1.0 + 0.5 * (3 - 1) / 11)
    assert mixed["b"] == pytest.approx(0.5 * (0.8 - 0.1) / 0.8)
    with pytest.raises(ValueError, match="weight"):
        weighted_sum(dense, sparse, 1.5)


def test_maxsim_search_is_maxsim():
    rng = np.random.default_rng(1)
    queries = [rng.standard_normal((4, 8)).astype(np.float32) for _ in range(6)]
    documents = [rng.standard_normal((n, 8)).astype(np.float32) for n in (3, 1, 7, 2, 5)]
    scores, rows = maxsim_search(queries, documents, k=3)
    for i, q in enumerate(queries):
        want = np.array([maxsim(q, d) for d in documents])
        np.testing.assert_allclose(scores[i], np.sort(want)[::-1][:3], rtol=1e-5)
        np.testing.assert_array_equal(rows[i], np.argsort(-want, kind="stable")[:3])


@pytest.mark.slow  # ~30 s on 2 shared cores: the vocabulary-wide head over a few thousand tokens
def test_every_kind_evaluates_on_a_beir_set(stdlib_beir, sparse_model_dir):
    full = load_beir(stdlib_beir)
    queries = dict(list(full.queries.items())[:20])
    keep = {d for q in queries for d in full.qrels.get(q, {})} | set(list(full.corpus)[:60])
    data = Dataset({d: full.corpus[d] for d in full.corpus if d in keep}, queries,
                   {q: full.qrels[q] for q in queries if q in full.qrels})
    bm25 = evaluate_bm25(data)
    assert bm25["metrics"]["recall@100"] > 0.5  # real lexical overlap between summaries and their docstrings
    sparse = evaluate_sparse(minie5.load_sparse(sparse_model_dir("splade-random")), data)
    colbert = evaluate_multi_vector(minie5.load_multi_vector(sparse_model_dir("colbert-random")), data)
    for result in (sparse, colbert):
        assert result["queries"] == len(data.queries) and len(result["run"]) == len(data.queries)
        assert all(0 <= value <= 1 for value in result["metrics"].values())
