"""`evaluate`: a model's retrieval quality on a BEIR-format dataset."""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import __version__
from .beir import Dataset
from .metrics import evaluate_run
from .search import search


def evaluate(model, dataset: Dataset, *, top_k: int = 100, batch_size: int = 32, long: str = "truncate",
             progress: Callable[[int, int | None], None] | None = None) -> dict:
    """Embed the dataset's queries (the model's "query" prompt) and corpus (its "document" prompt,
    title and text joined as BEIR joins them), search exactly, and score the run. The corpus is
    embedded and searched a chunk at a time, so memory is bounded by `top_k`, not the corpus.
    Returns the metrics, the run (query id -> doc id -> score, best first), counts, and the setup
    that made the vectors (`run_setup`)."""
    started = time.perf_counter()
    query_ids = list(dataset.queries)
    queries = model.encode_query([dataset.queries[q] for q in query_ids], batch_size=batch_size, long=long)
    doc_ids = list(dataset.corpus)
    prompt = model.prompts.resolve("document", warn=False) or ""
    blocks = model.encode_iter((dataset.passage(d) for d in doc_ids), batch_size=batch_size, long=long,
                               prompt=prompt, progress=progress)
    scores, rows = search(queries, blocks, top_k)
    run = {q: {doc_ids[r]: float(s) for s, r in zip(scores[i], rows[i])} for i, q in enumerate(query_ids)}
    return {"metrics": evaluate_run(dataset.qrels, run), "run": run, "queries": len(query_ids),
            "corpus": len(doc_ids), "top_k": top_k, "seconds": time.perf_counter() - started,
            "setup": run_setup(model, batch_size=batch_size, long=long)}


def run_setup(model, **options) -> dict:
    """What made a run's vectors, so that two result files tell their runs apart: the model (name,
    files' fingerprint, pooling, length limit), the engine (backend, the dtype it really ran,
    deterministic, threads), minie5's version, and the caller's options."""
    backend = model.backend
    limits = getattr(backend, "threads", None)  # the numba engine's ThreadLimits
    return {"model": model.name, "files": model.files.fingerprint, "pooling": model.pooling,
            "max_length": model.max_length, "backend": backend.name,
            # the arithmetic really run: a CPU without VNNI or BF16 runs float32 when asked for int8 or bfloat16
            "dtype": getattr(backend, "weights", None) or str(backend.dtype),
            "deterministic": bool(getattr(backend, "deterministic", False)),
            "threads": getattr(limits, "threads", limits), "minie5": __version__, **options}


