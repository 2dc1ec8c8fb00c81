"""The encoder families beside BERT against transformers' own classes (RobertaModel,
CamembertModel, DistilBertModel, MPNetModel): the outputs tools/make_family_goldens.py recorded,
at the BERT goldens' tolerances (tests/test_golden.py), both backends, hidden state by hidden
state; and the engine's int8 and bfloat16 against its float32."""

import warnings

import numpy as np
import pytest

import minie5
from tests.support import golden, random_families
from tests.test_golden import check

NAMES = list(random_families.FAMILY_MODELS)
REFERENCE_ONLY: set[str] = set()  # families without an engine yet


@pytest.fixture(scope="module")
def family_dir(tmp_path_factory):
    built = {}

    def build(name: str):
        if name not in built:
            fixture = load(name)
            built[name] = tmp_path_factory.mktemp(name)
            digest = random_families.build(name, built[name])
            assert digest == fixture.meta["model"]["weights_sha256"], \
                f"the rebuilt weights of {name} differ from its golden's: rerun tools/make_family_goldens.py"
        return built[name]

    return build


def load(name: str) -> golden.Fixture:
    original = golden.GOLDEN
    golden.GOLDEN = random_families.FAMILY_GOLDEN
    try:
        return golden.load_fixture(name)
    finally:
        golden.GOLDEN = original


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", NAMES)
def test_family_matches_transformers(family_dir, name, backend):
    if backend == "numba" and name in REFERENCE_ONLY:
        with pytest.raises(ValueError, match="family has no numba engine yet: load it with backend='numpy'"):
            minie5.load(family_dir(name), backend=backend)
        return
    check(minie5.load(family_dir(name), backend=backend), load(name))


def test_mpnet_reads_its_sentence_transformers_files(family_dir):
    """all-mpnet-base-v2's modules.json (mean pooling, Normalize) and its 384-token limit."""
    model = minie5.load(family_dir("mpnet-random"), backend="numpy")
    assert model.pooling == "mean" and model.pipeline.normalize and model.max_length == 384


@pytest.mark.parametrize("name", ["mpnet-random", "nomic-random"])
def test_pipeline_matches_sentence_transformers(family_dir, name):
    """Pooling, normalisation, length limit and prompts as sentence-transformers' SentenceTransformer
    applies them from the model's own files (recorded by tools/make_family_goldens.py)."""
    fixture = load(name)
    model = minie5.load(family_dir(name))
    texts = fixture.texts[:6]  # the long texts' windows are covered by the hidden-state goldens
    np.testing.assert_allclose(model.encode(texts), fixture.arrays["st_embeddings"][:6], rtol=0, atol=1e-5)
    if "st_query_embeddings" in fixture.arrays:
        np.testing.assert_allclose(model.encode_query(texts), fixture.arrays["st_query_embeddings"][:6],
                                   rtol=0, atol=1e-5)


def test_nomic_reads_its_prompts_and_its_config_in_both_spellings(family_dir):
    """nomic-embed-text-v1.5's task prefixes from config_sentence_transformers.json; nomic-ai's own
    config.json names (n_embd, n_layer, rotary_emb_base, ...) read as transformers' are."""
    from minie5.loading.encoder_configs import NomicBertConfig

    model = minie5.load(family_dir("nomic-random"), backend="numpy")
    assert model.prompts.resolve("query", warn=False) == "search_query: "
    assert model.prompts.resolve("document", warn=False) == "search_document: "
    ours = NomicBertConfig.from_dict(random_families.config_of("nomic-random"))
    hub = NomicBertConfig.from_dict({"model_type": "nomic_bert", "vocab_size": ours.vocab_size, "n_embd": 768,
                                     "n_layer": 2, "n_head": 12, "n_inner": 3072, "n_positions": 2048,
                                     "layer_norm_epsilon": 1e-12, "rotary_emb_base": 1000,
                                     "activation_function": "swiglu", "rotary_emb_fraction": 1.0,
                                     "rotary_emb_interleaved": False, "qkv_proj_bias": False})
    assert hub == ours
    with pytest.raises(minie5.ConfigError, match="rotary_emb_interleaved=True is not supported"):
        NomicBertConfig.from_dict({"model_type": "nomic_bert", "rotary_emb_interleaved": True})


@pytest.mark.slow
@pytest.mark.parametrize("dtype, min_cosine", [("int8", 0.99), ("bfloat16", 0.999)])
@pytest.mark.parametrize("name", ["roberta-random", "distilbert-random", "mpnet-random", "nomic-random",
                                  "modernbert-random"])
def test_family_dtypes_stay_close_to_float32(family_dir, name, dtype, min_cosine):
    texts = load(name).texts
    exact = minie5.load(family_dir(name)).encode(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a CPU without VNNI or BF16 runs float32, saying so
        rounded = minie5.load(family_dir(name), dtype=dtype).encode(texts)
    assert np.sum(exact * rounded, axis=1).min() >= min_cosine
