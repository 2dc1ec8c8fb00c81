"""Shared fixtures: the real packaged all-MiniLM-L6-v2, and the e5-small-v2-shaped random model
rebuilt from its seed once per test session."""

from pathlib import Path

import pytest

import minie5
from tools import golden


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return golden.minilm_dir()


@pytest.fixture(scope="session")
def e5_random_dir(tmp_path_factory) -> Path:
    return golden.build_e5_random(tmp_path_factory.mktemp("e5-random"), golden.load_fixture("e5-random"))


@pytest.fixture(scope="session")
def minilm(minilm_dir) -> minie5.Model:
    return minie5.load(minilm_dir, backend="numpy")
