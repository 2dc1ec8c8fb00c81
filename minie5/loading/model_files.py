"""A model's files found and read, short of its weights: what `load`, `describe`, the corpus cache
and the cluster job's manifest all need first, done once here.

    open_model(name)  ->  ModelFiles: where the files are, config.json, the sentence-transformers
                          pipeline (with any override), the length limit, the weights file, and
                          a fingerprint of everything that decides the vectors
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from ..errors import Minie5Error, check_choice, check_int
from .config import BertConfig
from .hub import known_names, resolve
from .sentence_transformers import POOLING_MODES, Pipeline, read_pipeline
from .weights import weights_file

DEFAULT_MODEL = "intfloat/e5-small-v2"
MODEL_ENV = "MINIE5_MODEL"  # the model to use where none is named
# The longest input BERT-family models are trained on, and what the e5 model card truncates at;
# used where the model's sentence_bert_config.json does not say.
MAX_LENGTH = 512
# Files whose contents change the vectors, besides the weights (whose size and time stand in for
# their contents: hashing 100 MB on every run would cost more than it saves).
FINGERPRINT_FILES = ("config.json", "tokenizer.json", "modules.json", "1_Pooling/config.json",
                     "sentence_bert_config.json", "config_sentence_transformers.json")


@dataclass(frozen=True)
class ModelFiles:
    """A model found and its small files read (the weights are not)."""

    name: str  # as asked for: a hub name or a folder
    path: Path  # the folder the files are in
    source: str  # how it was found: local folder, installed package, cache, download
    config: BertConfig  # or the config of another family (minie5/families.py)
    pipeline: Pipeline  # pooling, normalisation, prompts; overridden where the caller asked
    max_length: int  # tokens per text, special tokens included, before truncation

    @cached_property
    def weights(self) -> Path:
        """model.safetensors, or an error saying what the folder holds instead."""
        return weights_file(self.path)

    @cached_property
    def fingerprint(self) -> str:
        """A digest of what decides this model's vectors: FINGERPRINT_FILES' contents and the
        weights' size and modification time."""
        digest = hashlib.sha256()
        for name in FINGERPRINT_FILES:
            file = self.path / name
            if file.is_file():
                digest.update(name.encode() + b"\0" + file.read_bytes())
        stat = self.weights.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()

    def identity(self) -> dict:
        """What identifies the vectors this model gives, as a JSON-able dict."""
        return {"name": self.name, "files": self.fingerprint, "pooling": self.pipeline.pooling,
                "max_length": self.max_length}


def default_model() -> str:
    """The model used where none is named: $MINIE5_MODEL, else intfloat/e5-small-v2."""
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def open_model(model: str | Path | None = None, revision: str | None = None, pooling: str | None = None,
               max_length: int | None = None, *, read_config: Callable[[Path], BertConfig]) -> ModelFiles:
    """Find a model by name or folder (see `minie5.load` for the order; None: `default_model()`) and
    read its small files; `pooling` and `max_length` override what they say. `read_config` reads
    config.json by its model family (minie5.families.read_config); a download runs it on config.json
    before fetching anything else."""
    if pooling is not None:
        check_choice("pooling", pooling, POOLING_MODES)
    named = model is not None
    model = model if named else default_model()
    try:
        path, source = resolve(model, revision, read_config)
    except Minie5Error as e:
        if named:
            raise
        here = ", ".join(sorted(known_names())) or "none"
        raise Minie5Error(f"{e} (no model was named, so the default was used: name one, or set {MODEL_ENV}; models "
                          f"installed or cached here: {here})") from None
    config = read_config(path / "config.json")
    pipeline = read_pipeline(path)
    if pooling is not None:
        pipeline = replace(pipeline, pooling=pooling, source="pooling= argument")
    return ModelFiles(str(model), path, source, config, pipeline, max_length_for(config, pipeline, max_length))


def max_length_for(config: BertConfig, pipeline: Pipeline, requested: int | None = None) -> int:
    """Tokens per text: `requested`, else sentence_bert_config.json's max_seq_length, else 512;
    never more than the position table allows."""
    if requested is None:
        return min(pipeline.max_seq_length or MAX_LENGTH, config.max_tokens)
    return check_int("max_length", requested, 2, config.max_tokens, what="the model's position table")
