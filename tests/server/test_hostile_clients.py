"""`minie5 serve` against clients that misbehave, go away, flood it, or outlive it: a real server on
127.0.0.1 and raw sockets for what no polite client does. Each test holds one finding of the
hostile-client review (docs/reliability.md, "The server")."""

import json
import re
import signal
import socket
import threading
import time

import httpx
import numpy as np
import pytest

import minie5
from tests.support.server import running_server

pytest.importorskip("uvicorn")

GONE = 'minie5_requests_total{route="/v1/embeddings",status="499"}'
PASSAGE = "the committee met again on tuesday to review the proposal for the new railway station " * 4


@pytest.fixture(scope="module")
def engine(minilm_dir) -> minie5.Model:
    return minie5.load(minilm_dir)


@pytest.fixture(scope="module")
def hostile(minilm_dir):
    """One server for the tests that only need defaults, with its log checked at the end."""
    with running_server("--model", minilm_dir, "--header-timeout", "1", "--max-header-bytes", "4096",
                        "--max-headers", "40") as (process, url):
        yield process, url


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def raw_request(body: bytes, path: str = "/v1/embeddings", extra: bytes = b"") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n").encode() + extra + b"\r\n" + body


def read_responses(stream, n: int) -> list[dict]:
    """n HTTP/1.1 responses with Content-Length bodies, read off one connection, as JSON."""
    bodies = []
    for _ in range(n):
        status = stream.readline()
        assert status.startswith(b"HTTP/1.1 200 "), status
        length = 0
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        bodies.append(json.loads(stream.read(length)))
    return bodies


def metric(url: str, name: str) -> float:
    """The sum of the series of `name` (`family` or `family{label="value",...}`) whose labels
    include the ones given: minie5_texts_total counts every model's texts."""
    family, _, wanted = name.partition("{")
    wanted = set(re.findall(r'\w+="[^"]*"', wanted))
    total = 0.0
    for labels, value in re.findall(rf"^{re.escape(family)}(?:{{(.*)}})? (\S+)$",
                                    httpx.get(url + "/metrics", timeout=30).text, re.M):
        if wanted <= set(re.findall(r'\w+="[^"]*"', labels)):
            total += float(value)
    return total


def test_abandoned_requests_are_dropped_before_the_engine(hostile):
    """A retry storm: 300 clients send a whole request (8 passages each, ~60 s of engine work on
    two cores) and hang up at once. A live client's one text is then answered in about the time
    of one pass, and the engine embedded almost none of the abandoned texts."""
    process, url = hostile
    body = json.dumps({"input": [f"{i} {PASSAGE}" for i in range(8)]}).encode()
    texts_before = metric(url, "minie5_texts_total")
    for _ in range(300):
        with socket.create_connection(address(url)) as sock:
            sock.sendall(raw_request(body))
    start = time.perf_counter()
    response = httpx.post(url + "/v1/embeddings", json={"input": "summit define"}, timeout=60)
    waited = time.perf_counter() - start
    assert response.status_code == 200
    assert waited < 10, f"a live request waited {waited:.1f} s behind abandoned ones"
    deadline = time.time() + 30
    while (gone := metric(url, GONE)) < 270 and time.time() < deadline:  # every handler has noticed
        time.sleep(0.2)
    assert gone >= 270, f"only {gone} of 300 abandoned requests were counted as 499"
    embedded = metric(url, "minie5_texts_total") - texts_before - 1
    assert embedded <= 8 * 30, f"{embedded} texts of abandoned requests were embedded"


def test_a_client_gone_mid_body_is_counted_as_499(hostile):
    process, url = hostile
    before = metric(url, GONE)
    for _ in range(5):
        with socket.create_connection(address(url)) as sock:
            sock.sendall(raw_request(b'{"input": ["half a body"]}' + b" " * 100)[:-60])
    deadline = time.time() + 10
    while metric(url, GONE) < before + 5:
        assert time.time() < deadline, "mid-body disconnects were not counted as 499"
        time.sleep(0.1)
    assert metric(url, 'minie5_requests_total{route="/v1/embeddings",status="500"}') == 0


@pytest.mark.parametrize("head, status", [
    (raw_request(b'{"input": "a"}', extra=b"X-Big: " + b"a" * 6000 + b"\r\n"), 431),  # over --max-header-bytes 4096
    (raw_request(b'{"input": "a"}', extra=b"".join(b"X-%d: v\r\n" % i for i in range(60))), 431),  # over --max-headers
    (raw_request(b'{"input": "a"}', extra=b"X-Big: " + b"a" * 60000 + b"\r\n"), 431),  # a whole head, however big
    # a head still unfinished past the HTTP parser's buffer (4x the limit): answered, not reset
    (b"POST /v1/embeddings HTTP/1.1\r\nX-Endless: " + b"a" * 40000, 431),
    (b"GARBAGE\r\n\r\n", 400),  # not HTTP at all
])
def test_oversized_heads_are_answered_with_a_status(hostile, head, status):
    process, url = hostile
    with socket.create_connection(address(url), timeout=10) as sock:
        sock.sendall(head)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))  # each of these closes the connection
    assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:200]
    code = {431: "request_header_fields_too_large", 400: "invalid_request"}[status]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == code  # JSON, as every answer


