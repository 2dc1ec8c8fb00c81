"""How close each backend and dtype comes to transformers on the decoder families' golden files: the
max abs difference of every hidden state (word vectors, each layer, the last after the final norm)
and the smallest cosine of the pooled vectors to sentence-transformers'. Prints a table.

Run:  python tools/decoder_accuracy.py      (the golden files: tools/make_decoder_golden.py)
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import minie5  # noqa: E402
from tests.support import random_decoder  # noqa: E402

GOLDEN = REPO / "tests" / "decoders" / "golden"
RUNS = [("numpy", "float64"), ("numpy", "float32"), ("numba", "float32"), ("numba", "int8"), ("numba", "bfloat16")]


def main() -> None:
    print("| model | backend | dtype (ran) | max abs per hidden state | values up to "
          "| min cosine to sentence-transformers |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in random_decoder.MODELS:
            folder = Path(tmp) / name
            random_decoder.build(name, folder)
            golden = np.load(GOLDEN / f"{name}.npz")
            meta = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
            ids = list(np.split(golden["input_ids"], np.cumsum(golden["lengths"])[:-1]))
            for backend, dtype in RUNS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = minie5.load(folder, backend=backend, dtype=dtype)
                states, mask = model.backend.hidden_states(ids)
                error = np.abs(np.stack([s[mask > 0] for s in states]) - golden["hidden_states"]).max(axis=(1, 2))
                vectors = model.encode(meta["texts"]).astype(np.float64)
                cosine = (vectors * golden["embeddings"]).sum(axis=1) / np.linalg.norm(vectors, axis=1)
                ran = getattr(model.backend, "weights", dtype)
                print(f"| {name} | {backend} | {dtype}{'' if ran == dtype else f' ({ran})'} | "
                      f"{' / '.join(f'{e:.1e}' for e in error)} | {np.abs(golden['hidden_states']).max():.1f} | "
                      f"{cosine.min():.6f} |")


if __name__ == "__main__":
    main()
