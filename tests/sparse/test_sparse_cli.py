"""`minie5 search` and `minie5 evaluate` with BM25, sparse and multi-vector models, and hybrids."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.cli import run_cli

CORPUS = ["Mount Everest is 8,849 metres high.", "Trains leave every fifteen minutes.",
          "error code E1234: disk full", "Paris is the capital of France."]


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("small") / "set"
    subprocess.run([sys.executable, "tools/make_retrieval_set.py", str(out), "--limit", "12"], check=True,
                   capture_output=True)
    return out


def test_evaluate_bm25_and_hybrids(small_set, minilm_dir):
    results = {}
    for name, extra in (("bm25", ["-m", "bm25"]), ("dense", ["-m", str(minilm_dir)]),
                        ("rrf", ["-m", str(minilm_dir), "--hybrid", "bm25"]),
                        ("weighted", ["-m", str(minilm_dir), "--hybrid", "bm25", "--fusion", "weighted"])):
        done = run_cli("evaluate", small_set, *extra, "--json")
        assert done.returncode == 0, done.stderr
        results[name] = json.loads(done.stdout)
    assert results["rrf"]["model"].endswith("+ bm25 (rrf)")
    assert all(0 < r["metrics"]["nDCG@10"] <= 1 for r in results.values())
    assert results["rrf"]["metrics"] != results["dense"]["metrics"]


def test_search_with_sparse_multi_vector_and_bm25(tmp_path, sparse_model_dir, minilm_dir):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n")
    bm25 = run_cli("search", "disk error E1234", "-c", corpus, "-m", "bm25", "--json", "-k", "1")
    assert bm25.returncode == 0, bm25.stderr
    assert json.loads(bm25.stdout)["index"] == 2
    for model in (sparse_model_dir("splade-random"), sparse_model_dir("colbert-random")):
        done = run_cli("search", "how tall is everest", "-c", corpus, "-m", model, "--json")
        assert done.returncode == 0, done.stderr
        assert sorted(json.loads(line)["index"] for line in done.stdout.splitlines()) == [0, 1, 2, 3]
    hybrid = run_cli("search", "disk error E1234", "-c", corpus, "-m", minilm_dir, "--hybrid", "bm25", "--json",
                     "-k", "1")
    assert hybrid.returncode == 0, hybrid.stderr
    assert json.loads(hybrid.stdout)["index"] == 2


def test_wrong_combinations_are_usage_errors(tmp_path, sparse_model_dir):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n")
    done = run_cli("search", "q", "-c", corpus, "-m", "bm25", "--hybrid", "bm25")
    assert done.returncode != 0 and "--hybrid fuses a dense --model" in done.stderr
    assert "Traceback" not in done.stderr
