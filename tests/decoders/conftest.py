"""The random decoder-family models of tests/support/random_decoder.py, built once per session."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support import random_decoder

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="session")
def decoder_model(tmp_path_factory):
    """A function: (folder, golden arrays, golden json) of a random model of random_decoder.MODELS,
    built on first use and checked to be the very weights its golden files were made from."""
    built = {}

    def get(name: str):
        if name not in built:
            folder = tmp_path_factory.mktemp(name) / name
            digest = random_decoder.build(name, folder)
            meta = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
            assert digest == meta["weights_digest"], f"{name}: rebuilt weights differ from the golden files' own"
            built[name] = (folder, dict(np.load(GOLDEN / f"{name}.npz")), meta)
        return built[name]

    return get
