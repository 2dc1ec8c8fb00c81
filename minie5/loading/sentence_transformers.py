"""What happens after the encoder, as the model's authors set it up: read from the
sentence-transformers files shipped beside the weights.

    modules.json               the pipeline: Transformer, then Pooling, then (maybe) Dense
                               projections, then (maybe) Normalize
    1_Pooling/config.json      which pooling: mean of the tokens, the [CLS] token, the max, or the
                               last token (decoder models: Qwen3-Embedding)
    2_Dense/config.json        a Dense module: in/out features, bias, activation; its weights in
                               2_Dense/model.safetensors (EmbeddingGemma has two)
    sentence_bert_config.json  max_seq_length: the longest input, in tokens, that the authors use

all-MiniLM-L6-v2 is mean + Normalize at 256 tokens; e5-small-v2 mean + Normalize at 512;
bge-small-en-v1.5 CLS + Normalize; Qwen3-Embedding last token + Normalize; EmbeddingGemma mean,
Dense 768 -> 3072, Dense 3072 -> 768, Normalize. A model folder without modules.json is embedded as
the e5 model card does it: mean pooling, then L2 normalisation. Pipelines minie5 cannot reproduce
(several poolings concatenated, weighted-mean pooling, a module of another type) are refused with
the file and module named, never run partway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError, WeightsError, check_int
from .safetensors_file import SafetensorsFile

POOLING_MODES = ("mean", "cls", "max", "lasttoken")
# 1_Pooling/config.json keys, as sentence_transformers.models.Pooling saves them.
_POOLING_KEYS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_MODULE = "sentence_transformers.models."
# The activations of Dense modules minie5 runs (reference/dense.py), by the torch.nn class name
# sentence-transformers saves; Tanh is what a config without "activation_function" means.
TANH = "torch.nn.modules.activation.Tanh"
DENSE_ACTIVATIONS = ("torch.nn.modules.linear.Identity", TANH, "torch.nn.modules.activation.ReLU",
                     "torch.nn.modules.activation.Sigmoid", "torch.nn.modules.activation.GELU",
                     "torch.nn.modules.activation.SiLU")


@dataclass(frozen=True)
class DenseModule:
    """One sentence-transformers Dense module (reference/dense.py): its config and weights file."""

    path: Path  # its folder, e.g. <model>/2_Dense
    in_features: int
    out_features: int
    bias: bool  # the module has a bias (sentence-transformers' default: yes)
    activation: str  # the torch.nn class it saved, e.g. "torch.nn.modules.linear.Identity"

    def weights(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(weight [out, in], bias [out] or None) from its model.safetensors, shapes checked."""
        file = SafetensorsFile(self.path / "model.safetensors")
        expected = {"linear.weight": (self.out_features, self.in_features)}
        if self.bias:
            expected["linear.bias"] = (self.out_features,)
        for name, shape in expected.items():
            if name not in file.tensors:
                raise WeightsError(f"{file.path}: missing tensor {name!r} of the Dense module")
            if file.tensors[name].shape != shape:
                raise WeightsError(f"{file.path}: tensor {name!r} has shape {list(file.tensors[name].shape)}, "
                                   f"expected {list(shape)} from {self.path / 'config.json'}")
        weight = file.float_tensor("linear.weight")
        return weight, file.float_tensor("linear.bias") if self.bias else None


@dataclass(frozen=True)
class Pipeline:
    """What follows the encoder, as the model's sentence-transformers files set it up."""

    pooling: str = "mean"  # one of POOLING_MODES
    normalize: bool = True  # a Normalize module follows the pooling: unit-length vectors
    max_seq_length: int | None = None  # sentence_bert_config.json's limit, if the folder has one
    source: str = "default (no modules.json): mean pooling, normalised, as the e5 model card"
    prompts: dict = field(default_factory=dict)  # config_sentence_transformers.json: name -> text to prepend
    dense: tuple[DenseModule, ...] = ()  # Dense modules after the pooling, in order


def read_pipeline(folder: str | Path) -> Pipeline:
    folder = Path(folder)
    return replace(_read_modules(folder), prompts=_read_prompts(folder / "config_sentence_transformers.json"))


def _read_prompts(path: Path) -> dict:
    """The named prompts of config_sentence_transformers.json ({"query": "query: ", ...}), if any."""
    if not path.is_file():
        return {}
    prompts = read_json(path).get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise ConfigError(f"{path}: 'prompts' must map names to strings")
    return prompts


