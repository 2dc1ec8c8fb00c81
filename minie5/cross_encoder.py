"""Cross-encoders (rerankers): a query and a document read together as one sequence, and scored.

An embedding model encodes each text alone and compares vectors; a cross-encoder lets every token
of the query attend to every token of the document, which ranks better and costs one forward pass
per pair. Retrieval pipelines therefore embed and search a corpus, then rerank the top hits:

    reranker = minie5.load_reranker("cross-encoder/ms-marco-MiniLM-L-6-v2")
    reranker.predict([("how tall is everest", "Everest is 8,849 m high."), ...])  # scores
    reranker.rank("how tall is everest", documents, top_k=3)  # [{"corpus_id", "score"}, ...]

The pipeline, with sentence-transformers' CrossEncoder habits:
    pair -> tokens     the model's own tokenizer.json pair template: [CLS] q [SEP] d [SEP] with
                       token types 0 then 1 for BERT; <s> q </s></s> d </s> for XLM-R; a pair
                       over the limit loses tokens from its longer side first ("longest_first")
    tokens -> [CLS]    the same encoder, backends and packing as embeddings; the first token's
                       last hidden state (reference.classifier has the head)
    [CLS] -> logits    the model's classification head, read from the same model.safetensors
    logits -> scores   sentence-transformers' default activation: the one config.json names
                       (ms-marco-MiniLM-L-6-v2: none, raw logits), else sigmoid for one label;
                       several labels (NLI-style classifiers) stay logits unless apply_softmax
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .encode.batching import check_ids, plan_batches
from .encode.pairs import check_pairs
from .errors import check_choice, check_int
from .families import family_of, load_params, open_model
from .loading.heads import head_config, load_head
from .loading.model_files import ModelFiles
from .loading.tokenizer import Tokenizer
from .model import check_engine_options, check_vocabulary, float_dtype, make_backend
from .reference.classifier import classification_head, sigmoid, softmax

ACTIVATIONS = ("default", "sigmoid", "softmax", "none")


def load_reranker(model: str | Path, *, backend: str = "numba", threads: int | None = None,
                  revision: str | None = None, max_length: int | None = None, dtype: str = "float32",
                  deterministic: bool = False) -> CrossEncoder:
    """Load a cross-encoder: a BertForSequenceClassification or XLMRobertaForSequenceClassification
    in Hugging Face layout (a folder or a hub name, found as `minie5.load` finds models). The options
    are `minie5.load`'s; `max_length` defaults to the model's limit (512 tokens for BERT). The same
    as `minie5.CrossEncoder(model, ...)`, except that a Qwen3-Reranker (a causal model with no head,
    scored by its "yes"/"no" logits) loads as a `CausalReranker`."""
    check_engine_options(backend, dtype, deterministic)
    files = open_model(model, revision, None, max_length)
    if files.config.model_type == "qwen3":  # Qwen3-Reranker: no head, scored by its yes/no logits
        from .causal_reranker import load_causal_reranker

        return load_causal_reranker(files, backend=backend, threads=threads, dtype=dtype, deterministic=deterministic,
                                    max_length=max_length)
    return CrossEncoder(files, backend=backend, threads=threads, dtype=dtype, deterministic=deterministic)


# sentence-transformers' CrossEncoder keywords that ask for nothing minie5 does differently, with the
# value that means so; any other value, and any other keyword, is refused naming the minie5 way.
ST_NEUTRAL = {"num_labels": None, "activation_fn": None, "trust_remote_code": False, "model_kwargs": None,
              "tokenizer_kwargs": None, "config_kwargs": None, "cache_folder": None, "local_files_only": False}
ST_ADVICE = {"activation_fn": "pass predict(..., activation='sigmoid' | 'softmax' | 'none')",
             "cache_folder": "set HF_HUB_CACHE, or pass a folder",
             "local_files_only": "set HF_HUB_OFFLINE=1",
             "trust_remote_code": "minie5 runs no code from a model's files"}


class CrossEncoder:
    """A cross-encoder (reranker), loaded by name as sentence-transformers' CrossEncoder is:
    `minie5.CrossEncoder("cross-encoder/ms-marco-MiniLM-L-6-v2")` or a folder. `max_length`,
    `revision` and `device="cpu"` mean what they mean there; `backend`, `threads`, `dtype` and
    `deterministic` are `minie5.load`'s (sentence-transformers' backend="torch" / "onnx" has no
    counterpart: minie5 is its own engine). `num_labels` is checked against the model's head."""

    def __init__(self, model_name_or_path: str | Path | ModelFiles, *, max_length: int | None = None,
                 revision: str | None = None, device: str | None = None, backend: str = "numba",
                 threads: int | None = None,
                 dtype: str = "float32", deterministic: bool = False, **sentence_transformers_options):
        if device not in (None, "cpu"):
            raise ValueError(f"device={device!r}: minie5 runs on the CPU (threads= sets how many cores)")
        for name, value in sentence_transformers_options.items():
            if name not in ST_NEUTRAL:
                raise TypeError(f"CrossEncoder() got an unexpected keyword argument {name!r}")
            if value != ST_NEUTRAL[name] and name != "num_labels":
                raise ValueError(f"{name}={value!r} is not supported"
                                 + (f": {ST_ADVICE[name]}" if name in ST_ADVICE else ""))
        check_engine_options(backend, dtype, deterministic)
        files = (model_name_or_path if isinstance(model_name_or_path, ModelFiles)  # found by load_reranker
                 else open_model(model_name_or_path, revision, None, max_length))
        family = family_of(files.config)
        if files.config.model_type == "qwen3":
            raise ValueError(f"{files.name}: a Qwen3 model is a causal reranker, scored by its yes/no logits: "
                             "load it with minie5.load_reranker")
        if family.head is None:
            raise ValueError(f"{files.path}: the {family.name} family has no sequence-classification head in minie5")
        head = head_config(files.path / "config.json")
        num_labels = sentence_transformers_options.get("num_labels")
        if num_labels is not None and num_labels != head.num_labels:
            raise ValueError(f"num_labels={num_labels}: {files.name}'s head has {head.num_labels} "
                             f"({', '.join(head.labels)}); minie5 cannot add a new, untrained head")
        self.tokenizer = Tokenizer(files.path / "tokenizer.json", files.max_length)
        check_vocabulary(self.tokenizer, files.config)
        floats = float_dtype(dtype)
        params = load_params(files, floats)
        # the head stays in floating point
        self.head_params = load_head(files.weights, files.config, head, floats, family.head)
        self.backend = make_backend(params, files.config, backend, threads, dtype, deterministic)
        self.files, self.name, self.path, self.config, self.head = files, files.name, files.path, files.config, head

    @property
    def labels(self) -> tuple[str, ...]:
        """The head's label names (config.json's id2label), in the order of a score's columns."""
        return self.head.labels

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    def __repr__(self) -> str:
        return (f"minie5.CrossEncoder({str(self.name)!r}, {self.head.architecture}, labels={len(self.labels)}, "
                f"backend={self.backend.name!r}, max_length={self.max_length})")

    def predict(self, pairs: Sequence[Sequence[str]], batch_size: int = 32, activation: str = "default",
                apply_softmax: bool = False) -> np.ndarray:
        """Scores of (query, document) pairs: [n] for a one-label model, [n, labels] otherwise.

        activation: "default" is sentence-transformers' (the one config.json names, else sigmoid for
        one label and none for several), "sigmoid", "softmax" or "none" (raw logits).
        apply_softmax=True is sentence-transformers' name for softmax over several labels."""
        check_int("batch_size", batch_size, 1)
        check_choice("activation", activation, ACTIVATIONS)
        if apply_softmax and self.head.num_labels > 1:
            activation = "softmax"
        scores = self.activate(self.logits(pairs, batch_size), activation)
        return scores[:, 0] if self.head.num_labels == 1 else scores

    def activate(self, logits: np.ndarray, activation: str = "default") -> np.ndarray:  # [n, labels] -> same
        """Scores from logits: "default" is the model's own activation (see `predict`)."""
        check_choice("activation", activation, ACTIVATIONS)
        if activation == "default":
            activation = self.head.activation
        return {"sigmoid": sigmoid, "softmax": softmax, "none": lambda x: x}[activation](logits)

    def logits(self, pairs: Sequence[Sequence[str]], batch_size: int = 32) -> np.ndarray:  # n pairs -> [n, labels]
        """The head's raw outputs for each pair, in the backend's dtype."""
        queries, documents = check_pairs(pairs)
        ids, types, _ = self.tokenizer.tokenize_pairs(queries, documents)
        return self.logits_of_tokens(ids, types, batch_size)

    def logits_of_tokens(self, ids: list[np.ndarray], types: list[np.ndarray],
                         batch_size: int = 32) -> np.ndarray:  # n ragged -> [n, labels]
        """The head's raw outputs for pairs already tokenized (`Tokenizer.tokenize_pairs`), in
        batches of like length under the backend's token budget."""
        dtype = np.float64 if self.backend.dtype == np.float64 else np.float32
        out = np.empty((len(ids), self.head.num_labels), dtype=dtype)
        check_ids(ids, self.config.vocab_size, self.config.max_tokens)
        for rows in plan_batches([len(s) for s in ids], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            first = self.backend.embed([ids[i] for i in rows], "cls", token_types=[types[i] for i in rows])
            # Row by row: one [1, H] product per pair has the same rounding whatever the batch
            # (a [B, H] product's BLAS kernel would depend on B), and costs nothing next to the encoder.
            out[rows] = [classification_head(row[None], self.head_params)[0] for row in first.astype(dtype)]
        return out

    def rank(self, query: str, documents: Sequence[str], top_k: int | None = None, return_documents: bool = False,
             batch_size: int = 32, activation: str = "default") -> list[dict]:
        """The documents ordered by score, best first, as sentence-transformers' CrossEncoder.rank:
        [{"corpus_id": index into documents, "score": float, "text": the document if asked}]."""
        if self.head.num_labels != 1:
            raise ValueError(f"rank needs a model with one label (a relevance score); {self.name} has "
                             f"{self.head.num_labels}: {', '.join(self.labels)}")
        if top_k is not None:
            check_int("top_k", top_k, 1)
        if isinstance(documents, str):
            raise TypeError("documents must be a list of strings, got one string")
        documents = list(documents)
        scores = self.predict([(query, d) for d in documents], batch_size, activation) if documents else np.zeros(0)
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[:top_k]
        return [{"corpus_id": i, "score": float(scores[i]), **({"text": documents[i]} if return_documents else {})}
                for i in order]
