"""tools/geometry.py, the numbers and pictures of docs/geometry.md, runs on real vectors: its InfoNCE
is the textbook one, and its figures are well-formed SVG."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.geometry import info_nce  # noqa: E402


def test_info_nce_is_cross_entropy_over_in_batch_negatives():
    rng = np.random.default_rng(0)
    q, p = rng.standard_normal((8, 16)), rng.standard_normal((8, 16))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    logits = q @ p.T / 0.01
    expected = np.mean([np.log(np.sum(np.exp(row - row.max()))) + row.max() - row[i] for i, row in enumerate(logits)])
    assert abs(info_nce(q, p, 0.01) - expected) < 1e-9
    assert info_nce(p, p, 0.01) < 1e-3  # each passage is its own best match by far


def test_the_geometry_chapter_runs(tmp_path, minilm_dir):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "geometry.py"), "--model", str(minilm_dir),
                             "--out", str(tmp_path), "--pairs", "96"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = [tuple(map(float, m)) for m in re.findall(r"temperature [0-9.]+: ([0-9.]+) / ([0-9.]+)", result.stdout)]
    assert len(losses) == 2 and all(true < shuffled for true, shuffled in losses)  # true pairs cost less
    assert "MRR@10 with cls pooling" in result.stdout and "as 'passage: ...'" in result.stdout
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert drawn == ["cosines.svg", "projection.svg", "similarity.svg"]
    assert drawn == sorted(p.name for p in (ROOT / "docs" / "figures" / "geometry").glob("*.svg"))
    for name in drawn:
        ET.parse(tmp_path / name)
