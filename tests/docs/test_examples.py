"""Every code block of README.md and the documentation runs (tests/docs/examples.py says how),
offline, on the packaged all-MiniLM-L6-v2, in a temporary folder so that nothing is written into
the checkout. The folder holds small input files the pages name (docs.txt, docs.jsonl, docs.csv,
corpus.txt, texts.txt) and links to tools/ and docs/; MINIE5_MODEL names the packaged model for commands
that name none."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.docs.examples import REPO, SHELL, blocks, pages, skip_markers_without_reason

PASSAGES = ["The summit is covered in snow.", "Trains leave every fifteen minutes.",
            "Protein needs depend on body weight.", "The river rises in the hills."]
# Pages whose blocks take more than a few seconds (many commands, each a process that loads the engine).
SLOW_PAGES = {"docs/guides/cli.md", "docs/guides/evaluation.md", "docs/guides/porting.md", "docs/getting-started.md",
              "README.md"}


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


def runnable(page: Path) -> bool:
    return any(b.skip is None and (b.language == "python" or (b.language in SHELL and b.commands()))
               for b in blocks(page))


PAGES = [pytest.param(p, id=page_id(p), marks=[pytest.mark.slow] if page_id(p) in SLOW_PAGES else [])
         for p in pages() if runnable(p)]


@pytest.fixture
def workspace(tmp_path, monkeypatch, minilm_dir):
    """A folder with the pages' input files, `minie5` and `python` on PATH as this interpreter runs
    this checkout, offline, with the packaged model as the default."""
    (tmp_path / "docs.txt").write_text("\n".join(PASSAGES) + "\n")
    (tmp_path / "corpus.txt").write_text("\n".join(PASSAGES) + "\n")
    (tmp_path / "texts.txt").write_text("first text\nsecond text\n")
    (tmp_path / "docs.jsonl").write_text("".join(
        json.dumps({"id": f"doc-{i}", "title": t.split()[1], "text": t}) + "\n" for i, t in enumerate(PASSAGES)))
    (tmp_path / "docs.csv").write_text("id,body\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(PASSAGES)))
    (tmp_path / "tools").symlink_to(REPO / "tools")
    (tmp_path / "docs").symlink_to(REPO / "docs")  # pages that read docs/bert_one_page.py or a page as a corpus
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    for name, command in (("minie5", f'"{sys.executable}" -m minie5'), ("python", f'"{sys.executable}"')):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MINIE5_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_code_runs(page, workspace):
    namespace: dict = {"__name__": "__main__"}
    for block in blocks(page):
        if block.skip is not None:
            continue
        if block.language == "python":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the examples' warnings are theirs to show a reader
                exec(compile(block.code, block.where, "exec"), namespace)
        elif block.language in SHELL:
            for command in block.commands():
                result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=workspace,
                                        capture_output=True, text=True, timeout=600)
                # 141: `| head` closed the pipe early, as the page says it does
                assert result.returncode in (0, 141), f"{block.where}: `{command}` exited {result.returncode}:\n" \
                                                     f"{result.stderr[-3000:]}"
    assert not list(REPO.glob("*.npz")) and not (REPO / "stdlib-beir").exists()  # nothing written into the checkout


def test_every_skip_marker_gives_a_reason():
    bad = [problem for page in pages() for problem in skip_markers_without_reason(page)]
    assert not bad, "\n".join(bad)


def test_the_harness_finds_the_blocks_it_should(tmp_path):
    """The parser against a page written for it: a python block, a shell block with a command and
    a comment line, a skipped block, and a marker without a reason."""
    from tests.docs import examples

    page = tmp_path / "probe.md"
    page.write_text("x\n\n```python\na = 1\n```\n\n```sh\n# a comment\nminie5 embed \\\n  \"t\"\necho no\n```\n"
                    "<!-- skip: needs the hub -->\n```python\nraise SystemExit\n```\n<!-- skip -->\n```sh\n```\n")
    found = examples.blocks(page)
    assert [(b.language, b.skip) for b in found] == [("python", None), ("sh", None), ("python", "needs the hub"),
                                                     ("sh", "")]
    assert found[1].commands() == ['minie5 embed    "t"']  # the continuation joined, echo not run
    assert examples.skip_markers_without_reason(page) == [f"{page}:17: a skip marker without a reason"]
