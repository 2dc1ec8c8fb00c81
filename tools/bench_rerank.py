"""Benchmark minie5's cross-encoder against sentence-transformers' CrossEncoder (PyTorch) and ONNX
Runtime, side by side, on the same pairs.

The model is cross-encoder/ms-marco-MiniLM-L-6-v2's architecture (a 6-layer, 384-wide BERT with a
one-label head) with seeded random weights (tests/support/random_bert.py RERANKER_CONFIG; speed does
not depend on the weights' values), unless --model names a real one. The workload is a reranking
stage: QUERIES queries, each with DOCS passages of 5 to 300 words (tools/bench.py's corpus), one
call per query scoring its DOCS pairs, as a search --rerank or a /rerank request does. Every engine
runs in a process of its own with the same threads, and gets what a careful user would give it:

    minie5            CrossEncoder.predict(pairs): packed batches, no padding
    sentence-transformers  CrossEncoder.predict(pairs, batch_size=32), its default
    onnxruntime       the same weights exported to ONNX (logits output), pairs sorted by length into
                      batches of 32, padded to the longest of each batch
    onnxruntime-int8  that export after quantize_dynamic (tools/bench.py's recipe)

Reported: pairs/s and tokens/s over all queries (tokens counted without padding, the same for every
engine), the median time of one query's call, and each engine's largest logit difference from
minie5's float64 reference (on the first ACCURACY_QUERIES queries' pairs).

    pip install -e ".[bench]" sentence-transformers     # torch==2.13.0 first on this project's machines
    python tools/bench_rerank.py
    python tools/bench_rerank.py --engines minie5 onnxruntime --queries 10 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tools.bench import corpus_texts, export_onnx, openblas_kernel, quantize_onnx, query_texts, worker_env  # noqa: E402

ENGINES = ["minie5", "sentence-transformers", "onnxruntime", "onnxruntime-int8"]
PEER_BATCH = 32
MAX_LENGTH = 512
ACCURACY_QUERIES = 3  # queries whose pairs each engine's logits are checked on, against the float64 reference


def workload(queries: int, docs: int) -> list[tuple[str, list[str]]]:
    """Each query with its DOCS passages (drawn without the bench's "passage: " prefix)."""
    passages = [p.removeprefix("passage: ") for p in corpus_texts(queries * docs, seed=3)]
    return [(q.removeprefix("query: "), passages[i * docs:(i + 1) * docs])
            for i, q in enumerate(query_texts(queries, seed=4))]


# ---------------------------------------------------------------- engines (run inside a worker)

class Minie5Engine:
    def __init__(self, model_dir: Path, threads: int):
        import minie5

        self.model = minie5.load_reranker(model_dir, threads=threads)

    def logits(self, pairs):
        return self.model.predict(pairs, activation="none")


class SentenceTransformersEngine:
    def __init__(self, model_dir: Path, threads: int):
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(threads)
        self.model = CrossEncoder(str(model_dir), max_length=MAX_LENGTH, device="cpu",
                                  activation_fn=torch.nn.Identity())

    def logits(self, pairs):
        return self.model.predict(pairs, batch_size=PEER_BATCH, show_progress_bar=False)


class OnnxEngine:
    def __init__(self, model_dir: Path, threads: int, onnx_path: Path):
        import onnxruntime
        from transformers import AutoTokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    def logits(self, pairs):
        encoded = self.tokenizer([q for q, _ in pairs], [d for _, d in pairs], truncation=True,
                                 max_length=MAX_LENGTH)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        out = np.empty(len(pairs), dtype=np.float32)
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), PEER_BATCH):
            rows = order[start:start + PEER_BATCH]
            width = max(lengths[i] for i in rows)
            feeds = {name: np.zeros((len(rows), width), dtype=np.int64)
                     for name in ("input_ids", "attention_mask", "token_type_ids")}
            for r, i in enumerate(rows):
                n = lengths[i]
                feeds["input_ids"][r, :n] = encoded["input_ids"][i]
                feeds["attention_mask"][r, :n] = 1
                feeds["token_type_ids"][r, :n] = encoded["token_type_ids"][i]
            out[rows] = self.session.run(["logits"], feeds)[0][:, 0]
        return out


def worker(args) -> None:
    """Load one engine, rerank every query, print one JSON line."""
    started = time.perf_counter()
    if args.worker == "minie5":
        engine = Minie5Engine(args.model, args.threads)
    elif args.worker == "sentence-transformers":
        engine = SentenceTransformersEngine(args.model, args.threads)
    else:
        onnx = args.onnx if args.worker == "onnxruntime" else args.onnx.with_name(args.onnx.stem + "-int8.onnx")
        engine = OnnxEngine(args.model, args.threads, onnx)
    queries = workload(args.queries, args.docs)
    engine.logits([(queries[0][0], d) for d in queries[0][1][:4]])  # warm up: kernels compiled, caches filled
    load_s = time.perf_counter() - started
    times, logits = [], []
    for query, docs in queries:
        t0 = time.perf_counter()
        logits.append(np.asarray(engine.logits([(query, d) for d in docs]), dtype=np.float64).reshape(-1))
        times.append(time.perf_counter() - t0)
    np.save(args.logits_out, np.concatenate(logits))
    print(json.dumps({"engine": args.worker, "seconds": sum(times), "query_ms": 1000 * statistics.median(times),
                      "load_s": load_s}))


