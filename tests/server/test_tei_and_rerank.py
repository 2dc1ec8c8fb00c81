"""One `minie5 serve` for two embedders and a reranker, called through the routes and the real
clients of text-embeddings-inference's API (huggingface_hub, LangChain, LlamaIndex, Chroma) and of
Cohere's rerank API (the cohere client), every answer checked against the library."""

import httpx
import numpy as np
import pytest

import minie5
from tests.support.server import running_server

pytest.importorskip("uvicorn")

DOCUMENTS = ["Paris is the capital and largest city of France.", "The Rhine flows through six countries.",
             "Photosynthesis turns light into chemical energy.", "A cat is a small domesticated carnivore."]
QUERY = "what is the capital of france"


@pytest.fixture(scope="module")
def reranker_dir(random_model_dir):
    return random_model_dir("reranker-random")


@pytest.fixture(scope="module")
def engine(minilm_dir) -> minie5.Model:
    return minie5.load(minilm_dir)


@pytest.fixture(scope="module")
def reranker(reranker_dir) -> minie5.CrossEncoder:
    return minie5.load_reranker(reranker_dir)


@pytest.fixture(scope="module")
def server(minilm_dir, reranker_dir):
    """The embedder as "minilm" (the default), the reranker, and the embedder again as "copy"."""
    with running_server("--model", minilm_dir, "--model", reranker_dir, "--model", minilm_dir,
                        "--served-name", "minilm", "--served-name", "reranker", "--served-name", "copy",
                        "--max-inputs", "64") as (process, url):
        yield url
        process.terminate()
        process.wait(60)
        assert "Traceback" not in process.stderr.read()


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60)


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))


# --- text-embeddings-inference's routes -------------------------------------------------------


def test_embed_gives_the_librarys_vectors(server, engine):
    vectors = np.array(post(server, "/embed", {"inputs": DOCUMENTS}).json())
    np.testing.assert_allclose(vectors, engine.encode(DOCUMENTS), rtol=0, atol=1e-6)
    raw = np.array(post(server, "/embed", {"inputs": DOCUMENTS[0], "normalize": False}).json())
    np.testing.assert_allclose(raw, engine.encode(DOCUMENTS[:1], normalize=False), rtol=0, atol=1e-5)
    root = np.array(post(server, "/", {"inputs": DOCUMENTS[:2]}).json())  # TEI's root route embeds
    np.testing.assert_allclose(root, vectors[:2], rtol=0, atol=1e-6)


def test_embed_truncates_from_either_side_or_refuses(server, engine):
    long = " ".join(f"word{i}" for i in range(600))
    right = np.array(post(server, "/embed", {"inputs": long}).json())
    np.testing.assert_allclose(right, engine.encode([long]), rtol=0, atol=1e-6)
    left = np.array(post(server, "/embed", {"inputs": long, "truncate": True, "truncation_direction": "Left"}).json())
    last = engine.tokenizer.tokenize_last([long])[0][0]
    assert last[-2] != engine.tokenizer.tokenize([long])[0][-2]  # the windows differ
    np.testing.assert_allclose(left, engine.encode_tokens([last]), rtol=0, atol=1e-6)
    refused = post(server, "/embed", {"inputs": ["short", long], "truncate": False})
    assert refused.status_code == 400
    assert refused.json()["error_type"] == "Validation" and "inputs[1]" in refused.json()["error"]


@pytest.mark.parametrize("body, names", [
    ({"inputs": []}, "inputs"), ({"inputs": "a", "normalize": "yes"}, "normalize"),
    ({"inputs": "a", "truncation_direction": "middle"}, "truncation_direction"),
    ({"inputs": "a", "prompt_name": "nonsense"}, "nonsense"), ({"inputs": "a", "dimensions": 0}, "dimensions"),
    ({"inputs": "a", "colour": 1}, "colour"), ({"inputs": "a", "model": "reranker"}, "reranker"),
    ({"inputs": "a", "model": "nobody"}, "nobody"),
])
def test_embed_errors_are_teis_shape_and_name_the_field(server, body, names):
    response = post(server, "/embed", body)
    assert response.status_code in (400, 404), response.text
    assert set(response.json()) == {"error", "error_type"} and names in response.json()["error"]


