"""Sparse and BM25 retrieval on a BEIR-format dataset, scored as minie5.evaluation scores dense
runs: the same queries, passages (title and text joined as BEIR joins them), metrics and run shape,
so that their runs can be compared with a dense model's and fused with it (hybrid.py)."""

from __future__ import annotations

import time

from ..evaluation.beir import Dataset
from ..evaluation.metrics import evaluate_run
from .bm25 import BM25
from .index import InvertedIndex


def _result(dataset: Dataset, query_ids: list[str], doc_ids: list[str], scores, rows, started: float) -> dict:
    run = {q: {doc_ids[r]: float(s) for s, r in zip(scores[i], rows[i])} for i, q in enumerate(query_ids)}
    return {"metrics": evaluate_run(dataset.qrels, run), "run": run, "queries": len(query_ids),
            "corpus": len(doc_ids), "seconds": time.perf_counter() - started}


def evaluate_sparse(encoder, dataset: Dataset, *, top_k: int = 100, batch_size: int = 32) -> dict:
    """A SparseEncoder's run and metrics: queries by encode_query, passages by encode_document,
    searched on an inverted index."""
    started = time.perf_counter()
    query_ids, doc_ids = list(dataset.queries), list(dataset.corpus)
    documents = encoder.encode_document([dataset.passage(d) for d in doc_ids], batch_size=batch_size)
    queries = encoder.encode_query([dataset.queries[q] for q in query_ids], batch_size=batch_size)
    scores, rows = InvertedIndex(documents).search(queries, top_k)
    return _result(dataset, query_ids, doc_ids, scores, rows, started)


def evaluate_bm25(dataset: Dataset, *, top_k: int = 100, k1: float = 1.5, b: float = 0.75) -> dict:
    """BM25's run and metrics (bm25.BM25)."""
    started = time.perf_counter()
    query_ids, doc_ids = list(dataset.queries), list(dataset.corpus)
    bm25 = BM25((dataset.passage(d) for d in doc_ids), k1=k1, b=b)
    scores, rows = bm25.search([dataset.queries[q] for q in query_ids], top_k)
    return _result(dataset, query_ids, doc_ids, scores, rows, started)