def test_a_connection_that_sends_no_head_is_closed(hostile):
    """Idle and slow-header connections are closed after --header-timeout (1 s here); uvicorn alone
    keeps them open forever. The one that sent part of a head is told why, in JSON."""
    process, url = hostile
    idle = socket.create_connection(address(url), timeout=10)
    slow = socket.create_connection(address(url), timeout=10)
    slow.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")
    time.sleep(2)
    assert idle.recv(100) == b""
    answer = b"".join(iter(lambda: slow.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    idle.close()
    slow.close()
    assert httpx.get(url + "/health").status_code == 200


def test_pipelined_requests_are_answered_in_order(hostile, engine):
    process, url = hostile
    texts = ["first text", "second text", "third text"]
    with socket.create_connection(address(url), timeout=30) as sock:
        sock.sendall(b"".join(raw_request(json.dumps({"input": t, "encoding_format": "float"}).encode())
                              for t in texts))
        bodies = read_responses(sock.makefile("rb"), len(texts))
    got = np.array([b["data"][0]["embedding"] for b in bodies], np.float32)
    np.testing.assert_allclose(got, engine.encode(texts), atol=1e-6)


def test_the_log_has_no_tracebacks(hostile):
    """Last in this module: everything above was logged as single lines."""
    process, url = hostile
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    log = process.stderr.read()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log[-3000:]
    assert "the client closed the connection before the answer" in log


def test_queued_work_past_the_request_timeout_gets_503_with_retry_after(minilm_dir):
    """A request stuck behind ~10 s of work with --request-timeout 1: dropped from the queue and
    answered 503 after about a second, with a Retry-After sized from the measured drain rate; the
    long request, already running when its own deadline passed, is answered. (With passes of the
    engine's whole budget, --max-batch-tokens 0: with the default small passes, the short request
    would overtake the long one and be answered in time.)"""
    with running_server("--model", minilm_dir, "--request-timeout", "1", "--max-batch-tokens", "0") as (process, url):
        httpx.post(url + "/v1/embeddings", json={"input": [PASSAGE] * 16}, timeout=60)  # measures the rate
        long = {}
        thread = threading.Thread(target=lambda: long.setdefault("r", httpx.post(
            url + "/v1/embeddings", json={"input": [f"{i} {PASSAGE}" for i in range(400)]}, timeout=120)))
        thread.start()
        while metric(url, "minie5_queue_sequences") == 0:
            time.sleep(0.02)
        start = time.perf_counter()
        late = httpx.post(url + "/v1/embeddings", json={"input": "summit define"}, timeout=60)
        waited = time.perf_counter() - start
        thread.join(120)
        assert late.status_code == 503 and late.json()["error"]["code"] == "timeout", late.text
        assert 0.9 < waited < 5
        assert int(late.headers["Retry-After"]) >= 2  # seconds of work ahead, not a constant
        assert long["r"].status_code == 200 and len(long["r"].json()["data"]) == 400
        assert metric(url, 'minie5_dropped_sequences_total{reason="deadline"}') == 1


def test_a_slow_body_gets_408(minilm_dir):
    with running_server("--model", minilm_dir, "--request-timeout", "1") as (process, url):
        with socket.create_connection(address(url), timeout=10) as sock:
            sock.sendall(raw_request(b'{"input": "a slow body"}')[:-5])
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_sigterm_under_load_answers_every_accepted_request(minilm_dir, engine):
    """Twelve clients with ~1 s of work each (two cores) are in flight when SIGTERM comes, with
    --drain-timeout 2: each gets its right vectors or a 503 with Retry-After, none is left
    without an answer, and the process exits."""
    batches = [[f"{c}.{i} {PASSAGE}" for i in range(40)] for c in range(12)]
    with running_server("--model", minilm_dir, "--drain-timeout", "2") as (process, url):
        results: dict[int, object] = {}

        def client(c):
            try:
                results[c] = httpx.post(url + "/v1/embeddings", json={"input": batches[c], "encoding_format": "float"},
                                        timeout=120)
            except httpx.HTTPError as e:  # recorded: asserted below
                results[c] = e

        threads = [threading.Thread(target=client, args=(c,)) for c in range(12)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while metric(url, "minie5_requests_in_flight") < 13:  # the twelve, and this /metrics request
            assert time.time() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(120)
        assert process.wait(90) in (0, -signal.SIGTERM)
    statuses = [getattr(results[c], "status_code", repr(results[c])) for c in range(12)]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    for c, response in results.items():
        if response.status_code == 200:
            got = np.array([d["embedding"] for d in response.json()["data"]], np.float32)
            np.testing.assert_allclose(got, engine.encode(batches[c]), atol=1e-5)
        else:
            assert int(response.headers["Retry-After"]) >= 1


def test_ready_says_503_while_warming_up_and_draining(minilm_dir):
    """An in-process uvicorn on 127.0.0.1 whose warm-up waits for the test: /health is live at once,
    /ready and the model routes answer 503 until it is done, and /ready is 503 again once draining."""
    import asyncio

    import uvicorn

    from minie5.server import ServerSettings, create_app

    model = minie5.load(minilm_dir)
    release = threading.Event()
    app = create_app(model, ServerSettings(), warm_up=release.wait)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    loop: list = []

    def run():
        loop.append(asyncio.new_event_loop())
        loop[0].run_until_complete(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        assert httpx.get(url + "/health").json()["phase"] == "warming up"
        ready = httpx.get(url + "/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "warming up" and ready.headers["Retry-After"]
        busy = httpx.post(url + "/v1/embeddings", json={"input": "a"})
        assert busy.status_code == 503 and busy.json()["error"]["code"] == "not_ready"
        release.set()
        while httpx.get(url + "/ready").status_code != 200:
            time.sleep(0.02)
        assert httpx.post(url + "/v1/embeddings", json={"input": "a"}).status_code == 200
        loop[0].call_soon_threadsafe(app.state.minie5.drain)
        time.sleep(0.1)
        draining = httpx.get(url + "/ready")
        assert draining.status_code == 503 and draining.json()["status"] == "draining"
        assert httpx.get(url + "/health").status_code == 200  # liveness is not readiness
    finally:
        release.set()
        server.should_exit = True
        thread.join(30)
