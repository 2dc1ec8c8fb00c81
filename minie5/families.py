"""The model families minie5 runs, in one table: a config.json's `model_type` -> its family.

A family is a sibling, not a branch. transformers gives each architecture its own
`modeling_<family>.py`; here each family is one row of `FAMILIES`, naming the functions that read
and run it, and nothing else in minie5 asks which family a model is:

    config     the config.json reader: a frozen dataclass with `from_dict(values, source)` that
               checks every value and exposes what the pipeline reads of any model (`model_type`,
               `vocab_size`, `hidden_size`, `num_hidden_layers`, `num_attention_heads`,
               `intermediate_size`, `pad_token_id`, `max_tokens`), under transformers' field names
               where it has them and as properties where the family names them otherwise
    weights    (path, config, dtype) -> params: every tensor by transformers' names, nested, shapes
               checked (loading.weights.load_weights is BERT's; `shapes(config)` lists them)
    reference  (input_ids, attention_mask, params, config, types=None) -> [embeddings' output,
               every layer's output], each [B, T, H] on a right-padded batch: the NumPy
               specification (reference/), as transformers' `output_hidden_states=True` returns them
    engine     (params, config, threads, deterministic, weights) -> the fast backend, with
               `weights` one of `dtypes`; None where the family has no engine yet (then
               backend="numba" is refused, naming the family)
    head       a cross-encoder's classification head: (dense, out) module names, or None

Adding a family: write its config reader and weights reader in loading/, its reference in
reference/<family>.py (one function per operation, shapes in trailing comments, transformers'
names), its engine (kernels that the reference's functions have twins of), then add one `Family`
row below. Its golden test (tests/families/) pins it to transformers' own class; `family_of` and
`read_config` then route every model of that model_type to it, and a model_type in no row is
refused, naming it and the families here, before any weight is read or downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .engine import NumbaBackend, ThreadLimits
from .engine.decoder_backend import decoder_engine
from .engine.encoder_families import distilbert_engine, modernbert_engine, mpnet_engine, nomic_bert_engine
from .errors import ConfigError
from .loading import config as config_file
from .loading.config import BertConfig
from .loading.decoder_config import DecoderConfig
from .loading.decoder_weights import expected_shapes as decoder_shapes
from .loading.decoder_weights import load_decoder_weights
from .loading.encoder_configs import DistilBertConfig, ModernBertConfig, MPNetConfig, NomicBertConfig
from .loading.encoder_weights import (
    distilbert_shapes,
    load_distilbert,
    load_modernbert,
    load_mpnet,
    load_nomic_bert,
    modernbert_shapes,
    mpnet_shapes,
    nomic_bert_shapes,
)
from .loading.model_files import ModelFiles
from .loading.model_files import open_model as open_model_files
from .loading.weights import expected_shapes, load_weights
from .reference.distilbert import distilbert
from .reference.encoder import bert
from .reference.gemma3 import gemma3
from .reference.modernbert import modernbert
from .reference.mpnet import mpnet
from .reference.nomic_bert import nomic_bert
from .reference.qwen3 import qwen3


@dataclass(frozen=True)
class Family:
    """One architecture: how its config.json is read, its weights loaded, and its encoder run."""

    name: str  # as the family is known ("BERT", "RoBERTa")
    model_types: tuple[str, ...]  # config.json's model_type values that mean this family
    mirrors: str  # the transformers classes its reference is tested against
    config: type  # the config.json reader (see the module docstring)
    weights: Callable  # (path, config, dtype) -> nested params
    shapes: Callable  # config -> {tensor name: shape}, every tensor `weights` reads
    reference: Callable  # (input_ids, attention_mask, params, config, types=None) -> L+1 x [B, T, H]
    engine: Callable | None  # (params, config, threads, deterministic, weights) -> backend
    dtypes: tuple[str, ...] = ("float32", "int8", "bfloat16")  # what `engine` computes in
    head: tuple[str, str] | None = None  # a sequence classifier's (dense, out) module names


def numba_engine(params: dict, config, threads: ThreadLimits, deterministic: bool, weights: str) -> NumbaBackend:
    """The engine of the post-LayerNorm BERT layout (BERT, RoBERTa and the families mapped onto it)."""
    return NumbaBackend(params, config, threads, deterministic=deterministic, weights=weights)


FAMILIES: tuple[Family, ...] = (
    Family("BERT", ("bert",), "BertModel", BertConfig, load_weights, expected_shapes, bert, numba_engine,
           head=("pooler.dense", "classifier")),
    # RoBERTa is BERT's computation with positions counted from padding_idx + 1 and one token type
    # (BertConfig.position_offset); XLM-RoBERTa and CamemBERT are RoBERTa with other vocabularies.
    Family("RoBERTa", ("xlm-roberta", "roberta", "camembert"), "XLMRobertaModel, RobertaModel, CamembertModel",
           BertConfig, load_weights, expected_shapes, bert, numba_engine,
           head=("classifier.dense", "classifier.out_proj")),
    Family("DistilBERT", ("distilbert",), "DistilBertModel", DistilBertConfig, load_distilbert, distilbert_shapes,
           distilbert, distilbert_engine),
    Family("MPNet", ("mpnet",), "MPNetModel", MPNetConfig, load_mpnet, mpnet_shapes, mpnet, mpnet_engine),
    Family("ModernBERT", ("modernbert",), "ModernBertModel", ModernBertConfig, load_modernbert, modernbert_shapes,
           modernbert, modernbert_engine),
    Family("NomicBERT", ("nomic_bert",), "NomicBertModel", NomicBertConfig, load_nomic_bert, nomic_bert_shapes,
           nomic_bert, nomic_bert_engine),
)
# Decoder-based embedders: Llama-shaped stacks used as encoders (reference/qwen3.py, reference/gemma3.py).
FAMILIES += (
    Family("Qwen3", ("qwen3",), "Qwen3Model", DecoderConfig, load_decoder_weights, decoder_shapes, qwen3,
           decoder_engine),
    Family("Gemma3", ("gemma3_text",), "Gemma3TextModel", DecoderConfig, load_decoder_weights, decoder_shapes,
           gemma3, decoder_engine),
)
BY_MODEL_TYPE: dict[str, Family] = {t: family for family in FAMILIES for t in family.model_types}


def supported() -> str:
    """The families minie5 runs, with their model_types, for messages: "BERT (bert), RoBERTa (...)"."""
    return ", ".join(f"{f.name} ({', '.join(f.model_types)})" for f in FAMILIES)


def family_for(model_type, source: str = "config.json") -> Family:
    """The family of a config.json's model_type, or a ConfigError naming it and the families minie5 runs."""
    family = BY_MODEL_TYPE.get(model_type) if isinstance(model_type, str) else None
    if family is None:
        raise ConfigError(f"{source}: model_type {model_type!r} is not supported: minie5 runs {supported()}")
    return family


