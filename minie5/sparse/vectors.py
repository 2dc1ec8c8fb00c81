"""Sparse vectors over a vocabulary, as compressed rows: what `SparseEncoder.encode` returns.

    indptr   [n + 1] int64    row i's entries are indptr[i]:indptr[i+1]
    indices  [nnz] int32      vocabulary ids, ascending within a row
    values   [nnz] float32    their weights, all > 0

The same three arrays as scipy.sparse's CSR format (`to_scipy`), and, row by row, the
indices-and-values pairs Qdrant, Elasticsearch and TEI's /embed_sparse take (`rows`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import install_hint


@dataclass(frozen=True)
class SparseVector:
    """One text's sparse vector: vocabulary ids and their weights."""

    indices: np.ndarray  # [k] int32, ascending
    values: np.ndarray  # [k] float32
    dim: int  # the vocabulary size

    def to_dense(self) -> np.ndarray:  # -> [dim] float32
        out = np.zeros(self.dim, np.float32)
        out[self.indices] = self.values
        return out

    def __len__(self) -> int:
        return len(self.indices)


class SparseEmbeddings:
    """n sparse vectors of one dimension (the vocabulary size), in compressed rows."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, dim: int):
        self.indptr = np.asarray(indptr, np.int64)
        self.indices = np.asarray(indices, np.int32)
        self.values = np.asarray(values, np.float32)
        self.dim = int(dim)
        if self.indptr[0] != 0 or self.indptr[-1] != len(self.indices) or len(self.indices) != len(self.values):
            raise ValueError("indptr, indices and values do not describe compressed rows")

    @classmethod
    def from_dense(cls, dense: np.ndarray, max_active_dims: int | None = None) -> SparseEmbeddings:  # [n, V]
        """The nonzero entries of each row (at most max_active_dims of them, the largest)."""
        dense = np.asarray(dense)
        if max_active_dims is not None and max_active_dims < dense.shape[1]:
            dense = keep_largest(dense, max_active_dims)
        rows, columns = np.nonzero(dense)
        indptr = np.zeros(len(dense) + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=len(dense)), out=indptr[1:])
        return cls(indptr, columns, dense[rows, columns], dense.shape[1])

    @classmethod
    def concatenate(cls, parts: list[SparseEmbeddings], dim: int) -> SparseEmbeddings:
        if not parts:
            return cls(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), dim)
        counts = np.concatenate([np.diff(p.indptr) for p in parts])
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return cls(indptr, np.concatenate([p.indices for p in parts]), np.concatenate([p.values for p in parts]), dim)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.dim)

    def __getitem__(self, i: int) -> SparseVector:
        if not -len(self) <= i < len(self):
            raise IndexError(f"row {i} of {len(self)}")
        i %= len(self)
        a, b = self.indptr[i], self.indptr[i + 1]
        return SparseVector(self.indices[a:b], self.values[a:b], self.dim)

    def rows(self) -> Iterator[SparseVector]:
        return (self[i] for i in range(len(self)))

    def active_dims(self) -> np.ndarray:  # -> [n] int64
        """How many vocabulary entries each vector uses."""
        return np.diff(self.indptr)

    def to_dense(self) -> np.ndarray:  # -> [n, dim] float32
        out = np.zeros(self.shape, np.float32)
        out[np.repeat(np.arange(len(self)), self.active_dims()), self.indices] = self.values
        return out

    def to_scipy(self):
        """A scipy.sparse.csr_array sharing these arrays (scipy must be installed)."""
        try:
            from scipy import sparse
        except ImportError:
            raise ImportError("to_scipy needs scipy: " + install_hint("sparse")) from None
        return sparse.csr_array((self.values, self.indices, self.indptr), shape=self.shape)

    def __repr__(self) -> str:
        mean = float(self.active_dims().mean()) if len(self) else 0.0
        return f"SparseEmbeddings({len(self)} x {self.dim}, {mean:.1f} active dims per row on average)"


def keep_largest(dense: np.ndarray, k: int) -> np.ndarray:  # [n, V] -> [n, V]
    """Each row with all but its k largest entries set to zero (sentence-transformers'
    max_active_dims); ties at the k-th value are broken by argpartition's order."""
    out = np.zeros_like(dense)
    top = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    rows = np.arange(len(dense))[:, None]
    out[rows, top] = dense[rows, top]
    return out


def dot(a: SparseEmbeddings, b: SparseEmbeddings) -> np.ndarray:  # -> [len(a), len(b)] float32
    """Every dot product of a row of `a` with a row of `b`: SPLADE's score."""
    if a.dim != b.dim:
        raise ValueError(f"a has dimension {a.dim} but b has {b.dim}")
    out = np.zeros((len(a), len(b)), np.float32)
    dense_b = b.to_dense()  # [m, V]: one gather per row of a
    for i, row in enumerate(a.rows()):
        out[i] = dense_b[:, row.indices] @ row.values
    return out