def test_info_describes_the_default_model(server, engine):
    info = httpx.get(server + "/info").json()
    assert info["model_id"] == "minilm" and info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert info["max_input_length"] == engine.max_length and info["max_client_batch_size"] == 64
    assert info["auto_truncate"] is True and info["model_dtype"] == "float32"


def test_tokenize_in_teis_shape(server, engine):
    text = "Hello wörld, naïve café"
    (tokens,) = post(server, "/tokenize", {"inputs": text}).json()
    assert [t["id"] for t in tokens] == engine.tokenizer.tokenize([text])[0].tolist()
    assert tokens[0] == {"id": 101, "text": "[CLS]", "special": True, "start": None, "stop": None}
    assert tokens[1]["text"] == "Hello" and all(text[t["start"]:t["stop"]] == t["text"] for t in tokens[1:-1])
    bare = post(server, "/tokenize", {"inputs": [text], "add_special_tokens": False}).json()[0]
    assert [t["id"] for t in bare] == [t["id"] for t in tokens[1:-1]]
    bad = post(server, "/tokenize", {"inputs": "a", "add_special_tokens": 1})
    assert bad.status_code == 400 and bad.json()["error_type"] == "Validation"


def test_rerank_scores_are_the_librarys(server, reranker):
    logits = reranker.logits([(QUERY, d) for d in DOCUMENTS])[:, 0]
    ranked = post(server, "/rerank", {"query": QUERY, "texts": DOCUMENTS, "return_text": True}).json()
    assert [r["index"] for r in ranked] == sorted(range(len(DOCUMENTS)), key=lambda i: -logits[i])
    for r in ranked:
        assert r["text"] == DOCUMENTS[r["index"]]
        assert r["score"] == pytest.approx(sigmoid(logits[r["index"]]), abs=1e-5)
    raw = post(server, "/", {"query": QUERY, "texts": DOCUMENTS, "raw_scores": True}).json()  # the root route
    assert {r["index"]: r["score"] for r in raw} == pytest.approx(dict(enumerate(logits)), abs=1e-4)
    assert "text" not in raw[0]


def test_rerank_refuses_what_it_cannot_score(server):
    long = "word " * 700
    for body, field in [({"query": QUERY, "texts": ["a", long], "truncate": False}, "texts[1]"),
                        ({"query": "", "texts": ["a"]}, "query"), ({"query": QUERY, "texts": []}, "texts"),
                        ({"query": QUERY, "texts": ["a", 3]}, "texts[1]"),
                        ({"query": QUERY, "texts": ["a"], "model": "minilm"}, "minilm")]:
        response = post(server, "/rerank", body)
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["error"] and response.json()["error_type"] == "Validation"
    assert post(server, "/rerank", {"query": QUERY, "texts": ["a", long]}).status_code == 200  # cut by default


# --- Cohere's and Jina's rerank API ----------------------------------------------------------------


def test_cohere_shape_with_objects_top_n_and_documents(server, reranker):
    logits = reranker.logits([(QUERY, d) for d in DOCUMENTS])[:, 0]
    documents = [{"text": DOCUMENTS[0], "id": "a"}, *DOCUMENTS[1:]]
    body = post(server, "/v1/rerank", {"model": "reranker", "query": QUERY, "documents": documents, "top_n": 2,
                                       "return_documents": True}).json()
    best = sorted(range(len(DOCUMENTS)), key=lambda i: -logits[i])[:2]
    assert [r["index"] for r in body["results"]] == best and body["model"] == "reranker"
    for r in body["results"]:
        assert r["relevance_score"] == pytest.approx(sigmoid(logits[r["index"]]), abs=1e-5)
        assert r["document"] == (documents[0] if r["index"] == 0 else {"text": DOCUMENTS[r["index"]]})
    assert body["usage"]["total_tokens"] > 0 and body["meta"]["api_version"]["version"] == "1"


