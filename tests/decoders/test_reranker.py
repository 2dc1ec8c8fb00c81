"""Qwen3-Reranker through load_reranker: P("yes") from the yes/no logits of a causal model, against
the model card's recipe run by transformers' Qwen3ForCausalLM (tools/make_decoder_golden.py)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import minie5
from minie5.errors import TokenizerError
from tests.support import random_decoder

GOLDEN = Path(__file__).resolve().parent / "golden"
NAME = "qwen3-reranker-random"


@pytest.fixture(scope="module")
def reranker_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reranker") / NAME
    meta = json.loads((GOLDEN / f"{NAME}.json").read_text(encoding="utf-8"))
    assert random_decoder.build(NAME, folder) == meta["weights_digest"]
    return folder, dict(np.load(GOLDEN / f"{NAME}.npz")), [tuple(p) for p in meta["pairs"]]


@pytest.mark.slow
def test_reference_scores_match_the_model_card_recipe(reranker_dir):
    folder, golden, pairs = reranker_dir
    reranker = minie5.load_reranker(folder, backend="numpy")
    np.testing.assert_allclose(reranker.predict(pairs, batch_size=3), golden["scores"], atol=1e-5)


def test_engine_scores_match_the_model_card_recipe(reranker_dir):
    folder, golden, pairs = reranker_dir
    reranker = minie5.load_reranker(folder)
    np.testing.assert_allclose(reranker.predict(pairs, batch_size=3), golden["scores"], atol=1e-5)
    np.testing.assert_allclose(reranker.predict(pairs, activation="none"), golden["yes_minus_no"], atol=1e-4)
    ranked = reranker.rank(pairs[0][0], [pairs[1][1], pairs[0][1]], return_documents=True)
    assert [r["corpus_id"] for r in ranked] == [1, 0] and ranked[0]["text"] == pairs[0][1]


def test_int8_scores_stay_close(reranker_dir):
    folder, golden, pairs = reranker_dir
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reranker = minie5.load_reranker(folder, dtype="int8")
    scores = reranker.predict(pairs)
    # int8 products on random weights move P("yes") by about 0.02; the order of the pairs holds.
    np.testing.assert_allclose(scores, golden["scores"], atol=0.05)
    assert list(np.argsort(scores)) == list(np.argsort(golden["scores"]))


def test_long_pairs_are_cut_in_the_middle_not_the_template(reranker_dir):
    folder, _, pairs = reranker_dir
    reranker = minie5.load_reranker(folder, backend="numpy", max_length=160)
    ids = reranker.tokenize([(pairs[0][0], "word " * 500)])[0]
    assert len(ids) == 160 and list(ids[-len(reranker.suffix):]) == reranker.suffix
    assert np.isfinite(reranker.predict([(pairs[0][0], "word " * 500)])).all()


def test_an_embedding_tokenizer_without_yes_and_no_is_refused(decoder_model):
    folder, _, _ = decoder_model("qwen3-embedding-random")
    with pytest.raises(TokenizerError, match="no single token 'yes' and 'no'"):
        minie5.load_reranker(folder)
