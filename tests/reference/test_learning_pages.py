"""The learner's pages run as written: every ```python block of a page in order, in one namespace,
from the repository root, offline, on the packaged all-MiniLM-L6-v2; every line of a ```sh block
that starts with `minie5 ` or `python `. A block preceded by `<!-- skip: reason -->` is not run."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["reading-guide.md", "break-it.md", "training.md", "geometry.md"]
FENCE = re.compile(r"(?:<!-- skip: [^>]*-->\n)?```(\w+)\n(.*?)```", re.S)


def blocks(page: str, language: str) -> list[str]:
    """The page's blocks in `language`, in order, less those marked skip."""
    return [m.group(2) for m in FENCE.finditer((ROOT / "docs" / page).read_text())
            if m.group(1) == language and not m.group(0).startswith("<!-- skip")]


def test_the_block_finder_honours_skip_marks():
    text = "```python\na = 1\n```\n<!-- skip: needs the hub -->\n```python\nb = 2\n```\n"
    found = [m.group(2) for m in FENCE.finditer(text) if not m.group(0).startswith("<!-- skip")]
    assert found == ["a = 1\n"]


@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.slow) if p == "break-it.md" else p for p in PAGES])
def test_the_pages_python_runs(page, monkeypatch, capsys):
    code = blocks(page, "python")
    assert code, f"{page} has no python block"
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": "__docs__"}
    for i, block in enumerate(code):
        exec(compile(block, f"{page} python block {i + 1}", "exec"), namespace)


def sh_lines(page: str) -> list[str]:
    return [line.split("  #")[0].strip() for block in blocks(page, "sh") for line in block.splitlines()
            if line.startswith(("minie5 ", "python "))]


@pytest.mark.slow
@pytest.mark.parametrize("page", ["reading-guide.md", "break-it.md"])
def test_the_pages_commands_run(page):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for line in sh_lines(page):
        words = shlex.split(line)
        command = [sys.executable, "-m", "minie5", *words[1:]] if words[0] == "minie5" else [sys.executable, *words[1:]]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (line, result.stderr[-2000:])
