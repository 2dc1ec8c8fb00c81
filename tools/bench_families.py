"""Each encoder family's random model (tests/support/random_families.py): how far minie5 is from
transformers per hidden state, and how fast, in one run beside transformers + torch.

    accuracy  max |minie5 - transformers| per hidden state (embeddings' output first) on the
              golden's hidden-state batch, for the numpy and numba backends in float32; for the
              engine's int8 and bfloat16, the same against the engine's own float32
    speed     tokens/s embedding the same texts (make_golden's fixture texts, twice over): minie5's
              engine in float32 and int8, transformers + torch in float32 and bfloat16, on the
              threads given (torch.set_num_threads), best of 3; the ratios are to torch float32

Run (needs the `reference` extra): python tools/bench_families.py [--threads 2] [--models ...]
The CPU (lscpu) and OPENBLAS_CORETYPE are printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("USE_HUB_KERNELS", "NO")  # transformers' own modules, nothing from the hub
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import numpy as np  # noqa: E402

from tests.support import golden, random_families  # noqa: E402


def fixture(name: str) -> golden.Fixture:
    golden.GOLDEN = random_families.FAMILY_GOLDEN
    return golden.load_fixture(name)


def hidden_max_abs(model, ids, reference: list[np.ndarray]) -> list[float]:
    states, mask = model.backend.hidden_states(ids)
    return [float(np.abs(ours[mask > 0] - theirs).max()) for ours, theirs in zip(states, reference, strict=True)]


def accuracy(path: Path, name: str) -> dict[str, list[float]]:
    import minie5

    fx = fixture(name)
    out = {}
    for backend in ("numpy", "numba"):
        model = minie5.load(path, backend=backend)
        ids = model.tokenizer.tokenize(fx.hidden_state_texts)
        out[f"{backend} float32"] = hidden_max_abs(model, ids, list(fx.arrays["hidden_states"]))
    float32 = minie5.load(path)
    states, mask = float32.backend.hidden_states(ids)
    for dtype in ("int8", "bfloat16"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            model = minie5.load(path, dtype=dtype)
        ran = model.backend.weights  # float32 where the CPU lacks the instructions (a warning says so)
        out[f"numba {dtype}" + ("" if ran == dtype else f" (ran {ran})")] = hidden_max_abs(
            model, ids, [s[mask > 0] for s in states])
        del caught
    return out


def tokens_per_second(embed, texts: list[str], tokens: int, rounds: int = 3) -> float:
    embed(texts[:2])  # warm: compile, allocate
    best = min(_timed(embed, texts) for _ in range(rounds))
    return tokens / best


def _timed(embed, texts) -> float:
    start = time.perf_counter()
    embed(texts)
    return time.perf_counter() - start


def speed(path: Path, name: str, threads: int) -> dict[str, float]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    import minie5

    texts = fixture(name).texts * 2
    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    limit = minie5.load(path, backend="numpy").max_length
    tokens = sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=limit)["input_ids"])
    out = {}
    for dtype in ("float32", "int8"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model = minie5.load(path, threads=threads, dtype=dtype)
        out[f"minie5 {dtype}"] = tokens_per_second(lambda t, m=model: m.encode(t, batch_size=16), texts, tokens)
    for dtype in (torch.float32, torch.bfloat16):
        model = AutoModel.from_pretrained(str(path), dtype=dtype).eval()

        def embed(batch, model=model):
            with torch.inference_mode():
                for start in range(0, len(batch), 16):
                    inputs = tokenizer(batch[start:start + 16], padding=True, truncation=True, max_length=limit,
                                       return_tensors="pt")
                    model(**inputs)

        out[f"torch {str(dtype).split('.')[-1]}"] = tokens_per_second(embed, texts, tokens)
    return out


def cpu() -> str:
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    return f"{model}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = list(random_families.FAMILY_MODELS)
    parser.add_argument("--models", nargs="+", default=names, choices=names)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    print(f"CPU: {cpu()}; threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            path = Path(tmp) / name
            random_families.build(name, path)
            print(f"\n{name}")
            for label, values in accuracy(path, name).items():
                print(f"  {label:28s} max abs per hidden state: " + " ".join(f"{v:.1e}" for v in values))
            if not args.no_speed:
                rates = speed(path, name, args.threads)
                base = rates["torch float32"]
                print("  tokens/s: " + ", ".join(f"{k} {v:,.0f} ({v / base:.2f}x)" for k, v in rates.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
