"""Smaller embeddings: float16, int8 / uint8 scalar quantisation, and one bit per dimension.

The names and layouts follow sentence-transformers' `quantize_embeddings`, so stored vectors can be
mixed with theirs:

    float32   [n, dim] float32, as the model gives them (4 bytes a dimension)
    float16   [n, dim] float16 (2 bytes)
    int8      [n, dim] int8: each dimension's range [lo, hi] cut into 256 steps, -128 .. 127
    uint8     [n, dim] uint8: the same steps, 0 .. 255
    binary    [n, dim / 8] int8: the sign bits (x > 0) packed 8 to a byte, minus 128
    ubinary   [n, dim / 8] uint8: the same bits, unshifted (1 bit a dimension, 32x smaller)

int8 and uint8 need each dimension's range. Pass `ranges` ([2, dim]: minima then maxima) taken from
a calibration set, typically the corpus: `calibration_ranges(corpus_vectors)`. Without it the
ranges come from the vectors being quantised, which makes a vector's code depend on the rest of its
batch, so a query embedded alone would not be comparable with a corpus. Rank int8 codes by integer
dot product, and binary codes by Hamming distance (`hamming_distance`). What each costs in ranking
quality is measured by tools/quantization_loss.py.
"""

from __future__ import annotations

import numpy as np

from ..errors import check_choice

PRECISIONS = ("float32", "float16", "int8", "uint8", "binary", "ubinary")
# Ranges taken from the vectors being quantised need enough of them to mean anything: one text
# gives every dimension an empty range (every code -128), a few give codes that say little.
MIN_SELF_CALIBRATION = 16
_POPCOUNT = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1)  # set bits of each byte


def calibration_ranges(embeddings: np.ndarray) -> np.ndarray:  # [n, dim] -> [2, dim]
    """Each dimension's minimum and maximum over `embeddings`, for int8/uint8 quantisation."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise ValueError(f"calibration needs an [n, dim] array of at least 2 embeddings (better: a few hundred "
                         f"from the corpus), got shape {embeddings.shape}")
    if not np.isfinite(embeddings).all():
        raise ValueError("calibration embeddings hold NaN or infinite values")
    return np.stack([embeddings.min(axis=0), embeddings.max(axis=0)])


def quantize(embeddings: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """[n, dim] (or [dim]) float embeddings in `precision`; see the module's table."""
    check_choice("precision", precision, PRECISIONS)
    x = np.asarray(embeddings, dtype=np.float32)
    if precision == "float32":
        return x
    if precision == "float16":
        return x.astype(np.float16)
    if precision in ("binary", "ubinary"):
        if x.shape[-1] % 8:
            raise ValueError(f"{precision} packs 8 dimensions to a byte: dim {x.shape[-1]} is not a multiple of 8")
        bits = np.packbits(x > 0, axis=-1)  # [..., dim / 8] uint8
        return bits if precision == "ubinary" else (bits.astype(np.int16) - 128).astype(np.int8)
    if ranges is None:
        rows = x.reshape(-1, x.shape[-1])
        if len(rows) < MIN_SELF_CALIBRATION:
            raise ValueError(f"{precision} needs each dimension's range: with no ranges they would come from these "
                             f"{len(rows)} vectors alone, too few to calibrate on (at least {MIN_SELF_CALIBRATION}). "
                             "Pass ranges=minie5.calibration_ranges(corpus_vectors) (CLI: --ranges FILE, saved "
                             "by an earlier run over the corpus)")
        ranges = calibration_ranges(rows)
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, x.shape[-1]):
        raise ValueError(f"ranges must be [2, {x.shape[-1]}] (minima, then maxima), got shape {ranges.shape}")
    if not np.isfinite(ranges).all():
        raise ValueError("ranges hold NaN or infinite values: calibrate on finite embeddings")
    if (ranges[0] > ranges[1]).any():
        dimension = int(np.argmax(ranges[0] > ranges[1]))
        raise ValueError(f"ranges[0] (minima) exceed ranges[1] (maxima) at dimension {dimension}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings hold NaN or infinite values")
    low, high = ranges
    steps = np.maximum(high - low, 1e-12) / 255  # a constant dimension maps to the bottom code
    codes = np.clip(np.rint((x - low) / steps), 0, 255)  # values outside the calibration range saturate
    return codes.astype(np.uint8) if precision == "uint8" else (codes - 128).astype(np.int8)


def hamming_distance(queries: np.ndarray, corpus: np.ndarray) -> np.ndarray:  # [q, B], [n, B] -> [q, n]
    """Bits that differ between packed binary codes (binary or ubinary): lower is closer."""
    queries, corpus = np.asarray(queries), np.asarray(corpus)
    for name, codes in (("queries", queries), ("corpus", corpus)):
        if codes.dtype not in (np.uint8, np.int8):
            raise ValueError(f"{name} must be packed binary codes (uint8 or int8, from precision='binary' or "
                             f"'ubinary'), got {codes.dtype}")
    if corpus.ndim != 2 or queries.ndim not in (1, 2) or queries.shape[-1] != corpus.shape[-1]:
        raise ValueError(f"queries must be [B] or [q, B] and corpus [n, B] codes of the same width; got "
                         f"queries {list(queries.shape)} and corpus {list(corpus.shape)}"
                         + (" (swapped?)" if corpus.ndim == 1 and queries.ndim == 2 else ""))
    a = queries.view(np.uint8)
    b = corpus.view(np.uint8)
    return np.stack([_POPCOUNT[np.bitwise_xor(row, b)].sum(axis=1) for row in np.atleast_2d(a)])
