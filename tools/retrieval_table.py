"""Retrieval quality of minie5 and its peers on one BEIR-format dataset, side by side: the same
queries, passages, prompts, length limit, exact search and metrics (minie5.evaluation) for every
engine, so that only the embeddings differ.

Engines: minie5's numba engine (fp32); sentence-transformers on PyTorch (fp32); ONNX Runtime on an
ONNX export of the same weights (fp32), and its dynamic int8 quantisation (default recipe: one
weight scale per tensor; and per_channel=True). The default dataset is tools/make_retrieval_set.py's.

    pip install torch==2.13.0 && pip install -e ".[bench]" sentence-transformers
    python tools/retrieval_table.py [--dataset DIR] [--model MODEL] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import minie5  # noqa: E402
from minie5.evaluation import evaluate, evaluate_run, load_beir  # noqa: E402
from minie5.evaluation.metrics import METRICS  # noqa: E402
from minie5.evaluation.search import search  # noqa: E402
from tools import bench  # noqa: E402


def peer_metrics(embed, model, data) -> dict:
    """Metrics of an engine given as embed(texts) -> unit vectors, with minie5's prompts and search."""
    started = time.perf_counter()
    query_prompt = model.prompts.resolve("query", warn=False) or ""
    doc_prompt = model.prompts.resolve("document", warn=False) or ""
    query_ids, doc_ids = list(data.queries), list(data.corpus)
    queries = embed([query_prompt + data.queries[q] for q in query_ids])
    passages = embed([doc_prompt + data.passage(d) for d in doc_ids])
    scores, rows = search(queries, [passages], 100)
    run = {q: {doc_ids[r]: float(s) for s, r in zip(scores[i], rows[i])} for i, q in enumerate(query_ids)}
    return {**evaluate_run(data.qrels, run), "seconds": time.perf_counter() - started}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, help="a BEIR folder (default: build the standard-library set)")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "minie5-bench")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    args.cache.mkdir(parents=True, exist_ok=True)
    dataset = args.dataset or args.cache / f"stdlib-beir-{platform.python_version()}"
    if not dataset.is_dir():
        subprocess.run([sys.executable, str(REPO / "tools" / "make_retrieval_set.py"), str(dataset)], check=True)
    data = load_beir(dataset)
    model = minie5.load(args.model, threads=args.threads)
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True,
                text=True).stdout.splitlines() if line.startswith("Model name")), platform.processor())
    print(f"{dataset.name}: {len(data.queries)} queries, {len(data.corpus)} passages; {model.name}; {cpu}, "
          f"threads={args.threads}, {time.strftime('%Y-%m-%d')}", flush=True)

    rows = {}
    result = evaluate(model, data)
    rows["minie5 numba fp32"] = {**result["metrics"], "seconds": result["seconds"]}

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    st = SentenceTransformer(str(model.path), device="cpu")
    st.max_seq_length = model.max_length
    rows["sentence-transformers (torch) fp32"] = peer_metrics(
        lambda texts: st.encode(texts, batch_size=32, normalize_embeddings=True), model, data)

    onnx_path = args.cache / f"{model.path.name}-{model.config.num_hidden_layers}l.onnx"
    if not onnx_path.exists():
        bench.export_onnx(model.path, onnx_path)
    for label, path, per_channel in (("ONNX Runtime fp32", onnx_path, None),
                                     ("ONNX Runtime int8 (default)", onnx_path.with_suffix(".int8.onnx"), False),
                                     ("ONNX Runtime int8 (per_channel)", onnx_path.with_suffix(".int8pc.onnx"), True)):
        if per_channel is not None and not path.exists():
            bench.quantize_onnx(onnx_path, path, per_channel=per_channel)
        engine = bench.OnnxEngine(model.path, args.threads, path)
        engine.max_length = model.max_length
        rows[label] = peer_metrics(engine.embed, model, data)
        print(f"  {label} done", file=sys.stderr, flush=True)

    print("| engine | " + " | ".join(METRICS) + " | seconds |")
    print("|---" * (len(METRICS) + 2) + "|")
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{values[m]:.4f}" for m in METRICS) + f" | {values['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