def test_max_tokens_per_doc_cuts_each_document(server, reranker):
    cut = reranker.tokenizer.cut_to_tokens(DOCUMENTS, 4)
    assert all(len(reranker.tokenizer.tokenize([c])[0]) == 6 for c in cut)  # [CLS] 4 pieces [SEP]
    expected = sigmoid(reranker.logits([(QUERY, c) for c in cut])[:, 0])
    results = post(server, "/v2/rerank", {"model": "reranker", "query": QUERY, "documents": DOCUMENTS,
                                          "max_tokens_per_doc": 4}).json()["results"]
    assert {r["index"]: r["relevance_score"] for r in results} == pytest.approx(dict(enumerate(expected)), abs=1e-5)


@pytest.mark.parametrize("body, field", [
    ({"query": QUERY}, "documents"), ({"query": QUERY, "documents": [{"title": "x"}]}, "documents[0]"),
    ({"query": QUERY, "documents": ["a"], "top_n": 0}, "top_n"),
    ({"query": QUERY, "documents": ["a"], "rank_fields": ["title"]}, "rank_fields"),
    ({"query": QUERY, "documents": ["a"], "max_chunks_per_doc": 3}, "max_chunks_per_doc"),
    ({"query": QUERY, "documents": ["a"], "relevant_spans": {"mode": "on"}}, "relevant_spans"),
    ({"query": QUERY, "documents": ["a"], "model": "copy"}, "copy"),
    ('{"query": "q", "documents": ["a", "\\ud800"]}', "documents[1]"),  # a lone surrogate, as JSON can send one
])
def test_cohere_errors_are_cohere_shaped_and_name_the_field(server, body, field):
    if isinstance(body, str):
        response = httpx.post(server + "/v2/rerank", content=body.encode(),
                              headers={"Content-Type": "application/json"})
    else:
        response = post(server, "/v2/rerank", body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"message"} and field in response.json()["message"]


def test_the_cohere_client_reranks(server, reranker):
    cohere = pytest.importorskip("cohere")
    logits = reranker.logits([(QUERY, d) for d in DOCUMENTS])[:, 0]
    v2 = cohere.ClientV2(base_url=server, api_key="unused").rerank(model="reranker", query=QUERY,
                                                                   documents=DOCUMENTS, top_n=3)
    assert [r.index for r in v2.results] == sorted(range(len(DOCUMENTS)), key=lambda i: -logits[i])[:3]
    assert v2.results[0].relevance_score == pytest.approx(sigmoid(logits[v2.results[0].index]), abs=1e-5)
    v1 = cohere.Client(base_url=server, api_key="unused").rerank(model="rerank-english-v3.0", query=QUERY,
                                                                 documents=DOCUMENTS, return_documents=True)
    assert [r.index for r in v1.results] == [r.index for r in v2.results] + [v1.results[-1].index]
    assert v1.results[0].document.text == DOCUMENTS[v1.results[0].index]
    with pytest.raises(cohere.errors.BadRequestError):
        cohere.ClientV2(base_url=server, api_key="unused").rerank(model="reranker", query=QUERY, documents=[])


# --- the real TEI clients --------------------------------------------------------------------------


def test_huggingface_hubs_inference_client(server, engine):
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=server)
    vectors = client.feature_extraction(DOCUMENTS[0], normalize=True, truncate=True)
    np.testing.assert_allclose(vectors, engine.encode(DOCUMENTS[:1]), rtol=0, atol=1e-6)
    raw = client.feature_extraction(DOCUMENTS[1], normalize=False, prompt_name="query")
    np.testing.assert_allclose(raw, engine.encode(DOCUMENTS[1:2], normalize=False, prompt_name="query"),
                               rtol=0, atol=1e-5)
    long = "word " * 600
    left = client.feature_extraction(long, truncate=True, truncation_direction="left")
    np.testing.assert_allclose(left, engine.encode_tokens(engine.tokenizer.tokenize_last([long])[0]), rtol=0, atol=1e-6)


