"""Haystack 2.x components backed by minie5: `Minie5TextEmbedder` (a query) and
`Minie5DocumentEmbedder` (documents), as Haystack's SentenceTransformers embedders behave.

    from haystack import Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from minie5.integrations.haystack import Minie5DocumentEmbedder, Minie5TextEmbedder
    documents = Minie5DocumentEmbedder(model="intfloat/e5-small-v2").run(documents)["documents"]
    query = Minie5TextEmbedder(model="intfloat/e5-small-v2").run("how tall is the summit")["embedding"]

Queries get the model's query prompt and documents its document prompt (e5: "query: " /
"passage: "). The documents' `meta_fields_to_embed` are put before their content, joined by
`embedding_separator`, as Haystack's own embedders do. Both serialise with to_dict / from_dict and
load the model in warm_up (or on first run); a saved pipeline that holds them loads with
`Pipeline.loads(text, allowed_modules=["minie5.integrations.haystack"])`, as Haystack asks of any
component outside its own modules. Needs `haystack-ai` (the haystack extra).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

try:
    from haystack import Document, component, default_from_dict, default_to_dict
except ImportError as e:  # pragma: no cover - exercised where haystack-ai is absent
    from ..errors import install_hint

    raise ImportError(f"minie5.integrations.haystack needs haystack-ai: {install_hint('haystack')}") from e

from ..loading.model_files import default_model
from ..model import load


class _Minie5Component:
    """What both components share: their settings, serialisation and the model, loaded once."""

    def __init__(self, model: str | None = None, *, batch_size: int = 32, threads: int | None = None,
                 revision: str | None = None):
        self.model = str(model or default_model())
        self.batch_size, self.threads, self.revision = batch_size, threads, revision
        self._model = None

    def warm_up(self) -> None:
        if self._model is None:
            self._model = load(self.model, threads=self.threads, revision=self.revision)

    def _settings(self) -> dict[str, Any]:
        return {"model": self.model, "batch_size": self.batch_size, "threads": self.threads,
                "revision": self.revision}

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, **self._settings())

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return default_from_dict(cls, data)


@component
class Minie5TextEmbedder(_Minie5Component):
    """Embeds one text, a query, with the model's query prompt."""

    @component.output_types(embedding=list[float])
    def run(self, text: str):
        if not isinstance(text, str):
            raise TypeError("Minie5TextEmbedder takes one string; use Minie5DocumentEmbedder for Documents")
        self.warm_up()
        return {"embedding": self._model.encode_query(text).tolist()}


@component
class Minie5DocumentEmbedder(_Minie5Component):
    """Embeds Documents with the model's document prompt, meta fields first, into `embedding`."""

    def __init__(self, model: str | None = None, *, batch_size: int = 32, threads: int | None = None,
                 revision: str | None = None, meta_fields_to_embed: list[str] | None = None,
                 embedding_separator: str = "\n"):
        # explicit, not super(): Haystack's @component rebuilds the class, which zero-argument super() cannot follow
        _Minie5Component.__init__(self, model, batch_size=batch_size, threads=threads, revision=revision)
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.embedding_separator = embedding_separator

    def _settings(self) -> dict[str, Any]:
        return {**_Minie5Component._settings(self), "meta_fields_to_embed": self.meta_fields_to_embed,
                "embedding_separator": self.embedding_separator}

    def text_of(self, document: Document) -> str:
        """What is embedded of a document: its meta fields to embed that it has, then its content."""
        fields = [str(document.meta[k]) for k in self.meta_fields_to_embed if document.meta.get(k) is not None]
        return self.embedding_separator.join([*fields, document.content or ""])

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]):
        if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
            raise TypeError("Minie5DocumentEmbedder takes a list of Documents; use Minie5TextEmbedder for a string")
        self.warm_up()
        vectors = self._model.encode_document([self.text_of(d) for d in documents], batch_size=self.batch_size)
        return {"documents": [replace(d, embedding=v.tolist()) for d, v in zip(documents, vectors, strict=True)]}
