"""Is a text's vector the same bits whatever its batch? Embeds 120 corpus passages alone, then
shuffled in batches of 1, 7, 32 and 120, twice in one call, and on 1 thread instead of all, with and
without deterministic=True, and prints the largest difference from "alone" for each.

    python tools/determinism.py [--model DIR]   # default: e5-small-v2's shape, random weights

Without deterministic=True the answer depends on which product the engine measured faster here
(printed): kernels.linear gives 0.0 everywhere, OpenBLAS differences of about 1e-7.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def largest_differences(model, texts: list[str], rng) -> dict[str, float]:
    alone = np.stack([model.encode(text) for text in texts])
    worst = {}
    for batch_size in (1, 7, 32, 120):
        order = rng.permutation(len(texts))
        got = np.empty_like(alone)
        got[order] = model.encode([texts[i] for i in order], batch_size=batch_size)
        worst[f"shuffled, batch_size={batch_size}"] = float(np.abs(got - alone).max())
    twice = model.encode(texts[:20] + texts[:20])
    worst["duplicates in one call"] = float(np.abs(twice[:20] - twice[20:]).max())
    return alone, worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import minie5
    from tools import bench

    model_dir = args.model or bench.prepare_model(Path.home() / ".cache" / "minie5-bench")
    texts = bench.corpus_texts(120)
    rng = np.random.default_rng(0)
    for deterministic in (True, False):
        model = minie5.load(model_dir, deterministic=deterministic)
        alone, worst = largest_differences(model, texts, rng)
        one_thread = minie5.load(model_dir, deterministic=deterministic, threads=1).encode(texts)
        worst["1 thread"] = float(np.abs(one_thread - alone).max())
        print(f"deterministic={deterministic} (long batches' products: {model.backend.products()}): "
              + ", ".join(f"{name} {value:.1e}" if value else f"{name} 0.0" for name, value in worst.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