def pair_tokens(model: Path, queries) -> int:
    import minie5

    tokenizer = minie5.load_reranker(model, backend="numpy").tokenizer
    return sum(len(ids) for q, docs in queries for ids in tokenizer.tokenize_pairs([q] * len(docs), docs)[0])


def reference_logits(model: Path, queries) -> np.ndarray:
    """minie5's float64 reference on the first ACCURACY_QUERIES queries' pairs."""
    import minie5

    exact = minie5.load_reranker(model, backend="numpy", dtype="float64")
    return np.concatenate([exact.logits([(q, d) for d in docs], batch_size=8)[:, 0]
                           for q, docs in queries[:ACCURACY_QUERIES]])


def prepare_model(cache: Path) -> Path:
    from tests.support import random_bert
    from tests.support.golden import minilm_dir

    model_dir = cache / "ms-marco-MiniLM-L-6-v2-shape"
    if not (model_dir / "model.safetensors").exists():
        random_bert.write_model(model_dir, tokenizer_from=minilm_dir(), config=random_bert.RERANKER_CONFIG, seed=8)
    return model_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--model", type=Path, help="a cross-encoder folder (default: ms-marco-MiniLM-L-6-v2's "
                        "shape, random weights)")
    parser.add_argument("--queries", type=int, default=20, help="queries (default 20)")
    parser.add_argument("--docs", type=int, default=30, help="documents reranked per query (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every engine; medians reported (default 3)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "minie5-bench")
    parser.add_argument("--openblas", default="asis", help="asis, unset, or a core type such as Haswell")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--logits-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    model = args.model or prepare_model(args.cache)
    onnx_path = args.cache / f"{model.name}-classifier.onnx"
    if any(e.startswith("onnxruntime") for e in args.engines) and not onnx_path.exists():
        export_onnx(model, onnx_path, classifier=True)
    int8_path = onnx_path.with_name(onnx_path.stem + "-int8.onnx")
    if "onnxruntime-int8" in args.engines and not int8_path.exists():
        quantize_onnx(onnx_path, int8_path)
    env = worker_env(args.openblas)
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True,
                text=True).stdout.splitlines() if line.startswith("Model name")), "unknown CPU")
    queries = workload(args.queries, args.docs)
    pairs, tokens = args.queries * args.docs, pair_tokens(model, queries)
    print(f"{cpu}, {len(os.sched_getaffinity(0))} cores, threads={args.threads}, OPENBLAS_CORETYPE="
          f"{env.get('OPENBLAS_CORETYPE', '(unset)')} (OpenBLAS kernel: {openblas_kernel(env)}), {args.runs} runs, "
          f"{time.strftime('%Y-%m-%d')}; {args.queries} queries x {args.docs} documents = {pairs} pairs, "
          f"{tokens:,} tokens", flush=True)
    exact = reference_logits(model, queries)  # first: a slow step must not come after the timed runs
    runs: dict[str, list[dict]] = {}
    for run in range(args.runs):
        for engine in args.engines:  # interleaved, so drifts of the machine hit every engine alike
            cmd = [sys.executable, __file__, "--worker", engine, "--model", str(model), "--onnx", str(onnx_path),
                   "--threads", str(args.threads), "--queries", str(args.queries), "--docs", str(args.docs),
                   "--logits-out", str(args.cache / f"rerank-logits-{engine}.npy")]
            result = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if result.returncode:
                print(f"{engine} failed:\n{result.stderr[-3000:]}", file=sys.stderr)
                continue
            runs.setdefault(engine, []).append(json.loads(result.stdout.strip().splitlines()[-1]))
            print(f"  run {run + 1}: {engine} done", file=sys.stderr, flush=True)
    rows = []
    for engine, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        logits = np.load(args.cache / f"rerank-logits-{engine}.npy")[:len(exact)]
        rows.append({"engine": engine, "pairs_s": pairs / seconds, "tokens_s": tokens / seconds,
                     "query_ms": statistics.median(r["query_ms"] for r in results),
                     "max_logit_diff": float(np.abs(logits - exact).max())})
    base = next((r for r in rows if r["engine"] == "minie5"), rows[0])
    print("| engine | pairs/s | tokens/s | vs minie5 | one query's 30 pairs, ms (median) | max |logit - float64| |"
          .replace("30", str(args.docs)))
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['pairs_s']:,.1f} | {r['tokens_s']:,.0f} | {r['pairs_s'] / base['pairs_s']:.2f}x "
              f"| {r['query_ms']:.1f} | {r['max_logit_diff']:.1e} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
