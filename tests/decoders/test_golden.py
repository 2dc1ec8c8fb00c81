"""Qwen3-Embedding and EmbeddingGemma against transformers and sentence-transformers, on seeded random
weights at the real models' layer shapes (tests/support/random_decoder.py; the golden files come from
tools/make_decoder_golden.py): every hidden state, and the pooled, projected, normalised vectors with
and without the query prompt."""

import numpy as np
import pytest

import minie5
from minie5 import families
from minie5.reference.padding import pad_batch

MODELS = ["qwen3-embedding-random", "embeddinggemma-random"]


def real_tokens(states, mask):
    return np.stack([state[mask > 0] for state in states])


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dtype,tolerance", [("float64", 5e-5), ("float32", 1e-4)])
def test_reference_hidden_states_match_transformers(decoder_model, name, dtype, tolerance):
    folder, golden, _ = decoder_model(name)
    files = families.open_model(folder)
    params = families.load_params(files, np.dtype(dtype))
    ids = np.split(golden["input_ids"], np.cumsum(golden["lengths"])[:-1])
    input_ids, mask = pad_batch(ids, files.config.pad_token_id)
    states = real_tokens(families.family_of(files.config).reference(input_ids, mask, params, files.config), mask)
    assert states.shape == golden["hidden_states"].shape
    error = np.abs(states - golden["hidden_states"]).max(axis=(1, 2))
    scale = np.abs(golden["hidden_states"]).max()
    assert (error < tolerance * scale).all(), f"max abs difference per hidden state {error} (values up to {scale})"


@pytest.mark.parametrize("name", MODELS)
def test_vectors_match_sentence_transformers(decoder_model, name):
    folder, golden, meta = decoder_model(name)
    model = minie5.load(folder, backend="numpy")
    np.testing.assert_allclose(model.encode(meta["texts"], batch_size=3), golden["embeddings"], atol=2e-6)
    np.testing.assert_allclose(model.encode(meta["queries"], prompt_name="query"), golden["query_embeddings"],
                               atol=2e-6)
    # The prompt changes the vector: it is really applied, and applied once.
    assert np.abs(model.encode(meta["queries"]) - golden["query_embeddings"]).max() > 1e-2


def test_qwen3_pipeline_is_read_from_its_files(decoder_model):
    folder, _, _ = decoder_model("qwen3-embedding-random")
    model = minie5.load(folder, backend="numpy")
    assert model.pooling == "lasttoken" and model.pipeline.normalize
    assert model.prompts.resolve("query", warn=False).startswith("Instruct: ")
    ids = model.tokenizer.tokenize(["a b c"])[0]
    assert ids[-1] == 672  # every text ends with <|endoftext|>, the token whose state is the embedding


def test_embeddinggemma_runs_its_dense_modules(decoder_model):
    folder, golden, meta = decoder_model("embeddinggemma-random")
    model = minie5.load(folder, backend="numpy")
    assert [(d.in_features, d.out_features) for d in model.pipeline.dense] == [(768, 3072), (3072, 768)]
    without = minie5.load(folder, backend="numpy")
    without.backend = without.embedder.backend = without.backend.backend  # the same model, Dense modules skipped
    assert np.abs(without.encode(meta["texts"][:2]) - golden["embeddings"][:2]).max() > 1e-2
