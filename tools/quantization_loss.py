"""How much ranking quality each output precision costs, on a retrieval set built here.

The retrieval set: the documented functions and classes of about a hundred standard-library
modules of the running Python. Each docstring's first paragraph (its summary) is a query; the rest
of the docstring is the passage it should find among all the others. It is real English prose,
hundreds of pairs, and anyone can rebuild it offline (the exact set depends on the Python version,
printed with the results).

Every precision of minie5.quantize is scored against the same float32 embeddings:
    float32 / float16   cosine (dot product of unit vectors)
    int8 / uint8        integer dot product, ranges calibrated on the corpus, queries quantised too
    binary / ubinary    Hamming distance between sign bits
    binary + rescore    the 40 nearest by Hamming, re-ranked by float32 query . float32 passage
Reported: recall@1, recall@10, MRR@10, and how often the top hit agrees with float32's.

With --engines, a second table: how exact each way of computing the vectors themselves is, against
minie5's float64 reference on the same queries and passages (cosine of every vector, min and mean)
and in the same retrieval metrics:
    minie5 float32, minie5 int8 (dtype="int8"), minie5 bfloat16 (dtype="bfloat16"),
    ONNX Runtime int8 (quantize_dynamic's default: one scale per weight tensor; and per_channel=True)
    on an ONNX export of the same weights (needs torch, transformers, onnx, onnxruntime).

Run:  python tools/quantization_loss.py [--model MODEL] [--prefixes] [--engines]
(--prefixes adds "query: " / "passage: ", for e5 models.)
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5.encode.quantize import calibration_ranges, hamming_distance, quantize  # noqa: E402
from tools.make_retrieval_set import retrieval_set  # noqa: E402

RESCORE = 40


def ranks(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Rank (0 = first) of the right passage (query i -> passage i) under each query's scores."""
    s = scores if higher_is_better else -scores
    right = s[np.arange(len(s)), np.arange(len(s))][:, None]
    return (s > right).sum(axis=1)  # ties count in the right passage's favour


