"""Texts for the engine's tests: many lengths, from a few common words."""

import numpy as np

WORDS = "the summit of the mountain is covered in snow while trains leave the station every hour".split()


def varied_texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 120)))) for _ in range(n)]
