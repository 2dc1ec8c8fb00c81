"""A cross-encoder's classification head, read from the same model.safetensors as its encoder, by
transformers' names, every shape checked against config.json.

    BertForSequenceClassification        bert.pooler.dense.{weight,bias}      [H, H], [H]
                                         classifier.{weight,bias}             [labels, H], [labels]
    XLMRobertaForSequenceClassification  classifier.dense.{weight,bias}       [H, H], [H]
                                         classifier.out_proj.{weight,bias}    [labels, H], [labels]

Both become {"dense": ..., "out": ...} for reference.classifier.classification_head. The labels
come from config.json as transformers counts them: `num_labels`, else the entries of `id2label`,
else 2 (its default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, WeightsError
from .config import BertConfig
from .safetensors_file import SafetensorsFile
from .weights import PREFIXES

# sentence-transformers records a cross-encoder's default activation in config.json, as a class
# path: "sbert_ce_default_activation_function" (before v4) or "sentence_transformers":
# {"activation_fn": ...}; cross-encoder/ms-marco-MiniLM-L-6-v2 names Identity (raw logits).
ACTIVATION_CLASSES = {"Identity": "none", "Sigmoid": "sigmoid", "Softmax": "softmax"}


@dataclass(frozen=True)
class HeadConfig:
    labels: tuple[str, ...]  # id2label's names, in id order
    architecture: str  # "BertForSequenceClassification", ...
    activation: str  # the default one: as config.json names it, else sigmoid for one label, none for several

    @property
    def num_labels(self) -> int:
        return len(self.labels)


def is_cross_encoder(config_path: Path) -> bool:
    """Whether config.json's architectures name a ...ForSequenceClassification model."""
    try:
        architectures = json.loads(Path(config_path).read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        return False  # the loader that reads it next says what is wrong with it
    return any(isinstance(a, str) and a.endswith("ForSequenceClassification") for a in architectures)


def head_config(config_path: Path) -> HeadConfig:
    """The head's labels and architecture from config.json (already validated as a BertConfig)."""
    values = json.loads(Path(config_path).read_text(encoding="utf-8"))
    architectures = values.get("architectures") or []
    architecture = next((a for a in architectures if isinstance(a, str) and a.endswith("ForSequenceClassification")),
                        None)
    if architecture is None:
        raise ConfigError(f"{config_path}: architectures {architectures!r} name no ...ForSequenceClassification "
                          "model: this is not a cross-encoder (for embeddings, use minie5.load)")
    id2label = values.get("id2label")
    num_labels = values.get("num_labels")
    if id2label is not None:
        named = isinstance(id2label, dict) and all(str(k).isdigit() and isinstance(v, str) for k, v in id2label.items())
        if not named:
            raise ConfigError(f"{config_path}: id2label must map label ids to names, got {id2label!r}")
        ids = sorted(int(k) for k in id2label)
        if ids != list(range(len(ids))):
            raise ConfigError(f"{config_path}: id2label's ids must be 0 to {len(ids) - 1}, got {ids}")
        labels = tuple(id2label[str(i)] for i in ids)
    else:
        labels = ()
    if num_labels is not None:
        if type(num_labels) is not int or not 1 <= num_labels <= 100000:
            raise ConfigError(f"{config_path}: num_labels must be a positive integer, got {num_labels!r}")
        if labels and len(labels) != num_labels:
            raise ConfigError(f"{config_path}: num_labels {num_labels} but id2label names {len(labels)} labels")
        labels = labels or tuple(f"LABEL_{i}" for i in range(num_labels))
    labels = labels or ("LABEL_0", "LABEL_1")  # transformers' default of two labels
    declared = values.get("sbert_ce_default_activation_function")
    if isinstance(values.get("sentence_transformers"), dict):
        declared = values["sentence_transformers"].get("activation_fn", declared)
    if declared is None:
        activation = "sigmoid" if len(labels) == 1 else "none"
    else:
        activation = ACTIVATION_CLASSES.get(str(declared).rsplit(".", 1)[-1])
        if activation is None:
            raise ConfigError(f"{config_path}: activation {declared!r} is not one minie5 knows "
                              f"({', '.join(ACTIVATION_CLASSES)})")
    return HeadConfig(labels, architecture, activation)


def load_head(path: str | Path, config: BertConfig, head: HeadConfig, dtype=np.float32,
              tensors: tuple[str, str] = ("pooler.dense", "classifier")) -> dict:
    """The head's two layers from the safetensors file at `path`, checked and nested. `tensors`:
    where the model family keeps them, (dense, out) (minie5/families.py: BERT's pooler.dense and
    classifier, RoBERTa's classifier.dense and classifier.out_proj)."""
    file = SafetensorsFile(path)
    stored = {}
    for name in file.tensors:  # canonical names: "bert." / "roberta." prefixes off
        stored[next((name[len(p):] for p in PREFIXES if name.startswith(p)), name)] = name
    H, labels = config.hidden_size, head.num_labels
    dense, out = tensors
    shapes = {f"{dense}.weight": (H, H), f"{dense}.bias": (H,), f"{out}.weight": (labels, H), f"{out}.bias": (labels,)}
    params: dict = {"dense": {}, "out": {}}
    for name, shape in shapes.items():
        if name not in stored:
            raise WeightsError(f"{file.path}: missing tensor {name!r} of the {head.architecture} head "
                               f"({', '.join(shapes)})")
        info = file.tensors[stored[name]]
        if info.shape != shape:
            raise WeightsError(f"{file.path}: tensor {stored[name]!r} has shape {list(info.shape)}, expected "
                               f"{list(shape)} from config.json ({labels} label{'s' if labels > 1 else ''})")
        tensor = file.float_tensor(stored[name], dtype)
        if not np.isfinite(tensor).all():
            raise WeightsError(f"{file.path}: tensor {stored[name]!r} contains NaN or infinite values")
        params["dense" if name.startswith(dense + ".") else "out"][name.rsplit(".", 1)[1]] = tensor
    return params
