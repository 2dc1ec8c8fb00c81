"""A LlamaIndex embedding model backed by minie5, for VectorStoreIndex, retrievers and query engines.

    from llama_index.core import Settings, VectorStoreIndex
    from minie5.integrations.llama_index import Minie5Embedding
    Settings.embed_model = Minie5Embedding(model="intfloat/e5-small-v2")
    index = VectorStoreIndex.from_documents(documents)   # nodes embedded as documents

Queries are embedded with the model's query prompt and texts (nodes) with its document prompt, as
every minie5 front end resolves them (e5: "query: " / "passage: "). Needs `llama-index-core`
(the llama-index extra).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import PrivateAttr
except ImportError as e:  # pragma: no cover - exercised where llama-index-core is absent
    from ..errors import install_hint

    raise ImportError(f"minie5.integrations.llama_index needs llama-index-core: {install_hint('llama-index')}") from e

from ..model import Model, load


class Minie5Embedding(BaseEmbedding):
    """LlamaIndex's BaseEmbedding over a minie5 model. `model` is a loaded minie5.Model, or a name
    or folder given to minie5.load with `load_options` (threads=, backend=, revision=...)."""

    _model: Model = PrivateAttr()

    def __init__(self, model: str | Path | Model | None = None, *, embed_batch_size: int = 32, **load_options: Any):
        loaded = model if isinstance(model, Model) else load(model, **load_options)
        super().__init__(model_name=loaded.name, embed_batch_size=embed_batch_size)
        self._model = loaded

    @classmethod
    def class_name(cls) -> str:
        return "Minie5Embedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._model.encode_query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._model.encode_document(text).tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._model.encode_document(list(texts), batch_size=self.embed_batch_size).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
