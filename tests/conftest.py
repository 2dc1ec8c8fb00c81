"""Shared fixtures: the real packaged all-MiniLM-L6-v2, and the random models of tests/support/random_bert.py
rebuilt from their seeds once per test session."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import minie5
from tests.support import golden


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return golden.minilm_dir()


@pytest.fixture(scope="session")
def e5_random_dir(random_model_dir) -> Path:
    return random_model_dir("e5-random")


@pytest.fixture(scope="session")
def minilm(minilm_dir) -> minie5.Model:
    return minie5.load(minilm_dir, backend="numpy")


@pytest.fixture(scope="session")
def e5_named_dir(minilm_dir, tmp_path_factory) -> Path:
    """MiniLM's files in a folder named e5-small-v2: minie5 treats it as an e5 model (prefixes)."""
    folder = tmp_path_factory.mktemp("e5-named") / "e5-small-v2"
    shutil.copytree(minilm_dir, folder)
    return folder


@pytest.fixture(scope="session")
def e5_named(e5_named_dir) -> minie5.Model:
    return minie5.load(e5_named_dir, backend="numpy")


@pytest.fixture(scope="session")
def stdlib_beir(tmp_path_factory) -> Path:
    """A small BEIR-format dataset, 60 queries, built by tools/make_retrieval_set.py."""
    out = tmp_path_factory.mktemp("stdlib") / "stdlib"
    subprocess.run([sys.executable, str(Path(__file__).parent.parent / "tools" / "make_retrieval_set.py"), str(out),
                    "--limit", "60"], check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory):
    """A function: the folder of a random model of tests/support/random_bert.py, built on first use."""
    built = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = golden.build_random(tmp_path_factory.mktemp(name), golden.load_fixture(name))
        return built[name]

    return get
