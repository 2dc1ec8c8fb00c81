"""`minie5 rerank`: documents ordered by a cross-encoder's score for one query."""

from __future__ import annotations

import json

from .common import UsageError, add_deterministic_argument, add_input_arguments
from .text_io import read_records


def add_parsers(commands) -> None:
    rerank = commands.add_parser(
        "rerank", help="order documents by a cross-encoder's relevance to a query",
        description="Score each document together with QUERY by a cross-encoder (a reranker such as "
                    "cross-encoder/ms-marco-MiniLM-L-6-v2 or BAAI/bge-reranker-base) and print them best "
                    "first, with scores as sentence-transformers' CrossEncoder gives them.")
    rerank.add_argument("query", metavar="QUERY")
    rerank.add_argument("documents", nargs="*", metavar="DOC", help="documents (or --corpus FILE)")
    add_input_arguments(rerank, "--corpus", "-c", "the documents: a text file (one per line), .jsonl or .csv "
                        "(text in --field)")
    rerank.add_argument("--model", "-m", metavar="MODEL", required=True,
                        help="a cross-encoder: a Hugging Face name or a folder (config.json, model.safetensors, "
                             "tokenizer.json)")
    rerank.add_argument("--revision", metavar="REV", help="branch, tag or commit of a hub model (default: main)")
    rerank.add_argument("--top-k", "-k", type=int, metavar="K", help="documents to show (default: all)")
    rerank.add_argument("--raw", action="store_true", help="raw logits instead of the model's default activation")
    rerank.add_argument("--json", action="store_true", help="print JSON lines (rank, score, index, text)")
    rerank.add_argument("--batch-size", type=int, default=32, metavar="N", help="pairs per batch (default 32)")
    rerank.add_argument("--threads", type=int, metavar="N",
                        help="cores to use (default: $MINIE5_NUM_THREADS, else all)")
    rerank.add_argument("--backend", choices=("numba", "numpy"), default="numba", help="numba (default) or numpy")
    add_deterministic_argument(rerank)
    rerank.set_defaults(run=run_rerank)


def run_rerank(args) -> None:
    if args.corpus is not None and args.documents:
        raise UsageError("give documents as arguments or --corpus FILE, not both")
    if args.corpus is not None:
        documents, _, _ = read_records(args.corpus, args.field, "--corpus", args.input_format)
    else:
        documents = args.documents
    if not documents:
        raise UsageError("no documents: give them after QUERY or in --corpus FILE")
    for flag, value in (("--top-k", args.top_k), ("--batch-size", args.batch_size), ("--threads", args.threads)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be a positive integer, got {value}")
    from ..cross_encoder import load_reranker

    reranker = load_reranker(args.model, backend=args.backend, threads=args.threads, revision=args.revision,
                             deterministic=args.deterministic, dtype=args.dtype)
    ranked = reranker.rank(args.query, documents, top_k=args.top_k, batch_size=args.batch_size,
                           activation="none" if args.raw else "default")
    for rank, hit in enumerate(ranked, start=1):
        i, text = hit["corpus_id"], documents[hit["corpus_id"]]
        if args.json:
            print(json.dumps({"rank": rank, "score": round(hit["score"], 6), "index": i, "text": text},
                             ensure_ascii=False))
        else:
            shown = " ".join(text.split())
            shown = shown if len(shown) <= 100 else shown[:99] + "…"
            print(f"{rank:>3}  {hit['score']:.4f}  #{i:<6} {shown}")
