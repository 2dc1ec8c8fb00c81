"""A LangChain `Embeddings` backed by minie5, for vector stores, retrievers and RAG chains.

    from minie5.integrations.langchain import Minie5Embeddings
    embeddings = Minie5Embeddings(model="intfloat/e5-small-v2")
    store = InMemoryVectorStore(embedding=embeddings)     # or FAISS, Chroma, ...

Needs `langchain-core` (any LangChain install has it).
"""

from __future__ import annotations

from pathlib import Path

try:
    from langchain_core.embeddings import Embeddings
except ImportError as e:  # pragma: no cover - exercised where langchain-core is absent
    raise ImportError("minie5.integrations.langchain needs langchain-core: pip install langchain-core") from e

from ..model import Model, load


class Minie5Embeddings(Embeddings):
    """LangChain's Embeddings interface over a minie5 model: embed_documents embeds passages,
    embed_query a query (e5's prefixes, or the model's own prompts). The async methods are
    LangChain's defaults, which run these in a thread."""

    def __init__(self, model: str | Path | Model | None = None, *, batch_size: int = 32, **load_options):
        """`model` is a loaded minie5.Model, or a name or folder given to minie5.load with
        `load_options` (threads=, backend=, revision=...)."""
        self.model = model if isinstance(model, Model) else load(model, **load_options)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode_document(list(texts), batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode_query(text, batch_size=self.batch_size).tolist()
