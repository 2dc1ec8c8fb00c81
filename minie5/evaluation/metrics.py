"""Ranking metrics, defined as BEIR reports them: nDCG@k, recall@k and MAP@k as trec_eval computes
them (BEIR calls it through pytrec_eval), MRR@k as BEIR computes it itself.

For one query, with `rels` its judged documents (relevance 0, 1, 2...; relevant means >= 1) and
the ranking a run gives:

    nDCG@k    sum over the top k of rel / log2(rank + 1), over the same for the best possible order
              (gains are the relevance levels, linear, as trec_eval's ndcg_cut)
    recall@k  relevant documents in the top k / relevant documents judged
    MAP@k     sum over relevant documents in the top k of precision at their rank / relevant judged
              (trec_eval's map_cut)
    MRR@k     1 / the rank of the first relevant document in the top k, 0 if none (BEIR's mrr)

Ties: trec_eval orders documents by score, highest first, and equal scores by document id in
reverse (string) order, whatever order the run lists them in; `trec_order` does the same, and BEIR's
MRR, which keeps the run's order, is given the run in that order. Each metric is the mean over the
queries that have judgments and a ranking; a query with no relevant document scores 0.
"""

from __future__ import annotations

import math

METRICS = ("nDCG@10", "MRR@10", "recall@1", "recall@10", "recall@100", "MAP@100")


def trec_order(scores: dict[str, float]) -> list[str]:
    """Document ids by score, highest first; equal scores by id, in reverse string order."""
    return sorted(scores, key=lambda doc: (-scores[doc], _Reversed(doc)))


class _Reversed(str):
    """A string that sorts in reverse (trec_eval breaks ties with strcmp(b, a))."""

    def __lt__(self, other):
        return str.__gt__(self, other)


def ndcg(ranking: list[str], rels: dict[str, int], k: int) -> float:
    dcg = sum(max(rels.get(doc, 0), 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    best = sum(r / math.log2(rank + 2) for rank, r in enumerate(ideal))
    return dcg / best if best > 0 else 0.0


def recall(ranking: list[str], rels: dict[str, int], k: int) -> float:
    relevant = sum(1 for r in rels.values() if r > 0)
    found = sum(1 for doc in ranking[:k] if rels.get(doc, 0) > 0)
    return found / relevant if relevant else 0.0


def average_precision(ranking: list[str], rels: dict[str, int], k: int) -> float:
    relevant = sum(1 for r in rels.values() if r > 0)
    found, total = 0, 0.0
    for rank, doc in enumerate(ranking[:k]):
        if rels.get(doc, 0) > 0:
            found += 1
            total += found / (rank + 1)
    return total / relevant if relevant else 0.0


def reciprocal_rank(ranking: list[str], rels: dict[str, int], k: int) -> float:
    for rank, doc in enumerate(ranking[:k]):
        if rels.get(doc, 0) > 0:
            return 1.0 / (rank + 1)
    return 0.0


def evaluate_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """METRICS for `run` (query id -> doc id -> score) against `qrels`, as BEIR reports them."""
    queries = [q for q in qrels if q in run]
    rankings = {q: trec_order(run[q]) for q in queries}
    out = {}
    for name in METRICS:
        metric, k = name.split("@")
        fn = {"nDCG": ndcg, "recall": recall, "MAP": average_precision, "MRR": reciprocal_rank}[metric]
        total = sum(fn(rankings[q], qrels[q], int(k)) for q in queries)
        # BEIR divides MRR by every query with judgments; the others by those pytrec_eval scores
        out[name] = total / (len(qrels) if metric == "MRR" else len(queries)) if queries else 0.0
    return out
