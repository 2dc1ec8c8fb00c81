"""What `minie5 search` and `minie5 evaluate` do with models that are not one dense vector a text:

    --model a SPLADE model        sparse vectors (minie5.load_sparse), searched on an inverted index
    --model a ColBERT model       token vectors (minie5.load_multi_vector), searched by MaxSim
    --model bm25                  BM25 on the corpus' own words (no model)
    --hybrid MODEL | bm25         the dense --model's ranking fused with MODEL's (a SPLADE model) or
                                  BM25's: --fusion rrf (reciprocal rank fusion, the default) or
                                  weighted (--weight W of the dense model's min-max normalised scores,
                                  1 - W of the other's)

The kind of a model is read from its sentence-transformers files (config_sentence_transformers.json's
model_type, else the modules modules.json lists).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from ..errors import Minie5Error
from .common import UsageError

KINDS = ("dense", "sparse", "multi-vector", "bm25")


def add_arguments(parser) -> None:
    parser.add_argument("--hybrid", metavar="MODEL",
                        help="fuse the dense --model's ranking with this SPLADE model's, or with BM25's ('bm25')")
    parser.add_argument("--fusion", choices=("rrf", "weighted"), default="rrf",
                        help="with --hybrid: reciprocal rank fusion (default) or a weighted sum of min-max "
                             "normalised scores")
    parser.add_argument("--weight", type=float, default=0.5, metavar="W",
                        help="with --fusion weighted: the dense model's share, 0 to 1 (default 0.5)")


def model_kind(name) -> str:
    """"bm25", "sparse", "multi-vector" or "dense", from the model's files (dense where they say nothing)."""
    if str(name).lower() == "bm25":
        return "bm25"
    from ..loading.hub import resolve
    from ..loading.model_files import default_model

    if name is None:  # no --model: the one every command uses ($MINIE5_MODEL, else e5-small-v2)
        name = default_model()

    try:
        folder, _ = resolve(name)
    except (Minie5Error, OSError, ValueError):
        return "dense"  # loading it as one reports what is wrong
    try:
        model_type = json.loads((folder / "config_sentence_transformers.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        model_type = None
    if model_type == "SparseEncoder":
        return "sparse"
    if model_type == "MultiVectorEncoder":
        return "multi-vector"
    try:
        modules = (folder / "modules.json").read_text()
    except OSError:
        return "dense"
    if "SpladePooling" in modules or "Router" in modules:
        return "sparse"
    return "multi-vector" if "MultiVectorMask" in modules else "dense"


def _check(args) -> tuple[str, str | None]:
    kind = model_kind(args.model)
    other = None if args.hybrid is None else model_kind(args.hybrid)
    if other is not None:
        if kind != "dense":
            raise UsageError(f"--hybrid fuses a dense --model with a sparse one; --model {args.model} is {kind}")
        if other not in ("sparse", "bm25"):
            raise UsageError(f"--hybrid {args.hybrid}: a SPLADE model or 'bm25', not a {other} model")
    if not 0 <= args.weight <= 1:
        raise UsageError(f"--weight must be between 0 and 1, got {args.weight}")
    return kind, other


def _load(args, name: str, kind: str):
    options = {"backend": args.backend, "threads": args.threads, "revision": args.revision,
               "dtype": getattr(args, "dtype", "float32"), "deterministic": getattr(args, "deterministic", False)}
    if kind == "sparse":
        from ..sparse import load_sparse

        return load_sparse(name, **options)
    from ..multi_vector import load_multi_vector

    return load_multi_vector(name, **options)


def _fuse(args, first, second, top_k: int):
    from ..sparse.hybrid import reciprocal_rank_fusion, weighted_sum

    if args.fusion == "rrf":
        return reciprocal_rank_fusion([first, second], top_k=top_k)
    return weighted_sum(first, second, args.weight, top_k=top_k)


def evaluate(args, dataset, dense: Callable[[], dict]) -> tuple[dict, str, str]:
    """(result, model name, backend) of `minie5 evaluate` for any kind of --model and --hybrid;
    `dense()` evaluates the dense --model as before."""
    from ..evaluation.metrics import evaluate_run
    from ..multi_vector.search import evaluate_multi_vector
    from ..sparse.retrieval import evaluate_bm25, evaluate_sparse

    kind, other = _check(args)
    if kind == "bm25":
        return evaluate_bm25(dataset, top_k=args.top_k), "bm25", "numpy"
    if kind in ("sparse", "multi-vector"):
        model = _load(args, args.model, kind)
        run = evaluate_sparse if kind == "sparse" else evaluate_multi_vector
        return run(model, dataset, top_k=args.top_k, batch_size=args.batch_size), model.name, model.backend.name
    result, name, backend = dense()
    if other is None:
        return result, name, backend
    second = evaluate_bm25(dataset, top_k=args.top_k) if other == "bm25" else \
        evaluate_sparse(_load(args, args.hybrid, "sparse"), dataset, top_k=args.top_k, batch_size=args.batch_size)
    run = _fuse(args, result["run"], second["run"], args.top_k)
    fused = {**result, "run": run, "metrics": evaluate_run(dataset.qrels, run),
             "seconds": result["seconds"] + second["seconds"]}
    return fused, f"{name} + {args.hybrid} ({args.fusion})", backend


def search_scores(args, texts: list[str], dense: Callable[[], np.ndarray]) -> np.ndarray:
    """[queries, texts] scores of `minie5 search` for any kind of --model and --hybrid; `dense()`
    gives the dense --model's cosines as before. Fused scores are RRF's or the weighted sum's."""
    from ..multi_vector.search import maxsim_search
    from ..sparse.bm25 import BM25
    from ..sparse.index import InvertedIndex

    kind, other = _check(args)

    def sparse_scores(name: str, which: str) -> np.ndarray:
        if which == "bm25":
            bm25 = BM25(texts)
            return np.stack([bm25.index.scores(q) for q in bm25.encode_query(args.queries).rows()])
        model = _load(args, name, "sparse")
        index = InvertedIndex(model.encode_document(texts, batch_size=args.batch_size))
        return np.stack([index.scores(q) for q in model.encode_query(args.queries).rows()])

    if kind in ("bm25", "sparse"):
        return sparse_scores(args.model, kind)
    if kind == "multi-vector":
        model = _load(args, args.model, kind)
        scores, rows = maxsim_search(model.encode_query(args.queries), model.encode_document(
            texts, batch_size=args.batch_size), len(texts))
        out = np.zeros((len(args.queries), len(texts)), np.float32)
        np.put_along_axis(out, rows, scores, axis=1)
        return out
    cosines = dense()
    if other is None:
        return cosines
    lexical = sparse_scores(args.hybrid, other)
    out = np.zeros_like(cosines)
    for q in range(len(cosines)):
        runs = [{str(i): float(s) for i, s in enumerate(row)} for row in (cosines[q], lexical[q])]
        fused = _fuse(args, {"q": runs[0]}, {"q": runs[1]}, len(texts))["q"]
        for doc, score in fused.items():
            out[q, int(doc)] = score
    return out
