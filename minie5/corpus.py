"""A corpus' vectors kept beside it, so that searching it again costs only the queries, and
adding lines costs only the new lines.

The cache file is named after the model and every setting that changes the vectors (the model's
files, pooling and length limit, the engine's arithmetic, and the caller's: prompt, long-text mode)
(CORPUS.minie5-<key>.npz), and lives beside the corpus, or in a folder the caller names, or, where
the corpus' folder cannot be written, in the user's cache ($XDG_CACHE_HOME/minie5/corpora), named
after the corpus' whole path too. Inside, each vector is stored with a digest of its text, so that when
the corpus changes, the vectors of texts that did not change are reused and only new texts are
embedded. Nothing in the file is trusted: its size is bounded by the corpus before it is opened,
each array's declared size before it is read, and the vectors must have the model's shape and
dtype, be finite and have unit length. A file that fails any check is rebuilt, with a warning
naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import TextError
from .files import user_cache_dir, write_atomically

DIGEST_BYTES = 16  # per text: BLAKE2b-128, ample to tell texts apart


class CorpusCache:
    """The cached vectors of the corpus file `corpus` as `model` embeds it with `settings` (any
    JSON-able dict of what else changes the vectors: the text's field, the prompt, long-text mode)."""

    def __init__(self, model, corpus: Path, settings: dict, folder: Path | None = None):
        self.key = json.dumps({**vector_settings(model), **settings}, sort_keys=True)
        self.dim = model.dim
        beside = folder is None and os.access(corpus.parent, os.W_OK)
        if folder is None:
            folder = corpus.parent if beside else user_cache_dir() / "corpora"
        # A shared folder holds the caches of many corpora: their names alone could clash.
        named_by = self.key if beside else self.key + str(corpus.resolve())
        self.path = Path(folder) / f"{corpus.name}.minie5-{hashlib.sha256(named_by.encode()).hexdigest()[:12]}.npz"

    def vectors(self, texts: list[str], embed: Callable[[list[str]], np.ndarray],
                use_cache: bool = True) -> tuple[np.ndarray, int, bool]:
        """The unit vectors of `texts`: cached rows for texts the cache holds, `embed(new texts)`
        for the rest. Returns them with how many texts were embedded now, and whether the cache
        was saved (it is when anything new was embedded, and the folder can be written)."""
        if not use_cache:
            return embed(texts), len(texts), False
        digests = text_digests(texts)
        known = self._load(len(texts))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing = list(range(len(texts)))
        if known is not None:
            rows = {bytes(d): i for i, d in enumerate(known[1])}
            found = [rows.get(bytes(d), -1) for d in digests]
            missing = [i for i, row in enumerate(found) if row < 0]
            hits = [i for i, row in enumerate(found) if row >= 0]
            out[hits] = known[0][[found[i] for i in hits]]
        if missing:
            try:
                out[missing] = embed([texts[i] for i in missing])
            except TextError as e:  # numbered among the new texts: renumber it among all of them
                raise type(e)(missing[e.index], e.problem, e.advice) from None
        saved = False
        if missing or known is None or len(known[0]) != len(texts):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(self.path, lambda f: np.savez(f, vectors=out, digests=digests, model=self.key))
                saved = True
            except OSError as e:  # the vectors are made; only keeping them failed
                warnings.warn(f"could not cache the corpus vectors ({e})", stacklevel=2)
        return out, len(missing), saved

    def _load(self, corpus_size: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The cached (vectors, digests), or None when there is no cache or it fails a check."""
        if not self.path.is_file():
            return None
        try:
            return self._read_checked(corpus_size)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            warnings.warn(f"{self.path}: {e}; embedding the corpus again", stacklevel=3)
            return None

    def _read_checked(self, corpus_size: int) -> tuple[np.ndarray, np.ndarray]:
        # A cache of an older, larger corpus is still useful, but never more than a few times it.
        limit_rows = 4 * corpus_size + 1024
        limit_bytes = limit_rows * (self.dim * 4 + DIGEST_BYTES) + (1 << 20)
        if self.path.stat().st_size > limit_bytes:
            raise ValueError(f"{self.path.stat().st_size} bytes, more than a cache of this corpus can need")
        with zipfile.ZipFile(self.path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
            if declared > limit_bytes:  # a small file that would inflate into gigabytes
                raise ValueError(f"its arrays declare {declared} bytes, more than a cache of this corpus can need")
        with np.load(self.path, allow_pickle=False) as saved:
            if str(saved["model"]) != self.key:
                raise ValueError("it was made by another model or with other settings")
            vectors, digests = saved["vectors"], saved["digests"]
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors of {vectors.dtype} {list(vectors.shape)}, expected float32 [n, {self.dim}]")
        if digests.dtype != np.uint8 or digests.shape != (len(vectors), DIGEST_BYTES):
            raise ValueError(f"digests of {digests.dtype} {list(digests.shape)} do not match the vectors")
        if not np.isfinite(vectors).all() or not np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3):
            raise ValueError("vectors that are not finite unit vectors")
        return vectors, digests


def vector_settings(model) -> dict:
    """What in a loaded model decides its vectors: its files' fingerprint, pooling, length limit,
    and the arithmetic the engine really runs (float32, int8 or bfloat16: a CPU without VNNI or BF16
    runs float32 when asked for the others, and its vectors are float32's; numpy: float32 or float64).
    A text's prompt, long-text mode and the like are the caller's settings."""
    backend = model.backend
    return {"model": model.files.fingerprint, "pooling": model.pooling, "max_length": model.max_length,
            "backend": backend.name, "dtype": getattr(backend, "weights", None) or str(backend.dtype)}


def text_digests(texts: list[str]) -> np.ndarray:  # n texts -> [n, 16] uint8
    out = np.empty((len(texts), DIGEST_BYTES), dtype=np.uint8)
    for i, text in enumerate(texts):
        out[i] = np.frombuffer(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                               digest_size=DIGEST_BYTES).digest(), dtype=np.uint8)
    return out
