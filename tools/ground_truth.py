"""How far each float32 implementation is from float64, layer by layer, on the golden models.

The ground truth is minie5's NumPy reference run in float64 (`minie5.load(..., dtype="float64")`),
on the golden texts (tools/make_golden.py: the model card's examples, edge cases, a text cut at
the model's limit) as one padded batch. Against it, per hidden state (the embeddings' output and
every layer's output) at real tokens, max |x - x64| / max |x64|, and for the final unit vectors
max |x - x64|:

    minie5 numba fp32     the engine (packed batches, Numba kernels, OpenBLAS products)
    minie5 numpy fp32     the same reference in float32
    transformers fp32     AutoModel + PyTorch, hidden states recorded with forward hooks
    onnxruntime fp32      the same weights exported to ONNX (opset 17) with every hidden state as
                          an output, run by ONNX Runtime's CPU provider

Needs `pip install torch==2.13.0 && pip install -e ".[bench]"`. Prints a markdown table per model
(docs/ground-truth.md holds the last run).

Run:  python tools/ground_truth.py [--models minilm e5-random multilingual-random xlmr-random]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import minie5  # noqa: E402
from minie5.porting import compare, peers  # noqa: E402
from tests.support import golden  # noqa: E402
from tests.support.onnx_export import export_all_hidden_states  # noqa: E402

MODELS = ("minilm", "e5-random", "multilingual-random", "xlmr-random")


def numba_trace(model, texts) -> dict[str, np.ndarray]:
    """The engine's hidden states and embeddings, under the trace's names."""
    ids = model.tokenizer.tokenize(texts)
    states, mask = model.backend.hidden_states(ids)
    out = {"attention_mask": mask, "embeddings.LayerNorm": states[0], "embedding": model.encode(texts)}
    for i, state in enumerate(states[1:]):
        out[f"encoder.layer.{i}.output.LayerNorm"] = state
    return out


def layer_errors(truth: dict, other: dict) -> dict[str, float]:
    rows, _ = compare.compare(truth, other)
    errors = dict(compare.layer_curve(rows))
    embedding = next(r for r in rows if r.name == "embedding")
    errors["embedding (abs)"] = embedding.max_abs
    return errors


def main() -> int:
    import warnings

    warnings.simplefilter("ignore")  # the golden texts include one cut at the model's limit, on purpose
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            fixture = golden.load_fixture(name)
            path = golden.minilm_dir() if name == "minilm" else golden.build_random(Path(tmp) / name, fixture)
            texts = fixture.texts
            exact = minie5.load(path, backend="numpy", dtype="float64")
            truth = exact.trace(texts)
            reference32 = minie5.load(path, backend="numpy")
            onnx_path = Path(tmp) / f"{name}.onnx"
            export_all_hidden_states(path, onnx_path)
            results = {
                "minie5 numba fp32": layer_errors(truth, numba_trace(minie5.load(path), texts)),
                "minie5 numpy fp32": layer_errors(truth, reference32.trace(texts)),
                "transformers fp32": layer_errors(truth, peers.transformers_trace(reference32, texts)),
                "onnxruntime fp32": layer_errors(truth, peers.onnx_trace(reference32, texts, onnx_path)),
            }
            columns = list(next(iter(results.values())))
            tokens = int(truth["attention_mask"].sum())
            print(f"\n{name} ({exact.config.model_type}, {exact.config.num_hidden_layers} layers, "
                  f"{len(texts)} texts, {tokens} real tokens): max |x - x64| / max |x64| per hidden state\n")
            print("| implementation | " + " | ".join(c.replace("layer ", "L") for c in columns) + " |")
            print("|---" * (len(columns) + 1) + "|")
            for impl, errors in results.items():
                print(f"| {impl} | " + " | ".join(f"{errors[c]:.1e}" for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
