"""The model-family table (minie5/families.py): every model_type routed to its family, and a model
outside every family refused, naming its model_type and the families minie5 runs, before any
weight is read or downloaded."""

import json
import sys
import types

import pytest

import minie5
from minie5 import families
from tests.support.model_files import TINY_CONFIG, copy_model


def test_every_model_type_has_one_family():
    seen = [t for family in families.FAMILIES for t in family.model_types]
    assert len(seen) == len(set(seen))
    assert families.family_for("bert").name == "BERT"
    assert families.family_for("xlm-roberta") is families.family_for("roberta") is families.family_for("camembert")


def test_an_unknown_model_type_is_refused_naming_it_and_the_families(minilm_dir, tmp_path):
    folder = copy_model(minilm_dir, tmp_path / "gpt", config={**TINY_CONFIG, "model_type": "gpt2"}, weights={})
    with pytest.raises(minie5.ConfigError) as refused:
        minie5.load(folder)
    message = str(refused.value)
    assert "model_type 'gpt2' is not supported" in message and str(folder / "config.json") in message
    for family in families.FAMILIES:
        assert family.name in message and all(t in message for t in family.model_types)


def test_a_download_stops_at_config_json_for_an_unknown_model_type(tmp_path, monkeypatch):
    """Only config.json is fetched for a model no family runs: the weights never are."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    fetched = []

    def hf_hub_download(repo_id, filename, revision=None):
        fetched.append(filename)
        return str(config)

    def snapshot_download(*args, **kwargs):
        fetched.append("snapshot")
        raise AssertionError("the weights were fetched for a model that is refused")

    fake = types.SimpleNamespace(hf_hub_download=hf_hub_download, snapshot_download=snapshot_download)
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    with pytest.raises(minie5.ConfigError, match="model_type 'llama' is not supported: minie5 runs BERT"):
        minie5.load("some-org/some-llama")
    assert fetched == ["config.json"]
