"""Pooling, normalisation and length limits read from a model's sentence-transformers files."""

import json
import shutil

import numpy as np
import pytest

import minie5
from minie5 import reference
from minie5.errors import ConfigError
from minie5.loading.sentence_transformers import Pipeline, read_pipeline

TEXTS = ["query: summit define", "passage: the highest point of a mountain, and a meeting of leaders"]


def st_folder(tmp_path, modules, pooling=None, max_seq_length=None):
    """A folder holding only sentence-transformers' pipeline files."""
    (tmp_path / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
         for i, (kind, path) in enumerate(modules)]))
    if pooling is not None:
        (tmp_path / "1_Pooling").mkdir(exist_ok=True)
        (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    if max_seq_length is not None:
        (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    return tmp_path


def pooling_config(mode):
    return {"word_embedding_dimension": 384, **{f"pooling_mode_{m}": m == mode for m in
                                                 ("cls_token", "mean_tokens", "max_tokens",
                                                  "mean_sqrt_len_tokens")}}


def test_packaged_minilm_is_mean_normalised_at_256(minilm_dir):
    pipeline = read_pipeline(minilm_dir)
    assert (pipeline.pooling, pipeline.normalize, pipeline.max_seq_length) == ("mean", True, 256)


def test_no_modules_json_is_the_e5_model_card(tmp_path):
    assert read_pipeline(tmp_path) == Pipeline()
    assert (Pipeline().pooling, Pipeline().normalize) == ("mean", True)


def test_cls_pooling_without_normalize(tmp_path):
    """bge-style CLS pooling; without a Normalize module the vectors keep their length."""
    folder = st_folder(tmp_path, [("Transformer", ""), ("Pooling", "1_Pooling")], pooling_config("cls_token"))
    assert read_pipeline(folder) == Pipeline("cls", False, None, str(folder / "modules.json"))


@pytest.mark.parametrize("modules, pooling, message", [
    ([("Transformer", ""), ("Pooling", "1_Pooling"), ("Normalize", "2_Normalize"), ("Dense", "3_Dense")],
     pooling_config("mean_tokens"), "module '3_Dense' of type 'sentence_transformers.models.Dense' is not supported"),
    ([("Transformer", ""), ("Pooling", "1_Pooling"), ("WeightedLayerPooling", "2_W")], pooling_config("mean_tokens"),
     "module '2_W' of type 'sentence_transformers.models.WeightedLayerPooling' is not supported"),
    ([("Transformer", ""), ("Pooling", "1_Pooling")], {**pooling_config("cls_token"), "pooling_mode_max_tokens": True},
     "2 pooling modes are set"),
    ([("Transformer", ""), ("Pooling", "1_Pooling")], pooling_config("mean_sqrt_len_tokens"),
     "pooling 'mean_sqrt_len' is not supported"),
    ([("Transformer", "")], None, "no Pooling module"),
    ([("Pooling", "1_Pooling")], pooling_config("mean_tokens"), "the first module is 'Pooling'"),
])
def test_unsupported_pipelines_are_refused_by_name(tmp_path, modules, pooling, message):
    with pytest.raises(ConfigError, match=message):
        read_pipeline(st_folder(tmp_path, modules, pooling))


def test_broken_files_are_named(tmp_path):
    (tmp_path / "modules.json").write_text("[{")
    with pytest.raises(ConfigError, match="modules.json: not valid JSON"):
        read_pipeline(tmp_path)
    st_folder(tmp_path, [("Transformer", ""), ("Pooling", "1_Pooling")])
    with pytest.raises(ConfigError, match=r"1_Pooling/config.json: no such file"):
        read_pipeline(tmp_path)
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": "long"}')
    with pytest.raises(ConfigError, match="max_seq_length must be an integer"):
        read_pipeline(tmp_path)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_cls_model_embeds_with_cls_pooling(minilm_dir, tmp_path, backend):
    """MiniLM's files with its pipeline rewritten to CLS pooling and no Normalize, against the
    reference's last hidden state at [CLS]."""
    folder = tmp_path / "cls-model"
    shutil.copytree(minilm_dir, folder)
    st_folder(folder, [("Transformer", ""), ("Pooling", "1_Pooling")], pooling_config("cls_token"))
    model = minie5.load(folder, backend=backend)
    assert (model.pooling, model.pipeline.normalize) == ("cls", False)
    got = model.encode(TEXTS)
    hidden, mask = model.backend.hidden_states(model.tokenizer.tokenize(TEXTS))
    np.testing.assert_allclose(got, reference.cls_pool(hidden[-1], mask), rtol=0, atol=1e-5)
    assert not np.allclose(np.linalg.norm(got, axis=1), 1)
    unit = model.encode(TEXTS, normalize=True)
    np.testing.assert_allclose(unit, got / np.linalg.norm(got, axis=1, keepdims=True), atol=1e-6)


def test_pooling_override(minilm_dir):
    model = minie5.load(minilm_dir, backend="numpy", pooling="max")
    assert model.pooling == "max" and model.pipeline.normalize  # Normalize still from modules.json
    with pytest.raises(ValueError, match="pooling must be one of 'mean', 'cls', 'max'"):
        minie5.load(minilm_dir, pooling="first")