def family_of(config) -> Family:
    """The family of a config read by `read_config`."""
    return family_for(config.model_type)


def read_config(path: str | Path):
    """config.json read by its family's reader; a model_type outside every family is refused first."""
    values = config_file.read_json(path)
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(values).__name__}")
    return family_for(values.get("model_type", "bert"), str(path)).config.from_dict(values, source=str(path))


def check_config(path: str | Path) -> None:
    """What the hub's download runs on config.json before fetching anything else."""
    read_config(path)


def open_model(model: str | Path | None = None, revision: str | None = None, pooling: str | None = None,
               max_length: int | None = None) -> ModelFiles:
    """loading.model_files.open_model with config.json read by its family (see `minie5.load` for the
    order models are looked up in); a download fetches config.json first and stops there if no
    family runs it."""
    return open_model_files(model, revision, pooling, max_length, read_config=read_config)


def check_dtype(family: Family, backend: str, dtype: str) -> None:
    """Refuse an engine or dtype a family does not have, naming both."""
    if backend == "numba" and family.engine is None:
        raise ValueError(f"the {family.name} family has no numba engine yet: load it with backend='numpy'")
    if backend == "numba" and dtype not in family.dtypes:
        raise ValueError(f"dtype={dtype!r} is not available for the {family.name} family "
                         f"(it runs {', '.join(family.dtypes)})")


def load_params(files: ModelFiles, dtype: np.dtype) -> dict:
    """The model's encoder weights, read by its family, in `dtype` (float32 or float64)."""
    return family_of(files.config).weights(files.weights, files.config, dtype)
