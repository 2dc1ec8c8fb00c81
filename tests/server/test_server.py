"""`minie5 serve` as its users meet it: a real server on 127.0.0.1, the real openai client, raw
HTTP for what the client would hide, and every refusal in OpenAI's error shape."""

import base64
import json
import threading

import httpx
import numpy as np
import pytest

import minie5
from tests.support.server import running_server

openai = pytest.importorskip("openai")

KEY = "test-key-123"
TEXTS = ["query: how much protein should a female eat", "the summit is covered in snow",
         "Trains leave every fifteen minutes.", "ünïcödé and emoji 🙂"]


@pytest.fixture(scope="module")
def engine(minilm_dir) -> minie5.Model:
    return minie5.load(minilm_dir)  # the numba engine, as the server runs it


@pytest.fixture(scope="module")
def server(minilm_dir):
    with running_server("--model", minilm_dir) as (process, url):
        yield url


@pytest.fixture(scope="module")
def strict_server(minilm_dir):
    """A server with an API key and small limits, to reach every refusal cheaply."""
    with running_server("--model", minilm_dir, "--api-key", KEY, "--max-inputs", "8", "--max-body-bytes", "2000",
                        "--max-queue", "3", "--max-request-tokens", "300") as (process, url):
        yield url


def client(url: str, key: str = "unused", suffix: str = "/v1"):
    return openai.OpenAI(base_url=url + suffix, api_key=key, max_retries=0)


def post(url: str, body, key: str | None = None, raw: bytes | None = None, path: str = "/v1/embeddings"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(url + path, content=content, headers={**headers, "Content-Type": "application/json"},
                      timeout=60)


def test_openai_client_default_base64_gives_the_library_vectors(server, engine, minilm_dir):
    response = client(server).embeddings.create(model="anything", input=TEXTS)  # asks for base64
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    np.testing.assert_allclose(got, engine.encode(TEXTS), rtol=0, atol=1e-6)
    assert [d.index for d in response.data] == [0, 1, 2, 3]
    assert response.model == str(minilm_dir)  # the served model's name, whatever the request said
    tokens = sum(len(ids) for ids in engine.tokenizer.tokenize(TEXTS))
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_openai_client_float_and_a_single_string(server, engine):
    response = client(server).embeddings.create(model="m", input=TEXTS[1], encoding_format="float")
    (item,) = response.data
    np.testing.assert_allclose(np.array(item.embedding, np.float32), engine.encode(TEXTS[1]), rtol=0, atol=1e-6)


def test_base64_is_little_endian_float32(server, engine):
    body = post(server, {"input": TEXTS[:2], "model": "m", "encoding_format": "base64"}).json()
    got = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]])
    np.testing.assert_allclose(got, engine.encode(TEXTS[:2]), rtol=0, atol=1e-6)
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"


def test_base_url_without_v1_and_minie5_options(server, engine):
    """Clients put /v1 in base_url or not; prefix and long travel in extra_body."""
    response = client(server, suffix="").embeddings.create(
        model="m", input=["summit define"], encoding_format="float", extra_body={"prefix": "query"})
    np.testing.assert_allclose(response.data[0].embedding, engine.encode_queries(["summit define"])[0], atol=1e-6)
    long = "the committee met again to review the proposal " * 60
    body = post(server, {"input": [long], "long": "chunk", "encoding_format": "float"}).json()
    np.testing.assert_allclose(body["data"][0]["embedding"], engine.encode(long, long="chunk"), atol=1e-6)
    assert body["usage"]["prompt_tokens"] > engine.max_length  # every window counted
    refused = post(server, {"input": ["short", long], "truncate": False})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "input[1]"


def test_concurrent_clients_get_their_own_vectors(server, engine):
    texts = [f"text number {i} about {'trains' if i % 2 else 'mountains'}" for i in range(48)]
    expected = engine.encode(texts)
    results, errors = {}, []

    def worker(i):
        try:
            mine = texts[i::12]
            response = client(server).embeddings.create(model="m", input=mine)
            results[i] = np.array([d.embedding for d in response.data], np.float32)
        except Exception as e:  # collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(12):
        np.testing.assert_allclose(results[i], expected[i::12], rtol=0, atol=1e-6)


