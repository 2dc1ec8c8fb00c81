"""A minie5 model inside BEIR's own exact-search evaluator (the real `beir` package), which calls
encode_queries and encode_corpus with convert_to_tensor=True: its nDCG@10, recall and MAP equal
`minie5 evaluate`'s on the same data. Skipped, saying so, without beir (and torch)."""

import warnings

import pytest

import minie5
from minie5.evaluation import evaluate, load_beir

pytest.importorskip("torch", reason="BEIR's exact search needs torch (the beir extra, after a CPU torch)")
pytest.importorskip("beir", reason="beir is not installed (the beir extra)")
from beir.retrieval.evaluation import EvaluateRetrieval  # noqa: E402
from beir.retrieval.search.dense import DenseRetrievalExactSearch  # noqa: E402


def test_beirs_evaluator_runs_a_minie5_model(stdlib_beir, minilm_dir):
    data = load_beir(stdlib_beir)
    model = minie5.load(minilm_dir, deterministic=True)  # the same bits in BEIR's batches as in minie5's
    retriever = EvaluateRetrieval(DenseRetrievalExactSearch(model, batch_size=16, show_progress_bar=False),
                                  score_function="cos_sim", k_values=[1, 10, 100])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = retriever.retrieve(data.corpus, data.queries)
        ndcg, map_, recall, _ = retriever.evaluate(data.qrels, results, retriever.k_values)
        mrr = retriever.evaluate_custom(data.qrels, results, [10], metric="mrr")
    ours = evaluate(model, data)["metrics"]
    assert ndcg["NDCG@10"] == pytest.approx(ours["nDCG@10"], abs=1e-5)  # BEIR rounds to 5 places
    assert recall["Recall@10"] == pytest.approx(ours["recall@10"], abs=1e-5)
    assert map_["MAP@100"] == pytest.approx(ours["MAP@100"], abs=1e-5)
    assert mrr["MRR@10"] == pytest.approx(ours["MRR@10"], abs=1e-5)
