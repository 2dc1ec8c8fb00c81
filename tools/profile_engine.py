"""Where the Numba engine's time goes: each matrix product and kernel timed over a workload.

    python tools/profile_engine.py [--workload corpus|long|queries] [--threads N] [--deterministic]
                                   [--dtype int8|bfloat16] [--model DIR]

Prints seconds per stage and, for the products and attention, the GFLOP/s they reached, so that
the bound on throughput can be read off: products are capped by the BLAS, the rest by the kernels.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tools.measure import attention_flops, linear_flops_per_token  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="corpus", choices=["corpus", "long", "queries"])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--deterministic", action="store_true", help="every product through kernels.linear")
    parser.add_argument("--dtype", default="float32", choices=["float32", "int8", "bfloat16"])
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import minie5
    from minie5.engine import kernels
    from tools import bench

    model = minie5.load(args.model or bench.prepare_model(Path.home() / ".cache" / "minie5-bench"),
                        threads=args.threads, deterministic=args.deterministic, dtype=args.dtype)
    texts = {"corpus": bench.corpus_texts, "long": bench.long_texts, "queries": bench.query_texts}[args.workload]()
    model.encode(texts[:8])  # compile or load the kernels, for batches and for single short texts
    model.encode(texts[0])

    seconds: dict[str, float] = defaultdict(float)
    engine = model.backend

    def timed(name, fn):
        def run(*a, **k):
            t = time.perf_counter()
            result = fn(*a, **k)
            seconds[name] += time.perf_counter() - t
            return result
        return run

    kernel_names = ("embeddings_layer_norm", "self_attention", "add_bias_residual_layer_norm", "add_bias_gelu",
                    "mean_pool", "quantize_rows")
    for name in kernel_names:
        setattr(kernels, name, timed(name, getattr(kernels, name)))
    engine._matmul = timed("matmul", engine._matmul)
    if engine._int8_product is not None:
        engine._int8_product = timed("int8 product", engine._int8_product)
    t = time.perf_counter()
    if args.workload == "queries":
        for text in texts:
            model.encode(text)
    else:
        model.encode(texts)
    total = time.perf_counter() - t

    ids = model.tokenizer.tokenize(texts)
    lengths = np.array([len(x) for x in ids], dtype=np.float64)
    c = model.config
    H, F, L = c.hidden_size, c.intermediate_size, c.num_hidden_layers
    linear_flops = lengths.sum() * linear_flops_per_token(H, F, L)
    attention = attention_flops(H, L, lengths)
    print(f"{args.workload}: {len(texts)} texts, {int(lengths.sum())} tokens, {total:.2f} s, "
          f"{lengths.sum() / total:,.0f} tokens/s, threads={engine.threads.threads}")
    print(f"  {'matmul':30s} {seconds['matmul']:7.3f} s  {linear_flops / seconds['matmul'] / 1e9:6.1f} GFLOP/s")
    rate = attention / seconds["self_attention"] / 1e9
    print(f"  {'self_attention':30s} {seconds['self_attention']:7.3f} s  {rate:6.1f} GFLOP/s")
    if engine._int8_product is not None:  # inside matmul: its parts
        print(f"    {'int8 product':28s} {seconds['int8 product']:7.3f} s  "
              f"{linear_flops / seconds['int8 product'] / 1e9:6.1f} GOP/s")
        for name in ("quantize_rows",):
            print(f"    {name:28s} {seconds[name]:7.3f} s")
    for name in ("add_bias_gelu", "add_bias_residual_layer_norm", "embeddings_layer_norm", "mean_pool"):
        print(f"  {name:30s} {seconds[name]:7.3f} s")
    inside = seconds["matmul"] + sum(seconds[name] for name in kernel_names if name != "quantize_rows")
    print(f"  {'rest (tokenizer, Python, ...)':30s} {total - inside:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
