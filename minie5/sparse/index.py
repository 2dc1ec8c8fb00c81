"""An inverted index over sparse vectors, in NumPy: for each vocabulary entry, the documents that
use it and their weights (the corpus' compressed rows turned into compressed columns). A query's
score against every document is then the sum, over the query's few entries, of the query weight
times each posting's weight: work proportional to the postings the query touches, not to the
corpus times the vocabulary.

    index = InvertedIndex(encoder.encode_document(passages))
    scores, rows = index.search(encoder.encode_query(queries), k=10)   # best first
"""

from __future__ import annotations

import numpy as np

from .vectors import SparseEmbeddings


class InvertedIndex:
    """Postings of a corpus of sparse vectors, searchable by dot product."""

    def __init__(self, documents: SparseEmbeddings):
        self.size, self.dim = len(documents), documents.dim
        rows = np.repeat(np.arange(self.size, dtype=np.int64), documents.active_dims())
        order = np.argsort(documents.indices, kind="stable")  # group postings by term, documents ascending
        self.documents = rows[order]  # [postings] the document of each posting
        self.weights = documents.values[order]  # [postings]
        counts = np.bincount(documents.indices, minlength=self.dim)
        self.starts = np.concatenate([[0], np.cumsum(counts)])  # term t's postings: starts[t]:starts[t+1]

    def scores(self, query) -> np.ndarray:  # SparseVector -> [size] float32
        """The dot product of one query vector with every document."""
        spans = [(self.starts[t], self.starts[t + 1]) for t in query.indices]
        if not spans:
            return np.zeros(self.size, np.float32)
        picks = np.concatenate([np.arange(a, b) for a, b in spans])
        weights = np.repeat(query.values, [b - a for a, b in spans])
        return np.bincount(self.documents[picks], weights=weights * self.weights[picks],
                           minlength=self.size).astype(np.float32)

    def search(self, queries: SparseEmbeddings, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores [Q, k'], document rows [Q, k']) of each query's best k, best first (ties by row)."""
        if queries.dim != self.dim:
            raise ValueError(f"queries have dimension {queries.dim}, the index {self.dim}")
        k = min(k, self.size)
        all_scores, all_rows = np.zeros((len(queries), k), np.float32), np.zeros((len(queries), k), np.int64)
        for i, query in enumerate(queries.rows()):
            scores = self.scores(query)
            top = np.argpartition(-scores, k - 1)[:k] if k < self.size else np.arange(self.size)
            top = top[np.lexsort((top, -scores[top]))]
            all_scores[i], all_rows[i] = scores[top], top
        return all_scores, all_rows
