"""One query's latency when another process keeps a core busy, by thread count: the engine's
default (every core the process may use, within its cgroup CPU quota, fewer while other tasks keep
cores busy: engine/threads.py), the same count fixed (the default before), and threads=1, each
beside a run without the neighbour, in one run.

The neighbour is what a new user's machine has: another process spinning on the CPU (a Python
busy loop, not pinned; the scheduler places it). With two cores and two engine threads, every
parallel kernel waits at its barrier for the thread that shares a core with the neighbour.

Run:  python tools/busy_neighbour.py [--model DIR] [--repeats 40]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5.engine.threads import available_cores, cgroup_cpu_quota  # noqa: E402

QUERY = "query: how much protein should a female eat"


def spin(stop) -> None:  # the neighbour: a busy loop until told to stop
    while not stop.is_set():
        pass


def query_ms(model, repeats: int) -> float:  # median of `repeats` single-query calls, after one warm-up
    model.encode(QUERY)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.encode(QUERY)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--dtypes", default="float32,int8")
    args = parser.parse_args()
    default = available_cores()
    print(f"cores in the affinity mask {len(os.sched_getaffinity(0))}, cgroup CPU quota {cgroup_cpu_quota()}, "
          f"default threads {default}", file=sys.stderr)
    results = []
    for dtype in args.dtypes.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            models = {f"default ({default}, giving way to busy cores)": minie5.load(args.model, dtype=dtype),
                      f"threads={default} (fixed: the default before)": minie5.load(args.model, dtype=dtype,
                                                                                    threads=int(default)),
                      "threads=1": minie5.load(args.model, dtype=dtype, threads=1)}
        for neighbour in ("quiet", "busy neighbour"):
            stop = multiprocessing.Event()
            spinner = multiprocessing.Process(target=spin, args=(stop,)) if neighbour != "quiet" else None
            if spinner:
                spinner.start()
                time.sleep(0.5)
            try:
                for name, model in models.items():
                    row = {"dtype": dtype, "neighbour": neighbour, "threads": name,
                           "query_ms": round(query_ms(model, args.repeats), 2)}
                    results.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                if spinner:
                    stop.set()
                    spinner.join()


if __name__ == "__main__":
    main()
