"""The Numba engine's promises beyond matching the reference: batch independence, threads, safety
under concurrent calls. (Its agreement with transformers is in test_golden.py.)"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import minie5
from minie5.encode.batching import plan_batches

TEXTS = ["query: how much protein should a female eat", "passage: " + "the summit of the mountain " * 60,
         "", "x", "passage: a b c d e f g h i j k l m n o p"]
FILLER = [f"passage: filler text number {i} " * (1 + i % 25) for i in range(70)]


@pytest.fixture(scope="module")
def engine(minilm_dir):
    return minie5.load(minilm_dir)


# A text's tokens go through the same operations whatever else is packed with them: rows of a
# matrix product do not mix, and attention runs per text. What can change is the rounding inside
# OpenBLAS, which may take a row through a different micro-kernel depending on where it falls in
# the matrix: with its AVX-512 (SkylakeX) kernels the results are bit for bit the same, with its
# AVX2 (Haswell) kernels they differ by at most 1.5e-7 (measured). The bound below is 3x that.
BATCH_ATOL = 5e-7


def test_a_texts_embedding_does_not_depend_on_its_batch(engine):
    alone = np.stack([engine.encode(t) for t in TEXTS])
    for batch_size in (1, 2, 3, 32):
        np.testing.assert_allclose(engine.encode(TEXTS, batch_size=batch_size), alone, rtol=0, atol=BATCH_ATOL)
    mixed = engine.encode(FILLER[:30] + TEXTS + FILLER[30:], batch_size=64)
    np.testing.assert_allclose(mixed[30:35], alone, rtol=0, atol=BATCH_ATOL)


def test_thread_count_does_not_change_results(minilm_dir, engine):
    one = minie5.load(minilm_dir, threads=1)
    assert one.backend.threads.threads == 1
    np.testing.assert_allclose(one.encode(TEXTS + FILLER), engine.encode(TEXTS + FILLER), rtol=0, atol=BATCH_ATOL)


def test_concurrent_encode_calls_are_safe(engine):
    """Six Python threads encoding at once get exactly what one thread gets alone."""
    expected = engine.encode(FILLER)
    results, errors = {}, []

    def work(k):
        try:
            results[k] = engine.encode(FILLER)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 6
    for got in results.values():
        np.testing.assert_array_equal(got, expected)


def test_threads_argument_and_environment(minilm_dir, monkeypatch):
    for bad in (0, -2, 1.5, "2"):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            minie5.load(minilm_dir, threads=bad)
    monkeypatch.setenv("MINIE5_NUM_THREADS", "1")
    assert minie5.load(minilm_dir).backend.threads.threads == 1
    monkeypatch.setenv("MINIE5_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="MINIE5_NUM_THREADS must be a positive integer, got 'many'"):
        minie5.load(minilm_dir)


def test_cold_numba_cache_in_a_fresh_location(tmp_path, minilm_dir, engine):
    """With an empty cache directory (a new machine, or a read-only install whose package folder
    cannot hold the cache) the kernels compile, and give the same vectors."""
    code = ("import sys, numpy as np, minie5; m = minie5.load(sys.argv[1]); "
            "np.save(sys.argv[2], m.encode(['query: summit define', '']))")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "-c", code, str(minilm_dir), str(tmp_path / "v.npy")], env=env,
                   check=True, timeout=600)
    assert any((tmp_path / "cache").rglob("*.nbi"))
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy"), engine.encode(["query: summit define", ""]))


@pytest.mark.parametrize("padded", [False, True])
def test_plan_batches_respects_both_limits(padded):
    lengths = [int(n) for n in np.random.RandomState(3).randint(1, 512, 300)]
    batches = plan_batches(lengths, batch_size=16, max_tokens=4096, padded=padded)
    assert sorted(i for b in batches for i in b) == list(range(300))
    for b in batches:
        size = [lengths[i] for i in b]
        assert len(b) <= 16 and size == sorted(size, reverse=True)
        cost = size[0] * len(b) if padded else sum(size)
        assert cost <= 4096 or len(b) == 1


def test_engine_runs_as_plain_python_with_the_jit_off(tmp_path, minilm_dir):
    """With NUMBA_DISABLE_JIT=1 every kernel runs as the Python it is written in; on a tiny BERT the
    engine must still agree with the reference, so the kernels' source is itself a checked spec."""
    from tests.support.model_files import TINY_CONFIG, copy_model
    from tests.support.random_bert import random_weights

    config = dict(TINY_CONFIG, vocab_size=30522)
    model = copy_model(minilm_dir, tmp_path / "tiny", random_weights(config, seed=2), config=config)
    code = ("import sys, numpy as np, minie5\n"
            "texts = ['query: summit define', 'passage: the highest point of a mountain', '']\n"
            "a = minie5.load(sys.argv[1]).encode(texts)\n"
            "b = minie5.load(sys.argv[1], backend='numpy').encode(texts)\n"
            "assert np.abs(a - b).max() < 1e-5, np.abs(a - b).max()\n"
            "c = minie5.load(sys.argv[1], dtype='int8').encode(texts)  # the portable int8 kernel\n"
            "assert np.sum(c * b, axis=1).min() > 0.99, np.sum(c * b, axis=1)\n"
            "print('ok')\n")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", code, str(model)], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_import_without_a_writable_cache(tmp_path, minilm_dir, engine):
    """No folder Numba may cache in (a system install run by a service user): minie5 still
    imports and embeds, compiling in the process, and says so once."""
    code = ("import numba.core.caching as caching\n"
            "caching.CacheImpl._locator_classes = []  # as if every candidate folder were read-only\n"
            "import sys, numpy as np, minie5\n"
            "np.save(sys.argv[2], minie5.load(sys.argv[1]).encode(['query: summit define']))\n")
    env = dict(os.environ, XDG_CACHE_HOME="/dev/null/cache")  # minie5's own cache folder cannot exist
    env.pop("NUMBA_CACHE_DIR", None)
    result = subprocess.run([sys.executable, "-c", code, str(minilm_dir), str(tmp_path / "v.npy")],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("Numba cannot cache compiled kernels") == 1
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), engine.encode(["query: summit define"]), atol=5e-7)


