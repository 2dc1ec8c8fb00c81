"""The text pipeline: from a user's strings to a backend's token sequences, and back to vectors.

    prepare   texts -> Prepared: the prompt, e5's bare-text check, tokens, the long-text policy
    pool      token sequences -> pooled vectors: batches planned, ids checked, the backend's passes
    finish    pooled vectors -> the texts' vectors: window means, truncate_dim, unit length

(quantize.py then gives the output precision.) `Model.encode` runs the three in a row, a chunk of
texts at a time; the server runs `prepare` and `finish` in each request's handler and merges the
`pool` step of many requests into shared passes (server/batcher.py). No front end tokenizes, pools
or normalises on its own, so a text gets the same vector through every one of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from ..errors import TextError, check_choice, check_int
from ..loading.config import BertConfig
from ..loading.tokenizer import Tokenizer
from ..reference.pooling import l2_normalize
from . import long_texts, prompts
from .backend import Backend
from .batching import check_ids, plan_batches
from .dimensions import kept_dimensions, warn_cut

# Texts tokenized and planned together: long-first packing works within a chunk, and the token
# ids held at once stay bounded (about 2048 x 512 ids at the very most).
CHUNK_TEXTS = 2048
TRUNCATION_SIDES = ("right", "left")  # the end a truncated text loses, as transformers' truncation_side


@dataclass(frozen=True)
class EncodeSettings:
    """What, besides the model and the text, decides a text's vector. Build it with
    `Embedder.settings`, which checks every field."""

    prompt: str | None = None  # the text put before each text (resolved from a prompt name), or none
    long: str = "truncate"  # texts over the limit: "truncate", "chunk" (mean of every window) or "error"
    overlap: int = 0  # long="chunk": tokens shared by successive windows
    normalize: bool = True  # scale each vector to unit length
    truncate_dim: int | None = None  # keep the first dimensions (before normalising); None: all
    truncation_side: str = "right"  # long="truncate": keep a text's first tokens ("right") or its last ("left")


@dataclass
class Prepared:
    """Texts made ready for the backend."""

    sequences: list[np.ndarray]  # token ids, text by text; with long="chunk", every window of each
    window_lengths: list[list[int]] | None  # long="chunk": each text's windows' lengths; else one sequence a text
    truncated: int = 0  # texts cut to their first window (long="truncate")

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.sequences)


class Embedder:
    """The text pipeline of one model: its tokenizer, its backend, and its pooling."""

    def __init__(self, tokenizer: Tokenizer, backend: Backend, config: BertConfig, pooling: str, e5: bool):
        self.tokenizer = tokenizer
        self.backend = backend
        self.config = config
        self.pooling = pooling  # "mean", "cls" or "max"
        self.e5 = e5  # an e5 model: texts with neither prefix are warned about, once
        self._warned_bare = False

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def settings(self, *, prompt: str | None = None, long: str = "truncate", overlap: int = 0,
                 normalize: bool = True, truncate_dim: int | None = None,
                 truncation_side: str = "right") -> EncodeSettings:
        """EncodeSettings, every field checked against this model."""
        check_choice("long", long, long_texts.LONG_MODES)
        check_choice("truncation_side", truncation_side, TRUNCATION_SIDES)
        if truncation_side != "right" and long == "chunk":
            raise ValueError("truncation_side='left' only applies with long='truncate' (chunking keeps every token)")
        if not isinstance(normalize, (bool, np.bool_)):
            raise ValueError(f"normalize must be True, False or None, got {normalize!r}")
        check_int("overlap", overlap, 0, what="tokens shared by successive windows")
        if overlap and long != "chunk":
            raise ValueError("overlap only applies with long='chunk'")
        truncate_dim = kept_dimensions(truncate_dim, self.config.hidden_size)
        if truncate_dim is not None:
            warn_cut(truncate_dim, self.config.hidden_size)
        return EncodeSettings(prompt, long, overlap, bool(normalize), truncate_dim, truncation_side)

    def prepare(self, texts: list[str], settings: EncodeSettings, first: int = 0) -> Prepared:
        """Token sequences for `texts` (strings, `first` the index of texts[0] in the caller's
        numbering, for errors): the prompt put before each, then cut as `settings.long` says.
        Reads no more of a long text than its first window needs, unless long="chunk"."""
        texts = prompts.with_prompt(texts, settings.prompt)
        self._check_bare(texts)
        try:
            if settings.long == "chunk":
                windows = self.tokenizer.tokenize_windows(texts, settings.overlap)
                return Prepared([w for text in windows for w in text], [[len(w) for w in text] for text in windows])
            if settings.truncation_side == "left":
                ids, longer = self.tokenizer.tokenize_last(texts)
            else:
                ids, longer = self.tokenizer.tokenize_first(texts)
        except TextError as e:
            raise TextError(first + e.index, e.problem, e.advice) from None
        if settings.long == "error" and longer.any():
            long_texts.refuse(first + int(np.argmax(longer)), int(longer.sum()), self.max_length)
        return Prepared(ids, None, int(longer.sum()))

    def pool(self, sequences: list[np.ndarray], batch_size: int = 32,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:  # n ragged -> [n, H]
        """The backend's pooled vectors of token sequences (each 1 to max_length ids), unnormalised,
        in batches of like length under the backend's token budget; `progress(done, n)` after each."""
        if not sequences:
            return np.empty((0, self.config.hidden_size), dtype=self.backend.dtype)
        out = None  # in the dtype the backend pools in (the engine's float64), kept until `finish`
        done = 0
        for rows in plan_batches([len(seq) for seq in sequences], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            batch = [sequences[i] for i in rows]
            check_ids(batch, self.config.vocab_size, self.config.max_tokens, rows)
            pooled = self.backend.embed(batch, self.pooling)
            if out is None:
                out = np.empty((len(sequences), pooled.shape[1]), dtype=pooled.dtype)
            out[rows] = pooled
            done += len(rows)
            if progress is not None:
                progress(done, len(sequences))
        return out

    def finish(self, prepared: Prepared, pooled: np.ndarray, settings: EncodeSettings) -> np.ndarray:
        """The texts' vectors from their sequences' pooled vectors: a long text's windows averaged
        (long="chunk"), the first truncate_dim dimensions kept, then scaled to unit length, in the
        backend's dtype. Normalising after truncating is how Matryoshka models are used."""
        vectors = pooled if prepared.window_lengths is None else \
            long_texts.weighted_window_mean(prepared.window_lengths, pooled)
        if settings.truncate_dim is not None:
            vectors = vectors[:, :settings.truncate_dim]
        if settings.normalize:
            vectors = l2_normalize(vectors)
        return vectors.astype(self.backend.dtype)

    def encode(self, texts: Iterable[str], settings: EncodeSettings, batch_size: int = 32,
               progress: Callable[[int, int | None], None] | None = None, total: int | None = None,
               chunk_size: int = CHUNK_TEXTS) -> Iterator[np.ndarray]:
        """The vectors of successive chunks of `texts` (any iterable, read as it goes): each chunk
        prepared, pooled and finished before the next is read. `progress(done, total)` counts
        texts. Warns of truncation once, at the end."""
        items = iter(texts)
        done, cut = 0, 0
        while chunk := list(islice(items, chunk_size)):
            check_texts(chunk, done)
            prepared = self.prepare(chunk, settings, first=done)
            per_sequence = progress is not None and prepared.window_lengths is None
            report = (lambda n, _, at=done: progress(at + n, total)) if per_sequence else None
            pooled = self.pool(prepared.sequences, batch_size, report)
            cut += prepared.truncated
            done += len(chunk)
            if progress is not None and not per_sequence:
                progress(done, total)
            yield self.finish(prepared, pooled, settings)
        if cut:
            long_texts.warn_truncated(cut, done, self.max_length)

    def _check_bare(self, texts: list[str]) -> None:
        """Warn once per model when an e5 model gets texts with neither prefix."""
        if self._warned_bare or not self.e5:
            return
        bare = prompts.count_bare(texts)
        if bare:
            self._warned_bare = True
            warnings.warn(prompts.bare_texts_warning(bare, len(texts)), UserWarning, stacklevel=5)


def as_text_list(texts) -> list:
    """`texts` as a list: one string becomes a list of one; bytes and non-iterables are refused.
    Its items are checked where they are used (`check_texts`)."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("texts must be str or a list of str, got bytes: decode them first")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"texts must be str or a list of str, got {type(texts).__name__}") from None
    return texts


def check_texts(texts: list, first: int = 0) -> list[str]:
    """`texts`, refused with the index of the first item that is not a string (counted from `first`)."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{first + i}] is {type(text).__name__}, expected str")
    return texts
