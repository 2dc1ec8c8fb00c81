"""What happens after the encoder, as the model's authors set it up: read from the
sentence-transformers files shipped beside the weights.

    modules.json               the pipeline: Transformer, then Pooling, then (maybe) Normalize
    1_Pooling/config.json      which pooling: mean of the tokens, the [CLS] token, or the max
    sentence_bert_config.json  max_seq_length: the longest input, in tokens, that the authors use

all-MiniLM-L6-v2 is mean + Normalize at 256 tokens; e5-small-v2 mean + Normalize at 512;
bge-small-en-v1.5 CLS + Normalize. A model folder without modules.json is embedded as the e5 model
card does it: mean pooling, then L2 normalisation. Pipelines minie5 cannot reproduce (a Dense
projection, several poolings concatenated, weighted-mean or last-token pooling) are refused with
the file and module named, never run partway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError, check_int

POOLING_MODES = ("mean", "cls", "max")
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


@dataclass(frozen=True)
class Pipeline:
    """What follows the encoder, as the model's sentence-transformers files set it up."""

    pooling: str = "mean"  # one of POOLING_MODES
    normalize: bool = True  # a Normalize module follows the pooling: unit-length vectors
    max_seq_length: int | None = None  # sentence_bert_config.json's limit, if the folder has one
    source: str = "default (no modules.json): mean pooling, normalised, as the e5 model card"
    prompts: dict = field(default_factory=dict)  # config_sentence_transformers.json: name -> text to prepend


def read_pipeline(folder: str | Path) -> Pipeline:
    folder = Path(folder)
    return replace(_read_modules(folder), prompts=_read_prompts(folder / "config_sentence_transformers.json"))


def _read_prompts(path: Path) -> dict:
    """The named prompts of config_sentence_transformers.json ({"query": "query: ", ...}), if any."""
    if not path.is_file():
        return {}
    prompts = _read_json(path).get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prompts.items()):
        raise ConfigError(f"{path}: 'prompts' must map names to strings")
    return prompts


def _read_modules(folder: Path) -> Pipeline:
    max_seq_length = _read_max_seq_length(folder / "sentence_bert_config.json")
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return Pipeline(max_seq_length=max_seq_length)
    modules = _read_json(modules_file, list)
    if not all(isinstance(m, dict) and "type" in m for m in modules):
        raise ConfigError(f"{modules_file}: expected a list of modules, each with a 'type'")
    kinds = [str(m["type"]).removeprefix(_MODULE) for m in modules]
    if not kinds or kinds[0] != "Transformer":
        raise ConfigError(f"{modules_file}: the first module is {kinds[0] if kinds else 'missing'!r}; "
                          "minie5 runs pipelines that start with a Transformer")
    pooling, normalize = "mean", False
    for module, kind in zip(modules[1:], kinds[1:]):
        if kind == "Pooling":
            pooling = _read_pooling(folder / str(module.get("path", "1_Pooling")) / "config.json")
        elif kind == "Normalize":
            normalize = True
        else:
            raise ConfigError(f"{modules_file}: module {module.get('path') or kind!r} of type "
                              f"{module['type']!r} is not supported (minie5 runs Transformer, "
                              "Pooling and Normalize)")
    if "Pooling" not in kinds:
        raise ConfigError(f"{modules_file}: no Pooling module: the model gives token vectors, not "
                          "one vector per text")
    return Pipeline(pooling, normalize, max_seq_length, source=str(modules_file))


def _read_pooling(path: Path) -> str:
    values = _read_json(path)
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


def _read_max_seq_length(path: Path) -> int | None:
    if not path.is_file():
        return None
    value = _read_json(path).get("max_seq_length")
    if value is None:
        return None
    try:
        return check_int("max_seq_length", value, 2)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


def _read_json(path: Path, expect: type = dict):
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (modules.json refers to it)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, expect):
        raise ConfigError(f"{path}: expected a JSON {'list' if expect is list else 'object'}, got "
                          f"{type(value).__name__}")
    return value
