"""`minie5 explain`: every step of one text printed from its trace, and the same as an HTML page
that a real headless browser (Debian's chromium) renders with no console errors."""

import os
import re
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
    assert html.count("<svg") == 9 and "everest" in html
    assert "max-width: 100%" in html and "scores_t" not in html  # figures fit; the engine's layout is elsewhere

    shot = tmp_path / "explain.png"
    assert console_errors(render(browser, page, shot)) == []
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    blue = (pixels[..., 2] - pixels[..., 0] > 60).sum()  # the heat maps' dark blue cells
    red = (pixels[..., 0] - pixels[..., 2] > 60).sum()  # the diverging maps' positive values
    assert blue > 5000 and red > 2000, (blue, red)

    broken = tmp_path / "broken.html"  # the check can fail: a page with a script error is caught
    broken.write_text("<html><body><script>no_such_function()</script></body></html>")
    assert console_errors(render(browser, broken, tmp_path / "broken.png"))


WIDTHS = (880, 1280)
MEASURE = ("<script>window.onload = () => {{ document.body.setAttribute('data-overflow', "
           "[document.documentElement.scrollWidth, document.documentElement.clientWidth].join(' ')); }}</script>")


def overflow(browser: str, page, width: int) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of `page` laid out in a window `width` px wide: a copy of the page
    with a measuring script (the page itself has none), its DOM dumped after the load."""
    probe = page.with_name(f"probe-{width}.html")
    probe.write_text(page.read_text().replace("</body>", MEASURE.format() + "</body>"))
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             f"--window-size={width},2000", "--virtual-time-budget=5000", "--dump-dom",
                             probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'data-overflow="(\d+) (\d+)"', result.stdout)
    assert found, result.stdout[:500]
    return int(found.group(1)), int(found.group(2))


def right_margin_is_blank(browser: str, page, width: int, png) -> bool:
    """The screenshot's last 12 pixel columns are white: nothing is drawn past the page's margin."""
    from PIL import Image

    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             f"--screenshot={png}", f"--window-size={width},5000", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return bool((pixels[:, -12:] > 245).all())


def test_nothing_overflows_at_880_and_1280_px(tmp_path):
    """The page, with the widest text the figures meet here, fits a narrow and a wide window: no
    horizontal scroll, nothing drawn in the right margin; and the check fails on a page that
    overflows."""
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here (apt-get install chromium); CI installs it and sets MINIE5_REQUIRE_BROWSER")
    page = tmp_path / "explain.html"
    result = run_cli("explain", "-m", MODEL, "--layer", "3", "--head", "2", "--html", page,
                     "query: how many kilocalories are in an avocado, and is its fat good for the heart?")
    assert result.returncode == 0, result.stderr
    for width in WIDTHS:
        scroll, client = overflow(browser, page, width)
        assert scroll <= client, (width, scroll, client)
        assert right_margin_is_blank(browser, page, width, tmp_path / f"explain-{width}.png"), width

    wide = tmp_path / "wide.html"  # the check can fail: a fixed 1500-px figure overflows
    wide.write_text("<html><body><svg xmlns='http://www.w3.org/2000/svg' width='1500' height='50'>"
                    "<rect width='1500' height='50' fill='#08306b'/></svg></body></html>")
    scroll, client = overflow(browser, wide, 880)
    assert scroll > client
    assert not right_margin_is_blank(browser, wide, 880, tmp_path / "wide.png")


def test_layer_and_head_drive_every_attention_figure(minilm):
    from minie5.porting import explain

    text = "query: how many kilocalories are in an avocado"
    t = minilm.trace([text])
    html = explain.page(minilm, text, layer=3, trace=t, head=2)
    for figure in ("attention_steps", "query_token", "attention_head", "padding_mask", "heads", "post_ln_block"):
        section = html.split(f"<section id='{figure}'>")[1].split("</section>")[0]
        assert "layer 3" in section, figure
        if figure not in ("heads", "post_ln_block"):
            assert "head 2" in section, figure
    probs = t["encoder.layer.3.attention.self.probs"][0, 2]
    head = html.split("<section id='attention_head'>")[1].split("</section>")[0]
    cells = [float(v) for v in re.findall(r"<rect [^>]*><title>([-0-9.e]+)</title>", head)]
    np.testing.assert_allclose(cells, np.round(probs, 3).ravel(), atol=1.5e-3)
    assert "reading guide, step 4" in html and "<details>" in html
    for token in ("##oca", "##do", "[CLS]"):  # token labels on the maps
        assert f">{token}<" in head
