"""A multi-vector (ColBERT-style) encoder's layout, read from the sentence-transformers files beside
its weights, as sentence-transformers' MultiVectorEncoder saves it:

    modules.json                 Transformer, Dense, Normalize, MultiVectorMask
    sentence_bert_config.json    query_length, document_length, query_expansion {strategy "fixed" or
                                 "min", attend, token (default [MASK]), length}
    <Dense>/config.json          in_features, out_features, bias, activation_function (Identity)
    <Dense>/model.safetensors    linear.weight [out, in] (and linear.bias)
    <MultiVectorMask>/config.json  skiplist_words, skiplist_tasks (documents by default)

Older PyLate / Stanford ColBERT saves (query_prefix / document_prefix in the model's config, no
MultiVectorMask), token pooling, and activations other than Identity are refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, check_int
from ..loading.sentence_transformers import read_json


@dataclass(frozen=True)
class QueryExpansion:
    strategy: str  # "fixed": every query exactly `length` tokens; "min": at least `length`
    attend: bool  # whether the encoder attends to the expansion tokens (classic ColBERT: no)
    token: str | None  # the expansion token; None: the tokenizer's mask token
    length: int


@dataclass(frozen=True)
class MultiVectorLayout:
    dense_folder: Path  # the projection's folder (config.json, model.safetensors)
    in_features: int
    out_features: int
    bias: bool
    normalize: bool  # a Normalize of the token vectors follows the projection
    query_length: int | None
    document_length: int | None
    expansion: QueryExpansion | None
    skiplist_words: tuple[str, ...] = ()
    skiplist_tasks: tuple[str, ...] = ("document",)
    source: str = ""
    extra: dict = field(default_factory=dict)


def _kind(module: dict) -> str:
    return str(module["type"]).rsplit(".", 1)[-1]


def read_layout(folder: Path) -> MultiVectorLayout:
    modules_file = folder / "modules.json"
    modules = read_json(modules_file, list)
    kinds = [_kind(m) for m in modules if isinstance(m, dict) and "type" in m]
    if len(kinds) != len(modules) or not kinds or kinds[0] != "Transformer":
        raise ConfigError(f"{modules_file}: expected a list of modules starting with a Transformer, got {kinds}")
    model_config = folder / "config_sentence_transformers.json"
    values = read_json(model_config) if model_config.is_file() else {}
    legacy = [key for key in ("query_prefix", "document_prefix", "do_query_expansion") if key in values]
    if legacy:
        raise ConfigError(f"{model_config}: {', '.join(legacy)} mark an older PyLate / Stanford ColBERT save, which "
                          "minie5 does not convert: load and save it once with sentence-transformers >= 6")
    if kinds[1:] not in (["Dense", "Normalize", "MultiVectorMask"], ["Dense", "MultiVectorMask"]):
        raise ConfigError(f"{modules_file}: modules {kinds} are not supported: minie5 runs Transformer, Dense, "
                          "(Normalize,) MultiVectorMask (ColBERT's projection and mask; no token pooling)")
    transformer = read_json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").is_file() \
        else {}
    dense_folder = folder / str(modules[1].get("path", ""))
    dense = read_json(dense_folder / "config.json")
    activation = str(dense.get("activation_function", "torch.nn.modules.linear.Identity"))
    if not activation.endswith("Identity"):
        raise ConfigError(f"{dense_folder / 'config.json'}: activation_function {activation!r} is not supported "
                          "(ColBERT's projection is linear: Identity)")
    if dense.get("module_input_name", "token_embeddings") != "token_embeddings" or dense.get("use_residual"):
        raise ConfigError(f"{dense_folder / 'config.json'}: minie5 runs a Dense on the token vectors, "
                          "without residual")
    mask_folder = folder / str(modules[-1].get("path", ""))
    mask = read_json(mask_folder / "config.json") if (mask_folder / "config.json").is_file() else {}
    if mask.get("keep_only_token_ids"):
        raise ConfigError(f"{mask_folder / 'config.json'}: keep_only_token_ids (image-patch documents) is not "
                          "supported")
    tasks = mask.get("skiplist_tasks", ["document"])
    tasks = [tasks] if isinstance(tasks, str) else tasks
    return MultiVectorLayout(
        dense_folder, int(dense["in_features"]), int(dense["out_features"]), bool(dense.get("bias", True)),
        "Normalize" in kinds, _length(transformer, "query_length", folder),
        _length(transformer, "document_length", folder),
        _expansion(transformer.get("query_expansion"), folder), tuple(mask.get("skiplist_words") or ()), tuple(tasks),
        str(modules_file))


def _length(values: dict, key: str, folder: Path) -> int | None:
    if values.get(key) is None:
        return None
    try:
        return check_int(key, values[key], 2)
    except ValueError as e:
        raise ConfigError(f"{folder / 'sentence_bert_config.json'}: {e}") from None


def _expansion(values, folder: Path) -> QueryExpansion | None:
    if values is None:
        return None
    where = folder / "sentence_bert_config.json"
    if not isinstance(values, dict) or values.get("strategy") not in ("fixed", "min"):
        raise ConfigError(f"{where}: query_expansion must have strategy 'fixed' or 'min', got {values!r}")
    try:
        length = check_int("query_expansion length", values.get("length"), 2)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    return QueryExpansion(values["strategy"], bool(values.get("attend", False)), values.get("token"), length)
