"""tools/break_it.py's planted bugs, and what `minie5 verify` says about each: three mistakes that
all first show in layer 0's attention probabilities (no mask, no 1/sqrt(D), a wrong split into
heads) are told apart by which texts differ and by how the probabilities relate to minie5's."""

import sys
from pathlib import Path

import numpy as np
import pytest

from minie5.porting import compare

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.break_it import VERIFY_TEXTS, Port, change, verify_says  # noqa: E402

PROBS = "encoder.layer.0.attention.self.probs"
# mistake: (first divergence, words verify's note must hold)
TABLE = {
    "none": ("none", []),
    "no-mask": (PROBS, ["only the padded text differs: text 1 (5 tokens, padded to 11)", "attention mask"]),
    "no-scale": (PROBS, ["every text differs", "sharpened 5.66 times", "not divided by sqrt(D)"]),
    "head-split": (PROBS, ["every text differs", "no rescaling", "cut into heads"]),
    "eps-1e-5": ("embeddings.LayerNorm", ["every text differs"]),
    "cls-pooling": ("pooled", ["every text differs"]),
}


@pytest.mark.parametrize("bug", TABLE)
def test_verify_tells_the_planted_bugs_apart(bug, minilm):
    first, _, verdict, note = verify_says(minilm, Port(minilm, bug))
    expected, words = TABLE[bug]
    assert first == expected and verdict == ("AGREE" if bug == "none" else "DIFFER")
    for w in words:
        assert w in note, (bug, note)
    others = {"no-mask": "sqrt(D)", "no-scale": "padded text", "head-split": "sqrt(D): its"}
    if bug in others:  # each note names its own mistake only
        assert others[bug] not in note


def test_the_sharpening_fit_reads_a_temperature(minilm):
    """softmax(c s) against softmax(s): the fit gives c back, for c on both sides of 1."""
    t = minilm.trace(VERIFY_TEXTS, dtype="float64")
    probs, lengths = t[PROBS], [int(n) for n in t["attention_mask"].sum(1)]
    logits = np.log(np.maximum(probs, 1e-300))
    for c in (0.5, 3.0):
        sharper = np.exp(c * logits)
        sharper /= sharper.sum(-1, keepdims=True)
        assert abs(compare.sharpening(probs, sharper, lengths) - c) < 0.02 * c


def test_the_verify_report_prints_the_note(minilm):
    rows, missing = compare.compare(minilm.trace(VERIFY_TEXTS), Port(minilm, "no-mask").trace(VERIFY_TEXTS))
    out = compare.report(rows, missing, compare.DEFAULT_RTOL, compare.DEFAULT_EMBEDDING_ATOL, "port")
    assert f"at {PROBS}: only the padded text differs" in out


def test_a_change_within_noise_is_called_noise():
    rng = np.random.default_rng(1)
    base = (rng.random(40) < 0.5).astype(float)
    flipped = base.copy()
    flipped[:2] = 1 - flipped[:2]  # two of 40 queries change: no evidence of anything
    assert "noise" in change(flipped, base)
    assert "noise" not in change(np.zeros(300), np.ones(300))  # every query lost: a real loss
