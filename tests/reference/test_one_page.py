"""docs/bert_one_page.py, the whole forward pass on one page, against the reference it abridges."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import minie5

PAGE = Path(__file__).resolve().parents[2] / "docs" / "bert_one_page.py"
TEXTS = ["query: how much protein should a female eat", "passage: As a general guideline, the CDC's average "
         "requirement of protein for women ages 19 to 70 is 46 grams per day.", "summit", "naïve 中文 don't!"]


@pytest.fixture(scope="module")
def page():
    spec = importlib.util.spec_from_file_location("bert_one_page", PAGE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_is_one_page():
    assert len(PAGE.read_text().splitlines()) <= 100


@pytest.mark.parametrize("which", ["minilm", "e5-random"])
def test_the_page_gives_the_float64_references_vectors(page, which, minilm_dir, e5_random_dir):
    folder = minilm_dir if which == "minilm" else e5_random_dir
    reference = minie5.load(folder, backend="numpy", dtype="float64")
    ours = np.stack([page.embed(text, folder, max_length=reference.max_length) for text in TEXTS])
    np.testing.assert_allclose(ours, reference.encode(TEXTS), rtol=0, atol=1e-12)


def test_the_reading_guides_repl_session_runs():
    """docs/reading-guide.md's "The reference from a REPL" block, run as written."""
    guide = (PAGE.parent / "reading-guide.md").read_text()
    section = guide.split("## The reference from a REPL", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "reading-guide.md", "exec"), namespace)
    assert namespace["words"][:4] == ["[CLS]", "query", ":", "how"]
    assert namespace["vectors"].shape == (2, 384)
