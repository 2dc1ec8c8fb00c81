"""The random sparse and multi-vector models of tests/support/random_sparse.py, built once per session."""

from __future__ import annotations

import pytest

from tests.support import random_sparse


@pytest.fixture(scope="session")
def sparse_model_dir(tmp_path_factory, minilm_dir):
    built = {}

    def get(name: str):
        if name not in built:
            built[name] = random_sparse.build(name, tmp_path_factory.mktemp(name), minilm_dir)
        return built[name]

    return get
