"""minie5 against transformers + PyTorch: the outputs recorded by tools/make_golden.py.

Tolerances (float32): normalised embeddings within 1e-5 of the reference (max absolute difference)
with cosine >= 0.99999; unnormalised mean, CLS and max pooling within 1e-5 relative to their
largest magnitude; and every hidden state within 1e-4 of the reference relative to that state's
largest magnitude. `python tools/golden.py` prints the differences actually measured.
"""

import pytest

import minie5
from tests.support import golden

EMBEDDING_ATOL = 1e-5
MIN_COSINE = 0.99999
HIDDEN_RTOL = 1e-4
BACKENDS = ["numpy", "numba"]


def check(model: minie5.Model, fixture: golden.Fixture) -> None:
    d = golden.measure(model, fixture)
    assert d.ids_equal, "token ids differ from transformers' AutoTokenizer"
    assert d.embedding_max_abs <= EMBEDDING_ATOL, d
    assert d.embedding_min_cos >= MIN_COSINE, d
    assert d.mean_pooled_max_rel <= EMBEDDING_ATOL, d
    assert max(d.pooled_max_rel.values()) <= EMBEDDING_ATOL, d
    assert len(d.hidden_max_rel) == model.config.num_hidden_layers + 1
    for layer, rel in enumerate(d.hidden_max_rel):
        assert rel <= HIDDEN_RTOL, f"hidden state {layer} (0 = embeddings): max rel diff {rel:.2e}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_minilm_matches_transformers(minilm_dir, backend):
    check(minie5.load(minilm_dir, backend=backend), golden.load_fixture("minilm"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_e5_shaped_random_model_matches_transformers(e5_random_dir, backend):
    check(minie5.load(e5_random_dir, backend=backend), golden.load_fixture("e5-random"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["multilingual-random", "xlmr-random"])
def test_multilingual_models_match_transformers(random_model_dir, name, backend):
    """multilingual-e5-small's architecture (BERT) and multilingual-e5-base's (XLM-RoBERTa), with an
    XLM-R-style sentencepiece Unigram tokenizer (<s> ... </s>)."""
    check(minie5.load(random_model_dir(name), backend=backend), golden.load_fixture(name))


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_e5_small_v2_matches_transformers(backend):
    if not (golden.GOLDEN / "e5-small-v2.npz").exists():
        pytest.skip("no tests/golden/e5-small-v2 fixture: run tools/make_golden.py --models e5-small-v2 "
                    "where the Hugging Face hub (or a local copy, --e5-dir) is reachable")
    path = golden.find_e5_small_v2()
    if path is None:
        pytest.skip(f"intfloat/e5-small-v2 not found locally: set {golden.E5_ENV} to its directory "
                    "or put it in the Hugging Face cache")
    check(minie5.load(path, backend=backend), golden.load_fixture("e5-small-v2"))


def test_fixture_texts_cover_the_edge_cases():
    """The fixtures hold what the tolerances are claimed for: the model card's examples, the edge
    cases, and a text long enough to be truncated."""
    fixture = golden.load_fixture("minilm")
    texts = fixture.texts
    assert texts[:2] == ["query: how much protein should a female eat", "query: summit define"]
    assert "" in texts and any(t and not t.strip() for t in texts)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)  # CJK
    assert any(any(ord(ch) > 0x1F000 for ch in t) for t in texts)  # emoji
    assert any(any(ord(ch) < 32 and ch not in "\t\n\r" for ch in t) for t in texts)  # control chars
    assert any(len(w) > 100 for t in texts for w in t.split())
    assert fixture.arrays["lengths"].max() == 256  # truncated at MiniLM's max_seq_length
    assert golden.load_fixture("e5-random").arrays["lengths"].max() == 512  # at e5's 512
