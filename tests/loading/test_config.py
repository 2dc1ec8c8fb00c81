"""config.json: read like transformers' BertConfig, and refused with a clear message where minie5
would otherwise compute something else."""

import json

import pytest

from minie5 import BertConfig, ConfigError
from tests.support.random_bert import E5_SMALL_V2_CONFIG


def test_e5_small_v2_config_is_read():
    config = BertConfig.from_dict(E5_SMALL_V2_CONFIG)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (12, 384, 12)
    assert (config.intermediate_size, config.vocab_size, config.max_position_embeddings) == (1536, 30522, 512)
    assert config.layer_norm_eps == 1e-12 and config.head_size == 32


def test_optional_fields_default_as_in_transformers():
    required = {k: E5_SMALL_V2_CONFIG[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers",
                                                   "num_attention_heads", "intermediate_size",
                                                   "max_position_embeddings")}
    config = BertConfig.from_dict(required)
    assert config.hidden_act == "gelu" and config.layer_norm_eps == 1e-12
    assert config.position_embedding_type == "absolute" and config.type_vocab_size == 2


@pytest.mark.parametrize("change, message", [
    ({"hidden_act": "gelu_new"}, "hidden_act 'gelu_new' is not supported"),
    ({"hidden_act": "relu"}, "hidden_act 'relu'"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key'"),
    ({"num_attention_heads": 5}, "num_attention_heads (5) does not divide hidden_size (384)"),
    ({"hidden_size": 0}, "hidden_size must be a positive integer"),
    ({"num_hidden_layers": "12"}, "num_hidden_layers must be a positive integer"),
    ({"layer_norm_eps": -1}, "layer_norm_eps"),
    ({"model_type": "gpt2"}, "model_type 'gpt2' is not supported"),
])
def test_unsupported_values_are_refused(change, message):
    with pytest.raises(ConfigError, match="config.json: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        BertConfig.from_dict({**E5_SMALL_V2_CONFIG, **change})


def test_missing_required_key_is_named(tmp_path):
    values = dict(E5_SMALL_V2_CONFIG)
    del values["intermediate_size"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=f"{path}: required key 'intermediate_size' is missing"):
        BertConfig.from_file(path)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        BertConfig.from_file(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        BertConfig.from_file(tmp_path / "config.json")
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        BertConfig.from_file(tmp_path / "config.json")
