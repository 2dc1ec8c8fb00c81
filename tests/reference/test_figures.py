"""tools/figures.py draws the reading guide's figures from a real trace: it runs, writes every
figure the guide shows as well-formed SVG, and the numbers in them are the trace's."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_the_figures_are_drawn_from_a_trace(tmp_path, minilm):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "figures.py"), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert drawn == sorted(p.name for p in (ROOT / "docs" / "figures").glob("*.svg"))  # the committed set
    guides = (ROOT / "docs" / "reading-guide.md").read_text() + (ROOT / "docs" / "engine-guide.md").read_text()
    assert set(re.findall(r"figures/(\w+\.svg)", guides)) == set(drawn)  # the guides show every one
    for name in drawn:
        ET.parse(tmp_path / name)  # well-formed

    text = "query: how much protein should a female eat"
    trace = minilm.trace([text])
    probs = trace["encoder.layer.0.attention.self.probs"][0, 0]
    head = (tmp_path / "attention_head.svg").read_text()
    for token in minilm.tokenizer.tokens(text):
        assert f">{token}<" in head
    cells = [float(v) for v in re.findall(r"<rect [^>]*><title>([-0-9.e]+)</title>", head)]
    np.testing.assert_allclose(cells, np.round(probs, 3).ravel(), atol=1.5e-3)
    assert "attention probability" in head and "key token" in head  # the colour bar and axis titles
    pipeline = (tmp_path / "pipeline.svg").read_text()
    assert "[B, T, H] = [1, 11, 384]" in pipeline
    assert f"divided by its length: {np.linalg.norm(trace['pooled'][0]):.2f}" in pipeline
    steps = (tmp_path / "attention_steps.svg").read_text()
    context = trace["encoder.layer.0.attention.self"][0][:, :32]
    assert f"<title>{context[0, 0]:.3f}</title>" in steps and "softmax" in steps
    block = (tmp_path / "post_ln_block.svg").read_text()
    for name in ("encoder.layer.0.attention.output.LayerNorm", "encoder.layer.0.intermediate", "residual"):
        assert f">{name}<" in block
    first = trace["encoder.layer.0.intermediate"][0, 0]
    assert " ".join(f"{v:+.3f}" for v in first[:4]) in block
    layout = (tmp_path / "scores_layout.svg").read_text()
    halves = re.findall(r"<rect [^>]*><title>([-0-9.e]+)</title>", layout)
    T = probs.shape[0]
    engine = np.array([float(v) for v in halves[T * T:]]).reshape(T, T)
    np.testing.assert_allclose(engine, np.round(probs.T, 3), atol=1.5e-3)  # the engine's panel is the transpose
