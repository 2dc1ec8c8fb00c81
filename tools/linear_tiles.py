"""Which tile shape suits kernels.linear on this machine: the kernel's loop, compiled for each
shape (rows of x by rows of the weight), timed on e5-small-v2's four products beside OpenBLAS.

    python tools/linear_tiles.py [--shapes 4x4,2x4,3x4,2x8] [--rows 64,4096] [--threads 2]

Numba compiles for the host; to see what an AVX2-only machine would get, run it with
NUMBA_CPU_NAME=haswell and NUMBA_CPU_FEATURES=+avx,+avx2,+fma,-avx512f (and the rest of Haswell's
features), which gives 16 vector registers instead of AVX-512's 32. The shapes are generated source
(one accumulator per pair, as kernels._dot_4x4 writes them out by hand), so that any shape can be
tried; kernels.LINEAR_TILE_ROWS records what the measurements chose.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def tile_source(rows: int, cols: int, row_block: int) -> str:
    """A linear kernel whose tile is `rows` x `cols`, in the form of kernels.linear, with blocks of
    `row_block` rows by as many columns up to 64 as are a multiple of `cols`."""
    col_block = 64 // cols * cols
    acc = [[f"a{r}_{c}" for c in range(cols)] for r in range(rows)]
    xs, outs = ", ".join(f"x{r}" for r in range(rows)), ", ".join(f"o{r}" for r in range(rows))
    lines = [f"def tile({xs}, weight, n, {outs}):"]
    lines += [f"    w{c} = weight[n + {c}]" for c in range(cols)]
    lines += [f"    {' = '.join(sum(acc, []))} = np.float32(0.0)", "    for k in range(x0.shape[0]):"]
    lines += ["        " + ", ".join(f"p{c}" for c in range(cols)) + " = " + ", ".join(f"w{c}[k]" for c in range(cols))]
    for r in range(rows):
        lines += [f"        u = x{r}[k]"] + [f"        {acc[r][c]} += u * p{c}" for c in range(cols)]
    lines += [f"    o{r}[n + {c}] = {acc[r][c]}" for r in range(rows) for c in range(cols)]
    lines += [
        "def linear(x, weight, out):",
        f"    row_block, col_block = {row_block}, {col_block}",
        "    M, N = x.shape[0], weight.shape[0]",
        "    row_blocks, col_blocks = (M + row_block - 1) // row_block, (N + col_block - 1) // col_block",
        "    for task in prange(row_blocks * col_blocks):",
        "        r0, c0 = (task // col_blocks) * row_block, (task % col_blocks) * col_block",
        "        end_row, end_col = min(M, r0 + row_block), min(N, c0 + col_block)",
        f"        spare = np.empty(({rows}, N), dtype=np.float32)",
        "        n = c0",
        f"        while n + {cols} <= end_col:",
        f"            for m in range(r0, end_row, {rows}):",
    ]
    for r in range(rows):
        lines += [f"                y{r} = x[min(m + {r}, M - 1)]",
                  f"                q{r} = out[m + {r}] if m + {r} < M else spare[{r}]"]
    ys, qs = ", ".join(f"y{r}" for r in range(rows)), ", ".join(f"q{r}" for r in range(rows))
    lines += [f"                tile({ys}, weight, n, {qs})", f"            n += {cols}"]
    return "\n".join(lines)


def compile_tile(rows: int, cols: int, row_block: int):
    from numba import njit, prange

    from minie5.engine.kernels import FASTMATH

    namespace = {"np": np, "prange": prange}
    exec(compile(tile_source(rows, cols, row_block), f"<linear {rows}x{cols}>", "exec"), namespace)
    namespace["tile"] = njit(inline="always", fastmath=FASTMATH)(namespace["tile"])
    return njit(parallel=True, fastmath=FASTMATH)(namespace["linear"])


def gflops(fn, m: int, k: int, n: int, rng) -> float:
    x, w = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((n, k), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    fn(x, w, out)
    expected = x.astype(np.float64) @ w.T.astype(np.float64)
    assert np.abs(out - expected).max() < 1e-3 * np.abs(expected).max(), "wrong product"
    repeats = max(3, int(1e9 / (2 * m * k * n)))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x, w, out)
        times.append(time.perf_counter() - t)
    return 2 * m * k * n / np.median(times) / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="4x4,2x4,3x4,2x8")
    parser.add_argument("--rows", default="10,64,4096")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--row-block", type=int, default=16)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import numba
    from threadpoolctl import threadpool_limits

    from minie5.engine import kernels
    from minie5.engine.numba_backend import openblas_matmul

    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    pool = ThreadPoolExecutor(args.threads)
    engines = {"openblas": lambda x, w, out: openblas_matmul(x, w, out, pool, args.threads),
               "kernels.linear": kernels.linear}
    for shape in args.shapes.split(","):
        r, c = (int(v) for v in shape.split("x"))
        engines[shape] = compile_tile(r, c, args.row_block)
    print(f"threads={args.threads}, LINEAR_TILE_ROWS={kernels.LINEAR_TILE_ROWS}; GFLOP/s (median):")
    print("| rows | K | N | " + " | ".join(engines) + " |")
    print("|---" * (3 + len(engines)) + "|")
    with threadpool_limits(1):  # OpenBLAS's own threads would spin against Numba's between calls
        for m in (int(v) for v in args.rows.split(",")):
            for k, n in ((384, 1152), (384, 384), (384, 1536), (1536, 384)):
                rates = [gflops(fn, m, k, n, rng) for fn in engines.values()]
                print(f"| {m} | {k} | {n} | " + " | ".join(f"{v:.0f}" for v in rates) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
