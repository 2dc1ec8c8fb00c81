"""Measurements the tools share: the model's FLOPs, a process's peak memory, and the GEMM rates
that bound the engine's throughput.

    python tools/measure.py gemm THREADS SHAPES_JSON   GFLOP/s of OpenBLAS and kernels.linear, as JSON

`gemm` runs in its own process so that the caller can set its environment (OPENBLAS_CORETYPE).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def linear_flops_per_token(hidden: int, intermediate: int, layers: int) -> int:
    """The four products of each layer (query/key/value, attention output, the feed-forward's two):
    2 FLOPs per multiply-add."""
    return 2 * (4 * hidden * hidden + 2 * hidden * intermediate) * layers


def attention_flops(hidden: int, layers: int, lengths: np.ndarray) -> float:
    """Scores and weighted values of every head, each text at its true length: 4 H T^2 per layer."""
    lengths = np.asarray(lengths, dtype=np.float64)
    return 4 * hidden * layers * float((lengths ** 2).sum())


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM from /proc: getrusage's ru_maxrss is
    carried across exec, so a worker started by a large driver would report the driver's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gemm_rates(threads: int, shapes: list[tuple[int, int, int]]) -> dict[str, float]:
    """GFLOP/s of OpenBLAS (called as the engine calls it) and of kernels.linear over `shapes`
    ([M, K] @ [N, K]^T), best of five each."""
    from concurrent.futures import ThreadPoolExecutor

    import numba
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(REPO))
    from minie5.engine import kernels
    from minie5.engine.numba_backend import openblas_matmul

    numba.set_num_threads(threads)
    pool = ThreadPoolExecutor(threads)
    # (the weight as the product reads it, the product): OpenBLAS takes [N, K], kernels.linear packed
    products = {"openblas": (lambda w: w, lambda x, w, out: openblas_matmul(x, w, out, pool, threads)),
                "kernels.linear": (lambda w: kernels.pack_weight(w).packed, kernels.linear)}
    rng = np.random.default_rng(0)
    rates = {}
    with threadpool_limits(1):
        for name, (prepare, product) in products.items():
            flops = seconds = 0.0
            for m, k, n in shapes:
                x = rng.standard_normal((m, k), dtype=np.float32)
                w = prepare(rng.standard_normal((n, k), dtype=np.float32))
                out = np.empty((m, -(-n // 16) * 16), np.float32)
                product(x, w, out)
                best = float("inf")
                for _ in range(5):
                    start = time.perf_counter()
                    product(x, w, out)
                    best = min(best, time.perf_counter() - start)
                flops += 2 * m * k * n
                seconds += best
            rates[name] = flops / seconds / 1e9
    return rates


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "gemm":
        sys.exit(__doc__)
    print(json.dumps(gemm_rates(int(sys.argv[2]), [tuple(s) for s in json.loads(sys.argv[3])])))
