"""Retrieval quality of dense, BM25, sparse, multi-vector and hybrid retrieval on one BEIR-format
dataset (default: tools/make_retrieval_set.py's standard-library set), every row scored by
minie5.evaluation's metrics on the same queries and passages.

Rows:
    BM25 (minie5)            minie5.sparse.bm25 on the inverted index
    BM25 (bm25s)             the bm25s package, method "lucene", its English stopwords (a peer)
    dense <model>            minie5.evaluate with a real embedding model (default all-MiniLM-L6-v2)
    hybrid RRF / weighted    dense and BM25 runs fused (minie5.sparse.hybrid)
With --random: SPLADE and ColBERT with seeded random weights (tests/support/random_sparse.py), and
dense + random SPLADE fused. No trained SPLADE or ColBERT weights can be installed here, so those
rows measure nothing about quality: they show that the whole path runs end to end, and its time.

    python tools/hybrid_table.py [--dataset DIR] [--model all-MiniLM-L6-v2] [--random] [--limit N]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import minie5  # noqa: E402
from minie5.evaluation import METRICS, evaluate, evaluate_run, load_beir  # noqa: E402
from minie5.multi_vector.search import evaluate_multi_vector  # noqa: E402
from minie5.sparse.hybrid import reciprocal_rank_fusion, weighted_sum  # noqa: E402
from minie5.sparse.retrieval import evaluate_bm25, evaluate_sparse  # noqa: E402


def bm25s_row(data) -> dict:
    import bm25s

    started = time.perf_counter()
    doc_ids, query_ids = list(data.corpus), list(data.queries)
    retriever = bm25s.BM25(method="lucene")
    retriever.index(bm25s.tokenize([data.passage(d) for d in doc_ids], show_progress=False), show_progress=False)
    rows, scores = retriever.retrieve(bm25s.tokenize([data.queries[q] for q in query_ids], show_progress=False),
                                      k=min(100, len(doc_ids)), show_progress=False)
    run = {q: {doc_ids[r]: float(s) for r, s in zip(rows[i], scores[i]) if s > 0} for i, q in enumerate(query_ids)}
    return {"metrics": evaluate_run(data.qrels, run), "seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, help="a BEIR folder (default: build the standard-library set)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--random", action="store_true", help="add the random-weight SPLADE and ColBERT rows")
    parser.add_argument("--limit", type=int, help="build the default set with at most N queries")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp(prefix="minie5-hybrid-"))
    dataset = args.dataset
    if dataset is None:
        dataset = work / "stdlib"
        limit = ["--limit", str(args.limit)] if args.limit else []
        subprocess.run([sys.executable, str(REPO / "tools" / "make_retrieval_set.py"), str(dataset), *limit],
                       check=True, capture_output=True)
    data = load_beir(dataset)
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True,
                text=True).stdout.splitlines() if line.startswith("Model name")), platform.processor())
    print(f"{dataset.name}: {len(data.queries)} queries, {len(data.corpus)} passages; {cpu}; "
          f"{time.strftime('%Y-%m-%d')}", flush=True)
    rows, runs = {}, {}
    result = evaluate_bm25(data)
    rows["BM25 (minie5, NumPy inverted index)"], runs["bm25"] = result, result["run"]
    rows["BM25 (bm25s, lucene)"] = bm25s_row(data)
    model = minie5.load(args.model)
    result = evaluate(model, data)
    rows[f"dense {args.model} (minie5)"], runs["dense"] = result, result["run"]
    for label, fuse in (("hybrid dense + BM25, reciprocal rank fusion", lambda: reciprocal_rank_fusion(
            [runs["dense"], runs["bm25"]])), ("hybrid dense + BM25, weighted sum 0.5", lambda: weighted_sum(
            runs["dense"], runs["bm25"], 0.5))):
        started = time.perf_counter()
        fused = fuse()
        rows[label] = {"metrics": evaluate_run(data.qrels, fused), "seconds": time.perf_counter() - started}
    if args.random:
        from tests.support import golden, random_sparse

        minilm = golden.minilm_dir()
        splade = minie5.load_sparse(random_sparse.build("splade-random", work / "splade", minilm))
        result = evaluate_sparse(splade, data)
        rows["SPLADE, random weights (meaningless for quality)"], runs["splade"] = result, result["run"]
        colbert = minie5.load_multi_vector(random_sparse.build("colbert-random", work / "colbert", minilm))
        rows["ColBERT, random weights (meaningless for quality)"] = evaluate_multi_vector(colbert, data)
        fused = reciprocal_rank_fusion([runs["dense"], runs["splade"]])
        rows["hybrid dense + random SPLADE, RRF (meaningless)"] = {"metrics": evaluate_run(data.qrels, fused),
                                                                   "seconds": 0.0}
    print("| retriever | " + " | ".join(METRICS) + " | seconds |")
    print("|---" * (len(METRICS) + 2) + "|")
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{values['metrics'][m]:.4f}" for m in METRICS) +
              f" | {values['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
