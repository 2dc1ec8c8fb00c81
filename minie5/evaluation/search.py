"""Exact search in bounded memory: every query against every passage, the corpus' vectors arriving
in blocks and only each query's best k kept, so the corpus never has to fit in memory as vectors.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class TopK:
    """The k best-scoring documents of each query, updated block by block."""

    def __init__(self, queries: np.ndarray, k: int):  # [Q, d]
        self.queries = np.asarray(queries, dtype=np.float32)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.rows = np.zeros((len(queries), 0), dtype=np.int64)  # document numbers, in corpus order

    def add(self, vectors: np.ndarray, first_row: int) -> None:  # [B, d], documents first_row ...
        scores = np.concatenate([self.scores, self.queries @ np.asarray(vectors, dtype=np.float32).T], axis=1)
        rows = np.concatenate([self.rows, np.broadcast_to(np.arange(first_row, first_row + len(vectors)),
                                                          (len(self.queries), len(vectors)))], axis=1)
        if scores.shape[1] > self.k:
            keep = np.argpartition(-scores, self.k - 1, axis=1)[:, :self.k]
            scores, rows = np.take_along_axis(scores, keep, 1), np.take_along_axis(rows, keep, 1)
        self.scores, self.rows = scores, rows


def search(queries: np.ndarray, blocks: Iterable[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores [Q, k'], document rows [Q, k']) of each query's best k over the blocks of corpus
    vectors (k' = min(k, corpus size)), best first. Vectors of unit length: scores are cosines."""
    top, start = TopK(queries, k), 0
    for block in blocks:
        top.add(block, start)
        start += len(block)
    order = np.argsort(-top.scores, axis=1, kind="stable")
    return np.take_along_axis(top.scores, order, 1), np.take_along_axis(top.rows, order, 1)
