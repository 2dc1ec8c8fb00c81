"""`load_multi_vector` and `MultiVectorEncoder`: one vector per token (ColBERT), with
sentence-transformers' MultiVectorEncoder calls (encode, encode_query, encode_document, similarity
by MaxSim).

Texts go through the dense pipeline's steps (encode/embedder.py's prepare: prompts, tokenizer,
truncation at query_length / document_length; encode/batching.py's batches) and the same backend;
the backend hands its packed token vectors to the projection (`token_states`).

Query expansion: a query is padded to the expansion length with the expansion token ([MASK]).
With attend=True the encoder attends to those tokens, and the query is simply a longer sequence for
the engine. With attend=False (classic ColBERT) they are queries but never keys in attention,
something the engine's packed attention does not express: those queries run through the NumPy
reference (reference.encoder.bert with the expansion tokens masked as keys), in float32, once per
batch of queries (32 tokens each); documents always run on the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..encode.batching import check_ids, plan_batches
from ..encode.embedder import Embedder, as_text_list, check_texts
from ..encode.long_texts import warn_truncated
from ..encode.prompts import Prompts
from ..errors import ConfigError, WeightsError, check_choice, check_int
from ..loading.config import BertConfig
from ..loading.hub import resolve
from ..loading.model_files import ModelFiles, max_length_for
from ..loading.safetensors_file import SafetensorsFile
from ..loading.sentence_transformers import Pipeline, _read_prompts
from ..loading.tokenizer import Tokenizer
from ..loading.weights import load_weights, weights_file
from ..model import check_engine_options, check_vocabulary, float_dtype, make_backend
from ..reference.encoder import bert
from ..reference.padding import pad_batch
from . import colbert
from .layout import MultiVectorLayout, read_layout

TASKS = ("query", "document")


def load_multi_vector(model: str | Path, *, backend: str = "numba", threads: int | None = None,
                      revision: str | None = None, dtype: str = "float32",
                      deterministic: bool = False) -> MultiVectorEncoder:
    """Load a multi-vector (ColBERT-style) encoder saved by sentence-transformers' MultiVectorEncoder
    (Transformer, Dense, Normalize, MultiVectorMask), a folder or a hub name found as `minie5.load`
    finds models. The options are `minie5.load`'s."""
    check_engine_options(backend, dtype, deterministic)
    root, source = resolve(model, revision)
    layout = read_layout(root)
    config = BertConfig.from_file(root / "config.json")
    if layout.in_features != config.hidden_size:
        raise ConfigError(f"{layout.dense_folder / 'config.json'}: in_features {layout.in_features}, but the "
                          f"encoder's hidden size is {config.hidden_size}")
    pipeline = Pipeline(source=layout.source, prompts=_read_prompts(root / "config_sentence_transformers.json"))
    files = ModelFiles(str(model), root, source, config, pipeline, max_length_for(config, pipeline, None))
    floats = float_dtype(dtype)
    params = load_weights(weights_file(root), config, floats)
    projection = load_projection(layout)
    engine = make_backend(params, config, backend, threads, dtype, deterministic)
    # Classic ColBERT's unattended expansion tokens run on the reference, which needs the weights as arrays.
    reference_params = params if layout.expansion is not None and not layout.expansion.attend else None
    return MultiVectorEncoder(files, engine, layout, projection, reference_params)


def load_projection(layout: MultiVectorLayout) -> dict:
    path = weights_file(layout.dense_folder)
    file = SafetensorsFile(path)
    shapes = {"linear.weight": (layout.out_features, layout.in_features)}
    if layout.bias:
        shapes["linear.bias"] = (layout.out_features,)
    out = {"weight": None, "bias": None}
    for name, shape in shapes.items():
        if name not in file.tensors:
            raise WeightsError(f"{path}: missing tensor {name!r} (the projection, {list(shape)})")
        if file.tensors[name].shape != shape:
            raise WeightsError(f"{path}: tensor {name!r} has shape {list(file.tensors[name].shape)}, expected "
                               f"{list(shape)} from config.json")
        out[name.split(".")[1]] = file.float_tensor(name, np.float32)
    return out


