"""`minie5 evaluate`: retrieval quality on a BEIR-format dataset (minie5.evaluation)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from ..files import write_atomically
from . import hybrid
from .common import (
    UsageError,
    add_model_arguments,
    add_run_arguments,
    check_run_arguments,
    load_model,
    note,
    show_progress,
)


def add_parsers(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="retrieval quality on a BEIR-format dataset",
        description="Embed the queries (with the model's query prompt) and the corpus (with its document "
                    "prompt, title and text joined as BEIR joins them) of DATASET, a folder in BEIR's format "
                    "(corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv), search exactly, and print nDCG@10, "
                    "MRR@10, recall@1/10/100 and MAP@100 as BEIR reports them (trec_eval's definitions, "
                    "via pytrec_eval; MRR as BEIR computes it). The corpus is embedded and searched a chunk "
                    "at a time, so memory is bounded by --top-k, not by the corpus. "
                    "tools/make_retrieval_set.py builds one offline from the standard library's docstrings.")
    evaluate.add_argument("dataset", type=Path, metavar="DATASET")
    evaluate.add_argument("--split", default="test", help="the qrels file to score against (default test)")
    evaluate.add_argument("--top-k", "-k", type=int, default=100, metavar="K",
                          help="documents kept per query (default 100, as MAP@100 and recall@100 need)")
    evaluate.add_argument("--json", action="store_true", help="print the results as one JSON object")
    evaluate.add_argument("--out", "-o", type=Path, metavar="FILE",
                          help="also write the results (metrics, counts, model, definitions) to FILE as JSON")
    evaluate.add_argument("--run-out", type=Path, metavar="FILE",
                          help="write the run in TREC format (query Q0 doc rank score minie5), for trec_eval")
    add_model_arguments(evaluate)
    add_run_arguments(evaluate)
    hybrid.add_arguments(evaluate)  # sparse, multi-vector, BM25 and hybrid runs (cli/hybrid.py)
    evaluate.set_defaults(run=run_evaluate)


def run_evaluate(args) -> None:
    from ..evaluation import evaluate as evaluate_model
    from ..evaluation import load_beir
    from ..evaluation.metrics import METRICS, trec_order

    check_run_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be a positive integer, got {args.top_k}")
    for option, path in (("--out", args.out), ("--run-out", args.run_out)):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"{option} {path}: no such folder {str(path.parent)!r}")
    if not args.dataset.is_dir():
        raise UsageError(f"{args.dataset}: no such folder (a BEIR dataset: corpus.jsonl, queries.jsonl, qrels/)")
    dataset = load_beir(args.dataset, args.split)

    def dense():
        model = load_model(args)
        progress = None
        if show_progress(args):
            from tqdm.auto import tqdm

            bar = tqdm(total=len(dataset.corpus), unit=" passages", dynamic_ncols=True)
            progress = lambda done, _total: bar.update(done - bar.n)  # noqa: E731
        result = evaluate_model(model, dataset, top_k=args.top_k, batch_size=args.batch_size, long=args.long,
                                progress=progress)
        if progress is not None:
            bar.close()
        return result, model.name, model.backend.name

    result, name, backend = hybrid.evaluate(args, dataset, dense)
    setup = result.get("setup", {})  # what ran: dtype, threads, the files' fingerprint, minie5's version
    summary = {"dataset": str(args.dataset), "split": args.split, "model": name, "backend": backend,
               "dtype": setup.get("dtype"), "threads": setup.get("threads"), "setup": setup,
               "queries": result["queries"], "corpus": result["corpus"], "top_k": args.top_k,
               "metrics": result["metrics"], "seconds": round(result["seconds"], 2),
               "python": platform.python_version(),
               "definitions": "nDCG@k, recall@k, MAP@k: trec_eval's ndcg_cut, recall, map_cut (as BEIR calls them "
                              "through pytrec_eval; gains are relevance levels, ties by doc id, reversed); MRR@k: "
                              "BEIR's mrr, over every query with judgments"}
    if args.out is not None:
        write_atomically(args.out, lambda f: f.write(json.dumps(summary, indent=1).encode()))
        note(args, f"wrote the results to {args.out}")
    if args.run_out is not None:
        lines = [f"{q} Q0 {doc} {rank} {scores[doc]:.6f} minie5\n"
                 for q, scores in result["run"].items() for rank, doc in enumerate(trec_order(scores), start=1)]
        write_atomically(args.run_out, lambda f: f.write("".join(lines).encode()))
        note(args, f"wrote the run to {args.run_out}")
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{args.dataset} ({args.split}): {result['queries']} queries, {result['corpus']} passages, "
          f"{name} ({describe_setup(backend, setup)}), {result['seconds']:.1f} s")
    for name in METRICS:
        print(f"  {name:<11}{result['metrics'][name]:.4f}")


def describe_setup(backend: str, setup: dict) -> str:
    """The summary line's account of what ran: "numba, int8, 2 threads; files 1a2b3c4d5e6f; minie5 0.1.0"."""
    if not setup:
        return backend
    return (f"{setup['backend']}, {setup['dtype']}, {setup['threads']} threads; files {setup['files'][:12]}; "
            f"minie5 {setup['minie5']}")
