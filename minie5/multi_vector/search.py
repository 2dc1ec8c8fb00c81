"""Exhaustive MaxSim search: every query's token vectors against every document's, the documents'
vectors stacked once so that each block of queries costs one matrix product and one maximum per
document segment (np.maximum.reduceat), then the sum over the query's vectors."""

from __future__ import annotations

import time

import numpy as np

from ..evaluation.beir import Dataset
from ..evaluation.metrics import evaluate_run

QUERIES_PER_BLOCK = 4  # 4 x 32 query vectors against the corpus' tokens: [128, tokens] float32 at a time


def maxsim_search(queries: list[np.ndarray], documents: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores [Q, k'], document rows [Q, k']) of each query's best k by MaxSim, best first."""
    stacked = np.concatenate(documents).astype(np.float32)  # [tokens, D]
    lengths = np.array([len(d) for d in documents])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    present = lengths > 0  # reduceat needs non-empty segments: empty documents score 0
    k = min(k, len(documents))
    out_scores, out_rows = np.zeros((len(queries), k), np.float32), np.zeros((len(queries), k), np.int64)
    for first in range(0, len(queries), QUERIES_PER_BLOCK):
        block = queries[first:first + QUERIES_PER_BLOCK]
        similarities = np.concatenate(block) @ stacked.T  # [block tokens, corpus tokens]
        best = np.zeros((len(similarities), len(documents)), np.float32)
        best[:, present] = np.maximum.reduceat(similarities, starts[present], axis=1)
        offset = 0
        for j, query in enumerate(block):
            scores = best[offset:offset + len(query)].sum(axis=0)
            offset += len(query)
            top = np.argpartition(-scores, k - 1)[:k] if k < len(documents) else np.arange(len(documents))
            top = top[np.lexsort((top, -scores[top]))]
            out_scores[first + j], out_rows[first + j] = scores[top], top
    return out_scores, out_rows


def evaluate_multi_vector(encoder, dataset: Dataset, *, top_k: int = 100, batch_size: int = 32) -> dict:
    """A MultiVectorEncoder's run and metrics on a BEIR-format dataset, by exhaustive MaxSim."""
    started = time.perf_counter()
    query_ids, doc_ids = list(dataset.queries), list(dataset.corpus)
    documents = encoder.encode_document([dataset.passage(d) for d in doc_ids], batch_size=batch_size)
    queries = encoder.encode_query([dataset.queries[q] for q in query_ids], batch_size=batch_size)
    scores, rows = maxsim_search(queries, documents, top_k)
    run = {q: {doc_ids[r]: float(s) for s, r in zip(scores[i], rows[i])} for i, q in enumerate(query_ids)}
    return {"metrics": evaluate_run(dataset.qrels, run), "run": run, "queries": len(query_ids),
            "corpus": len(doc_ids), "seconds": time.perf_counter() - started}
