"""A sparse encoder's layout, read from the sentence-transformers files beside its weights.

    SPLADE                modules.json: a Transformer with transformer_task "fill-mask" (older
                          saves: MLMTransformer), then SpladePooling (its folder's config.json:
                          pooling_strategy, activation_function)
    inference-free SPLADE modules.json: one Router; router_config.json's "structure" gives the
                          query route [SparseStaticEmbedding] (a learned weight per token) and the
                          document route [Transformer fill-mask, SpladePooling], each module in a
                          folder named by its key

Anything else (a SparseAutoEncoder / CSR head on a dense model, a Router of other routes, a
module minie5 does not know) is refused with the file and the module named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..loading.sentence_transformers import read_json, read_max_seq_length
from .splade import ACTIVATIONS, POOLING_STRATEGIES

TRANSFORMERS = ("Transformer", "MLMTransformer")


@dataclass(frozen=True)
class SpladeSide:
    """How one side (documents, or queries too) is encoded with the masked-LM head."""

    folder: Path  # the Transformer's folder: config.json, model.safetensors, tokenizer.json
    strategy: str = "max"  # SpladePooling's pooling_strategy
    activation: str = "relu"  # SpladePooling's activation_function
    max_seq_length: int | None = None  # sentence_bert_config.json's, if given


@dataclass(frozen=True)
class StaticSide:
    """The inference-free query side: a weight per vocabulary entry."""

    folder: Path  # model.safetensors with "weight" [V], tokenizer.json


@dataclass(frozen=True)
class SparseLayout:
    document: SpladeSide
    query: SpladeSide | StaticSide  # the same SpladeSide as documents unless the model routes queries apart
    source: str  # the file this was read from

    @property
    def inference_free(self) -> bool:
        return isinstance(self.query, StaticSide)


def read_layout(folder: Path) -> SparseLayout:
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        raise ConfigError(f"{modules_file}: no such file: a sparse encoder is described by sentence-transformers' "
                          "modules.json (a fill-mask Transformer and SpladePooling, or a Router)")
    modules = read_json(modules_file, list)
    if not all(isinstance(m, dict) and "type" in m for m in modules):
        raise ConfigError(f"{modules_file}: expected a list of modules, each with a 'type'")
    if len(modules) == 1 and _kind(modules[0]) == "Router":
        return _read_router(folder / str(modules[0].get("path", "")), modules_file)
    side = _read_splade(folder, modules, str(modules_file))
    return SparseLayout(side, side, str(modules_file))


def _kind(module: dict) -> str:
    return str(module["type"]).rsplit(".", 1)[-1]


def _read_splade(folder: Path, modules: list[dict], where: str) -> SpladeSide:
    """[Transformer (fill-mask), SpladePooling], each module's path relative to `folder`."""
    kinds = [_kind(m) for m in modules]
    if len(kinds) != 2 or kinds[0] not in TRANSFORMERS or kinds[1] != "SpladePooling":
        hint = " (a SparseAutoEncoder / CSR head on a dense model is not supported)" \
            if "SparseAutoEncoder" in kinds else ""
        raise ConfigError(f"{where}: modules {kinds} are not supported{hint}: minie5 runs SPLADE "
                          "(Transformer with transformer_task 'fill-mask', then SpladePooling) and inference-free "
                          "SPLADE (a Router of SparseStaticEmbedding and SPLADE)")
    transformer = folder / str(modules[0].get("path", ""))
    task = _transformer_task(transformer, kinds[0])
    if task != "fill-mask":
        raise ConfigError(f"{where}: the Transformer's transformer_task is {task!r}; SPLADE needs 'fill-mask' "
                          "(the masked-LM head's scores)")
    pooling_config = folder / str(modules[1].get("path", "")) / "config.json"
    values = read_json(pooling_config) if pooling_config.is_file() else {}
    strategy = values.get("pooling_strategy", "max")
    activation = values.get("activation_function", "relu")
    if strategy not in POOLING_STRATEGIES:
        raise ConfigError(f"{pooling_config}: pooling_strategy {strategy!r} is not one of {POOLING_STRATEGIES}")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"{pooling_config}: activation_function {activation!r} is not one of {ACTIVATIONS}")
    return SpladeSide(transformer, strategy, activation, read_max_seq_length(transformer / "sentence_bert_config.json"))


def _transformer_task(folder: Path, kind: str) -> str:
    """sentence_bert_config.json's transformer_task; an MLMTransformer is fill-mask by definition."""
    path = folder / "sentence_bert_config.json"
    values = read_json(path) if path.is_file() else {}
    return values.get("transformer_task", "fill-mask" if kind == "MLMTransformer" else "feature-extraction")


def _read_router(folder: Path, modules_file: Path) -> SparseLayout:
    """sentence-transformers' Router: router_config.json's types and structure (route -> module keys,
    each module in the folder of its key)."""
    path = folder / "router_config.json"
    config = read_json(path)
    types, structure = config.get("types"), config.get("structure")
    if not isinstance(types, dict) or not isinstance(structure, dict):
        raise ConfigError(f"{path}: expected 'types' and 'structure' objects, as sentence-transformers' Router saves")
    routes = {}
    for route, keys in structure.items():
        if not isinstance(keys, list) or not all(isinstance(k, str) and k in types for k in keys):
            raise ConfigError(f"{path}: route {route!r} must list module keys named in 'types'")
        routes[route] = [{"type": types[k], "path": k} for k in keys]
    names = {"query": routes.get("query"), "document": routes.get("document")}
    if set(routes) != {"query", "document"}:
        raise ConfigError(f"{path}: routes {sorted(routes)} are not supported: minie5 runs a Router of a 'query' "
                          "and a 'document' route")
    document = _read_splade(folder, names["document"], f"{path} (route 'document')")
    query_kinds = [_kind(m) for m in names["query"]]
    if query_kinds == ["SparseStaticEmbedding"]:
        static = folder / names["query"][0]["path"]
        static_config = static / "config.json"
        values = read_json(static_config) if static_config.is_file() else {}
        if values.get("path"):
            raise ConfigError(f"{static_config}: weights from an idf JSON file ({values['path']!r}) are not "
                              "supported: save the model so that the weights are in model.safetensors")
        return SparseLayout(document, StaticSide(static), str(path))
    query = _read_splade(folder, names["query"], f"{path} (route 'query')")
    return SparseLayout(document, query, str(path))
