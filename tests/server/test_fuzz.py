"""No 5xx from anything a client sends: `minie5 serve` fuzzed from its own OpenAPI document by
schemathesis (a real API fuzzer), and by hypothesis strategies of our own for what a schema-driven
fuzzer does not reach (escapes and surrogates, huge and nested values, wrong types, duplicate
keys, encodings, content types). Bounded in examples; a real server on 127.0.0.1."""

import json

import httpx
import pytest

from tests.support.server import running_server

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import checks  # noqa: E402
from schemathesis.openapi import checks as openapi_checks  # noqa: E402, F401 (registers the OpenAPI checks)

FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzzed(minilm_dir, random_model_dir):
    """An embedder and a reranker (every route has a model to reach), with small limits, so that
    examples reach them cheaply."""
    with running_server("--model", minilm_dir, "--model", random_model_dir("reranker-random"), "--max-inputs", "8",
                        "--max-body-bytes", "20000", "--max-request-tokens", "2000") as (process, url):
        yield process, url


def test_the_openapi_document_describes_the_running_server(fuzzed):
    process, url = fuzzed
    document = httpx.get(url + "/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/v1/embeddings", "/embeddings", "/v1/models", "/models", "/tokenize", "/health", "/ready",
                 "/metrics", "/openapi.json", "/embed", "/", "/rerank", "/info", "/v1/rerank", "/v2/rerank"):
        assert path in document["paths"], path
        for operation in document["paths"][path].values():  # every route answers its documented statuses
            assert "200" in operation["responses"] and "431" in operation["responses"]
    request = document["components"]["schemas"]["EmbeddingsRequest"]
    assert request["properties"]["input"]["oneOf"][1]["maxItems"] == 8  # this server's limit
    assert {k: request["properties"]["dimensions"][k] for k in ("type", "minimum", "maximum")} == \
        {"type": "integer", "minimum": 1, "maximum": 384}
    httpx_ok = httpx.post(url + "/v1/embeddings", json={"input": "a"})
    assert set(document["components"]["schemas"]["EmbeddingsResponse"]["required"]) <= set(httpx_ok.json())


@pytest.fixture(scope="module")
def schema(fuzzed):
    process, url = fuzzed
    return schemathesis.openapi.from_url(url + "/openapi.json")


CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance, checks.negative_data_rejection]


def test_schemathesis_finds_no_5xx_and_no_response_off_the_schema(schema, fuzzed):
    """Every operation, positive and negative examples: no 5xx, every status and body as the
    document says, and data the document calls invalid refused with a 4xx."""
    process, url = fuzzed
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/embeddings", "POST /tokenize", "GET /ready", "POST /embed",
                                               "POST /", "POST /rerank", "POST /v2/rerank"}, operations
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            if mode is schemathesis.GenerationMode.NEGATIVE and operation.method.upper() != "POST":
                continue  # nothing to get wrong in a GET without parameters
            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(base_url=url, checks=CHECKS)

            run()
    assert httpx.get(url + "/health").status_code == 200


def raw(url: str, body: bytes, content_type: str | None = "application/json", path: str = "/v1/embeddings"):
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(url + path, content=body, headers=headers, timeout=60)