@pytest.mark.parametrize("body, raw, param, code", [
    (None, b'{"input": "a", ', None, "invalid_json"),
    (None, b"[1, 2]", None, "invalid_json"),
    (None, b"\xff\xfe", None, "invalid_json"),
    ({"model": "m"}, None, "input", None),
    ({"input": 5}, None, "input", None),
    ({"input": []}, None, "input", None),
    ({"input": [""]}, None, "input[0]", "empty_input"),
    ({"input": ["ok", 3]}, None, "input[1]", None),
    ({"input": [101, 2023, 102]}, None, "input", "token_ids_not_supported"),
    ({"input": [[101, 2023], [102]]}, None, "input", "token_ids_not_supported"),
    ({"input": "a", "encoding_format": "int8"}, None, "encoding_format", None),
    ({"input": "a", "dimensions": 385}, None, "dimensions", "dimensions_not_supported"),
    ({"input": "a", "dimensions": "384"}, None, "dimensions", None),
    ({"input": "a", "prefix": "question"}, None, "prefix", None),
    ({"input": "a", "long": "cut"}, None, "long", None),
    ({"input": "a", "truncate": "yes"}, None, "truncate", None),
    ({"input": "a", "temperature": 1}, None, "temperature", None),
    ({"input": "a", "model": 7}, None, "model", None),
    # a lone surrogate: valid JSON, not valid Unicode text (was a 500)
    (None, b'{"input": ["fine", "bad \\ud800 text"]}', "input[1]", "invalid_input"),
    ({"input": "a", "prompt_name": "classification"}, None, "prompt_name", None),
    ({"input": "a", "prompt_name": 3}, None, "prompt_name", None),
    ({"input": "a", "prompt_name": "query", "prefix": "query"}, None, "prompt_name", None),
])
def test_bad_requests_are_400_in_openai_shape(server, body, raw, param, code):
    response = post(server, body, raw=raw)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"] and error["param"] == param
    if code:
        assert error["code"] == code


def test_a_lone_surrogate_is_400_on_tokenize_too(server):
    response = post(server, None, raw=b'{"input": ["\\udc80"]}', path="/tokenize")
    assert response.status_code == 400 and response.json()["error"]["param"] == "input[0]", response.text


def test_the_openai_client_raises_bad_request_without_retrying(server):
    with pytest.raises(openai.BadRequestError, match="token ids"):
        client(server).embeddings.create(model="m", input=[[101, 2023, 102]])


def test_dimensions_equal_to_the_models_are_accepted(server):
    response = post(server, {"input": "a", "dimensions": 384, "encoding_format": "float"})
    assert response.status_code == 200 and len(response.json()["data"][0]["embedding"]) == 384


def test_api_key_and_limits(strict_server):
    url = strict_server
    for key, status in ((None, 401), ("wrong", 401), (KEY, 200)):
        response = post(url, {"input": "a"}, key=key)
        assert response.status_code == status, response.text
    assert post(url, {"input": "a"}, key="wrong").json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client(url, key="wrong").embeddings.create(model="m", input="a")
    assert client(url, key=KEY).embeddings.create(model="m", input="a").data
    assert httpx.get(url + "/health").status_code == 200  # open: load balancers probe it
    assert httpx.get(url + "/v1/models").status_code == 401

    too_big = post(url, {"input": "x" * 3000}, key=KEY)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    many = post(url, {"input": ["a"] * 9}, key=KEY)
    assert many.status_code == 400 and many.json()["error"]["code"] == "too_many_inputs"
    tokens = post(url, {"input": ["word " * 150, "word " * 150]}, key=KEY)  # 2 x 152 tokens
    assert tokens.status_code == 400 and tokens.json()["error"]["code"] == "too_many_tokens"
    busy = post(url, {"input": ["a", "b", "c", "d"]}, key=KEY)  # more than the queue holds
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    assert busy.json()["error"]["code"] == "queue_full"


def test_unknown_routes_and_methods_in_openai_shape(server):
    assert httpx.get(server + "/v1/nothing").json()["error"]["message"] == "no route /v1/nothing"
    wrong = httpx.get(server + "/v1/embeddings")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_models_health_tokenize_metrics(server, engine):
    (model,) = httpx.get(server + "/v1/models").json()["data"]
    assert model["object"] == "model" and model["dimensions"] == 384 and model["default_prefix"] == "none"
    assert [m.id for m in client(server).models.list().data] == [model["id"]]
    assert httpx.get(server + "/health").json()["status"] == "ok"

    long = "word " * 400
    data = post(server, {"input": ["hello world", long]}, path="/tokenize").json()["data"]
    assert data[0]["ids"] == engine.tokenizer.tokenize(["hello world"])[0].tolist() and not data[0]["truncated"]
    assert data[1]["tokens"] == engine.max_length and data[1]["truncated"] and data[1]["whole_tokens"] == 402

    post(server, {"input": ["counted"]})
    metrics = httpx.get(server + "/metrics").text
    assert 'minie5_requests_total{route="/v1/embeddings",status="200"}' in metrics
    assert 'minie5_requests_total{route="/v1/embeddings",status="400"}' in metrics
    for name in ("minie5_texts_total", "minie5_tokens_total", "minie5_batch_sequences_bucket",
                 "minie5_queue_sequences", "minie5_request_duration_seconds_bucket"):
        assert name in metrics