def _read_modules(folder: Path) -> Pipeline:
    max_seq_length = read_max_seq_length(folder / "sentence_bert_config.json")
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return Pipeline(max_seq_length=max_seq_length)
    modules = read_json(modules_file, list)
    if not all(isinstance(m, dict) and "type" in m for m in modules):
        raise ConfigError(f"{modules_file}: expected a list of modules, each with a 'type'")
    kinds = [str(m["type"]).removeprefix(_MODULE) for m in modules]
    if not kinds or kinds[0] != "Transformer":
        raise ConfigError(f"{modules_file}: the first module is {kinds[0] if kinds else 'missing'!r}; "
                          "minie5 runs pipelines that start with a Transformer")
    pooling, normalize, dense = "mean", False, []
    for module, kind in zip(modules[1:], kinds[1:]):
        if kind == "Pooling":
            pooling = _read_pooling(folder / str(module.get("path", "1_Pooling")) / "config.json")
        elif kind == "Dense" and "Pooling" in kinds[:kinds.index(kind)] and not normalize:
            dense.append(_read_dense(folder / str(module.get("path", ""))))
        elif kind == "Normalize":
            normalize = True
        else:
            raise ConfigError(f"{modules_file}: module {module.get('path') or kind!r} of type "
                              f"{module['type']!r} is not supported here (minie5 runs Transformer, "
                              "Pooling, Dense and Normalize, in that order)")
    if "Pooling" not in kinds:
        raise ConfigError(f"{modules_file}: no Pooling module: the model gives token vectors, not "
                          "one vector per text")
    for before, after in zip(dense, dense[1:]):
        if before.out_features != after.in_features:
            raise ConfigError(f"{after.path / 'config.json'}: in_features {after.in_features} does not match the "
                              f"previous Dense module's out_features {before.out_features}")
    return Pipeline(pooling, normalize, max_seq_length, source=str(modules_file), dense=tuple(dense))


def _read_dense(folder: Path) -> DenseModule:
    path = folder / "config.json"
    values = read_json(path)
    try:
        in_features = check_int("in_features", values.get("in_features"), 1)
        out_features = check_int("out_features", values.get("out_features"), 1)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    activation = values.get("activation_function", TANH)  # sentence-transformers' default
    if activation not in DENSE_ACTIVATIONS:
        raise ConfigError(f"{path}: activation_function {activation!r} is not supported (supported: "
                          f"{', '.join(DENSE_ACTIVATIONS)})")
    if values.get("use_residual"):
        raise ConfigError(f"{path}: use_residual=true is not supported")
    if not (folder / "model.safetensors").is_file():
        raise ConfigError(f"{folder}: no model.safetensors for the Dense module (minie5 reads only "
                          "safetensors, which cannot run code when loaded)")
    return DenseModule(folder, in_features, out_features, bool(values.get("bias", True)), activation)


def _read_pooling(path: Path) -> str:
    values = read_json(path)
    chosen = [mode for key, mode in _POOLING_KEYS.items() if values.get(key)]
    if values.get("pooling_mode") and not chosen:  # a newer single-key form
        chosen = [str(values["pooling_mode"]).removesuffix("_token").removesuffix("_tokens")]
    if len(chosen) != 1:
        raise ConfigError(f"{path}: {len(chosen)} pooling modes are set ({', '.join(chosen) or 'none'}); "
                          "minie5 supports exactly one")
    if chosen[0] not in POOLING_MODES:
        raise ConfigError(f"{path}: pooling {chosen[0]!r} is not supported (supported: "
                          f"{', '.join(POOLING_MODES)})")
    return chosen[0]


def read_max_seq_length(path: Path) -> int | None:
    """sentence_bert_config.json's max_seq_length (checked), or None where the file or the value is absent."""
    if not path.is_file():
        return None
    value = read_json(path).get("max_seq_length")
    if value is None:
        return None
    try:
        return check_int("max_seq_length", value, 2)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


def read_json(path: Path, expect: type = dict):
    """A sentence-transformers layout file: a JSON object (or list), or a ConfigError naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (the model's layout refers to it)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, expect):
        raise ConfigError(f"{path}: expected a JSON {'list' if expect is list else 'object'}, got "
                          f"{type(value).__name__}")
    return value
