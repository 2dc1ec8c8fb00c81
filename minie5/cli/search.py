"""`minie5 search`: the passages of a corpus closest to a query, with the corpus' vectors cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..corpus import CorpusCache
from . import hybrid
from .common import (
    Origin,
    UsageError,
    add_input_arguments,
    add_model_arguments,
    add_run_arguments,
    check_run_arguments,
    encode,
    load_model,
    note,
)
from .text_io import read_records


def add_parsers(commands) -> None:
    search = commands.add_parser(
        "search", help="find the passages of a corpus closest to a query",
        description="Embed the corpus (once: its vectors are cached beside it, in "
                    "CORPUS.minie5-<model>.npz, and reused while the corpus and the model are "
                    "unchanged), embed each QUERY, and print the top-k passages by cosine "
                    "similarity. The model's prompts for documents and queries are added (e5: 'passage: ' and "
                    "'query: ').")
    search.add_argument("queries", nargs="+", metavar="QUERY")
    add_input_arguments(search, "--corpus", "-c", "the passages: a text file (one per line), .jsonl "
                        "or .csv (text in --field)", required=True)
    search.add_argument("--top-k", "-k", type=int, default=5, metavar="K", help="passages to show (default 5)")
    search.add_argument("--json", action="store_true",
                        help="print JSON lines (query, rank, score, index, text, and the corpus record for "
                             ".jsonl/.csv) instead of a table; index counts the corpus' texts from 0, as the "
                             "table's # (the table shows a record's id or title where it has one)")
    search.add_argument("--no-cache", dest="cache", action="store_false",
                        help="neither read nor write the cached corpus vectors")
    search.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="keep the cached corpus vectors in DIR (default: beside the corpus, or, where its "
                             "folder cannot be written, $XDG_CACHE_HOME/minie5/corpora)")
    search.add_argument("--vectors", type=Path, metavar="FILE",
                        help="the corpus' vectors, as `minie5 embed --passage` wrote them: a .npy [n, dim] array "
                             "or a .jsonl of records with an 'embedding' field (or of JSON arrays), one per text "
                             "of --corpus in order; checked against the model on the first texts, then used "
                             "instead of embedding the corpus")
    search.add_argument("--rerank", metavar="MODEL",
                        help="rerank each query's top hits with this cross-encoder (minie5 rerank's models); "
                             "scores are then the reranker's")
    search.add_argument("--rerank-top", type=int, default=50, metavar="K",
                        help="with --rerank: how many of the embedder's hits to rerank (default 50)")
    add_model_arguments(search)
    add_run_arguments(search)
    hybrid.add_arguments(search)
    search.set_defaults(run=run_search)


# Texts of --vectors that search embeds itself, to check that the file was made by this model with
# its document prompt (a different model, or vectors without e5's "passage: ", would rank wrongly).
CHECKED_TEXTS = 3
SAME_VECTORS = 0.99  # cosine; int8 and bfloat16 stay above 0.998 of float32's, another model or prompt far below


def stored_vectors(model, texts: list[str], path: Path, args, origin: Origin) -> np.ndarray:
    """The corpus' vectors from --vectors, checked: one per text, the model's width, finite, and
    the first texts' equal to what this model gives them with its document prompt."""
    try:
        if path.suffix == ".npy":
            vectors = np.load(path, allow_pickle=False)
        elif path.suffix == ".jsonl":
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            vectors = np.array([row.get("embedding") if isinstance(row, dict) else row for row in rows])
        else:
            raise UsageError(f"--vectors {path}: unknown format {path.suffix or '(no extension)'!r}; use the .npy "
                             "or .jsonl that `minie5 embed -o` writes")
    except (OSError, ValueError) as e:
        raise UsageError(f"--vectors {path}: cannot read its vectors ({e})") from None
    if vectors.dtype.kind != "f" or vectors.ndim != 2:
        raise UsageError(f"--vectors {path}: holds {vectors.dtype} {list(vectors.shape)}, not float vectors "
                         "(embed with --precision float32 or float16; quantised vectors cannot be searched here)")
    if len(vectors) != len(texts) or vectors.shape[1] != model.dim:
        raise UsageError(f"--vectors {path}: {len(vectors)} vectors of {vectors.shape[1]} dimensions, but --corpus "
                         f"has {len(texts)} texts and {model.name} gives {model.dim} dimensions")
    norms = np.linalg.norm(vectors.astype(np.float32), axis=1, keepdims=True)
    if not np.isfinite(norms).all() or (norms == 0).any():
        raise UsageError(f"--vectors {path}: holds vectors that are not finite, or zero")
    vectors = vectors.astype(np.float32) / norms
    first = min(CHECKED_TEXTS, len(texts))
    prompt = model.prompts.resolve("document", warn=False) or ""
    fresh = encode(model, texts[:first], args, origin, prompt=prompt, normalize=True)
    cosines = np.sum(fresh * vectors[:first], axis=1)
    if cosines.min() < SAME_VECTORS:
        i = int(cosines.argmin())
        raise UsageError(f"--vectors {path}: row {i} is not the vector {model.name} gives {origin.of(i)} with its "
                         f"document prompt{f' {prompt!r}' if prompt else ''} (cosine {cosines[i]:.4f}): embed the "
                         "corpus with this model and --passage, or search without --vectors")
    return vectors