def test_langchains_huggingface_endpoint_embeddings(server, engine):
    endpoint = pytest.importorskip("langchain_huggingface").HuggingFaceEndpointEmbeddings
    embeddings = endpoint(model=server)
    np.testing.assert_allclose(embeddings.embed_documents(DOCUMENTS), engine.encode(DOCUMENTS), rtol=0, atol=1e-6)
    np.testing.assert_allclose(embeddings.embed_query(QUERY), engine.encode(QUERY), rtol=0, atol=1e-6)


def test_llama_indexs_text_embeddings_inference(server, engine):
    tei = pytest.importorskip("llama_index.embeddings.text_embeddings_inference")
    model = tei.TextEmbeddingsInference(base_url=server, model_name="minilm")
    np.testing.assert_allclose(model.get_text_embedding_batch(DOCUMENTS), engine.encode(DOCUMENTS), rtol=0, atol=1e-6)


def test_chromas_huggingface_embedding_server(server, engine):
    from chromadb.utils.embedding_functions import HuggingFaceEmbeddingServer

    embed = HuggingFaceEmbeddingServer(url=server + "/embed")
    np.testing.assert_allclose(np.array(embed(DOCUMENTS)), engine.encode(DOCUMENTS), rtol=0, atol=1e-6)


# --- one server, several models --------------------------------------------------------------------


def test_models_are_listed_with_their_kinds_and_routed_by_name(server, engine):
    cards = httpx.get(server + "/v1/models").json()["data"]
    assert [(c["id"], c["kind"]) for c in cards] == [("minilm", "embedding"), ("reranker", "reranker"),
                                                    ("copy", "embedding")]
    assert cards[1]["labels"] == ["LABEL_0"] and "dimensions" not in cards[1]
    expected = engine.encode(DOCUMENTS[:1])
    for name in (None, "minilm", "copy"):
        body = post(server, "/v1/embeddings", {"input": DOCUMENTS[:1], "encoding_format": "float",
                                               **({"model": name} if name else {})}).json()
        assert body["model"] == (name or "minilm")
        np.testing.assert_allclose([body["data"][0]["embedding"]], expected, rtol=0, atol=1e-6)
    unknown = post(server, "/v1/embeddings", {"input": "a", "model": "text-embedding-3-small"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert "'minilm', 'copy'" in unknown.json()["error"]["message"]
    wrong = post(server, "/v1/embeddings", {"input": "a", "model": "reranker"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "wrong_model_kind"
    # the only reranker answers whatever name a client sends for it
    assert post(server, "/v1/rerank", {"model": "rerank-v3.5", "query": "q", "documents": ["a"]}).status_code == 200


def test_each_model_has_its_own_metrics(server):
    before = httpx.get(server + "/metrics").text
    post(server, "/v1/embeddings", {"input": ["one", "two"], "model": "copy"})
    post(server, "/rerank", {"query": "q", "texts": ["a", "b", "c"]})
    after = httpx.get(server + "/metrics").text

    def count(text, model):
        line = next(line for line in text.splitlines() if line.startswith(f'minie5_texts_total{{model="{model}"}}'))
        return int(line.split()[-1])

    assert count(after, "copy") - count(before, "copy") == 2
    assert count(after, "reranker") - count(before, "reranker") == 3
    assert 'minie5_batch_tokens_count{model="reranker"}' in after


def test_served_names_are_checked_before_anything_loads(minilm_dir):
    from tests.support.cli import run_cli

    result = run_cli("serve", "--model", minilm_dir, "--served-name", "a", "--served-name", "b")
    assert result.returncode == 2 and "2 --served-name for 1 --model" in result.stderr
    result = run_cli("serve", "--model", minilm_dir, "--model", minilm_dir)
    assert result.returncode == 2 and "the same name" in result.stderr and "--served-name" in result.stderr
