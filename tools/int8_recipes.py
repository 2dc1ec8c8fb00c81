"""Which int8 recipe keeps an embedding closest to float32, measured on real trained weights.

Every product x @ W^T of the engine is replaced by the same product of x and W rounded as an int8
kernel would see them (fake quantisation: round to the int8 grid, multiply the rounded values back
in float64), for each recipe below; the rest of the forward pass is the float32 engine's. Each
text's vector is compared with its float32 vector by cosine.

    weights       "channel": one scale per output channel;  "blockB": one per run of B along K
    activations   "token": one scale per token (row);  "blockB": one per run of B along K;
                  "asym-token": uint8 with a zero point per token;  "fp32": not quantised
    either        "bf16": each value rounded to bfloat16 (8 bits of mantissa, to nearest even), as
                  AVX-512 BF16's vdpbf16ps would multiply them (its products are exact in float32)

Texts: the queries and passages of tools/make_retrieval_set.py (real English prose, offline) and
tools/bench.py's corpus, cut at the model's length (256 tokens for all-MiniLM-L6-v2).

Run:  python tools/int8_recipes.py [--model DIR] [--texts 600]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5.engine.numba_backend import NumbaBackend  # noqa: E402
from tools.bench import corpus_texts  # noqa: E402
from tools.make_retrieval_set import retrieval_set  # noqa: E402

RECIPES = [("channel", "token"), ("channel", "asym-token"), ("channel", "block32"), ("block32", "block32"),
           ("block64", "block64"), ("block128", "block128"), ("channel", "fp32"), ("block32", "fp32"),
           ("bf16", "bf16"), ("bf16", "fp32")]


def symmetric(a: np.ndarray, group: int | None) -> np.ndarray:  # [R, K] -> [R, K] on the int8 grid
    """Round each row (or each run of `group` along it) to 255 levels symmetric about 0."""
    R, K = a.shape
    runs = a.reshape(R, K // group, group) if group else a.reshape(R, 1, K)
    scale = np.abs(runs).max(axis=2, keepdims=True) / 127
    scale[scale == 0] = 1
    return (np.rint(runs / scale) * scale).reshape(R, K)


def asymmetric(a: np.ndarray) -> np.ndarray:  # [R, K] -> [R, K] on a uint8 grid per row
    lo, hi = np.minimum(a.min(axis=1, keepdims=True), 0), np.maximum(a.max(axis=1, keepdims=True), 0)
    scale = (hi - lo) / 255
    scale[scale == 0] = 1
    zero = np.rint(-lo / scale)
    return (np.clip(np.rint(a / scale) + zero, 0, 255) - zero) * scale


def bfloat16(a: np.ndarray) -> np.ndarray:  # [R, K] -> [R, K], each value rounded to bfloat16
    bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000  # to nearest, ties to even
    return rounded.astype(np.uint32).view(np.float32).astype(np.float64)


def rounder(kind: str):
    if kind == "fp32":
        return lambda a: a
    if kind == "bf16":
        return bfloat16
    if kind == "asym-token":
        return asymmetric
    group = None if kind in ("channel", "token") else int(kind.removeprefix("block"))
    return lambda a: symmetric(a, group)


def embed_with(model, texts: list[str], weights: str, activations: str) -> np.ndarray:
    backend = model.backend
    w_round, a_round = rounder(weights), rounder(activations)
    cache: dict[int, np.ndarray] = {}

    def fake_matmul(a, weight, out, rounded=None):  # the engine's _matmul, its weight packed
        if id(weight) not in cache:
            cache[id(weight)] = w_round(weight.dense.astype(np.float64))
        out[:] = a_round(a.astype(np.float64)) @ cache[id(weight)].T

    backend._matmul = fake_matmul
    try:
        return model.encode(texts, batch_size=32)
    finally:
        del backend._matmul


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--texts", type=int, default=600)
    args = parser.parse_args()
    pairs = retrieval_set()
    texts = [t for _, q, p in pairs for t in (q, p)][: args.texts - 100] + corpus_texts(100)
    model = minie5.load(args.model, deterministic=True)
    assert isinstance(model.backend, NumbaBackend)
    exact = model.encode(texts, batch_size=32)
    print(f"model {args.model}; {len(texts)} texts; cosine of each vector to float32's")
    print("| weights | activations | min cosine | mean cosine |")
    print("|---|---|---|---|")
    for weights, activations in RECIPES:
        v = embed_with(model, texts, weights, activations)
        cos = np.sum(v * exact, axis=1)
        print(f"| {weights} | {activations} | {cos.min():.5f} | {cos.mean():.6f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
