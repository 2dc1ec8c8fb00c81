"""An MTEB 2.x encoder backed by minie5, so that `mteb.evaluate` runs minie5 on any MTEB task.

    import mteb
    from minie5.integrations.mteb import Minie5Encoder
    model = Minie5Encoder("intfloat/e5-small-v2")          # results filed under mteb's own ModelMeta
    results = mteb.evaluate(model, mteb.get_tasks(tasks=["SciFact"]))

It satisfies mteb's EncoderProtocol: `encode` consumes mteb's DataLoader batch by batch, and maps
its `prompt_type` (query or document) onto minie5's prompt resolution, which for the e5 models
gives exactly the prompts of mteb's ModelMeta for them ("query: " / "passage: "); no prompt type
(symmetric tasks) means no prompt, as mteb's sentence-transformers wrapper does. Similarity is
cosine. For a model mteb's registry knows, its ModelMeta (name, revision, languages...) is reused;
for another, `mteb_name` names the registry entry to file under, or a minimal one is made. Needs
`mteb`, which needs PyTorch (the mteb extra; install a CPU torch first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

try:
    import mteb
    from mteb.models.model_meta import ModelMeta
except ImportError as e:  # pragma: no cover - exercised where mteb is absent
    from ..errors import install_hint

    raise ImportError(f"minie5.integrations.mteb needs mteb: {install_hint('mteb')} (with a CPU torch)") from e

from ..model import Model, load
from ..reference.pooling import l2_normalize


class Minie5Encoder:
    """mteb's EncoderProtocol over a minie5 model (a loaded Model, or a name or folder for load)."""

    def __init__(self, model_name: str | Path | Model | None = None, revision: str | None = None, *,
                 device: str | None = None, mteb_name: str | None = None, batch_size: int = 32, **load_options: Any):
        if device not in (None, "cpu"):
            raise ValueError(f"device={device!r}: minie5 runs on the CPU only (threads= chooses its cores)")
        self.model = model_name if isinstance(model_name, Model) else load(model_name, revision=revision,
                                                                             **load_options)
        self.batch_size = batch_size
        self._meta = _model_meta(mteb_name or self.model.name, self.model)

    @property
    def mteb_model_meta(self) -> ModelMeta:
        return self._meta

    def encode(self, inputs, *, task_metadata=None, hf_split: str = "", hf_subset: str = "", prompt_type=None,
               **kwargs: Any) -> np.ndarray:  # batches -> [n, dim]
        role = None if prompt_type is None else ("query" if str(getattr(prompt_type, "value", prompt_type)) == "query"
                                                 else "document")
        prompt = self.model.prompts.resolve(role, warn=False) or "" if role else ""
        batch_size = kwargs.get("batch_size", self.batch_size)
        chunks = [self.model.encode(list(batch["text"]), batch_size=batch_size, prompt=prompt) for batch in inputs]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.model.dim), np.float32)

    def similarity(self, embeddings1, embeddings2) -> np.ndarray:  # [n, d], [m, d] -> [n, m]
        return self.model.similarity(np.asarray(embeddings1), np.asarray(embeddings2))

    def similarity_pairwise(self, embeddings1, embeddings2) -> np.ndarray:  # [n, d], [n, d] -> [n]
        a, b = (l2_normalize(np.atleast_2d(np.asarray(x, dtype=np.float32))) for x in (embeddings1, embeddings2))
        return (a * b).sum(axis=1)


def _model_meta(name: str, model: Model) -> ModelMeta:
    """mteb's own ModelMeta where its registry has `name`, so results file under the real model name
    and revision; else a minimal one naming the folder."""
    try:
        return mteb.get_model_meta(name)
    except (KeyError, ValueError):
        return ModelMeta.create_empty({"name": f"minie5/{Path(name).name}", "revision": "local",
                                       "embed_dim": model.dim, "max_tokens": model.max_length,
                                       "similarity_fn_name": "cosine", "framework": ["NumPy"]})
