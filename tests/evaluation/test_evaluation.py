"""minie5.evaluation against the reference implementations: every metric equal to pytrec_eval's
(trec_eval's code, which BEIR calls) and MRR to BEIR's formula, ties included; exact search in
blocks equal to a full sort; `minie5 evaluate` end to end on a dataset built by the tool."""

import json

import numpy as np
import pytest

from minie5 import Minie5Error
from minie5.evaluation import evaluate_run, load_beir, trec_order
from minie5.evaluation.search import search
from tests.support.cli import run_cli

pytrec_eval = pytest.importorskip("pytrec_eval")


def beir_mrr(qrels, run, k):
    """BEIR's EvaluateRetrieval.evaluate_custom(metric="mrr"), written out as beir/retrieval/custom_metrics.py does."""
    total = 0.0
    for query, scores in run.items():
        relevant = {d for d, r in qrels.get(query, {}).items() if r > 0}
        for rank, (doc, _) in enumerate(sorted(scores.items(), key=lambda item: item[1], reverse=True)[:k]):
            if doc in relevant:
                total += 1.0 / (rank + 1)
                break
    return total / len(qrels)


@pytest.mark.parametrize("seed", range(6))
def test_every_metric_equals_pytrec_eval_and_beir(seed):
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(150)]
    qrels = {f"q{i}": {d: int(rng.integers(0, 3)) for d in rng.choice(docs, rng.integers(1, 8), replace=False)}
             for i in range(40)}
    qrels["q-none"] = {"d1": 0, "d2": 0}  # judged, nothing relevant
    run = {}
    for q in qrels:
        chosen = rng.choice(docs, 120, replace=False)
        scores = np.round(rng.random(120), 1 if seed % 2 else 6)  # with seed odd, many ties
        # listed in trec_eval's order, as minie5's run is, so that BEIR's MRR sees the same ranking
        unordered = {str(d): float(s) for d, s in zip(chosen, scores)}
        run[q] = {d: unordered[d] for d in trec_order(unordered)}
    ours = evaluate_run(qrels, run)
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.1,10,100", "map_cut.100"}).evaluate(run)
    n = len(theirs)
    for name, key in (("nDCG@10", "ndcg_cut_10"), ("recall@1", "recall_1"), ("recall@10", "recall_10"),
                      ("recall@100", "recall_100"), ("MAP@100", "map_cut_100")):
        assert ours[name] == pytest.approx(sum(v[key] for v in theirs.values()) / n, abs=1e-12), name
    assert ours["MRR@10"] == pytest.approx(beir_mrr(qrels, run, 10), abs=1e-12)


def test_ties_are_broken_as_trec_eval_breaks_them():
    assert trec_order({"a": 1.0, "b": 1.0, "c": 2.0, "ab": 1.0}) == ["c", "b", "ab", "a"]
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 0.5, "b": 0.5}}  # tied: trec_eval ranks b (the larger id) first
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"recall.1"}).evaluate(run)["q"]["recall_1"]
    assert evaluate_run(qrels, run)["recall@1"] == theirs == 0.0


def test_search_in_blocks_equals_a_full_sort():
    rng = np.random.default_rng(0)
    queries, corpus = rng.standard_normal((7, 16), dtype=np.float32), rng.standard_normal((1000, 16), dtype=np.float32)
    scores, rows = search(queries, (corpus[i:i + 64] for i in range(0, 1000, 64)), 25)
    full = queries @ corpus.T
    np.testing.assert_array_equal(rows, np.argsort(-full, axis=1, kind="stable")[:, :25])
    np.testing.assert_allclose(scores, np.take_along_axis(full, rows, 1), rtol=1e-6)
    few_scores, few_rows = search(queries, [corpus[:3]], 25)  # fewer documents than k
    assert few_rows.shape == (7, 3)


@pytest.fixture
def dataset(stdlib_beir):
    return stdlib_beir


def test_minie5_evaluate_reproduces_pytrec_eval(dataset, minilm_dir, tmp_path):
    run_file, out = tmp_path / "run.trec", tmp_path / "results.json"
    result = run_cli("evaluate", dataset, "-m", minilm_dir, "--json", "--run-out", run_file, "-o", out, "-k", "20")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads(out.read_text()) and printed["queries"] == 60 and printed["corpus"] == 120
    run: dict = {}
    for line in run_file.read_text().splitlines():
        query, _, doc, rank, score, _ = line.split()
        run.setdefault(query, {})[doc] = float(score)
    assert all(len(docs) == 20 for docs in run.values())  # top-k kept, not the whole corpus
    qrels = load_beir(dataset).qrels
    theirs = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.1,10"}).evaluate(run)
    for name, key in (("nDCG@10", "ndcg_cut_10"), ("recall@1", "recall_1"), ("recall@10", "recall_10")):
        assert printed["metrics"][name] == pytest.approx(np.mean([v[key] for v in theirs.values()]), abs=1e-6)
    assert printed["metrics"]["nDCG@10"] > 0.3  # docstring summaries do find their bodies
    table = run_cli("evaluate", dataset, "-m", minilm_dir, "-q")
    assert table.returncode == 0 and "nDCG@10" in table.stdout
    assert all(": warning: " in line for line in table.stderr.splitlines())  # -q: warnings only, no notes


def test_bad_datasets_are_named(tmp_path, dataset):
    folder = tmp_path / "d"
    folder.mkdir()
    with pytest.raises(Minie5Error, match="corpus.jsonl: no such file"):
        load_beir(folder)
    (folder / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\n{"_id": "b", "text": 3}\n')
    with pytest.raises(Minie5Error, match=r"corpus.jsonl line 2: 'text'"):
        load_beir(folder)
    with pytest.raises(Minie5Error, match="dev.tsv: no such file \\(splits here: test\\)"):
        load_beir(dataset, "dev")
    assert run_cli("evaluate", tmp_path / "absent").returncode == 2
