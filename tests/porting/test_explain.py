"""`minie5 explain`: every step of one text printed from its trace, and the same as an HTML page
that a real headless browser (Debian's chromium) renders with no console errors."""

import os
import shutil
import subprocess

import numpy as np
import pytest

from minie5.porting import trace
from tests.support.cli import run_cli

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEXT = "query: how tall is everest"


def test_explain_prints_every_step_from_the_trace(minilm):
    result = run_cli("explain", "-m", MODEL, TEXT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    t = minilm.trace([TEXT])
    for name in trace.tensor_names(6)[2:]:  # every tensor after the ids and the mask
        (line,) = [line for line in out.splitlines() if line.startswith(name + " ")]
        assert str(list(t[name].shape)) in line
        first = t[name].reshape(-1, t[name].shape[-1])[0][:4]
        assert "[" + ", ".join(f"{v:+.4f}" for v in first) + ", ...]" in line
    assert "word pieces (8): [CLS] query : how tall is everest [SEP]" in out
    received = t["encoder.layer.5.attention.self.probs"][0].mean(axis=1)  # [N, T]
    top = minilm.tokenizer.tokens(TEXT)[int(np.argmax(received[7]))]
    assert f"head  7: {top} {received[7].max():.2f}" in out
    assert f"length {np.linalg.norm(t['pooled'][0]):.4f}" in out and "length 1.0000" in out


def test_explain_refuses_a_bad_layer_and_folder(tmp_path):
    result = run_cli("explain", "-m", MODEL, "--layer", "6", TEXT)
    assert result.returncode == 2 and "--layer must be from 0 to 5" in result.stderr
    result = run_cli("explain", "-m", MODEL, "--html", tmp_path / "nowhere" / "x.html", TEXT)
    assert result.returncode == 2 and "no such folder" in result.stderr


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None and os.environ.get("MINIE5_REQUIRE_BROWSER"):
        pytest.fail("MINIE5_REQUIRE_BROWSER is set but no chromium is installed (.ci/run installs Debian's)")
    return found


def render(browser: str, page, png) -> str:
    """Load `page` in headless chromium, screenshot it to `png`; returns the browser's log."""
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                             "--v=0", f"--screenshot={png}", "--window-size=1400,2400", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    return result.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_the_page_renders_in_a_real_browser(tmp_path, minilm):
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium); CI installs it and sets MINIE5_REQUIRE_BROWSER")
    from PIL import Image

    page = tmp_path / "explain.html"
    result = run_cli("explain", "-m", MODEL, "--html", page, TEXT)
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # self-contained
    assert html.count("<svg") == 10 and "everest" in html

    shot = tmp_path / "explain.png"
    assert console_errors(render(browser, page, shot)) == []
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    blue = (pixels[..., 2] - pixels[..., 0] > 60).sum()  # the heat maps' dark blue cells
    red = (pixels[..., 0] - pixels[..., 2] > 60).sum()  # the diverging maps' positive values
    assert blue > 5000 and red > 2000, (blue, red)

    broken = tmp_path / "broken.html"  # the check can fail: a page with a script error is caught
    broken.write_text("<html><body><script>no_such_function()</script></body></html>")
    assert console_errors(render(browser, broken, tmp_path / "broken.png"))
