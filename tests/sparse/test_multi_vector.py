"""minie5.multi_vector against sentence-transformers' own MultiVectorEncoder (tools/make_sparse_golden.py)
on seeded random weights: token vectors, query expansion (attended or not), punctuation skipped,
MaxSim scores."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import minie5
from minie5.errors import ConfigError
from tests.support import random_sparse

ATOL = 2e-6  # float32 against torch's float32, on unit-length 128-wide vectors: measured 3.4e-7


def ragged(arrays, key):
    return np.split(arrays[f"{key}_vectors"], np.cumsum(arrays[f"{key}_lengths"])[:-1])


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_colbert_matches_sentence_transformers(sparse_model_dir, backend):
    about, arrays = random_sparse.golden("colbert-random")
    encoder = minie5.load_multi_vector(sparse_model_dir("colbert-random"), backend=backend)
    queries = encoder.encode_query(about["texts"][:-1])
    documents = encoder.encode_document(about["texts"], batch_size=3)
    for got, want in zip(queries, ragged(arrays, "query"), strict=True):
        assert got.shape == want.shape == (32, 128)
        np.testing.assert_allclose(got, want, atol=ATOL)
    for got, want in zip(documents, ragged(arrays, "document"), strict=True):
        assert got.shape == want.shape  # punctuation dropped, [CLS] and [SEP] kept, cut at 180 tokens
        np.testing.assert_allclose(got, want, atol=ATOL)
    np.testing.assert_allclose(encoder.similarity(queries, documents), arrays["maxsim"], rtol=1e-5, atol=1e-4)


def test_attended_expansion_matches(sparse_model_dir, tmp_path):
    about, arrays = random_sparse.golden("colbert-random")
    folder = tmp_path / "attend"
    shutil.copytree(sparse_model_dir("colbert-random"), folder)
    config = json.loads((folder / "sentence_bert_config.json").read_text())
    config["query_expansion"]["attend"] = True
    (folder / "sentence_bert_config.json").write_text(json.dumps(config))
    encoder = minie5.load_multi_vector(folder)
    assert encoder.reference_params is None  # every query on the engine
    for got, want in zip(encoder.encode_query(about["texts"][:-1]), ragged(arrays, "query_attend"), strict=True):
        np.testing.assert_allclose(got, want, atol=ATOL)


def test_old_pylate_saves_are_refused(sparse_model_dir, tmp_path):
    folder = tmp_path / "pylate"
    shutil.copytree(sparse_model_dir("colbert-random"), folder)
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    config["query_prefix"] = "[unused0]"
    (folder / "config_sentence_transformers.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="query_prefix"):
        minie5.load_multi_vector(folder)
