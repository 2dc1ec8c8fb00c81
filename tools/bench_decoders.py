"""Speed of the decoder-family embedders against transformers + PyTorch, side by side, on the same texts.

The models are the random ones of tests/support/random_decoder.py: Qwen3-Embedding-0.6B's and
EmbeddingGemma-300m's exact layer widths, with 2 layers (speed per layer does not depend on the
weights' values; a full model costs about L/2 times as much per token). Every engine embeds end
to end, as a user would: texts in, normalised vectors out.

    minie5 float32 / int8 / bfloat16   minie5.load(folder, dtype=...).encode(texts, batch_size=16)
    torch float32 / bfloat16            SentenceTransformer(folder) (cast to bfloat16 for the second)
                                        .encode(texts, batch_size=16), sdpa attention

One process, the same thread count for all (torch.set_num_threads and minie5's threads), one
warm-up pass each, then the median of REPEATS passes. Printed: texts/s, tokens/s and the ratio to
torch float32, with the CPU. bfloat16 in minie5 needs AVX-512 BF16; without it minie5 says so and
runs float32 (the row says which ran).

Run (torch, transformers, sentence-transformers installed):  python tools/bench_decoders.py [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("USE_HUB_KERNELS", "0")  # transformers 5: no hub kernels wanted

from tests.support import random_decoder  # noqa: E402

REPEATS = 3
WORDS = ("the river rises in the hills north of the town and reaches the sea after forty miles while "
         "protein needs change with age and exercise so a decoder reads each text left to right").split()


def texts(n: int = 48, seed: int = 0) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 60)))) for _ in range(n)]


def timed(run) -> float:
    run()  # warm-up: compiles, fills caches
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def cpu() -> str:
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name"))
        flags = next(line for line in info.splitlines() if line.startswith("Flags"))
        extras = [f for f in ("avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags.split()]
        return f"{name}, {os.cpu_count()} CPUs, {' '.join(extras) or 'no VNNI/BF16/AMX'}"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def bench(name: str, folder: Path, batch: list[str], threads: int) -> list[tuple[str, float, str]]:
    import torch
    from sentence_transformers import SentenceTransformer

    import minie5

    rows = []
    for dtype in ("float32", "int8", "bfloat16"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = minie5.load(folder, dtype=dtype, threads=threads)
        ran = model.backend.weights
        rows.append((f"minie5 {dtype}", timed(lambda model=model: model.encode(batch, batch_size=16)),
                     "" if ran == dtype else f"ran {ran}: no AVX-512 BF16 here"))
    torch.set_num_threads(threads)
    st = SentenceTransformer(str(folder), device="cpu")
    with torch.inference_mode():
        rows.append(("torch float32", timed(lambda: st.encode(batch, batch_size=16)), ""))
        st = st.to(torch.bfloat16)
        rows.append(("torch bfloat16", timed(lambda: st.encode(batch, batch_size=16)), ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--models", nargs="*", default=list(random_decoder.MODELS), choices=list(random_decoder.MODELS))
    args = parser.parse_args()
    from tokenizers import Tokenizer

    batch = texts()
    print(f"CPU: {cpu()}; threads {args.threads}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            folder = Path(tmp) / name
            random_decoder.build(name, folder)
            tokens = sum(len(e.ids) for e in Tokenizer.from_file(str(folder / "tokenizer.json")).encode_batch(batch))
            rows = bench(name, folder, batch, args.threads)
            base = dict((label, s) for label, s, _ in rows)["torch float32"]
            print(f"\n{name} (2 layers at the real widths): {len(batch)} texts, {tokens} tokens, median of {REPEATS}")
            print(f"{'engine':<18}{'texts/s':>9}{'tokens/s':>10}{'vs torch fp32':>15}")
            for label, seconds, note in rows:
                speed = f"{len(batch) / seconds:>9.1f}{tokens / seconds:>10.0f}{base / seconds:>14.2f}x"
                print(f"{label:<18}{speed}  {note}")


if __name__ == "__main__":
    main()
