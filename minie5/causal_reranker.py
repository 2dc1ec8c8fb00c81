"""Qwen3-Reranker: a causal language model used as a reranker, scored by its "yes" and "no" logits.

A cross-encoder (cross_encoder.py) reads a pair through an encoder and a classification head.
Qwen3-Reranker has no head: it is Qwen3 fine-tuned to answer a yes/no question about the pair, and
the score is the probability it gives "yes" as the next token (the model card's recipe):

    <|im_start|>system\\nJudge whether the Document meets the requirements based on the Query and
    the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\\n
    <|im_start|>user\\n<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {document}
    <|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n

    h      = the final-normed hidden state of the last token (reference/last_token_pool.py)
    logits = h . lm_head["yes"], h . lm_head["no"]       (lm_head is embed_tokens when tied)
    score  = softmax([no, yes])[1] = sigmoid(yes - no)

The middle part is cut to fit max_length with the prefix and suffix, as the model card's
tokenizer call does. `CausalReranker` has `CrossEncoder`'s methods (predict, rank, logits), so
`minie5 rerank` runs it unchanged; the server's rerank routes, which tokenize pairs with the
cross-encoder's pair template, do not serve it yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tokenizers

from .encode.batching import check_ids, plan_batches
from .encode.pairs import check_pairs
from .errors import TokenizerError, WeightsError, check_choice, check_int
from .families import load_params
from .loading.decoder_weights import stored_names
from .loading.heads import HeadConfig
from .loading.model_files import ModelFiles
from .loading.safetensors_file import SafetensorsFile
from .model import check_engine_options, float_dtype, make_backend
from .reference.classifier import sigmoid

PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
          "Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n")
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
MAX_LENGTH = 8192  # the model card's
ACTIVATIONS = ("default", "sigmoid", "none")


def pair_text(query: str, document: str, instruction: str = INSTRUCTION) -> str:
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"


def load_causal_reranker(files: ModelFiles, *, backend: str = "numba", threads: int | None = None,
                         dtype: str = "float32", deterministic: bool = False,
                         max_length: int | None = None) -> CausalReranker:
    """A Qwen3 model folder (found by load_reranker) as a yes/no reranker."""
    check_engine_options(backend, dtype, deterministic)
    tokenizer = tokenizers.Tokenizer.from_file(str(files.path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    answers = [tokenizer.token_to_id(word) for word in ("yes", "no")]
    if None in answers:
        raise TokenizerError(f"{files.path / 'tokenizer.json'}: no single token 'yes' and 'no': not a Qwen3-Reranker "
                             "tokenizer (a yes/no reranker is scored by those two tokens' logits)")
    params = load_params(files, float_dtype(dtype))
    answer_rows = read_answer_rows(files, answers, float_dtype(dtype))
    engine = make_backend(params, files.config, backend, threads, dtype, deterministic)
    return CausalReranker(files, tokenizer, engine, answer_rows, max_length or MAX_LENGTH)


def read_answer_rows(files: ModelFiles, answers: list[int], dtype) -> np.ndarray:  # -> [2, H]: yes, no
    """The two rows of the language-model head the score needs: lm_head.weight's, or embed_tokens'
    where config.json ties them (tie_word_embeddings, Qwen3-Reranker-0.6B)."""
    file = SafetensorsFile(files.weights)
    names = stored_names(file)
    name = "embed_tokens.weight" if files.config.tie_word_embeddings else "lm_head.weight"
    if name not in names:
        raise WeightsError(f"{file.path}: missing tensor {name!r}: a yes/no reranker reads its answer tokens' rows "
                           "from the language-model head")
    rows = file.raw(names[name])[answers]
    if file.tensors[names[name]].dtype == "BF16":
        rows = (rows.astype(np.uint32) << 16).view(np.float32)
    return rows.astype(dtype)


class CausalReranker:
    """A loaded yes/no reranker (Qwen3-Reranker). Build it with `minie5.load_reranker`."""

    labels = ("yes",)

    def __init__(self, files: ModelFiles, tokenizer: tokenizers.Tokenizer, backend, answer_rows: np.ndarray,
                 max_length: int):
        self.files, self.name, self.path, self.config = files, files.name, files.path, files.config
        self.tokenizer, self.backend, self.answer_rows = tokenizer, backend, answer_rows
        # What describes a reranker's output elsewhere: one relevance label, scored through a sigmoid.
        self.head = HeadConfig(self.labels, "Qwen3ForCausalLM (yes/no logits)", "sigmoid")
        self.prefix = tokenizer.encode(PREFIX, add_special_tokens=False).ids
        self.suffix = tokenizer.encode(SUFFIX, add_special_tokens=False).ids
        self.max_length = check_int("max_length", max_length, len(self.prefix) + len(self.suffix) + 1,
                                    files.config.max_tokens)

    def __repr__(self) -> str:
        return (f"minie5.CausalReranker({str(self.name)!r}, yes/no logits, backend={self.backend.name!r}, "
                f"max_length={self.max_length})")

    def tokenize(self, pairs: Sequence[Sequence[str]], instruction: str = INSTRUCTION) -> list[np.ndarray]:
        queries, documents = check_pairs(pairs)
        budget = self.max_length - len(self.prefix) - len(self.suffix)
        texts = [pair_text(q, d, instruction) for q, d in zip(queries, documents)]
        return [np.array(self.prefix + e.ids[:budget] + self.suffix, dtype=np.int64)
                for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def logits(self, pairs: Sequence[Sequence[str]], batch_size: int = 32,
               instruction: str = INSTRUCTION) -> np.ndarray:  # n pairs -> [n, 1]: yes - no
        """The difference of the "yes" and "no" logits for each pair: the score before its sigmoid."""
        ids = self.tokenize(pairs, instruction)
        check_ids(ids, self.config.vocab_size, self.config.max_tokens)
        out = np.empty((len(ids), 1), dtype=np.float64)
        for rows in plan_batches([len(s) for s in ids], batch_size, self.backend.max_batch_tokens,
                                 self.backend.pads_batches):
            last = self.backend.embed([ids[i] for i in rows], "lasttoken")  # [b, H], final norm applied
            yes_no = last.astype(np.float64) @ self.answer_rows.T.astype(np.float64)  # [b, 2]
            out[rows, 0] = yes_no[:, 0] - yes_no[:, 1]
        return out

    def predict(self, pairs: Sequence[Sequence[str]], batch_size: int = 32, activation: str = "default",
                apply_softmax: bool = False, instruction: str = INSTRUCTION) -> np.ndarray:  # -> [n]
        """P("yes") for each (query, document) pair (activation "default" or "sigmoid"), or the
        logit difference yes - no ("none")."""
        check_int("batch_size", batch_size, 1)
        check_choice("activation", activation, ACTIVATIONS)
        logits = self.logits(pairs, batch_size, instruction)[:, 0]
        return logits if activation == "none" else sigmoid(logits)

    def rank(self, query: str, documents: Sequence[str], top_k: int | None = None, return_documents: bool = False,
             batch_size: int = 32, activation: str = "default", instruction: str = INSTRUCTION) -> list[dict]:
        """The documents ordered by score, best first, as CrossEncoder.rank."""
        if top_k is not None:
            check_int("top_k", top_k, 1)
        if isinstance(documents, str):
            raise TypeError("documents must be a list of strings, got one string")
        documents = list(documents)
        scores = (self.predict([(query, d) for d in documents], batch_size, activation, instruction=instruction)
                  if documents else np.zeros(0))
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[:top_k]
        return [{"corpus_id": i, "score": float(scores[i]), **({"text": documents[i]} if return_documents else {})}
                for i in order]
