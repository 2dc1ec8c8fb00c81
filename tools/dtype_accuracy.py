"""Every fast mode's vectors against float32's on the real all-MiniLM-L6-v2 (the packaged weights),
texts cut at 256 tokens: min and mean cosine per dtype, as this CPU runs it, and the AMX tile
kernels on the tile emulator (MINIE5_AMX=emulate: the same schedule and arithmetic as the hardware,
far slower, so on fewer texts).

    python tools/dtype_accuracy.py [--texts 503] [--emulated-texts 150]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minie5  # noqa: E402
from tests.support.engine import varied_texts  # noqa: E402


def cosines(dtype: str, texts: list[str], exact: np.ndarray) -> tuple[str, np.ndarray, float]:
    model = minie5.load("all-MiniLM-L6-v2", dtype=dtype, max_length=256)
    start = time.perf_counter()
    vectors = model.encode(texts)
    return model.backend.products(), np.sum(vectors * exact, axis=1), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500, help="varied texts (plus three short ones)")
    parser.add_argument("--emulated-texts", type=int, default=150, help="of those, how many the emulator runs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # a CPU without BF16 warns that float32 runs: the table says so
    texts = varied_texts(args.texts, seed=7) + ["query: how much protein should a female eat", "x", ""]
    exact = minie5.load("all-MiniLM-L6-v2", max_length=256).encode(texts)
    print("| dtype | products run by | texts | min cosine to float32 | mean |")
    print("|---|---|---|---|---|")
    runs = [(dtype, texts) for dtype in ("int8", "bfloat16")]
    runs += [(dtype, texts[:args.emulated_texts]) for dtype in ("int8", "bfloat16")]
    for i, (dtype, some) in enumerate(runs):
        if i == 2:
            os.environ["MINIE5_AMX"] = "emulate"
        kernel, cos, _ = cosines(dtype, some, exact[:len(some)])
        print(f"| {dtype} | {kernel} | {len(some)} | {cos.min():.6f} | {cos.mean():.6f} |")


if __name__ == "__main__":
    main()