def test_deterministic_vectors_are_the_same_bits_in_any_batch(minilm_dir):
    """deterministic=True: a text alone, in shuffled batches of 1, 7, 32 and 120 texts, twice in one
    call, and on 1 or 2 threads gives the same bits (max difference 0.0)."""
    rng = np.random.default_rng(0)
    words = "the summit of the mountain is covered in snow while trains leave the station every hour".split()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 80)))) for _ in range(120)]
    model = minie5.load(minilm_dir, deterministic=True)
    alone = np.stack([model.encode(t) for t in texts[:12]])
    for batch_size in (1, 7, 32, 120):
        order = rng.permutation(len(texts))
        got = np.empty((len(texts), model.dim), np.float32)
        got[order] = model.encode([texts[i] for i in order], batch_size=batch_size)
        assert np.abs(got[:12] - alone).max() == 0.0, batch_size
    twice = model.encode(texts[:5] + texts[:5])
    assert np.abs(twice[:5] - twice[5:]).max() == 0.0 and np.abs(twice[:5] - alone[:5]).max() == 0.0
    one_thread = minie5.load(minilm_dir, deterministic=True, threads=1).encode(texts[:12])
    assert np.abs(one_thread - alone).max() == 0.0
    np.testing.assert_allclose(alone, minie5.load(minilm_dir, backend="numpy").encode(texts[:12]), atol=1e-6)


@pytest.mark.parametrize("linear_is_faster", [True, False])
def test_long_batches_match_the_reference_through_either_product(minilm_dir, monkeypatch, linear_is_faster):
    """Without deterministic=True, long batches go to whichever of kernels.linear and OpenBLAS the
    engine measured faster here; both must give the reference's vectors."""
    from minie5.engine.numba_backend import LINEAR_ROWS, NumbaBackend

    monkeypatch.setattr(NumbaBackend, "_linear_is_faster", lambda self: linear_is_faster)
    model = minie5.load(minilm_dir)
    assert model.backend.products() == ("kernels.linear" if linear_is_faster else "openblas")
    texts = FILLER[:40]
    assert sum(len(ids) for ids in model.tokenizer.tokenize(texts)) > 4 * LINEAR_ROWS
    expected = minie5.load(minilm_dir, backend="numpy").encode(texts)
    np.testing.assert_allclose(model.encode(texts, batch_size=40), expected, rtol=0, atol=1e-6)


def test_the_product_choice_is_measured_once_per_process(minilm_dir):
    from minie5.engine import numba_backend as backend

    model = minie5.load(minilm_dir)
    choice = model.backend.products()
    assert choice in ("kernels.linear", "openblas")
    measured = dict(backend._LINEAR_IS_FASTER)
    assert minie5.load(minilm_dir).backend.products() == choice
    assert backend._LINEAR_IS_FASTER == measured  # nothing measured again
    assert minie5.load(minilm_dir, deterministic=True).backend.products() == "kernels.linear"
