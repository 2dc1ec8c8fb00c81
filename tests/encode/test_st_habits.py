"""The keywords sentence-transformers users (and LangChain's HuggingFaceEmbeddings) pass to
`encode`, and its helper methods: same meaning where minie5 has one, a clear refusal otherwise."""

import json
import shutil

import numpy as np
import pytest

import minie5
from minie5.reference.pooling import l2_normalize

TEXTS = ["summit define", "the top of a mountain", "trains leave every hour"]


@pytest.fixture(scope="module")
def e5(minilm_dir, tmp_path_factory):
    """MiniLM's files under an e5 name: e5's prompts apply."""
    folder = tmp_path_factory.mktemp("m") / "e5-small-v2"
    shutil.copytree(minilm_dir, folder)
    return minie5.load(folder, backend="numpy")


def test_positional_batch_size_and_st_keywords(minilm):
    plain = minilm.encode(TEXTS)
    np.testing.assert_array_equal(minilm.encode(TEXTS, 2), minilm.encode(TEXTS, batch_size=2))
    raw = minilm.encode(TEXTS, normalize_embeddings=False, show_progress_bar=False, convert_to_numpy=True,
                        device="cpu", output_value="sentence_embedding")
    np.testing.assert_allclose(raw, minilm.encode(TEXTS, normalize=False), atol=0)
    listed = minilm.encode(TEXTS, convert_to_numpy=False)
    assert isinstance(listed, list) and len(listed) == 3
    np.testing.assert_array_equal(np.stack(listed), plain)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"device": "cuda"}, ValueError, "CPU only"),
    ({"output_value": "token_embeddings"}, ValueError, "Model.trace"),
    ({"normalize_embeddings": True, "normalize": False}, ValueError, "disagree"),
    ({"prompt_name": "query", "prompt": "q: "}, ValueError, "not both"),
    ({"truncate_dim": 0}, ValueError, "truncate_dim must be an integer from 1 to 384"),
    ({"pooling_mode": "mean"}, TypeError, "unexpected keyword argument 'pooling_mode'"),
])
def test_what_minie5_cannot_do_is_refused(minilm, kwargs, error, message):
    with pytest.raises(error, match=message):
        minilm.encode(TEXTS, **kwargs)


def test_convert_to_tensor_gives_torch_or_says_why_not(minilm):
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ValueError, match="convert_to_tensor=True needs torch, which is not installed"):
            minilm.encode(TEXTS, convert_to_tensor=True)
        return
    import torch

    tensor = minilm.encode(TEXTS, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and np.array_equal(tensor.numpy(), minilm.encode(TEXTS))


def test_encode_corpus_joins_titles_as_beir(minilm):
    corpus = [{"title": "Summit", "text": "the top of a mountain "}, {"text": " trains leave hourly"},
              {"title": "", "text": "no title"}]
    np.testing.assert_array_equal(minilm.encode_corpus(corpus),
                                  minilm.encode_document(["Summit the top of a mountain", "trains leave hourly",
                                                          "no title"]))
    by_id = minilm.encode_corpus({"a": corpus[0], "b": corpus[1]})
    np.testing.assert_array_equal(by_id, minilm.encode_corpus(corpus[:2]))
    with pytest.raises(TypeError, match=r"corpus\[1\] must be"):
        minilm.encode_corpus([corpus[0], "plain text"])


def test_truncate_dim_truncates_before_normalising(minilm):
    short = minilm.encode(TEXTS, truncate_dim=64)
    raw = minilm.encode(TEXTS, normalize=False)[:, :64]
    np.testing.assert_allclose(short, l2_normalize(raw), atol=1e-6)
    assert short.shape == (3, 64) and np.allclose(np.linalg.norm(short, axis=1), 1, atol=1e-6)


def test_prompt_names_map_to_e5_prefixes(e5):
    np.testing.assert_array_equal(e5.encode(TEXTS, prompt_name="query"), e5.encode_queries(TEXTS))
    np.testing.assert_array_equal(e5.encode_query(TEXTS), e5.encode_queries(TEXTS))
    np.testing.assert_array_equal(e5.encode_document(TEXTS), e5.encode_passages(TEXTS))
    np.testing.assert_array_equal(e5.encode("summit", prompt="query: "), e5.encode("query: summit"))


def test_a_models_own_prompts_win(minilm_dir, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(minilm_dir, folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "Represent this question: ", "document": ""}}))
    model = minie5.load(folder, backend="numpy")
    np.testing.assert_array_equal(model.encode_query("why"), model.encode("Represent this question: why"))
    np.testing.assert_array_equal(model.encode_document("why"), model.encode("why"))
    # "passage" and "document" name the same side: a model that declares one answers to both
    np.testing.assert_array_equal(model.encode("why", prompt_name="passage"), model.encode("why"))
    with pytest.raises(ValueError, match=r"not one of this model's prompts \('query', 'document'\)"):
        model.encode("why", prompt_name="classification")
    # prompts given at load come first, then the model's own
    given = minie5.load(folder, backend="numpy", prompts={"query": "Q: "})
    np.testing.assert_array_equal(given.encode_query("why"), model.encode("Q: why"))
    np.testing.assert_array_equal(given.encode_document("why"), model.encode("why"))
    with pytest.raises(ValueError, match="prompts must map prompt names to strings"):
        minie5.load(folder, backend="numpy", prompts={"query": 1})


def test_similarity_dimension_and_max_seq_length(minilm):
    a, b = minilm.encode(TEXTS[:2]), minilm.encode(TEXTS)
    np.testing.assert_allclose(minilm.similarity(a, b), a @ b.T, atol=1e-6)
    assert minilm.similarity(a[0], b).shape == (1, 3)
    assert minilm.get_sentence_embedding_dimension() == 384 and minilm.max_seq_length == 256
    model = minie5.load(minilm.path, backend="numpy")
    model.max_seq_length = 8
    assert model.max_length == 8 and len(model.tokenizer.tokenize(["a b c d e f g h i j"])[0]) == 8
    with pytest.raises(ValueError, match="max_seq_length must be an integer from 2 to 512"):
        model.max_seq_length = 1000


def test_progress_true_draws_a_bar(minilm, capsys):
    minilm.encode(TEXTS, progress=True)
    assert "3/3" in capsys.readouterr().err
