"""A corpus' vectors kept beside it, so that searching it again costs only the queries.

The cache file is named after the model and the settings that change the vectors
(CORPUS.minie5-<key>.npz); inside, the corpus' SHA-256 says whether the texts are still the ones
embedded. A cache that is unreadable, or holds vectors of the wrong shape, is treated as absent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .files import write_atomically


class CorpusCache:
    """The cached vectors of the corpus file `corpus` as `model` embeds it with `settings` (any
    JSON-able dict of what else changes the vectors: the text's field, the prefix, long-text mode)."""

    def __init__(self, model, corpus: Path, settings: dict):
        weights = model.path / "model.safetensors"
        self.key = json.dumps({
            "model": str(model.path.resolve()), "config": (model.path / "config.json").read_text(),
            "weights": [weights.stat().st_size, weights.stat().st_mtime_ns],
            "pooling": model.pooling, "max_length": model.max_length, **settings}, sort_keys=True)
        self.dim = model.dim
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:12]
        self.path = corpus.with_name(f"{corpus.name}.minie5-{digest}.npz")

    def load(self, texts: list[str]) -> np.ndarray | None:
        """The vectors of `texts` if the cache holds them, else None."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path) as saved:
                if str(saved["corpus_sha256"]) == _digest(texts) and saved["vectors"].shape == (len(texts), self.dim):
                    return saved["vectors"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable: embed again and replace it
        return None

    def save(self, texts: list[str], vectors: np.ndarray) -> None:
        write_atomically(self.path, lambda f: np.savez(f, vectors=vectors, corpus_sha256=_digest(texts),
                                                       model=self.key))


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
