"""Helpers for the engine's tests: texts of many lengths, and the check that a dtype's vectors are
the same bits in any batch and on any number of threads."""

import warnings

import numpy as np

import minie5

WORDS = "the summit of the mountain is covered in snow while trains leave the station every hour".split()


def varied_texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 120)))) for _ in range(n)]


def assert_same_bits_in_any_batch_and_thread_count(model: minie5.Model, model_dir, dtype: str, seed: int) -> None:
    """90 texts shuffled into batches of 1, 7, 32 and 90: the first ten's vectors are those each
    gets alone, bit for bit; and the same from a model of that dtype on one thread."""
    texts = varied_texts(90, seed=seed)
    alone = np.stack([model.encode(t) for t in texts[:10]])
    rng = np.random.default_rng(0)
    for batch_size in (1, 7, 32, 90):
        order = rng.permutation(len(texts))
        got = np.empty((len(texts), model.dim), np.float32)
        got[order] = model.encode([texts[i] for i in order], batch_size=batch_size)
        assert np.abs(got[:10] - alone).max() == 0.0, batch_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # without the CPU's instructions: float32 instead
        one_thread = minie5.load(model_dir, dtype=dtype, threads=1).encode(texts[:10])
    assert np.abs(one_thread - alone).max() == 0.0
