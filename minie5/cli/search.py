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
                             "table's #")
    search.add_argument("--no-cache", dest="cache", action="store_false",
                        help="neither read nor write the cached corpus vectors")
    search.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="keep the cached corpus vectors in DIR (default: beside the corpus, or, where its "
                             "folder cannot be written, $XDG_CACHE_HOME/minie5/corpora)")
    search.add_argument("--rerank", metavar="MODEL",
                        help="rerank each query's top hits with this cross-encoder (minie5 rerank's models); "
                             "scores are then the reranker's")
    search.add_argument("--rerank-top", type=int, default=50, metavar="K",
                        help="with --rerank: how many of the embedder's hits to rerank (default 50)")
    add_model_arguments(search)
    add_run_arguments(search)
    hybrid.add_arguments(search)
    search.set_defaults(run=run_search)


def corpus_vectors(model, texts: list[str], corpus: Path, args, origin: Origin) -> np.ndarray:
    """The corpus' unit vectors (with the model's prompt for documents), from its cache for every
    text the cache already holds. A corpus read from standard input has no file to key a cache by,
    and is embedded every time."""
    prompt = model.prompts.resolve("document", warn=False) or ""
    embed = lambda new: encode(model, new, args, origin, prompt=prompt, normalize=True)  # noqa: E731
    if not args.cache or str(corpus) == "-":
        return embed(texts)
    cache = CorpusCache(model, corpus, {"field": args.field, "prompt": prompt, "long": args.long,
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
    texts, records, origin = read_records(args.corpus, args.field, "--corpus")
    if not texts:
        raise UsageError(f"--corpus {args.corpus}: holds no texts")
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
        passages = corpus_vectors(model, texts, args.corpus, args, origin)
        query_prompt = model.prompts.resolve("query", warn=False) or ""
        queries = encode(model, args.queries, args, Origin("QUERY"), prompt=query_prompt, normalize=True)
        return queries @ passages.T

    scores = hybrid.search_scores(args, texts, dense)  # sparse, multi-vector, BM25, hybrid: cli/hybrid.py
    k = min(args.top_k, len(texts))
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
            print(f"{rank:>3}  {scores[q, i]:.4f}  #{i:<6} {shown}")  # its index in the corpus, from 0, as --json

