"""BM25 (Robertson & Zaragoza 2009), Lucene's variant, as sparse vectors on the inverted index: the
baseline every learned retriever is measured against, and the lexical half of a hybrid.

A document's weight for term t is

    idf(t) * tf / (tf + k1 * (1 - b + b * length / mean length)),   idf(t) = log(1 + (N - df + 0.5) / (df + 0.5))

(tf: t's count in the document, df: documents containing t, N: documents), and a query is the set
of its terms, each weighing 1, so a query's score is the sum of its terms' document weights: the
same numbers as bm25s' method="lucene" (tested against it). Terms are lower-cased runs of two or
more word characters (scikit-learn's and bm25s' default pattern); `stopwords` are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from .index import InvertedIndex
from .vectors import SparseEmbeddings

TOKEN = re.compile(r"(?u)\b\w\w+\b")
# The English stopwords bm25s and scikit-learn drop by default would be a list to copy; minie5 keeps
# the short common list below (articles, pronouns, auxiliaries, prepositions), and says so.
STOPWORDS = frozenset("""a an and are as at be but by for if in into is it no not of on or such that the their then
there these they this to was will with""".split())


def terms(text: str, stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in stopwords]


class BM25:
    """A corpus indexed for BM25; `search(queries, k)` as InvertedIndex.search."""

    def __init__(self, corpus: Iterable[str], k1: float = 1.5, b: float = 0.75,
                 stopwords: Iterable[str] = STOPWORDS):
        self.k1, self.b, self.stopwords = k1, b, frozenset(stopwords)
        self.vocabulary: dict[str, int] = {}
        rows, columns, counts = [], [], []
        lengths = []
        for i, text in enumerate(corpus):
            words = terms(text, self.stopwords)
            lengths.append(len(words))
            ids, tf = np.unique(np.array([self.vocabulary.setdefault(w, len(self.vocabulary)) for w in words],
                                         dtype=np.int64), return_counts=True)
            rows.append(np.full(len(ids), i))
            columns.append(ids)
            counts.append(tf)
        n = len(lengths)
        rows, columns, tf = (np.concatenate(x) if x else np.zeros(0, int) for x in (rows, columns, counts))
        lengths = np.asarray(lengths, np.float64)
        df = np.bincount(columns, minlength=len(self.vocabulary))
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        norm = 1 - b + b * lengths / max(lengths.mean(), 1e-9) if n else lengths
        weights = idf[columns] * tf / (tf + k1 * norm[rows])
        order = np.lexsort((columns, rows))  # compressed rows: by document, terms ascending
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        self.documents = SparseEmbeddings(indptr, columns[order], weights[order], max(len(self.vocabulary), 1))
        self.index = InvertedIndex(self.documents)

    def encode_query(self, queries: Iterable[str]) -> SparseEmbeddings:
        """Each query's known terms, each once, weighing 1."""
        indptr, indices = [0], []
        for text in queries:
            ids = sorted({self.vocabulary[w] for w in terms(text, self.stopwords) if w in self.vocabulary})
            indices.extend(ids)
            indptr.append(len(indices))
        return SparseEmbeddings(np.array(indptr), np.array(indices, np.int64), np.ones(len(indices), np.float32),
                                self.documents.dim)

    def search(self, queries: Iterable[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(self.encode_query(queries), k)
