"""Retrieval evaluation: does a model find the passages a query should find?

    beir.py     a dataset in BEIR's format: corpus.jsonl, queries.jsonl, qrels/<split>.tsv
    search.py   exact search: every query against every passage, the corpus streamed in blocks
    metrics.py  nDCG@k, MRR@k, recall@k and MAP@k, as BEIR reports them (pytrec_eval's definitions)
    run.py      `evaluate`: the three together, for a loaded model (`minie5 evaluate`)
"""

from .beir import Dataset, load_beir
from .metrics import METRICS, evaluate_run, trec_order
from .run import evaluate

__all__ = ["METRICS", "Dataset", "evaluate", "evaluate_run", "load_beir", "trec_order"]
