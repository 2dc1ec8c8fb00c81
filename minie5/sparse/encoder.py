"""`load_sparse` and `SparseEncoder`: sparse vectors over the vocabulary, with sentence-transformers'
SparseEncoder calls (encode, encode_query, encode_document, max_active_dims, decode, similarity).

The text goes through the same pipeline as a dense embedding (encode/embedder.py: prompts,
tokenizer, truncation; encode/batching.py: batches of like length, ids checked) and the same
backend (the Numba engine or the NumPy reference); only the last step differs: instead of pooling
hidden states, the backend hands its packed token vectors to the SPLADE head (head.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np

from ..encode.batching import check_ids, plan_batches
from ..encode.embedder import CHUNK_TEXTS, Embedder, EncodeSettings, as_text_list, check_texts
from ..encode.long_texts import warn_truncated
from ..encode.prompts import Prompts
from ..errors import TextError, check_choice, check_int
from ..loading.config import BertConfig
from ..loading.hub import resolve
from ..loading.model_files import ModelFiles, max_length_for
from ..loading.sentence_transformers import Pipeline, _read_prompts
from ..loading.tokenizer import Tokenizer
from ..loading.weights import load_weights, weights_file
from ..model import check_engine_options, check_vocabulary, float_dtype, make_backend
from .head import SpladeHead, load_mlm_head, load_static_weights
from .layout import SparseLayout, StaticSide, read_layout
from .vectors import SparseEmbeddings, SparseVector, dot

OUTPUTS = ("sparse", "scipy", "dense")


def load_sparse(model: str | Path, *, backend: str = "numba", threads: int | None = None,
                revision: str | None = None, max_length: int | None = None, dtype: str = "float32",
                deterministic: bool = False) -> SparseEncoder:
    """Load a sparse encoder saved by sentence-transformers' SparseEncoder: SPLADE (a BERT
    masked-LM, fill-mask Transformer + SpladePooling) or inference-free SPLADE (a Router whose
    queries get SparseStaticEmbedding's weights), a folder or a hub name found as `minie5.load`
    finds models. The options are `minie5.load`'s; the engine's dtypes apply to the masked-LM
    head's products too."""
    check_engine_options(backend, dtype, deterministic)
    root, source = resolve(model, revision)
    layout = read_layout(root)
    side = layout.document
    config = BertConfig.from_file(side.folder / "config.json")
    pipeline = Pipeline(max_seq_length=side.max_seq_length, source=layout.source,
                        prompts=_read_prompts(root / "config_sentence_transformers.json"))
    files = ModelFiles(str(model), side.folder, source, config, pipeline, max_length_for(config, pipeline, max_length))
    tokenizer = Tokenizer(side.folder / "tokenizer.json", files.max_length)
    check_vocabulary(tokenizer, config)
    floats = float_dtype(dtype)
    params = load_weights(weights_file(side.folder), config, floats)
    head_params = load_mlm_head(files.weights, config, params["embeddings"]["word_embeddings"]["weight"], floats)
    engine = make_backend(params, config, backend, threads, dtype, deterministic)
    static = None
    if isinstance(layout.query, StaticSide):
        folder = layout.query.folder
        query_tokenizer = folder / "tokenizer.json"
        static = (Tokenizer(query_tokenizer if query_tokenizer.is_file() else side.folder / "tokenizer.json",
                            config.max_tokens), load_static_weights(weights_file(folder), config.vocab_size))
    return SparseEncoder(files, tokenizer, engine, layout, head_params, static)


class SparseEncoder:
    """A loaded sparse encoder. Build it with `minie5.load_sparse`."""

    def __init__(self, files: ModelFiles, tokenizer: Tokenizer, backend, layout: SparseLayout, head_params: dict,
                 static: tuple[Tokenizer, np.ndarray] | None = None):
        self.files, self.name, self.path, self.config = files, files.name, files.path, files.config
        self.backend, self.layout = backend, layout
        self.prompts = Prompts(None, files.pipeline.prompts, False, self.name)
        self.embedder = Embedder(tokenizer, backend, self.config, "mean", e5=False)  # prepare only: no pooling
        side = layout.document
        self.splade_head = SpladeHead(head_params, self.config, backend, side.strategy, side.activation)
        self.static = static  # inference-free queries: (tokenizer without special tokens, weight [V])
        self._vocabulary: list[str] | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        return self.embedder.tokenizer

    @property
    def dim(self) -> int:
        """The vocabulary size: every vector's dimension."""
        return self.config.vocab_size

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def __repr__(self) -> str:
        kind = "inference-free SPLADE" if self.layout.inference_free else "SPLADE"
        return (f"minie5.SparseEncoder({str(self.name)!r}, {kind}, backend={self.backend.name!r}, "
                f"layers={self.config.num_hidden_layers}, vocabulary={self.dim})")

    def encode(self, texts: str | Iterable[str], batch_size: int = 32, *, prompt_name: str | None = None,
               prompt: str | None = None, max_active_dims: int | None = None, long: str = "truncate",
               output: str = "sparse", progress: Callable[[int, int], None] | None = None,
               task: str = "document", convert_to_sparse_tensor: bool | None = None,
               convert_to_tensor: bool | None = None) -> SparseEmbeddings | SparseVector | np.ndarray:
        """Sparse vectors of texts: a `SparseEmbeddings` (compressed rows) for a list, a
        `SparseVector` for one string; output="scipy" gives a scipy.sparse.csr_array, "dense" a
        float32 [n, vocab] array ([vocab] for one string).

        `max_active_dims` keeps each vector's largest entries (sentence-transformers' name).
        `task` "query" encodes as `encode_query` does (with inference-free SPLADE, the learned
        weights of the query's tokens and no encoder); "document" (the default) runs the model.
        long: "truncate" (first max_length tokens, with a warning) or "error"; a SPLADE vector
        of a longer text is not the mean of its windows', so "chunk" is refused.
        sentence-transformers' convert_to_sparse_tensor=False means output="dense";
        convert_to_tensor (a torch tensor) is refused.

        Memory is bounded as `Model.encode`'s: CHUNK_TEXTS texts are tokenized at a time, the
        masked-LM scores are held for a few hundred tokens at a time (head.HEAD_ROWS), and only
        the active entries of each vector are kept."""
        single = isinstance(texts, str)
        texts = as_text_list(texts)
        check_int("batch_size", batch_size, 1)
        check_choice("output", output, OUTPUTS)
        check_choice("task", task, ("query", "document"))
        check_choice("long", long, ("truncate", "error"))
        if convert_to_tensor:
            raise ValueError("convert_to_tensor=True asks for a torch tensor: minie5 returns NumPy; "
                             "use output='dense' or output='scipy'")
        if convert_to_sparse_tensor is False:
            output = "dense"
        if max_active_dims is not None:
            check_int("max_active_dims", max_active_dims, 1)
        prompt_text = self.prompts.text(prompt_name, prompt)
        parts, cut, done = [], 0, 0
        items = iter(texts)
        while chunk := list(islice(items, CHUNK_TEXTS)):
            check_texts(chunk, done)
            if task == "query" and self.static is not None:
                parts.append(SparseEmbeddings.from_dense(self._static(chunk, prompt_text, done), max_active_dims))
            else:
                settings = self.settings(prompt=prompt_text, long=long)
                prepared = self.embedder.prepare(chunk, settings, first=done)
                cut += prepared.truncated
                parts.extend(self._pool(prepared.sequences, batch_size, max_active_dims, progress, done, len(texts)))
            done += len(chunk)
        if cut:
            warn_truncated(cut, done, self.max_length)
        result = SparseEmbeddings.concatenate(parts, self.dim)
        if output == "scipy":
            return result.to_scipy()
        if output == "dense":
            return result.to_dense()[0] if single else result.to_dense()
        return result[0] if single else result

    def settings(self, *, prompt_name: str | None = None, prompt: str | None = None, long: str = "truncate",
                 truncation_side: str = "right") -> EncodeSettings:
        """The text pipeline's settings for these arguments (what a server request embeds with)."""
        check_choice("long", long, ("truncate", "error"))
        return replace(self.embedder.settings(prompt=self.prompts.text(prompt_name, prompt), long=long,
                                              truncation_side=truncation_side), normalize=False)

    def pool_sequences(self, sequences: list[np.ndarray], batch_size: int = 32) -> list[SparseVector]:
        """The sparse vectors of token sequences already prepared by `embedder.prepare`, in order
        (what the server's batcher runs)."""
        parts = self._pool(sequences, batch_size, None, None, 0, len(sequences))
        return list(parts[0].rows()) if parts else []

    def encode_tokens(self, ids: list[np.ndarray]) -> SparseEmbeddings:
        """Sparse vectors of sequences tokenized by `tokenizer` (special tokens included)."""
        return SparseEmbeddings.concatenate(self._pool(list(ids), 32, None, None, 0, len(ids)), self.dim)

    def encode_query(self, texts: str | Iterable[str], **kwargs):
        """`encode` for search queries: the model's "query" prompt if it declares one; with
        inference-free SPLADE, no encoder at all (a learned weight per query token)."""
        prompt = self.prompts.resolve("query", warn=False)
        return self.encode(texts, prompt=prompt, task="query", **kwargs)

    def encode_document(self, texts: str | Iterable[str], **kwargs):
        """`encode` for documents: the model's "document" prompt if it declares one."""
        prompt = self.prompts.resolve("document", warn=False)
        return self.encode(texts, prompt=prompt, task="document", **kwargs)

    def _pool(self, sequences: list[np.ndarray], batch_size: int, max_active_dims: int | None,
              progress, first: int, total: int) -> list[SparseEmbeddings]:
        """Each batch through the backend and the SPLADE head, kept sparse, back in input order."""
        order, parts, done = [], [], first
        for rows in plan_batches([len(s) for s in sequences], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            batch = [sequences[i] for i in rows]
            check_ids(batch, self.config.vocab_size, self.config.max_tokens, rows)
            dense = self.backend.token_states(batch, self.splade_head)  # [len(rows), V]
            parts.append(SparseEmbeddings.from_dense(dense, max_active_dims))
            order.extend(rows)
            done += len(rows)
            if progress is not None:
                progress(done, total)
        if not parts:
            return []
        merged = SparseEmbeddings.concatenate(parts, self.dim)
        back = np.argsort(np.asarray(order))  # batch order -> input order
        return [_take(merged, back)]

    def _static(self, texts: list[str], prompt: str | None, first: int) -> np.ndarray:  # -> [n, V]
        """Inference-free queries: each distinct token's learned weight (no special tokens),
        sentence-transformers' SparseStaticEmbedding."""
        tokenizer, weight = self.static
        if prompt:
            texts = [t if t.startswith(prompt) else prompt + t for t in texts]
        try:
            spans = tokenizer.token_spans(texts, add_special_tokens=False)
        except TextError as e:
            raise TextError(first + e.index, e.problem, e.advice) from None
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, tokens in enumerate(spans):
            ids = np.array([t[0] for t in tokens[:tokenizer.max_length]], np.int64)
            if len(ids) and ids.max() >= self.dim:
                raise TextError(first + i, f"gave token id {int(ids.max())}, outside the vocabulary")
            out[i, ids] = weight[ids]
        return out

    def similarity(self, a, b) -> np.ndarray:  # [n, V], [m, V] -> [n, m]
        """Dot products of every vector of `a` with every vector of `b` (SPLADE's score)."""
        return dot(_as_embeddings(a, self.dim), _as_embeddings(b, self.dim))

    def decode(self, embeddings, top_k: int | None = None):
        """The weighted tokens of a vector, largest first: [(token, weight), ...] for one vector,
        a list of those for several (sentence-transformers' SparseEncoder.decode)."""
        vocabulary = self.vocabulary()
        single = isinstance(embeddings, SparseVector) or (isinstance(embeddings, np.ndarray) and embeddings.ndim == 1)
        rows = list(_as_embeddings(embeddings, self.dim).rows())
        decoded = []
        for row in rows:
            order = np.argsort(-row.values, kind="stable")[:top_k]
            decoded.append([(vocabulary[row.indices[i]], float(row.values[i])) for i in order])
        return decoded[0] if single else decoded

    def vocabulary(self) -> list[str]:
        """Token strings by id, as the tokenizer names them."""
        if self._vocabulary is None:
            import tokenizers

            vocab = tokenizers.Tokenizer.from_file(str(self.tokenizer.path)).get_vocab(with_added_tokens=True)
            names = [f"[unused id {i}]" for i in range(self.dim)]
            for token, i in vocab.items():
                if i < self.dim:
                    names[i] = token
            self._vocabulary = names
        return self._vocabulary

    def sparsity(self, embeddings) -> dict:
        """Active dimensions per vector and the share of the vocabulary left at zero, as
        sentence-transformers' SparseEncoder.sparsity reports them."""
        active = _as_embeddings(embeddings, self.dim).active_dims()
        mean = float(active.mean()) if len(active) else 0.0
        return {"active_dims": mean, "sparsity_ratio": 1.0 - mean / self.dim}


def _take(embeddings: SparseEmbeddings, order: np.ndarray) -> SparseEmbeddings:
    """The rows of `embeddings` in `order`."""
    counts = embeddings.active_dims()[order]
    starts = embeddings.indptr[:-1][order]
    picks = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)]) if len(order) else np.zeros(0, int)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return SparseEmbeddings(indptr, embeddings.indices[picks], embeddings.values[picks], embeddings.dim)


def _as_embeddings(x, dim: int) -> SparseEmbeddings:
    """SparseEmbeddings from what encode returns: itself, a SparseVector, a dense array, or a scipy matrix."""
    if isinstance(x, SparseEmbeddings):
        return x
    if isinstance(x, SparseVector):
        return SparseEmbeddings(np.array([0, len(x)]), x.indices, x.values, x.dim)
    if hasattr(x, "tocsr"):  # scipy.sparse
        m = x.tocsr()
        return SparseEmbeddings(m.indptr, m.indices, m.data, m.shape[1])
    x = np.atleast_2d(np.asarray(x, np.float32))
    if x.shape[1] != dim:
        raise ValueError(f"vectors of dimension {x.shape[1]}, expected the vocabulary size {dim}")
    return SparseEmbeddings.from_dense(x)