def assert_answered(response, *allowed):
    """A 200 or a 4xx, the error in the shape of the route's protocol."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if allowed:
        assert response.status_code in allowed, (response.status_code, response.text[:500])
    if response.status_code != 200:
        path = response.request.url.path
        body = response.json()
        if path in TEI_ROUTES or (path == "/tokenize" and isinstance(body.get("error"), str)):  # TEI's `inputs`
            assert set(body) == {"error", "error_type"} and body["error"], body
        elif path in COHERE_ROUTES:
            assert set(body) == {"message"} and body["message"], body
        else:
            error = body["error"]
            assert error["message"] and "type" in error and "param" in error


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
FIELDS = ["input", "model", "encoding_format", "dimensions", "user", "prefix", "prompt_name", "long", "truncate",
          "truncate_prompt_tokens"]
TEI_ROUTES = ("/embed", "/", "/rerank")
COHERE_ROUTES = ("/v1/rerank", "/v2/rerank")
# Each route's fields, and a body it accepts (the base every fuzzed field is put into).
ROUTE_FIELDS = {
    "/v1/embeddings": (FIELDS, {"input": "a"}),
    "/tokenize": (["input", "inputs", "add_special_tokens", "prefix", "prompt_name", "model"], {"input": "a"}),
    "/embed": (["inputs", "normalize", "truncate", "truncation_direction", "prompt_name", "dimensions", "model"],
               {"inputs": "a"}),
    "/rerank": (["query", "texts", "truncate", "truncation_direction", "raw_scores", "return_text", "model"],
                {"query": "q", "texts": ["a"]}),
    "/v2/rerank": (["model", "query", "documents", "top_n", "return_documents", "max_tokens_per_doc",
                    "max_chunks_per_doc", "rank_fields", "priority", "relevant_spans"],
                   {"query": "q", "documents": ["a"]}),
}


@FUZZ
@given(st.sampled_from(sorted(ROUTE_FIELDS)), st.data())
def test_any_json_in_any_field_is_a_200_or_a_4xx(fuzzed, path, data):
    process, url = fuzzed
    fields, base = ROUTE_FIELDS[path]
    body = data.draw(st.dictionaries(st.sampled_from(fields) | st.text(max_size=6), json_values, max_size=5))
    for sent in (body, {**base, **body}):
        assert_answered(raw(url, json.dumps(sent).encode(), path=path), 200, 400, 404, 413)


# A JSON string as a client might write it: any characters, and escapes of any code unit,
# surrogates (paired or not) included.
escaped = st.lists(st.one_of(
    st.characters(codec="utf-8", exclude_characters='"\\').map(lambda c: c if ord(c) >= 0x20 else f"\\u{ord(c):04x}"),
    st.integers(0, 0xFFFF).map(lambda u: f"\\u{u:04x}"),
    st.sampled_from(['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])), min_size=1, max_size=30).map("".join)


@FUZZ
@given(st.lists(escaped, min_size=1, max_size=4), st.sampled_from(FIELDS[1:] + ["input"]))
def test_any_escapes_in_any_string_field(fuzzed, texts, field):
    process, url = fuzzed
    strings = ", ".join(f'"{t}"' for t in texts)
    value = f"[{strings}]" if field == "input" else f'"{texts[0]}"'
    body = ('{"input": "a", ' if field != "input" else "{") + f'"{field}": {value}}}'
    for path in ("/v1/embeddings", "/tokenize"):
        response = raw(url, body.encode(), path=path)
        assert_answered(response, 200, 400)
        if response.status_code == 400 and field == "input":
            assert response.json()["error"]["param"].startswith("input")


@FUZZ
@given(st.lists(escaped, min_size=1, max_size=4), st.sampled_from(["query", "documents", "texts", "inputs"]))
def test_any_escapes_in_the_text_fields_of_the_tei_and_rerank_routes(fuzzed, texts, field):
    process, url = fuzzed
    strings = "[" + ", ".join(f'"{t}"' for t in texts) + "]"
    path, body = {
        "query": ("/v2/rerank", f'{{"query": "{texts[0]}", "documents": ["a"]}}'),
        "documents": ("/v1/rerank", f'{{"query": "q", "documents": {strings}}}'),
        "texts": ("/rerank", f'{{"query": "q", "texts": {strings}}}'),
        "inputs": ("/embed", f'{{"inputs": {strings}}}'),
    }[field]
    assert_answered(raw(url, body.encode(), path=path), 200, 400)


@pytest.mark.parametrize("body", [
    b'{"input": "a", "input": "b"}',  # duplicate keys: 400 (parsers disagree on which wins)
    b'{"input": "a", "dimensions": ' + b"9" * 5000 + b"}",  # an integer past Python's 4,300 digits
    b'{"input": "a", "dimensions": 1e999}',
    b'{"input": NaN}', b'{"input": Infinity}',
    b'{"input": ' + b'["a", ' * 3000 + b'"a"' + b"]" * 3000 + b"}",
    b'{"input": [' + b", ".join([b'"x"'] * 5000) + b"]}",
    b'{"\\ud800": "a", "input": "a"}',  # a lone surrogate in a field's name, quoted by the error
    b'{"input": "a", "prefix": "\\udfff"}',
    b'{"input": "a", "model": "' + b"m" * 19000 + b'"}',
    '{"input": "a"}'.encode("utf-16"), '{"input": "a"}'.encode("utf-32"), b"\xef\xbb\xbf" + b'{"input": "a"}',
    b'{"input": "a"}\x00', b"\x00" * 100, b'{"input": "\\u0000"}', b"",
])
def test_odd_bodies_are_answered_with_a_4xx_or_a_200(fuzzed, body):
    process, url = fuzzed
    for path in ("/v1/embeddings", "/tokenize", "/embed", "/v2/rerank"):
        assert_answered(raw(url, body, path=path), 200, 400, 413)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                                          "application/json; charset=\x7f", "*/*"])
def test_any_content_type_is_answered(fuzzed, content_type):
    process, url = fuzzed
    assert_answered(raw(url, b'{"input": "a"}', content_type), 200, 400)
    assert_answered(raw(url, b"input=a", content_type), 400)


def test_the_fuzzed_server_stayed_healthy_and_logged_no_traceback(fuzzed):
    process, url = fuzzed
    metrics = httpx.get(url + "/metrics").text
    assert 'status="5' not in metrics, [line for line in metrics.splitlines() if 'status="5' in line]
    process.terminate()
    process.wait(60)
    assert "Traceback" not in process.stderr.read()
