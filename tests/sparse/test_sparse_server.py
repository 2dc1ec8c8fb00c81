"""TEI's /embed_sparse and /embed_all on a real server (uvicorn on 127.0.0.1) serving a dense model
and a SPLADE model, called over HTTP with httpx (no published client speaks these two routes)."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
import numpy as np
import pytest

import minie5
from minie5.server.app import create_app

TEXTS = ["how tall is mount everest", "Mount Everest is 8,849 metres high."]


@contextlib.contextmanager
def serving(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not (server.started and server.servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    while httpx.get(url + "/ready").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def models(minilm, sparse_model_dir):
    return minilm, minie5.load_sparse(sparse_model_dir("splade-random"))


@pytest.fixture(scope="module")
def server(models):
    with serving(create_app(list(models), names=["minilm", "splade"])) as url:
        yield url


def test_embed_sparse_answers_teis_shape(server, models):
    _, sparse = models
    answer = httpx.post(server + "/embed_sparse", json={"inputs": TEXTS}, timeout=60)
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    want = sparse.encode(TEXTS)
    assert len(rows) == 2
    for row, vector in zip(rows, want.rows()):
        assert [e["index"] for e in row] == vector.indices.tolist()
        np.testing.assert_allclose([e["value"] for e in row], vector.values, rtol=1e-6)
    one = httpx.post(server + "/embed_sparse", json={"inputs": TEXTS[0], "model": "splade"}, timeout=60).json()
    assert one == rows[:1]


def test_embed_all_gives_every_tokens_vector(server, models):
    dense, _ = models
    answer = httpx.post(server + "/embed_all", json={"inputs": TEXTS}, timeout=60)
    assert answer.status_code == 200, answer.text
    states = [np.array(s, np.float32) for s in answer.json()]
    ids = dense.tokenizer.tokenize(TEXTS)
    assert [s.shape for s in states] == [(len(i), 384) for i in ids]
    # The mean of the token vectors is the model's unnormalised mean-pooled embedding.
    np.testing.assert_allclose([s.mean(axis=0) for s in states], dense.encode(TEXTS, normalize=False), atol=2e-5)


def test_wrong_kinds_and_fields_are_400s_in_teis_shape(server):
    wrong = httpx.post(server + "/embed_sparse", json={"inputs": "x", "model": "minilm"}, timeout=60)
    assert wrong.status_code == 400 and "embedding model" in wrong.json()["error"]
    assert httpx.post(server + "/embed", json={"inputs": "x", "model": "splade"}, timeout=60).status_code == 400
    unknown = httpx.post(server + "/embed_all", json={"inputs": "x", "pooling": "mean"}, timeout=60)
    assert unknown.status_code == 400 and set(unknown.json()) == {"error", "error_type"}
    empty = httpx.post(server + "/embed_sparse", json={"inputs": []}, timeout=60)
    assert empty.status_code == 400


def test_the_openapi_document_lists_both_routes(server):
    document = httpx.get(server + "/openapi.json").json()
    assert {"/embed_sparse", "/embed_all"} <= set(document["paths"])
    kinds = httpx.get(server + "/v1/models").json()["data"]
    assert [m["kind"] for m in kinds] == ["embedding", "sparse"]


@pytest.mark.slow  # about a minute on 2 shared cores
def test_schemathesis_finds_no_5xx_on_the_two_routes(server):
    """The two routes fuzzed from the served OpenAPI document, as tests/server/test_fuzz.py fuzzes the
    others: no 5xx, responses as documented, invalid data refused with a 4xx."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis import checks
    from schemathesis.openapi import checks as openapi_checks  # noqa: F401 (registers the OpenAPI checks)

    fuzz = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
    schema = schemathesis.openapi.from_url(server + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path in ("/embed_sparse", "/embed_all")]
    assert len(operations) == 2
    for operation in operations:
        for mode in schemathesis.GenerationMode:
            @fuzz
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(base_url=server, timeout=120, checks=[
                    checks.not_a_server_error, checks.status_code_conformance,
                    checks.response_schema_conformance, checks.negative_data_rejection])

            run()
    assert httpx.get(server + "/health").status_code == 200
