"""`minie5 models`: the families minie5 runs, the models found here, and whether a hub name runs,
judged from its config.json before any weights are downloaded."""

import json

import pytest

from minie5.cli.models import families
from minie5.families import BY_MODEL_TYPE
from tests.support.cli import run_cli as minie5


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """A Hugging Face cache holding only config.json files: one model minie5 runs, one reranker, one
    family it does not run."""
    cache = tmp_path / "hub"
    configs = {"org/tiny-bert": {"model_type": "bert", "architectures": ["BertModel"]},
               "org/tiny-reranker": {"model_type": "xlm-roberta",
                                     "architectures": ["XLMRobertaForSequenceClassification"]},
               "org/decoder": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}}
    for name, config in configs.items():
        repo = cache / ("models--" + name.replace("/", "--"))
        snapshot = repo / "snapshots" / ("a" * 40)
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text(json.dumps(config))
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_families_are_the_loaders_model_types():
    """The listing is the loaders' own table (minie5/families.py), not a second copy of it."""
    listed = {f["model_type"]: f for f in families()}
    assert list(listed) == list(BY_MODEL_TYPE)
    assert listed["qwen3"]["family"] == "Qwen3" and listed["bert"]["reranker"] and not listed["mpnet"]["reranker"]


def test_a_cached_name_is_judged_from_its_config_without_weights(hub_cache):
    bert = json.loads(minie5("models", "org/tiny-bert", "--json").stdout)
    assert bert["runs"] is True and bert["kind"] == "embedder" and bert["weights_here"] is False
    reranker = json.loads(minie5("models", "org/tiny-reranker", "--json").stdout)
    assert reranker["runs"] is True and reranker["kind"] == "reranker"
    decoder = minie5("models", "org/decoder")
    assert decoder.returncode == 0 and "cannot run it" in decoder.stdout and "'gpt2'" in decoder.stdout


def test_an_unknown_name_offline_says_it_cannot_tell(hub_cache):
    result = minie5("models", "org/elsewhere")
    assert result.returncode == 0 and "cannot tell" in result.stdout and "HF_HUB_OFFLINE" in result.stdout


def test_the_listing_has_families_and_the_models_found_here(hub_cache, minilm_dir):
    listing = json.loads(minie5("models", "--json").stdout)
    assert {f["model_type"] for f in listing["families"]} == set(BY_MODEL_TYPE)
    found = {m["model"]: m for m in listing["models"]}
    assert found["org/tiny-bert"]["runs"] and not found["org/decoder"]["runs"]
    assert found["sentence-transformers/all-MiniLM-L6-v2"]["found"] == "installed"
    text = minie5("models").stdout
    assert "families minie5 runs" in text and "org/decoder: minie5 cannot run it" in text


def test_a_folder_and_a_short_name(minilm_dir):
    assert "runs, as an embedder" in minie5("models", minilm_dir).stdout
    assert minie5("models", "all-MiniLM-L6-v2").stdout.startswith("sentence-transformers/all-MiniLM-L6-v2: runs")
    assert minie5("models", "not a name!").returncode == 2