def hit_label(records: list | None, i: int) -> str:
    """How the result table names a hit: the record's id (or title) where it has one, else its
    index in the corpus, from 0, as --json's index."""
    record = records[i] if records is not None else None
    if isinstance(record, dict):
        for field in ("id", "_id", "doc_id", "title"):
            if isinstance(record.get(field), (str, int)) and str(record[field]).strip():
                return " ".join(str(record[field]).split())[:24]
    return f"#{i}"


def corpus_vectors(model, texts: list[str], corpus: Path, args, origin: Origin) -> np.ndarray:
    """The corpus' unit vectors (with the model's prompt for documents), from its cache for every
    text the cache already holds. A corpus read from standard input has no file to key a cache by,
    and is embedded every time."""
    prompt = model.prompts.resolve("document", warn=False) or ""
    embed = lambda new: encode(model, new, args, origin, prompt=prompt, normalize=True)  # noqa: E731
    if not args.cache or str(corpus) == "-":
        return embed(texts)
    cache = CorpusCache(model, corpus, {"field": args.field or "text", "prompt": prompt, "long": args.long,
                                        "overlap": args.overlap}, folder=args.cache_dir)
    vectors, embedded, saved = cache.vectors(texts, embed)
    if saved and embedded == len(texts):
        note(args, f"cached the corpus vectors in {cache.path}")
    elif saved and embedded:
        note(args, f"embedded {embedded} new or changed texts; the other {len(texts) - embedded} came from "
                   f"{cache.path}")
    return vectors


def run_search(args) -> None:
    check_run_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be a positive integer, got {args.top_k}")
    texts, records, origin = read_records(args.corpus, args.field, "--corpus", args.input_format)
    if not texts:
        raise UsageError(f"--corpus {args.corpus}: holds no texts")
    if args.vectors is not None and not args.vectors.is_file():
        raise UsageError(f"--vectors {args.vectors}: no such file")
    if args.cache_dir is not None and not args.cache_dir.is_dir():
        raise UsageError(f"--cache-dir {args.cache_dir}: no such folder")
    if args.rerank_top < 1:
        raise UsageError(f"--rerank-top must be a positive integer, got {args.rerank_top}")
    reranker = None
    if args.rerank is not None:  # loaded first: a wrong reranker fails before the corpus is embedded
        from ..cross_encoder import load_reranker

        reranker = load_reranker(args.rerank, backend=args.backend, threads=args.threads,
                                 deterministic=getattr(args, "deterministic", False),
                                 dtype=getattr(args, "dtype", "float32"))
    def dense():
        model = load_model(args)
        # Documents and queries with the model's prompts for each (e5: "passage: " and "query: ").
        passages = (stored_vectors(model, texts, args.vectors, args, origin) if args.vectors is not None
                    else corpus_vectors(model, texts, args.corpus, args, origin))
        query_prompt = model.prompts.resolve("query", warn=False) or ""
        queries = encode(model, args.queries, args, Origin("QUERY"), prompt=query_prompt, normalize=True)
        return queries @ passages.T

    scores = hybrid.search_scores(args, texts, dense)  # sparse, multi-vector, BM25, hybrid: cli/hybrid.py
    k = min(args.top_k, len(texts))
    labels = [hit_label(records, i) for i in range(len(texts))]
    width = max(6, max(map(len, labels)))
    for q, query in enumerate(args.queries):
        top = np.argsort(-scores[q], kind="stable")[:k]
        if reranker is not None:  # the embedder's best rerank_top hits, reordered by the cross-encoder
            hits = np.argsort(-scores[q], kind="stable")[:max(k, args.rerank_top)]
            ranked = reranker.rank(query, [texts[i] for i in hits], top_k=k, batch_size=args.batch_size)
            top = np.array([hits[r["corpus_id"]] for r in ranked])
            scores[q, top] = [r["score"] for r in ranked]
        if args.json:
            for rank, i in enumerate(top, start=1):
                hit = {"query": query, "rank": rank, "score": round(float(scores[q, i]), 6), "index": int(i),
                       "text": texts[i]}
                if records is not None:
                    hit["record"] = records[i]  # every field of the .jsonl or .csv record (its id, ...)
                print(json.dumps(hit, ensure_ascii=False))
            continue
        if len(args.queries) > 1:
            print(f"{'' if q == 0 else chr(10)}query: {query}")
        for rank, i in enumerate(top, start=1):
            shown = " ".join(texts[i].split())
            shown = shown if len(shown) <= 100 else shown[:99] + "…"
            print(f"{rank:>3}  {scores[q, i]:.4f}  {labels[i]:<{width}} {shown}")

