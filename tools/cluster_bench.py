"""embed-corpus on Ray against Model.encode in one process, on the same rows, in one run.

    python tools/cluster_bench.py [--rows 1000] [--model sentence-transformers/all-MiniLM-L6-v2]

Configurations: Model.encode in this process with every core; Ray with 1 worker x all cores; Ray
with one worker per core x 1 thread. Rows are the benchmark corpus (5 to 300 words, tools/bench.py)
in one Parquet file, 250 rows per part. Reports rows/s of the job (workers starting and loading
the model included, Ray's own start excluded), the ratio to Model.encode, and each worker's peak
memory. On one machine a cluster can only match one process: the ratio shows Ray's overhead; the
gain comes from adding machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    import minie5
    from minie5.distributed import embed_corpus
    from tools import bench
    from tools.measure import peak_rss_mb

    cores = len(os.sched_getaffinity(0))
    texts = [t.removeprefix("passage: ") for t in bench.corpus_texts(args.rows)]
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "corpus.parquet"
        pq.write_table(pa.table({"id": list(range(len(texts))), "text": texts}), source)
        model = minie5.load(args.model)
        model.encode(texts[:8])
        start = time.perf_counter()
        model.encode_passages(texts)
        direct = len(texts) / (time.perf_counter() - start)
        rss = peak_rss_mb()
        del model
        rows = [("Model.encode, 1 process", cores, direct, 1.0, rss)]
        ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        for workers, threads in ((1, cores), (cores, 1)):
            summary = embed_corpus(str(source), Path(tmp) / f"out-{workers}", model=args.model, prefix="passage",
                                   workers=workers, threads_per_worker=threads, rows_per_part=250)
            rate = summary["rows_per_second"]
            rows.append((f"embed-corpus, {workers} worker(s) x {threads} thread(s)", workers * threads, rate,
                         rate / direct, summary["worker_peak_rss_mb"]))
        ray.shutdown()
    print(f"{args.rows} rows of the benchmark corpus, {args.model}, {cores} cores\n")
    print("| configuration | cores | rows/s | vs Model.encode | peak RSS per process MB |")
    print("|---|---|---|---|---|")
    for name, used, rate, ratio, mb in rows:
        print(f"| {name} | {used} | {rate:.1f} | {ratio:.2f}x | {mb:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
