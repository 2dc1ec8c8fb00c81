"""Which tile shape suits kernels.linear on this machine: the kernel's loop, compiled for each
shape (rows of x by groups of 16 columns), timed over e5-small-v2's four products of a layer beside
OpenBLAS and kernels.linear itself.

    python tools/linear_tiles.py [--shapes 6x4,6x1,3x2] [--rows 12,32,128,1024,4096] [--threads 2]

Numba compiles for the host; to see what an AVX2-only machine would get, run it with
NUMBA_CPU_NAME=haswell and NUMBA_CPU_FEATURES=+avx,+avx2,+fma,-avx512f (and the rest of Haswell's
features), which gives 16 vector registers instead of AVX-512's 32. The shapes are generated source
in the form of kernels.linear (one accumulator per row and group, as linear._tile_6x4 writes them
out by hand), so that any shape can be tried; kernels.TILE_GROUPS records what the measurements
chose. Each figure is the best of 7 rounds, the engines taking turns; up to 64 rows, each round
reads 12 layers' weights, so that they come from memory as a query's do.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PRODUCTS = ((1152, 384), (384, 384), (1536, 384), (384, 1536))  # (N, K): a layer's four


def tile_source(rows: int, groups: int) -> str:
    """A linear kernel (same arguments as kernels.linear) whose tile is `rows` x `groups` groups."""
    acc = [[f"a{r}_{g}" for g in range(groups)] for r in range(rows)]
    lines = ["def linear(x, packed, out):",
             "    M, K = x.shape",
             "    G = packed.shape[0]",
             f"    tiles, row_blocks = (G + {groups - 1}) // {groups}, (M + ROW_BLOCK - 1) // ROW_BLOCK",
             "    for task in prange(tiles * row_blocks):",
             f"        g0, r0 = (task // row_blocks) * {groups}, (task % row_blocks) * ROW_BLOCK",
             f"        for m in range(r0, min(M, r0 + ROW_BLOCK), {rows}):"]
    lines += [f"            x{r} = x[min(m + {r}, M - 1)]" for r in range(rows)]
    lines += [f"            w{g} = packed[min(g0 + {g}, G - 1)]" for g in range(groups)]
    lines += ["            for k0 in range(0, K, K_CHUNK):",
              f"                {' = '.join(sum(acc, []))} = zeros()",
              "                for k in range(k0, min(K, k0 + K_CHUNK)):"]
    lines += [f"                    p{g} = load_float(w{g}, k * 16)" for g in range(groups)]
    for r in range(rows):
        lines += [f"                    u = splat(x{r}[k])"]
        lines += [f"                    {acc[r][g]} = multiply_add({acc[r][g]}, u, p{g})" for g in range(groups)]
    for r in range(rows):
        for g in range(groups):
            lines += [f"                if m + {r} < M and g0 + {g} < G:",
                      f"                    o = out[m + {r}]",
                      f"                    c = (g0 + {g}) * 16",
                      f"                    s = add(load_float(o, c), {acc[r][g]}) if k0 > 0 else {acc[r][g]}",
                      "                    store_float(o, c, s)"]
    return "\n".join(lines)


def compile_tile(rows: int, groups: int):
    import importlib

    from numba import njit, prange

    from minie5.engine.kernels import simd

    linear = importlib.import_module("minie5.engine.kernels.linear")  # the module (the package exports the kernel)

    namespace = {"prange": prange, "ROW_BLOCK": linear.ROW_BLOCK, "K_CHUNK": linear.K_CHUNK,
                 **{name: getattr(simd, name) for name in ("add", "load_float", "multiply_add", "splat",
                                                          "store_float", "zeros")}}
    exec(compile(tile_source(rows, groups), f"<linear {rows}x{groups}>", "exec"), namespace)
    return njit(parallel=True)(namespace["linear"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="6x4,6x1,3x2")
    parser.add_argument("--rows", default="12,32,128,1024,4096")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import numba
    from threadpoolctl import threadpool_limits

    from minie5.engine import kernels
    from minie5.engine.numba_backend import openblas_matmul

    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    pool = ThreadPoolExecutor(args.threads)
    engines = {"openblas": None, "kernels.linear": kernels.linear}
    for shape in args.shapes.split(","):
        r, g = (int(v) for v in shape.split("x"))
        engines[shape] = compile_tile(r, g)
    print(f"threads={args.threads}, kernels.TILE_GROUPS={kernels.TILE_GROUPS}; "
          "GFLOP/s over a layer's four products (best of 7):")
    print("| rows | " + " | ".join(engines) + " |")
    print("|---" * (1 + len(engines)) + "|")
    with threadpool_limits(1):  # OpenBLAS's own threads would spin against Numba's between calls
        for m in (int(v) for v in args.rows.split(",")):
            layers = []
            for _ in range(12 if m <= 64 else 1):
                layer = []
                for n, k in PRODUCTS:
                    w = rng.standard_normal((n, k), dtype=np.float32)
                    layer.append((rng.standard_normal((m, k), dtype=np.float32), w, kernels.pack_weight(w).packed,
                                  np.empty((m, n), np.float32)))
                layers.append(layer)

            def run(fn, layers=layers):
                for layer in layers:
                    for x, w, packed, out in layer:
                        if fn is None:
                            openblas_matmul(x, w, out, pool, args.threads)
                        else:
                            fn(x, packed, out)

            for name, fn in engines.items():  # compile, and check each against float64
                run(fn)
                x, w, _, out = layers[0][0]
                expected = x.astype(np.float64) @ w.T.astype(np.float64)
                assert np.abs(out - expected).max() < 1e-4 * np.abs(expected).max(), f"{name}: wrong product"
            best = dict.fromkeys(engines, np.inf)
            for _ in range(7):
                for name, fn in engines.items():
                    t = time.perf_counter()
                    run(fn)
                    best[name] = min(best[name], (time.perf_counter() - t) / len(layers))
            flops = sum(2 * m * n * k for n, k in PRODUCTS)
            print(f"| {m:,} | " + " | ".join(f"{flops / best[name] / 1e9:.0f}" for name in engines) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