def metrics(rank: np.ndarray, top: np.ndarray, top_float32: np.ndarray) -> dict[str, float]:
    return {"recall@1": float(np.mean(rank < 1)), "recall@10": float(np.mean(rank < 10)),
            "MRR@10": float(np.mean(np.where(rank < 10, 1.0 / (rank + 1), 0.0))),
            "same_top": float(np.mean(top == top_float32))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--prefixes", action="store_true", help='add "query: " / "passage: " (e5 models)')
    parser.add_argument("--engines", action="store_true",
                        help="also compare minie5 float32 / int8 / bfloat16 and ONNX Runtime int8 against float64")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "minie5-bench",
                        help="where the ONNX exports are kept (with --engines)")
    args = parser.parse_args()

    pairs = retrieval_set()
    model = minie5.load(args.model)
    queries, passages = [q for _, q, _ in pairs], [p for _, _, p in pairs]
    start = time.perf_counter()
    if args.prefixes:
        q32, p32 = model.encode_queries(queries), model.encode_passages(passages)
    else:
        q32, p32 = model.encode(queries), model.encode(passages)
    seconds = time.perf_counter() - start
    print(f"model {args.model}; {len(pairs)} query/passage pairs from the docstrings of Python "
          f"{platform.python_version()}'s standard library; embedded in {seconds:.1f} s")

    exact = q32 @ p32.T
    top_float32 = exact.argmax(axis=1)
    results = {"float32": (exact, True), "float16": (
        quantize(q32, "float16").astype(np.float32) @ quantize(p32, "float16").astype(np.float32).T, True)}
    ranges = calibration_ranges(p32)
    for precision in ("int8", "uint8"):
        qc = quantize(q32, precision, ranges).astype(np.int32)
        pc = quantize(p32, precision, ranges).astype(np.int32)
        results[precision] = (qc @ pc.T, True)
    for precision in ("binary", "ubinary"):
        results[precision] = (hamming_distance(quantize(q32, precision), quantize(p32, precision)), False)
    hamming = results["binary"][0]
    rescored = np.full_like(exact, -np.inf)
    nearest = np.argsort(hamming, axis=1, kind="stable")[:, :RESCORE]
    rows = np.arange(len(exact))[:, None]
    rescored[rows, nearest] = exact[rows, nearest]
    results[f"binary + rescore {RESCORE}"] = (rescored, True)

    bytes_per = {"float32": 4 * model.dim, "float16": 2 * model.dim, "int8": model.dim, "uint8": model.dim,
                 "binary": model.dim // 8, "ubinary": model.dim // 8, f"binary + rescore {RESCORE}": model.dim // 8}
    print("| precision | bytes/vector | recall@1 | recall@10 | MRR@10 | top-1 same as float32 |")
    print("|---|---|---|---|---|---|")
    for name, (scores, higher) in results.items():
        top = (scores if higher else -scores).argmax(axis=1)
        m = metrics(ranks(scores, higher), top, top_float32)
        print(f"| {name} | {bytes_per[name]} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | "
              f"{m['MRR@10']:.3f} | {m['same_top']:.3f} |")
    if args.engines:
        print()
        print(engine_table(model, queries, passages, args.prefixes, args.cache))
    return 0


def engine_table(model, queries: list[str], passages: list[str], prefixes: bool, cache: Path) -> str:
    """Each engine's query and passage vectors against minie5's float64 reference: cosines, and the
    retrieval metrics of its own scores (and how often its top hit is float64's)."""
    from tools import bench

    if prefixes:
        queries, passages = [f"query: {q}" for q in queries], [f"passage: {p}" for p in passages]
    texts = queries + passages
    truth = minie5.load(model.path, backend="numpy", dtype="float64").encode(texts)
    engines = {"minie5 float32": lambda: minie5.load(model.path).encode(texts),
               "minie5 int8": lambda: minie5.load(model.path, dtype="int8").encode(texts),
               "minie5 bfloat16": lambda: minie5.load(model.path, dtype="bfloat16").encode(texts)}
    onnx_path = cache / f"{model.path.name}.onnx"
    try:
        import onnxruntime  # noqa: F401
        cache.mkdir(parents=True, exist_ok=True)
        if not onnx_path.exists():
            bench.export_onnx(model.path, onnx_path)
        bench.PaddedEngine.max_length = model.max_length  # the peers cut where the model does
        for name, engine in (("ONNX Runtime int8 (default)", "onnxruntime-int8"),
                             ("ONNX Runtime int8 (per_channel)", "onnxruntime-int8-channel")):
            path = bench.int8_onnx(onnx_path, engine)
            if not path.exists():
                bench.quantize_onnx(onnx_path, path, per_channel=engine.endswith("channel"))
            engines[name] = lambda path=path: bench.OnnxEngine(model.path, 2, path).embed(texts)
    except ImportError as e:
        print(f"(ONNX Runtime left out: {e})")
    n = len(queries)
    top_truth = (truth[:n] @ truth[n:].T).argmax(axis=1)
    lines = [f"{len(texts)} texts ({n} queries, {n} passages), each engine against minie5's float64 reference",
             "| engine | min cosine | mean cosine | recall@1 | recall@10 | MRR@10 | top-1 same as float64 |",
             "|---|---|---|---|---|---|---|"]
    rows = {"float64 (reference)": truth}
    rows.update({name: np.asarray(run(), dtype=np.float64) for name, run in engines.items()})
    for name, v in rows.items():
        cos = np.sum(v * truth, axis=1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(truth, axis=1))
        scores = v[:n] @ v[n:].T
        m = metrics(ranks(scores), scores.argmax(axis=1), top_truth)
        lines.append(f"| {name} | {cos.min():.5f} | {cos.mean():.6f} | {m['recall@1']:.3f} | {m['recall@10']:.3f} | "
                     f"{m['MRR@10']:.3f} | {m['same_top']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
