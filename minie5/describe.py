"""What a model is, without running it: architecture, sizes, parameters, pooling, stored dtypes and
files. Reads config.json, the sentence-transformers files and the safetensors header only (the
weights themselves are never read), so it is cheap on any model, however large."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import WeightsError
from .families import family_of, open_model
from .loading.config import BertConfig
from .loading.safetensors_file import SafetensorsFile
from .loading.sentence_transformers import Pipeline


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

    def to_dict(self) -> dict:
        """Everything above as JSON-able values (`minie5 info --json`)."""
        c, p = self.config, self.pipeline
        return {"name": self.name, "path": str(self.path), "source": self.source,
                "config": dataclasses.asdict(c), "pooling": p.pooling, "normalize": p.normalize,
                "pipeline_source": p.source, "prompts": p.prompts, "max_length": self.max_length,
                "parameters": self.parameters, "tensors": self.tensors, "stored_dtypes": self.stored_dtypes,
                "files": self.files}

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


def describe(model: str | Path | None = None, revision: str | None = None,
             pooling: str | None = None) -> ModelDescription:
    """Describe a model by name or folder, found as `minie5.load` finds it (`minie5 info` prints
    this); `pooling` as `load`'s override."""
    files = open_model(model, revision, pooling)
    weights = SafetensorsFile(files.weights)
    if files.config.num_hidden_layers > len(weights.tensors):  # before a billion layers' names fill memory
        raise WeightsError(f"{weights.path}: config.json asks for {files.config.num_hidden_layers} layers, but the "
                           f"file holds {len(weights.tensors)} tensors")
    used = family_of(files.config).shapes(files.config)
    return ModelDescription(
        name=files.name, path=files.path, source=files.source, config=files.config, pipeline=files.pipeline,
        max_length=files.max_length,
        parameters=sum(int(np.prod(shape)) for shape in used.values()), tensors=len(used),
        stored_dtypes=dict(Counter(info.dtype for info in weights.tensors.values())),
        files={str(p.relative_to(files.path)): p.stat().st_size for p in sorted(files.path.rglob("*")) if p.is_file()})
