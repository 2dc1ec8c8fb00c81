"""What a model is, without running it: architecture, sizes, parameters, pooling, stored dtypes and
files. Reads config.json, the sentence-transformers files and the safetensors header only (the
weights themselves are never read), so it is cheap on any model, however large."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import check_choice
from .loader import DEFAULT_MODEL, max_length_for
from .loading.config import BertConfig
from .loading.hub import resolve
from .loading.safetensors_file import SafetensorsFile
from .loading.sentence_transformers import POOLING_MODES, Pipeline, read_pipeline
from .loading.weights import check_sizes, expected_shapes, weights_file


@dataclass
class ModelDescription:
    """What `describe` finds out about a model; str() gives the lines `minie5 info` prints."""

    name: str  # as asked for: a hub name or a folder
    path: Path  # where its files are
    source: str  # how it was found: local folder, installed package, cache, download
    config: BertConfig
    pipeline: Pipeline  # pooling and normalisation
    max_length: int  # tokens per text before truncation
    parameters: int  # numbers in the tensors the encoder uses
    tensors: int  # how many tensors the encoder uses
    stored_dtypes: dict[str, int]  # safetensors dtype -> tensors stored in it
    files: dict[str, int]  # file (relative to path) -> bytes

    def __str__(self) -> str:
        c, p = self.config, self.pipeline
        return "\n".join([
            f"model       {self.name}",
            f"found       {self.source}: {self.path}",
            f"type        {c.model_type}, {c.num_hidden_layers} layers, hidden {c.hidden_size}, "
            f"{c.num_attention_heads} heads, feed-forward {c.intermediate_size} ({c.hidden_act})",
            f"vocabulary  {c.vocab_size} tokens, {c.max_position_embeddings} positions",
            f"parameters  {self.parameters:,} used by the encoder ({self.tensors} tensors)",
            f"pooling     {p.pooling}, {'normalised' if p.normalize else 'not normalised'} "
            f"(from {p.source}); texts cut at {self.max_length} tokens",
            "stored as   " + ", ".join(f"{dtype} x{count}" for dtype, count in sorted(self.stored_dtypes.items())),
            "files       " + ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in self.files.items()),
        ])


def describe(model: str | Path = DEFAULT_MODEL, revision: str | None = None,
             pooling: str | None = None) -> ModelDescription:
    """Describe a model by name or folder, found as `minie5.load` finds it (`minie5 info` prints
    this); `pooling` as `load`'s override."""
    path, source = resolve(model, revision)
    config = BertConfig.from_file(path / "config.json")
    pipeline = read_pipeline(path)
    if pooling is not None:
        check_choice("pooling", pooling, POOLING_MODES)
        pipeline = dataclasses.replace(pipeline, pooling=pooling, source="pooling= argument")
    weights = SafetensorsFile(weights_file(path))
    check_sizes(weights, config)
    used = expected_shapes(config)
    return ModelDescription(
        name=str(model), path=path, source=source, config=config, pipeline=pipeline,
        max_length=max_length_for(config, pipeline),
        parameters=sum(int(np.prod(shape)) for shape in used.values()), tensors=len(used),
        stored_dtypes=dict(Counter(info.dtype for info in weights.tensors.values())),
        files={str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()})