def test_garbage_never_crashes_the_server(server):
    rng = np.random.default_rng(0)
    samples = [rng.bytes(int(n)) for n in rng.integers(0, 300, size=40)]
    samples += [json.dumps(v).encode() for v in (None, 1, "x", [], {}, {"input": None}, {"input": {"a": 1}},
                                                  {"input": [None]}, {"input": [[1], "a"]}, {"input": [[]]},
                                                  {"input": "a", "encoding_format": None, "dimensions": None})]
    samples.append(b"[" * 100000 + b"]" * 100000)
    for raw in samples:
        response = post(server, None, raw=raw)
        assert response.status_code in (200, 400), (raw[:80], response.text)
        assert response.status_code == 200 or "error" in response.json()
    assert httpx.get(server + "/health").status_code == 200


def test_a_lone_request_is_not_delayed(server, engine):
    """Responses leave at once (TCP_NODELAY): with Nagle's algorithm on, each waited ~40 ms for a
    delayed ACK. A lone short request costs the forward pass plus a few milliseconds."""
    import time

    http = httpx.Client(timeout=60)
    for _ in range(3):
        http.post(server + "/v1/embeddings", json={"input": "warm up"})
    alone, served = [], []
    for i in range(7):
        text = f"summit define {i}"
        start = time.perf_counter()
        engine.encode(text)
        alone.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert http.post(server + "/v1/embeddings", json={"input": text}).status_code == 200
        served.append(time.perf_counter() - start)
    assert np.median(served) < np.median(alone) + 0.025, (served, alone)


def test_a_stalled_client_does_not_hold_up_others(server, engine):
    """A client that sends half a request and stops, and one that hangs up mid-request: the
    others are answered at once, and the server stays healthy."""
    import socket
    import time

    host, port = server.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n{\"input\": \"half a bo")
    dropped = socket.create_connection((host, int(port)))
    dropped.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{\"input\": [\"x\"")
    dropped.close()
    start = time.perf_counter()
    response = post(server, {"input": "summit define", "encoding_format": "float"})
    assert response.status_code == 200 and time.perf_counter() - start < 5
    np.testing.assert_allclose(response.json()["data"][0]["embedding"], engine.encode("summit define"), atol=1e-6)
    stalled.close()
    assert httpx.get(server + "/health").status_code == 200


def test_a_deterministic_server_gives_the_librarys_bits(minilm_dir):
    """With --deterministic, batching requests together changes nothing: the vectors are bit for bit
    those of Model.encode, whatever else the server was embedding."""
    expected = minie5.load(minilm_dir, deterministic=True).encode(TEXTS)
    with running_server("--model", minilm_dir, "--deterministic") as (process, url):
        results = {}

        def request(i):
            body = post(url, {"input": TEXTS[i:] + TEXTS[:i], "encoding_format": "base64"}).json()
            results[i] = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in body["data"]])

        threads = [threading.Thread(target=request, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i, got in results.items():
        np.testing.assert_array_equal(got, np.roll(expected, -i, axis=0))


@pytest.mark.parametrize("value, status", [(-1, 200), (256, 200), (100000, 200), (100, 400), (True, 400),
                                           ("256", 400)])
def test_vllms_truncate_prompt_tokens(server, value, status):
    """Sent by mteb's OpenAI wrapper once /v1/models gave max_model_len: the model's limit or more
    (or -1) is minie5's truncation; fewer tokens than the limit is a 400 naming the field."""
    response = post(server, {"input": "a", "truncate_prompt_tokens": value})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["param"] == "truncate_prompt_tokens"
    models = httpx.get(server + "/v1/models", timeout=30).json()["data"][0]
    assert models["max_model_len"] == models["max_input_tokens"] == 256
