"""The corpus cache of `minie5 search` (minie5.corpus) and output files: nothing on disk is trusted,
appended lines cost only themselves, and a planted link is never written through."""

import json
import os
import zipfile

import numpy as np
import pytest

import minie5
from minie5.corpus import CorpusCache
from minie5.files import write_atomically
from tests.support.cli import run_cli
from tests.support.model_files import small_model


@pytest.fixture()
def model(minilm_dir, tmp_path):
    return minie5.load(small_model(minilm_dir, tmp_path / "model"))


def counting(model):
    calls = []

    def embed(texts):
        calls.append(len(texts))
        return model.encode(texts)
    return embed, calls


def test_appended_lines_cost_only_themselves(model, tmp_path):
    corpus = tmp_path / "c.txt"
    texts = [f"passage {i} about trains" for i in range(50)]
    cache = CorpusCache(model, corpus, {})
    embed, calls = counting(model)
    first, embedded, _ = cache.vectors(texts, embed)
    assert embedded == 50 and calls == [50]
    again, embedded, _ = cache.vectors(texts + ["a new line"], embed)
    assert embedded == 1 and calls == [50, 1]
    np.testing.assert_array_equal(again[:50], first)
    np.testing.assert_allclose(again[50], model.encode("a new line"), atol=1e-6)
    _, embedded, _ = cache.vectors(list(reversed(texts)), embed)  # reordered: nothing new
    assert embedded == 0


def forge(cache: CorpusCache, **arrays):
    """A cache file with the right key but the given arrays."""
    np.savez(cache.path, model=cache.key, **arrays)


@pytest.mark.parametrize("damage, message", [
    (lambda c: c.path.write_bytes(c.path.read_bytes()[:200]), "embedding the corpus again"),
    (lambda c: c.path.write_bytes(b"not a zip file at all"), "embedding the corpus again"),
    (lambda c: forge(c, vectors=np.full((3, 32), np.nan, np.float32), digests=np.zeros((3, 16), np.uint8)),
     "not finite unit vectors"),
    (lambda c: forge(c, vectors=np.ones((3, 32), np.int64), digests=np.zeros((3, 16), np.uint8)),
     "vectors of int64"),
    (lambda c: forge(c, vectors=np.ones((3, 7), np.float32), digests=np.zeros((3, 16), np.uint8)),
     "expected float32"),
    (lambda c: forge(c, vectors=np.full((3, 32), 32 ** -0.5, np.float32), digests=np.zeros((2, 16), np.uint8)),
     "digests of uint8"),
])
def test_a_damaged_or_forged_cache_is_rebuilt_with_a_warning(model, tmp_path, damage, message):
    corpus = tmp_path / "c.txt"
    texts = ["one", "two", "three"]
    cache = CorpusCache(model, corpus, {})
    cache.vectors(texts, model.encode)
    damage(cache)
    with pytest.warns(UserWarning, match=message):
        vectors, embedded, _ = cache.vectors(texts, model.encode)
    assert embedded == 3
    np.testing.assert_allclose(vectors, model.encode(texts), atol=1e-6)
    assert CorpusCache(model, corpus, {}).vectors(texts, model.encode)[1] == 0  # rebuilt, and good again


def test_a_decompression_bomb_is_refused_before_it_is_read(model, tmp_path):
    corpus = tmp_path / "c.txt"
    cache = CorpusCache(model, corpus, {})
    with zipfile.ZipFile(cache.path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("vectors.npy", b"\0" * 200_000_000)  # a few hundred kB that inflate to 200 MB
    assert cache.path.stat().st_size < 1_000_000
    with pytest.warns(UserWarning, match="declare 200000000 bytes"):
        _, embedded, _ = cache.vectors(["one"], model.encode)
    assert embedded == 1


def test_an_edited_tokenizer_is_a_different_cache(model, minilm_dir, tmp_path):
    corpus = tmp_path / "c.txt"
    before = CorpusCache(model, corpus, {}).path
    tokenizer = json.loads((model.path / "tokenizer.json").read_text())
    tokenizer["normalizer"]["lowercase"] = False
    (model.path / "tokenizer.json").write_text(json.dumps(tokenizer))
    assert CorpusCache(minie5.load(model.path), corpus, {}).path != before


def test_a_planted_link_is_never_written_through(tmp_path, minilm_dir):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "v.npy"
    for name in ("v.npy.partial", ".v.npy.partial"):
        os.symlink(victim, tmp_path / name)
    write_atomically(out, lambda f: f.write(b"new"))
    assert victim.read_text() == "precious" and out.read_bytes() == b"new"
    result = run_cli("embed", "-m", minilm_dir, "--backend", "numpy", "-o", out, "a text")
    assert result.returncode == 0 and victim.read_text() == "precious"
    assert np.load(out).shape == (1, 384)
