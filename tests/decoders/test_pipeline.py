"""What decoder models bring to the pipeline files and config.json, refused clearly where minie5 cannot
run it: Dense modules, last-token pooling, Qwen3/Gemma3 config values."""

import json
import shutil

import numpy as np
import pytest

import minie5
from minie5.errors import ConfigError, WeightsError
from minie5.loading.decoder_config import DecoderConfig
from minie5.loading.sentence_transformers import read_pipeline
from tests.support import random_decoder


def gemma_copy(decoder_model, tmp_path):
    folder, golden, meta = decoder_model("embeddinggemma-random")
    target = tmp_path / "gemma"
    shutil.copytree(folder, target)
    return target


def edit_json(path, **changes):
    values = json.loads(path.read_text())
    values.update(changes)
    path.write_text(json.dumps(values))


def test_dense_modules_are_read_in_order(decoder_model):
    folder, _, _ = decoder_model("embeddinggemma-random")
    dense = read_pipeline(folder).dense
    assert [(d.path.name, d.in_features, d.out_features, d.bias) for d in dense] == [
        ("2_Dense", 768, 3072, False), ("3_Dense", 3072, 768, False)]
    assert dense[0].activation == "torch.nn.modules.linear.Identity"


@pytest.mark.parametrize("change, message", [
    ({"activation_function": "my_package.Swish"}, "activation_function 'my_package.Swish' is not supported"),
    ({"in_features": 0}, "in_features must be"),
    ({"in_features": 700}, "Dense modules from 700"),
    ({"use_residual": True}, "use_residual=true is not supported"),
])
def test_bad_dense_modules_are_refused_by_file(decoder_model, tmp_path, change, message):
    folder = gemma_copy(decoder_model, tmp_path)
    edit_json(folder / "2_Dense" / "config.json", **change)
    with pytest.raises((ConfigError, ValueError), match=message):
        minie5.load(folder, backend="numpy")


def test_dense_module_without_safetensors_or_with_a_wrong_shape(decoder_model, tmp_path):
    folder = gemma_copy(decoder_model, tmp_path)
    edit_json(folder / "3_Dense" / "config.json", in_features=3072, out_features=768, bias=True)
    with pytest.raises(WeightsError, match="missing tensor 'linear.bias' of the Dense module"):
        minie5.load(folder, backend="numpy")
    (folder / "3_Dense" / "model.safetensors").rename(folder / "3_Dense" / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="3_Dense: no model.safetensors"):
        minie5.load(folder, backend="numpy")


def test_default_dense_activation_is_tanh(decoder_model, tmp_path):
    """sentence-transformers' Dense defaults to Tanh where the config names no activation."""
    folder = gemma_copy(decoder_model, tmp_path)
    values = json.loads((folder / "3_Dense" / "config.json").read_text())
    del values["activation_function"]
    (folder / "3_Dense" / "config.json").write_text(json.dumps(values))
    model = minie5.load(folder, backend="numpy", )
    assert model.pipeline.dense[1].activation == "torch.nn.modules.activation.Tanh"
    assert np.isfinite(model.encode(["a text"])).all()


BASE = random_decoder.QWEN3_EMBEDDING_CONFIG


@pytest.mark.parametrize("change, message", [
    ({"attention_bias": True}, "attention_bias=true is not supported"),
    ({"hidden_act": "relu"}, "activation 'relu' is not supported for qwen3"),
    ({"num_key_value_heads": 3}, "num_key_value_heads \\(3\\) does not divide num_attention_heads \\(16\\)"),
    ({"layer_types": ["full_attention"]}, "layer_types must list 2"),
    ({"use_sliding_window": True, "max_window_layers": 1}, "sliding_window must be"),
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope type 'yarn' is not supported"),
    ({"rms_norm_eps": 0}, "rms_norm_eps must be a number"),
    ({"head_dim": None, "hidden_size": 1024, "num_attention_heads": 16, "intermediate_size": None},
     "required key 'intermediate_size' is missing"),
])
def test_bad_decoder_configs_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        DecoderConfig.from_dict({**BASE, **change}, source="config.json")


def test_gemma_config_reads_transformers_5_rope_parameters():
    values = {**random_decoder.EMBEDDINGGEMMA_CONFIG, "rope_theta": None, "rope_local_base_freq": None,
              "rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                                  "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}}
    config = DecoderConfig.from_dict(values)
    assert (config.rope_base(0), config.rope_base(1)) == (10000.0, 1000000.0)
    assert (config.window(0), config.window(1)) == (5, None)  # bidirectional: 8 // 2 + 1, as transformers


def test_model_weights_missing_a_layer_are_refused(decoder_model, tmp_path):
    folder, _, _ = decoder_model("qwen3-embedding-random")
    target = tmp_path / "deeper"
    shutil.copytree(folder, target)
    edit_json(target / "config.json", num_hidden_layers=3)
    with pytest.raises(WeightsError, match="missing tensors layers.2.self_attn.q_proj.weight"):
        minie5.load(target, backend="numpy")


def test_trace_is_refused_naming_the_family(decoder_model):
    folder, _, _ = decoder_model("qwen3-embedding-random")
    with pytest.raises(ValueError, match="qwen3 models have no trace yet"):
        minie5.load(folder, backend="numpy").trace(["a text"])


def test_the_dense_activations_read_are_the_ones_run():
    from minie5.loading.sentence_transformers import DENSE_ACTIVATIONS
    from minie5.reference.dense import ACTIVATIONS

    assert set(ACTIVATIONS) == set(DENSE_ACTIVATIONS)
