"""Cross-encoders pinned to transformers: seeded random rerankers with ms-marco-MiniLM-L-6-v2's BERT
architecture and a reduced bge-reranker (XLM-R), whose pair tokens, logits and sentence-transformers
scores tools/make_golden.py recorded (tests/golden/reranker-random.*, xlmr-reranker-random.*)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import minie5
from minie5.errors import ConfigError, TextError, WeightsError
from tests.support import golden

RERANKERS = ["reranker-random", "xlmr-reranker-random"]
REAL_ENV = "MINIE5_RERANKER"  # a local copy of cross-encoder/ms-marco-MiniLM-L-6-v2, where there is one


@pytest.fixture(scope="module", params=RERANKERS)
def case(request, random_model_dir):
    fixture = golden.load_fixture(request.param)
    pairs = [tuple(p) for p in fixture.meta["model"]["pairs"]]
    return fixture, random_model_dir(request.param), pairs


def split(flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(flat, np.cumsum(lengths)[:-1])


def test_pairs_are_tokenized_as_transformers_does(case):
    """The tokenizer.json pair template, token types, and longest-first truncation at 512."""
    fixture, folder, pairs = case
    reranker = minie5.load_reranker(folder, backend="numpy")
    ids, types, _ = reranker.tokenizer.tokenize_pairs([q for q, _ in pairs], [d for _, d in pairs])
    for got, expected in zip(ids, split(fixture.arrays["input_ids"], fixture.arrays["lengths"])):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(types, split(fixture.arrays["token_type_ids"], fixture.arrays["lengths"])):
        np.testing.assert_array_equal(got, expected)
    assert max(len(s) for s in ids) == 512  # the long pairs were cut


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_logits_and_scores_equal_transformers_and_sentence_transformers(case, backend):
    fixture, folder, pairs = case
    reranker = minie5.load_reranker(folder, backend=backend)
    logits = reranker.logits(pairs, batch_size=3)
    np.testing.assert_allclose(logits, fixture.arrays["logits"], rtol=0, atol=2e-4)
    if backend == "numpy":
        return  # the reference is slow on 512-token pairs; the scores' arithmetic is shared
    # sentence-transformers' CrossEncoder.predict, its default activation applied: Identity as the
    # BERT model's config.json names it, sigmoid for the XLM-R model, which names none.
    np.testing.assert_allclose(reranker.predict(pairs), fixture.arrays["st_scores"], rtol=0, atol=2e-4)
    raw = reranker.predict(pairs, activation="none")
    np.testing.assert_allclose(raw, fixture.arrays["logits"][:, 0], rtol=0, atol=2e-4)
    np.testing.assert_allclose(reranker.predict(pairs, activation="sigmoid"), 1 / (1 + np.exp(-raw)), atol=1e-6)


def test_float64_reference_is_a_ground_truth(case):
    fixture, folder, pairs = case
    exact = minie5.load_reranker(folder, backend="numpy", dtype="float64").logits(pairs)
    assert exact.dtype == np.float64
    np.testing.assert_allclose(exact, fixture.arrays["logits"], rtol=0, atol=2e-4)


def test_a_pairs_score_does_not_depend_on_its_batch(case):
    fixture, folder, pairs = case
    reranker = minie5.load_reranker(folder, deterministic=True)
    together = reranker.logits(pairs, batch_size=32)
    alone = np.concatenate([reranker.logits([p]) for p in pairs])
    np.testing.assert_array_equal(together, alone)


def test_rank_is_sentence_transformers_shape(case):
    fixture, folder, pairs = case
    reranker = minie5.load_reranker(folder)
    query = "how tall is mount everest"
    documents = [d for q, d in pairs if q == query] + ["the summit of everest", "a recipe for bread"]
    ranked = reranker.rank(query, documents, return_documents=True)
    scores = reranker.predict([(query, d) for d in documents])
    assert [r["corpus_id"] for r in ranked] == list(np.argsort(-scores, kind="stable"))
    assert all(r["text"] == documents[r["corpus_id"]] for r in ranked)
    assert [r["score"] for r in ranked] == pytest.approx(sorted(scores, reverse=True))
    assert len(reranker.rank(query, documents, top_k=2)) == 2 and "text" not in reranker.rank(query, documents)[0]
    assert reranker.rank(query, []) == []


def test_bad_pairs_and_arguments_are_named(case):
    fixture, folder, pairs = case
    reranker = minie5.load_reranker(folder, backend="numpy")
    with pytest.raises(TextError, match=r"texts\[1\] .*not a \(query, document\) pair"):
        reranker.predict([("a", "b"), ("only one",)])
    with pytest.raises(TextError, match=r"texts\[0\] has a document of type int"):
        reranker.predict([("a", 3)])
    with pytest.raises(TypeError, match="list of"):
        reranker.predict("a string")
    with pytest.raises(ValueError, match="activation"):
        reranker.predict(pairs[:1], activation="relu")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        reranker.predict(pairs[:1], batch_size=0)
    with pytest.raises(TypeError, match="one string"):
        reranker.rank("q", "a single document")


def test_an_embedding_model_is_not_a_cross_encoder(minilm_dir):
    with pytest.raises(ConfigError, match="not a cross-encoder"):
        minie5.load_reranker(minilm_dir)


def test_a_head_of_the_wrong_shape_is_refused(tmp_path, random_model_dir):
    folder = tmp_path / "wrong"
    shutil.copytree(random_model_dir("reranker-random"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "a", "1": "b", "2": "c"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=r"'classifier.weight' has shape \[1, 384\], expected \[3, 384\]"):
        minie5.load_reranker(folder)


def test_the_embedder_ignores_a_cross_encoders_head(random_model_dir, recwarn):
    """minie5.load reads the encoder of a cross-encoder's file without warning about its head."""
    minie5.load(random_model_dir("reranker-random"), backend="numpy")
    assert not [w for w in recwarn if "ignoring" in str(w.message)]


