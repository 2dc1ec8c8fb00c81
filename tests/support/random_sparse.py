"""Sparse and multi-vector encoders with seeded random weights, rebuilt without torch, for the
golden tests of minie5.sparse and minie5.multi_vector.

Each model is a BERT with e5-small-v2's / all-MiniLM's widths and vocabulary (384 wide, 12 heads,
the uncased 30522-token WordPiece vocabulary) reduced to 2 layers, plus the head the real models
carry, with its real shape:

    splade-random          BertForMaskedLM (the masked-LM head: transform [384, 384] + LayerNorm,
                           decoder tied to the word embeddings, bias [30522]) + SpladePooling max
    inference-free-random  the same as the document side, and SparseStaticEmbedding's weight [30522]
                           (about 60% zeros, as an idf-initialised one has many) on the query side
    colbert-random         BertModel + a bias-free linear projection 384 -> 128 (ColBERT's)

The weights come from NumPy seeds (tests/support/random_bert.py's scheme); the sentence-transformers
files that say how the modules are laid out (modules.json, router_config.json, each module's
config) are the ones sentence-transformers itself wrote, kept under tests/sparse/golden/<name>/
by tools/make_sparse_golden.py, which also runs sentence-transformers on the same weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from . import random_bert

GOLDEN = Path(__file__).resolve().parents[1] / "sparse" / "golden"
MLM_CONFIG = {**random_bert.E5_SMALL_V2_CONFIG, "architectures": ["BertForMaskedLM"], "num_hidden_layers": 2}
ENCODER_CONFIG = {**random_bert.E5_SMALL_V2_CONFIG, "num_hidden_layers": 2}
SEEDS = {"splade-random": 11, "inference-free-random": 12, "colbert-random": 13}
COLBERT_DIM = 128


def mlm_weights(seed: int) -> dict[str, np.ndarray]:
    """A BertForMaskedLM's tensors as transformers saves them: "bert." prefix, the head under
    "cls.predictions.", the decoder's weight left out (tied to the word embeddings)."""
    weights = random_bert.random_weights(MLM_CONFIG, seed)
    weights = {"bert." + k: v for k, v in weights.items() if not k.startswith("pooler.")}
    rng = np.random.RandomState(seed + 100)
    H, V = MLM_CONFIG["hidden_size"], MLM_CONFIG["vocab_size"]
    weights["cls.predictions.transform.dense.weight"] = (rng.standard_normal((H, H)) * 1.5 / np.sqrt(H)).astype("f4")
    weights["cls.predictions.transform.dense.bias"] = (rng.standard_normal(H) * 0.2).astype("f4")
    # Small gains and a negative bias, as trained SPLADE heads have, leave a text about 150-250
    # active entries (the tied word embeddings alone would give scores spread over +-13).
    weights["cls.predictions.transform.LayerNorm.weight"] = rng.uniform(0.05, 0.2, H).astype("f4")
    weights["cls.predictions.transform.LayerNorm.bias"] = rng.uniform(-0.1, 0.1, H).astype("f4")
    weights["cls.predictions.bias"] = (rng.standard_normal(V) - 5.0).astype("f4")
    return weights


def static_weights(seed: int) -> np.ndarray:  # [V] float32
    rng = np.random.RandomState(seed + 200)
    V = MLM_CONFIG["vocab_size"]
    return np.where(rng.uniform(size=V) < 0.6, 0.0, rng.uniform(0.1, 3.0, V)).astype("f4")


def colbert_weights(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    weights = random_bert.random_weights(ENCODER_CONFIG, seed)
    rng = np.random.RandomState(seed + 300)
    H = ENCODER_CONFIG["hidden_size"]
    return weights, (rng.standard_normal((COLBERT_DIM, H)) / np.sqrt(H)).astype("f4")


def write_transformer(folder: Path, weights: dict, config: dict, minilm_dir: Path) -> None:
    import json

    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    for name in random_bert.TOKENIZER_FILES:
        if (minilm_dir / name).is_file():
            shutil.copyfile(minilm_dir / name, folder / name)


def build(name: str, directory: Path, minilm_dir: Path) -> Path:
    """Write the random model `name` into `directory` with the layout files of GOLDEN/<name>/
    (sentence-transformers' own), and return `directory`."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    layout = GOLDEN / name
    for path in layout.rglob("*.json"):  # the layout files, as sentence-transformers wrote them
        target = directory / path.relative_to(layout)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    seed = SEEDS[name]
    if name == "splade-random":
        write_transformer(directory, mlm_weights(seed), MLM_CONFIG, minilm_dir)
    elif name == "inference-free-random":
        document = next(p.parent for p in layout.rglob("config.json") if "architectures" in p.read_text())
        write_transformer(directory / document.relative_to(layout), mlm_weights(seed), MLM_CONFIG, minilm_dir)
        query = next(p for p in layout.iterdir() if p.name.startswith("query"))
        save_file({"weight": static_weights(seed)}, str(directory / query.name / "model.safetensors"))
        for tokenizer_file in random_bert.TOKENIZER_FILES:
            if (minilm_dir / tokenizer_file).is_file():
                shutil.copyfile(minilm_dir / tokenizer_file, directory / query.name / tokenizer_file)
    else:
        weights, projection = colbert_weights(seed)
        write_transformer(directory, weights, ENCODER_CONFIG, minilm_dir)
        dense = next(p.parent for p in layout.rglob("config.json") if p.parent.name.endswith("Dense"))
        save_file({"linear.weight": projection}, str(directory / dense.relative_to(layout) / "model.safetensors"))
    return directory


def golden(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The golden file's description (texts, versions) and arrays."""
    about = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    with np.load(GOLDEN / f"{name}.npz") as arrays:
        return about, dict(arrays)


def golden_rows(arrays: dict, key: str, dim: int) -> np.ndarray:  # -> [n, dim] dense
    indptr, indices, values = (arrays[f"{key}_{part}"] for part in ("indptr", "indices", "values"))
    out = np.zeros((len(indptr) - 1, dim), np.float32)
    out[np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)), indices] = values
    return out
