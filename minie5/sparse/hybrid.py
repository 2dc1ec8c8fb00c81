"""Hybrid retrieval: two runs (a dense one and a sparse or BM25 one) merged into one ranking.

A run is {query id: {document id: score}}, as minie5.evaluation.evaluate returns it. Dense cosines
and sparse dot products live on different scales, so they are not added as they are:

    reciprocal rank fusion (Cormack et al. 2009)   score = sum over runs of 1 / (k + rank), k = 60:
                                                   only ranks count, no tuning, no scale
    weighted sum of normalised scores             each run's scores min-max scaled to [0, 1] per
                                                   query, then weight * dense + (1 - weight) * sparse;
                                                   a document missing from a run counts 0 there
"""

from __future__ import annotations

Run = dict[str, dict[str, float]]


def reciprocal_rank_fusion(runs: list[Run], k: int = 60, top_k: int = 100) -> Run:
    fused: Run = {}
    for query in set().union(*runs):
        scores: dict[str, float] = {}
        for run in runs:
            ranked = sorted(run.get(query, {}).items(), key=lambda item: (-item[1], item[0]))
            for rank, (doc, _) in enumerate(ranked, start=1):
                scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
        fused[query] = dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top_k])
    return fused


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {doc: (s - low) / span if span > 0 else 1.0 for doc, s in scores.items()}


def weighted_sum(first: Run, second: Run, weight: float = 0.5, top_k: int = 100) -> Run:
    """weight * first's normalised score + (1 - weight) * second's, per query."""
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be between 0 and 1, got {weight}")
    fused: Run = {}
    for query in set(first) | set(second):
        a, b = _normalised(first.get(query, {})), _normalised(second.get(query, {}))
        scores = {doc: weight * a.get(doc, 0.0) + (1 - weight) * b.get(doc, 0.0) for doc in set(a) | set(b)}
        fused[query] = dict(sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top_k])
    return fused