def real_reranker() -> Path | None:
    if os.environ.get(REAL_ENV):
        return Path(os.environ[REAL_ENV])
    from minie5.loading import hub

    return hub.find_in_cache("cross-encoder/ms-marco-MiniLM-L-6-v2", "main")


def test_real_ms_marco_minilm_ranks_the_answer_first():
    """Real trained weights, where a local copy exists (set $MINIE5_RERANKER to its folder)."""
    folder = real_reranker()
    if folder is None or not (Path(folder) / "model.safetensors").exists():
        pytest.skip(f"cross-encoder/ms-marco-MiniLM-L-6-v2 is not on this machine (set ${REAL_ENV} to a local copy; "
                    "no registry ships it and the hub is not reachable)")
    reranker = minie5.load_reranker(folder)
    ranked = reranker.rank("How many people live in Berlin?", [
        "New York City is famous for the Metropolitan Museum of Art.",
        "Berlin has a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers."])
    assert ranked[0]["corpus_id"] == 1 and ranked[0]["score"] > ranked[1]["score"] + 5


def test_the_rerank_command(random_model_dir, tmp_path):
    from tests.support.cli import run_cli

    folder = random_model_dir("xlmr-reranker-random")
    reranker = minie5.load_reranker(folder)
    query, documents = "how tall is mount everest", ["Everest is 8,849 metres high.", "Trains leave hourly.", "bread"]
    expected = reranker.rank(query, documents)
    result = run_cli("rerank", "-m", folder, "--json", query, *documents)
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [h["index"] for h in hits] == [r["corpus_id"] for r in expected]
    assert [h["score"] for h in hits] == pytest.approx([r["score"] for r in expected], abs=1e-5)
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(documents) + "\n")
    table = run_cli("rerank", "-m", folder, "--corpus", corpus, "-k", "2", "--raw", query)
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 2, table.stderr
    best = documents[expected[0]["corpus_id"]]
    assert table.stdout.split()[1] == f"{reranker.predict([(query, best)], activation='none')[0]:.4f}"
    refused = run_cli("rerank", "-m", golden.minilm_dir(), query, "a document")
    assert refused.returncode == 1 and "not a cross-encoder" in refused.stderr and "Traceback" not in refused.stderr
    assert run_cli("rerank", "-m", folder, query).returncode == 2  # no documents


def test_search_reranks_the_embedders_top_hits(random_model_dir, tmp_path):
    from tests.support.cli import run_cli

    folder = random_model_dir("xlmr-reranker-random")
    documents = ["Everest is 8,849 metres high.", "Trains leave hourly.", "bread and butter", "the summit in snow",
                 "K2 is the second highest mountain.", "a recipe for soup"]
    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(documents) + "\n")
    query = "how tall is mount everest"
    plain = run_cli("search", "-m", golden.minilm_dir(), "-c", corpus, "-k", "4", "--json", "--no-cache", query)
    assert plain.returncode == 0, plain.stderr
    first4 = [json.loads(line)["index"] for line in plain.stdout.splitlines()]
    reranked = run_cli("search", "-m", golden.minilm_dir(), "-c", corpus, "-k", "2", "--rerank", folder,
                       "--rerank-top", "4", "--json", "--no-cache", query)
    assert reranked.returncode == 0, reranked.stderr
    hits = [json.loads(line) for line in reranked.stdout.splitlines()]
    expected = minie5.load_reranker(folder).rank(query, [documents[i] for i in first4], top_k=2)
    assert [h["index"] for h in hits] == [first4[r["corpus_id"]] for r in expected]
    assert [h["score"] for h in hits] == pytest.approx([r["score"] for r in expected], abs=1e-5)
