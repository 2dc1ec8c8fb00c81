"""tools/train_demo.py, docs/training.md's chapter: its hand-written backward pass is the gradient
of its InfoNCE loss, training lowers the loss and separates true pairs from others, and the tool
writes the committed figures byte for byte."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools import train_demo  # noqa: E402


def batch(rng, B=6, T=7, H=16):
    X = [rng.standard_normal((B, T, H)) for _ in range(2)]
    masks = [(np.arange(T) < rng.integers(2, T + 1, B)[:, None]).astype(float) for _ in range(2)]  # real lengths
    return [X[0], masks[0], X[1], masks[1]]


@pytest.mark.parametrize("temperature", [0.05, 0.01])
def test_the_backward_pass_is_the_gradient(temperature):
    rng = np.random.default_rng(0)
    data = batch(rng)
    params = [rng.standard_normal(16) * 0.3, rng.standard_normal((5, 16)) / 4]  # a != 0: the pooling's softmax
    assert train_demo.gradient_check(params, data, temperature, rng, probes=12) < 1e-5


def test_the_gradient_check_can_fail(monkeypatch):
    """A backward pass that forgets the normalisation (the gradient of y taken as that of y / |y|)
    is caught."""
    rng = np.random.default_rng(1)
    data, params = batch(rng), [rng.standard_normal(16) * 0.3, rng.standard_normal((5, 16)) / 4]
    original = train_demo.encode_backward

    def wrong(X, cache, dz, W):
        w, p, y, n = cache
        return original(X, (w, p, y / n, np.ones_like(n)), dz, W)  # as if |y| were 1

    monkeypatch.setattr(train_demo, "encode_backward", wrong)
    assert train_demo.gradient_check(params, data, 0.05, rng, probes=12) > 1e-3


def test_padding_gets_no_weight_and_zero_gradient():
    rng = np.random.default_rng(2)
    X, mask, _, _ = batch(rng)
    a = rng.standard_normal(16)
    _, w = train_demo.pool(X, mask, a)
    assert np.all(w[mask == 0] == 0) and np.allclose(w.sum(1), 1)
    X2 = X.copy()
    X2[mask == 0] = 1e3  # whatever sits at padding changes nothing
    np.testing.assert_array_equal(train_demo.pool(X2, mask, a)[0], train_demo.pool(X, mask, a)[0])


def test_info_nce_is_lowest_when_each_query_finds_its_passage():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((8, 16))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    assert train_demo.info_nce(z, z, 0.05)[0] < train_demo.info_nce(z, z[::-1], 0.05)[0]


@pytest.mark.slow
def test_the_chapter_regenerates_its_figures_byte_for_byte(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "train_demo.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert float(out.split("largest relative difference ")[1].split()[0]) < 1e-4
    medians = {}
    for t in ("0.05", "0.01"):
        line = next(x for x in out.splitlines() if x.startswith(f"temperature {t}:"))
        start, end = (float(v) for v in line.split("loss ")[1].split(";")[0].split(" -> "))
        assert end < start / 5  # training works
        medians[t] = float(line.split("other pairs median ")[1].split()[0])
    assert medians["0.01"] > medians["0.05"] + 0.3  # the low temperature leaves the scores high and narrow
    committed = ROOT / "docs" / "figures" / "training"
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert drawn == sorted(p.name for p in committed.glob("*.svg")) == [
        "anisotropy.svg", "cosines.svg", "loss.svg", "massive_activations.svg"]
    for name in drawn:
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
