"""A Chroma `EmbeddingFunction` backed by minie5.

    from minie5.integrations.chroma import Minie5EmbeddingFunction
    collection = client.create_collection("docs", embedding_function=Minie5EmbeddingFunction())
    collection.add(ids=[...], documents=[...])          # embedded as passages
    collection.query(query_texts=["..."], n_results=5)  # embedded as queries

Registered with Chroma under the name "minie5", so a persisted collection finds its embedding
function again from its stored configuration. Cosine is the default space (the vectors have unit
length). Needs `chromadb`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function
except ImportError as e:  # pragma: no cover - exercised where chromadb is absent
    raise ImportError("minie5.integrations.chroma needs chromadb: pip install chromadb") from e

from ..loading.model_files import default_model
from ..model import load


@register_embedding_function
class Minie5EmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's EmbeddingFunction over a minie5 model: documents are embedded as passages
    (`__call__`), queries as queries (`embed_query`)."""

    def __init__(self, model: str | Path | None = None, *, threads: int | None = None,
                 batch_size: int = 32, revision: str | None = None):
        self.model_name = str(model or default_model())
        self.threads, self.batch_size, self.revision = threads, batch_size, revision
        self.model = load(self.model_name, threads=threads, revision=revision)

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 (Chroma's parameter name)
        return list(self.model.encode_document(list(input), batch_size=self.batch_size))

    def embed_query(self, input: Documents) -> Embeddings:  # noqa: A002
        return list(self.model.encode_query(list(input), batch_size=self.batch_size))

    @staticmethod
    def name() -> str:
        return "minie5"

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model_name, "threads": self.threads, "batch_size": self.batch_size,
                "revision": self.revision}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> Minie5EmbeddingFunction:
        return Minie5EmbeddingFunction(config["model"], threads=config.get("threads"),
                                       batch_size=config.get("batch_size", 32), revision=config.get("revision"))
