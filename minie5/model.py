"""The public face of minie5: a loaded `Model` and its `encode` (build one with `minie5.load`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from . import long_texts, prefixes, st_compat
from .backend import Backend
from .batching import check_ids, plan_batches
from .errors import check_choice
from .loading.config import BertConfig
from .loading.sentence_transformers import Pipeline
from .loading.tokenizer import Tokenizer
from .long_texts import LONG_MODES
from .progress import progress_bar
from .quantize import PRECISIONS, quantize
from .reference.pooling import l2_normalize

# Texts tokenized and planned together: long-first packing works within a chunk, and the token
# ids held at once stay bounded (about 2048 x 512 ids at the very most).
CHUNK_TEXTS = 2048


class Model:
    """A loaded text-embedding model: a tokenizer, a backend that runs the encoder, and the
    pooling its authors chose. Build it with `minie5.load`."""

    def __init__(self, config: BertConfig, tokenizer: Tokenizer, backend: Backend, path: Path, source: str = "",
                 name: str = "", pipeline: Pipeline | None = None):
        self.name = name or str(path)  # as given to load(): a hub name or a folder
        self._warned_prefix = False
        self.config = config
        self.pipeline = pipeline or Pipeline()  # pooling and normalisation, from the model's modules.json
        self.tokenizer = tokenizer
        self.backend = backend
        self.path = path  # the folder the files were read from
        self.source = source  # how it was found: local folder, installed package, cache, download

    @property
    def dim(self) -> int:
        """Length of each embedding (the hidden size)."""
        return self.config.hidden_size

    @property
    def max_length(self) -> int:
        """Tokens per text, [CLS] and [SEP] included, beyond which a text is truncated."""
        return self.tokenizer.max_length

    @property
    def pooling(self) -> str:
        """How token vectors become one vector: "mean", "cls" or "max"."""
        return self.pipeline.pooling

    @property
    def expects_prefixes(self) -> bool:
        """Whether this is an e5 model, trained to see "query: " / "passage: " before every text
        (judged by its name: intfloat/e5-small-v2, multilingual-e5-base, a folder e5-small-v2...)."""
        return prefixes.expects_prefixes(self.name, self.path.name)

    def __repr__(self) -> str:
        return (f"minie5.Model({str(self.path)!r}, backend={self.backend.name!r}, "
                f"layers={self.config.num_hidden_layers}, dim={self.dim}, pooling={self.pooling!r})")

    def encode(self, texts: str | Iterable[str], batch_size: int = 32, *, normalize: bool | None = None,
               long: str = "truncate", overlap: int = 0, precision: str = "float32",
               ranges: np.ndarray | None = None, progress: bool | Callable[[int, int], None] | None = None,
               prompt_name: str | None = None, prompt: str | None = None, truncate_dim: int | None = None,
               **sentence_transformers_keywords) -> np.ndarray:
        """Embed texts exactly as given (add no prefix; see `encode_queries`/`encode_passages`).

        A list of n strings gives a float32 array [n, dim]; one string gives [dim]. Vectors are
        pooled as the model's modules.json says (mean for e5). `normalize` scales each to unit
        length; by default (None) they are when the model's pipeline has a Normalize module, or
        has no modules.json at all (as the e5 model card does).

        Texts longer than `max_length` tokens: long="truncate" (the default, as the model card)
        embeds the first window and warns how many texts were cut (`truncated(texts)` tells
        which); long="chunk" embeds every window of at most max_length tokens, successive windows
        sharing `overlap` tokens, pools each window as the model pools a text, and returns the
        token-weighted mean of the windows' vectors; long="error" refuses them.

        `precision` "float16", "int8", "uint8", "binary" or "ubinary" returns smaller vectors, as
        sentence-transformers' quantize_embeddings lays them out; int8/uint8 take the per-dimension
        `ranges` of a calibration set (see `minie5.quantize`).

        `progress`, if given, is called after every batch with (texts done, texts in all);
        progress=True draws a progress bar on stderr.

        Habits from sentence-transformers work too: `prompt_name` ("query"/"passage" for e5, or a
        prompt of the model's config_sentence_transformers.json) or a literal `prompt` is put
        before each text (never twice); `truncate_dim` keeps the first dimensions, before
        normalising; `normalize_embeddings`, `show_progress_bar`, `convert_to_numpy` and
        `device="cpu"` mean what they mean there; keywords that ask for what minie5 cannot do
        (`convert_to_tensor`, `device="cuda"`) are refused, saying what to do instead.

        Memory is bounded by the batch, not by the number of texts: texts are tokenized and
        embedded `CHUNK_TEXTS` at a time (longest first within each chunk), and only the output
        array grows with n. `encode_iter` does without even that.
        """
        single = isinstance(texts, str)
        texts = self._with_prompt(as_text_list(texts), prompt_name, prompt)
        self._check_arguments(batch_size, long, precision)
        if normalize is not None and not isinstance(normalize, (bool, np.bool_)):
            raise ValueError(f"normalize must be True, False or None, got {normalize!r}")
        options = st_compat.translate(sentence_transformers_keywords, normalize, progress)
        normalize = self.pipeline.normalize if options.normalize is None else options.normalize
        dim = self._truncated_dim(truncate_dim)
        out = np.empty((len(texts), self.dim), dtype=self.backend.dtype)
        start = 0
        with progress_bar(options.progress, len(texts)) as report:
            for vectors in self._encode_chunks(texts, len(texts), batch_size, normalize and dim == self.dim, long,
                                               overlap, report):
                out[start:start + len(vectors)] = vectors
                start += len(vectors)
        if dim != self.dim:  # truncate, then normalise (Matryoshka models are used this way)
            out = out[:, :dim]
            out = (l2_normalize(out) if normalize else out).astype(self.backend.dtype)
        if precision != "float32":
            out = quantize(out, precision, ranges)
        if options.as_list:
            return out[0] if single else list(out)
        return out[0] if single else out

    def encode_query(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """sentence-transformers' name: the model's "query" prompt, or e5's "query: ", or (a model
        with neither) the texts as given."""
        return self.encode(texts, prompt_name=self._prompt_name("query"), **kwargs)

    def encode_document(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """sentence-transformers' name: the model's "document" (or "passage") prompt, or e5's
        "passage: ", or (a model with neither) the texts as given."""
        return self.encode(texts, prompt_name=self._prompt_name("document", "passage"), **kwargs)

    def _prompt_name(self, *names: str) -> str | None:
        prompts = self.pipeline.prompts or (prefixes.E5_PROMPTS if self.expects_prefixes else {})
        return next((name for name in names if name in prompts), None)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # [n, d], [m, d] -> [n, m]
        """Cosine similarities of every row of `a` with every row of `b`, as sentence-transformers'
        default similarity (1-D inputs count as one row)."""
        a, b = (np.atleast_2d(np.asarray(x, dtype=np.float32)) for x in (a, b))
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"a has {a.shape[1]} dimensions but b has {b.shape[1]}")
        return l2_normalize(a) @ l2_normalize(b).T

    def get_sentence_embedding_dimension(self) -> int:
        """sentence-transformers' name for `dim`."""
        return self.dim

    @property
    def max_seq_length(self) -> int:
        """sentence-transformers' name for `max_length`; settable, up to the position table."""
        return self.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= self.config.max_tokens:
            raise ValueError(f"max_seq_length must be an integer from 2 to {self.config.max_tokens}, got {value!r}")
        self.tokenizer = Tokenizer(self.tokenizer.path, value)

    def _with_prompt(self, texts: list[str], prompt_name: str | None, prompt: str | None) -> list[str]:
        """Texts with the named or literal prompt before each (never twice)."""
        if prompt_name is not None and prompt is not None:
            raise ValueError("pass prompt_name or prompt, not both")
        if prompt_name is not None:
            prompts = self.pipeline.prompts or (prefixes.E5_PROMPTS if self.expects_prefixes else {})
            if prompt_name not in prompts:
                known = ", ".join(map(repr, prompts)) or "none (not an e5 model, no config_sentence_transformers.json)"
                raise ValueError(f"prompt_name {prompt_name!r} is not one of this model's prompts: {known}")
            prompt = prompts[prompt_name]
        if prompt is None:
            return texts
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        return prefixes.with_prefix(texts, prompt)

    def _truncated_dim(self, truncate_dim: int | None) -> int:
        if truncate_dim is None:
            return self.dim
        if isinstance(truncate_dim, bool) or not isinstance(truncate_dim, int) or not 1 <= truncate_dim <= self.dim:
            raise ValueError(f"truncate_dim must be an integer from 1 to {self.dim}, got {truncate_dim!r}")
        return truncate_dim

    def encode_iter(self, texts: Iterable[str], *, batch_size: int = 32, normalize: bool | None = None,
                    long: str = "truncate", overlap: int = 0, precision: str = "float32",
                    ranges: np.ndarray | None = None, chunk_size: int = CHUNK_TEXTS) -> Iterator[np.ndarray]:
        """`encode` for any number of texts, in bounded memory: yields the vectors of each
        successive `chunk_size` texts of `texts` (any iterable, read as it goes), in input order,
        as `encode` would return them. int8/uint8 need `ranges`: a chunk must not calibrate itself."""
        self._check_arguments(batch_size, long, precision)
        if isinstance(texts, str):
            raise TypeError("encode_iter takes an iterable of texts, not one string: use encode")
        if precision in ("int8", "uint8") and ranges is None:
            raise ValueError(f"encode_iter with precision={precision!r} needs ranges= (see minie5.calibration_ranges): "
                             "ranges taken from each chunk would quantise chunks differently")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        for vectors in self._encode_chunks(texts, None, batch_size, normalize, long, overlap, None, chunk_size):
            yield vectors if precision == "float32" else quantize(vectors, precision, ranges)

    def encode_queries(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """Embed search queries: prefix each text with "query: " (unless it already starts so)."""
        return self.encode(texts, prompt=prefixes.QUERY_PREFIX, **kwargs)

    def encode_passages(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """Embed documents to search: prefix each text with "passage: " (unless it already starts so)."""
        return self.encode(texts, prompt=prefixes.PASSAGE_PREFIX, **kwargs)

    def _check_arguments(self, batch_size, long: str, precision: str) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        check_choice("precision", precision, PRECISIONS)
        check_choice("long", long, LONG_MODES)

    def _encode_chunks(self, texts: Iterable[str], total: int | None, batch_size: int, normalize: bool | None,
                       long: str, overlap: int, progress, chunk_size: int = CHUNK_TEXTS) -> Iterator[np.ndarray]:
        """The vectors of successive chunks of `texts`: each chunk tokenized, checked against the
        long-text policy and embedded before the next is read. Warns of truncation once, at the end."""
        if normalize is None:
            normalize = self.pipeline.normalize
        if not isinstance(normalize, (bool, np.bool_)):
            raise ValueError(f"normalize must be True, False or None, got {normalize!r}")
        if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
            raise ValueError(f"overlap must be a non-negative integer (tokens shared by successive windows), "
                             f"got {overlap!r}")
        items = iter(texts)
        done, cut = 0, 0
        while chunk := list(islice(items, chunk_size)):
            for i, text in enumerate(chunk):
                if not isinstance(text, str):
                    raise TypeError(f"texts[{done + i}] is {type(text).__name__}, expected str")
            self._check_prefixes(chunk)
            if long == "chunk":
                windows = self.tokenizer.encode_windows(chunk, overlap)
                pooled = self._embed([w for text in windows for w in text], batch_size, False)
                vectors = long_texts.weighted_window_mean(windows, pooled, normalize).astype(self.backend.dtype)
            else:
                if overlap:
                    raise ValueError("overlap only applies with long='chunk'")
                ids, longer = self.tokenizer.encode_first(chunk)
                if long == "error" and longer.any():
                    long_texts.refuse(done + int(np.argmax(longer)), int(longer.sum()), self.max_length)
                cut += int(longer.sum())
                report = None if progress is None else (lambda n, _, at=done: progress(at + n, total))
                vectors = self._embed(ids, batch_size, normalize, report)
            done += len(chunk)
            if progress is not None and long == "chunk":
                progress(done, total)
            yield vectors
        if cut:
            long_texts.warn_truncated(cut, done, self.max_length)

    def encode_tokens(self, ids: list[np.ndarray], *, batch_size: int = 32, normalize: bool | None = None,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embed sequences already tokenized by `model.tokenizer` (each at most max_length ids,
        special tokens included): what `encode` does after tokenizing, for callers that tokenize
        themselves (to count tokens, or to batch texts from many sources). [n, dim]."""
        if normalize is None:
            normalize = self.pipeline.normalize
        for i, seq in enumerate(ids):
            if not 0 < len(seq) <= self.max_length:
                raise ValueError(f"ids[{i}] has {len(seq)} tokens; each sequence needs 1 to {self.max_length}")
        return self._embed(ids, batch_size, normalize, progress)

    def truncated(self, texts: str | Iterable[str]) -> np.ndarray:
        """For each text, whether `encode` (long="truncate") cuts it to max_length tokens."""
        return np.array([len(w) > 1 for w in self.tokenizer.encode_windows(as_text_list(texts))], dtype=bool)

    def trace(self, texts: str | Iterable[str], dtype: str | None = None) -> dict[str, np.ndarray]:
        """Every intermediate tensor of the forward pass for `texts` (one padded batch), computed by
        the NumPy reference in `dtype` ("float32", or "float64" for a ground truth; default: this
        model's), by the names of `minie5.porting.trace`. Texts are embedded as given."""
        from .porting import trace

        return trace.trace_model(self, as_text_list(texts), dtype)

    def _embed(self, ids: list[np.ndarray], batch_size: int, normalize: bool, progress=None) -> np.ndarray:
        out = np.empty((len(ids), self.dim), dtype=self.backend.dtype)
        done = 0
        for rows in plan_batches([len(seq) for seq in ids], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            batch = [ids[i] for i in rows]
            check_ids(batch, self.config.vocab_size, self.config.max_tokens, rows)
            out[rows] = self.backend.embed(batch, self.pooling, normalize)
            done += len(rows)
            if progress is not None:
                progress(done, len(ids))
        return out

    def _check_prefixes(self, texts: list[str]) -> None:
        """Warn once per model when an e5 model gets texts with neither prefix."""
        if self._warned_prefix or not self.expects_prefixes:
            return
        bare = prefixes.count_bare(texts)
        if bare:
            self._warned_prefix = True
            warnings.warn(prefixes.bare_texts_warning(bare, len(texts)), UserWarning, stacklevel=4)


def as_text_list(texts) -> list[str]:
    """`texts` as a list of str: one string becomes a list of one; anything else is refused with
    the index of the first item that is not a string."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)):
        raise TypeError("texts must be str or a list of str, got bytes: decode them first")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"texts must be str or a list of str, got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return texts
