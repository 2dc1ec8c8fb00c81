"""minie5.sparse's kernels against their NumPy twins, and what a user of SparseEncoder sees: output
shapes and formats, decode, similarity, max_active_dims, batch independence, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import minie5.sparse
from minie5.errors import ConfigError, WeightsError
from minie5.sparse import kernels, splade
from minie5.sparse.vectors import SparseEmbeddings

TEXTS = ["how tall is mount everest", "Mount Everest is 8,849 metres high.", "", "error E1234 on /dev/sda1"]


@pytest.mark.parametrize("strategy,activation", [("max", "relu"), ("max", "log1p_relu"), ("sum", "relu"),
                                                 ("sum", "log1p_relu")])
def test_pool_kernels_match_reference(strategy, activation):
    rng = np.random.default_rng(0)
    V, padded = 1000, 1008
    offsets = np.array([0, 3, 4, 9])
    logits = rng.standard_normal((9, padded)).astype(np.float32) * 2
    bias = (rng.standard_normal(V) - 1).astype(np.float32)
    out = np.full((3, V), np.nan, np.float32)
    pool = kernels.splade_max_pool if strategy == "max" else kernels.splade_sum_pool
    pool(logits, bias, offsets, activation == "log1p_relu", out)
    want = np.stack([splade.splade_pool(logits[a:b, :V] + bias, strategy, activation)
                     for a, b in zip(offsets[:-1], offsets[1:])])
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    assert (want == 0).any() and (want > 0).any()


def test_layer_norm_kernel_matches_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 384)).astype(np.float32) * 3 + 1
    w, b = rng.uniform(0.5, 2, 384).astype(np.float32), rng.uniform(-1, 1, 384).astype(np.float32)
    want = splade.layer_norm(x.astype(np.float64), w, b, 1e-12)
    kernels.layer_norm_rows(x, w, b, 1e-12)
    np.testing.assert_allclose(x, want, atol=2e-5)


@pytest.fixture(scope="module")
def encoder(sparse_model_dir):
    return minie5.sparse.load_sparse(sparse_model_dir("splade-random"))


def test_outputs_agree_across_formats(encoder):
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (4, 30522) and len(vectors) == 4
    dense = encoder.encode(TEXTS, output="dense")
    np.testing.assert_array_equal(vectors.to_dense(), dense)
    csr = encoder.encode(TEXTS, output="scipy")
    np.testing.assert_array_equal(csr.toarray(), dense)
    one = encoder.encode(TEXTS[1])
    np.testing.assert_array_equal(one.to_dense(), dense[1])
    assert (np.diff(one.indices) > 0).all() and (one.values > 0).all()
    np.testing.assert_array_equal(encoder.encode(TEXTS, convert_to_sparse_tensor=False), dense)


def test_batch_independent_and_in_input_order(encoder):
    together = encoder.encode(TEXTS, batch_size=4).to_dense()
    alone = np.stack([encoder.encode([t]).to_dense()[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_max_active_dims_keeps_the_largest(encoder):
    full = encoder.encode(TEXTS[:2], output="dense")
    top = encoder.encode(TEXTS[:2], max_active_dims=5)
    for row, vector in zip(full, top.rows()):
        assert len(vector) == 5
        assert set(vector.indices) == set(np.argsort(-row)[:5])


def test_decode_and_similarity(encoder):
    query, documents = encoder.encode_query(TEXTS[0]), encoder.encode_document(TEXTS)
    decoded = encoder.decode(query, top_k=3)
    assert len(decoded) == 3 and all(isinstance(t, str) and w > 0 for t, w in decoded)
    assert [w for _, w in decoded] == sorted((w for _, w in decoded), reverse=True)
    assert decoded[0][1] == pytest.approx(float(query.values.max()))
    assert len(encoder.decode(documents)) == 4
    scores = encoder.similarity(query, documents)
    np.testing.assert_allclose(scores, query.to_dense()[None] @ documents.to_dense().T, rtol=1e-5)
    stats = encoder.sparsity(documents)
    assert 0 < stats["active_dims"] < 30522 and 0 < stats["sparsity_ratio"] < 1


def test_bad_calls_are_refused(encoder):
    with pytest.raises(ValueError, match="output"):
        encoder.encode(TEXTS, output="torch")
    with pytest.raises(ValueError, match="long"):
        encoder.encode(TEXTS, long="chunk")
    with pytest.raises(ValueError, match="convert_to_tensor"):
        encoder.encode(TEXTS, convert_to_tensor=True)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        encoder.encode(["fine", 3])
    with pytest.raises(ValueError, match="max_active_dims"):
        encoder.encode(TEXTS, max_active_dims=0)


def test_csr_container_round_trips():
    dense = np.array([[0, 1.5, 0, 2], [0, 0, 0, 0], [3, 0, 0, 0]], np.float32)
    vectors = SparseEmbeddings.from_dense(dense)
    assert list(vectors.active_dims()) == [2, 0, 1]
    np.testing.assert_array_equal(vectors.to_dense(), dense)
    np.testing.assert_array_equal(vectors.to_scipy().toarray(), dense)


def test_layouts_minie5_cannot_run_are_refused(sparse_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(sparse_model_dir("splade-random"), folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "sentence_transformers.sparse_encoder.modules.sparse_auto_encoder.SparseAutoEncoder"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="SparseAutoEncoder"):
        minie5.sparse.load_sparse(folder)
    modules[1]["type"] = "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling"
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_SpladePooling" / "config.json").write_text(json.dumps({"pooling_strategy": "mean"}))
    with pytest.raises(ConfigError, match="pooling_strategy 'mean'"):
        minie5.sparse.load_sparse(folder)


def test_an_encoder_without_the_head_is_refused(minilm_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(minilm_dir, folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {"idx": 1, "name": "1", "path": "1_SpladePooling",
         "type": "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling"}]))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"transformer_task": "fill-mask"}))
    (folder / "1_SpladePooling").mkdir()
    (folder / "1_SpladePooling" / "config.json").write_text("{}")
    with pytest.raises(WeightsError, match="cls.predictions"):
        minie5.sparse.load_sparse(folder)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"transformer_task": "feature-extraction"}))
    with pytest.raises(ConfigError, match="fill-mask"):
        minie5.sparse.load_sparse(folder)