class MultiVectorEncoder:
    """A loaded multi-vector encoder. Build it with `minie5.load_multi_vector`."""

    def __init__(self, files: ModelFiles, backend, layout: MultiVectorLayout, projection: dict,
                 reference_params: dict | None = None):
        self.files, self.name, self.path, self.config = files, files.name, files.path, files.config
        self.backend, self.layout, self.projection = backend, layout, projection
        self.reference_params = reference_params
        self.prompts = Prompts(None, files.pipeline.prompts, False, self.name)
        tokenizer_path = self.path / "tokenizer.json"
        expansion = layout.expansion
        query_length = expansion.length if expansion is not None and expansion.strategy == "fixed" \
            else layout.query_length or files.max_length
        self.embedders = {
            "query": Embedder(Tokenizer(tokenizer_path, query_length), backend, self.config, "mean", e5=False),
            "document": Embedder(Tokenizer(tokenizer_path, layout.document_length or files.max_length), backend,
                                 self.config, "mean", e5=False)}
        for embedder in self.embedders.values():
            check_vocabulary(embedder.tokenizer, self.config)
        vocabulary = self._vocabulary()
        self.expansion_id = None
        if expansion is not None:
            token = expansion.token or "[MASK]"
            if token not in vocabulary:
                raise ConfigError(f"{layout.source}: the query expansion token {token!r} is not in the vocabulary")
            self.expansion_id = vocabulary[token]
        # Skiplist words that are not one token of the vocabulary are dropped, as sentence-transformers does.
        self.skip_ids = np.array(sorted(vocabulary[w] for w in layout.skiplist_words if w in vocabulary), np.int64)
        self.engine = hasattr(backend, "product")
        if self.engine:
            self.packed_projection = backend.pack(projection["weight"])

    def _vocabulary(self) -> dict[str, int]:
        import tokenizers

        return tokenizers.Tokenizer.from_file(str(self.path / "tokenizer.json")).get_vocab(with_added_tokens=True)

    @property
    def dim(self) -> int:
        """The width of each token vector (128 for ColBERT)."""
        return self.layout.out_features

    def __repr__(self) -> str:
        return (f"minie5.MultiVectorEncoder({str(self.name)!r}, backend={self.backend.name!r}, "
                f"layers={self.config.num_hidden_layers}, dim={self.dim})")

    def encode(self, texts: str | Iterable[str], batch_size: int = 32, *, task: str = "document",
               prompt_name: str | None = None, prompt: str | None = None) -> list[np.ndarray] | np.ndarray:
        """Token vectors of texts: a list of float32 [tokens, dim] arrays (one [tokens, dim] array
        for one string). `task` "query" truncates at the query length and expands with the
        expansion token; "document" truncates at the document length and drops skiplisted tokens
        (punctuation) as the model's MultiVectorMask says."""
        single = isinstance(texts, str)
        texts = check_texts(as_text_list(texts))
        check_int("batch_size", batch_size, 1)
        check_choice("task", task, TASKS)
        embedder = self.embedders[task]
        settings = embedder.settings(prompt=self.prompts.text(prompt_name, prompt), normalize=False)
        prepared = embedder.prepare(texts, settings)
        sequences = prepared.sequences
        expansion = self.layout.expansion if task == "query" else None
        expanded = [len(s) for s in sequences]
        if expansion is not None:  # pad each query up to the expansion length with the expansion token
            sequences = [np.concatenate([s, np.full(max(0, expansion.length - len(s)), self.expansion_id, np.int64)])
                         for s in sequences]
        if prepared.truncated and expansion is None:
            warn_truncated(prepared.truncated, len(texts), embedder.max_length)
        if expansion is not None and not expansion.attend:
            vectors = self._unattended(sequences, expanded)
        else:
            vectors = self._run(sequences, batch_size)
        if task in self.layout.skiplist_tasks and len(self.skip_ids):
            vectors = [v[~np.isin(s, self.skip_ids)] for v, s in zip(vectors, sequences)]
        return vectors[0] if single else vectors

    def encode_query(self, texts, **kwargs):
        """`encode` with task="query" and the model's "query" prompt, if it declares one."""
        return self.encode(texts, task="query", prompt=self.prompts.resolve("query", warn=False), **kwargs)

    def encode_document(self, texts, **kwargs):
        """`encode` with task="document" and the model's "document" prompt, if it declares one."""
        return self.encode(texts, task="document", prompt=self.prompts.resolve("document", warn=False), **kwargs)

    def _head(self, x: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:  # [M, H] -> texts' [T, D]
        if self.engine:
            out = np.empty((len(x), self.packed_projection.padded_rows), np.float32)
            self.backend.product(x, self.packed_projection, out)
            out = out[:, :self.dim] + (0 if self.projection["bias"] is None else self.projection["bias"])
            if self.layout.normalize:
                out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        else:
            out = colbert.project(x, self.projection["weight"].astype(x.dtype), self.projection["bias"],
                                  self.layout.normalize)
        return [out[a:b].astype(np.float32) for a, b in zip(offsets[:-1], offsets[1:])]

    def _run(self, sequences: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        out: list = [None] * len(sequences)
        for rows in plan_batches([len(s) for s in sequences], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            batch = [sequences[i] for i in rows]
            check_ids(batch, self.config.vocab_size, self.config.max_tokens, rows)
            for i, vectors in zip(rows, self.backend.token_states(batch, self._head)):
                out[i] = vectors
        return out

    def _unattended(self, sequences: list[np.ndarray], real: list[int]) -> list[np.ndarray]:
        """Queries whose expansion tokens are not attended to: the reference, with those tokens
        masked as keys (their own outputs still computed, as transformers computes padding's)."""
        if not sequences:
            return []
        check_ids(sequences, self.config.vocab_size, self.config.max_tokens)
        ids, _ = pad_batch(sequences, self.config.pad_token_id)
        mask = np.zeros_like(ids)
        for row, n in enumerate(real):
            mask[row, :n] = 1
        hidden = bert(ids, mask, self.reference_params, self.config)[-1]
        projected = colbert.project(hidden, self.projection["weight"], self.projection["bias"], self.layout.normalize)
        return [projected[i, :len(s)].astype(np.float32) for i, s in enumerate(sequences)]

    def similarity(self, queries, documents) -> np.ndarray:  # -> [n queries, n documents]
        """MaxSim of every query with every document (each a [tokens, dim] array, or lists of them)."""
        queries = [queries] if isinstance(queries, np.ndarray) and queries.ndim == 2 else list(queries)
        documents = [documents] if isinstance(documents, np.ndarray) and documents.ndim == 2 else list(documents)
        return np.array([[colbert.maxsim(q, d) for d in documents] for q in queries], np.float32).reshape(
            len(queries), len(documents))
