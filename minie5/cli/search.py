"""`minie5 search`: the passages of a corpus closest to a query, with the corpus' vectors cached."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..corpus import CorpusCache
from .common import (
    UsageError,
    add_input_arguments,
    add_model_arguments,
    add_run_arguments,
    check_run_arguments,
    encode,
    load_model,
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
    add_model_arguments(search)
    add_run_arguments(search)
    search.set_defaults(run=run_search)


def corpus_vectors(model, texts: list[str], corpus: Path, args, kind: str | None) -> np.ndarray:
    """The corpus' unit vectors, from the cache beside it for every text it already holds."""
    prompt = model.prompts.resolve(kind)
    cache = CorpusCache(model, corpus, {"field": args.field, "prompt": prompt, "long": args.long,
                                        "overlap": args.overlap})
    vectors, embedded = cache.vectors(texts, lambda new: encode(model, new, args, kind, normalize=True),
                                      use_cache=args.cache)
    if args.cache and embedded == len(texts):
        print(f"cached the corpus vectors in {cache.path}", file=sys.stderr)
    elif args.cache and embedded:
        print(f"embedded {embedded} new or changed texts; the other {len(texts) - embedded} came from "
              f"{cache.path}", file=sys.stderr)
    return vectors


def run_search(args) -> None:
    check_run_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be a positive integer, got {args.top_k}")
    texts, records = read_records(args.corpus, args.field, "--corpus")
    if not texts:
        raise UsageError(f"--corpus {args.corpus}: holds no texts")
    model = load_model(args)
    # Documents and queries with the model's prompts for each (e5: "passage: " and "query: ").
    passages = corpus_vectors(model, texts, args.corpus, args, "passage")
    queries = model.encode_query(args.queries, normalize=True)
    scores = queries @ passages.T
    k = min(args.top_k, len(texts))
    for q, query in enumerate(args.queries):
        top = np.argsort(-scores[q], kind="stable")[:k]
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

