"""`minie5 serve` under a crowd, and when it stops: a real server on 127.0.0.1, raw sockets for
the idle and the slow, real signals for the shutdown. Idle connections cost memory, not service;
requests in flight have their own, smaller limit; every refusal is JSON with Retry-After; the
shutdown says what it does; the access log and /metrics carry each request's figures."""

import json
import signal
import socket
import threading
import time

import httpx
import pytest

from tests.support.server import running_server

pytest.importorskip("uvicorn")

PASSAGE = "the committee met again on tuesday to review the proposal for the new railway station " * 4


class Lines:
    """A process's output read on a thread, so that its pipe never fills; `wait_for(text)`."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [line for line in list(self.lines) if text in line]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never came; got:\n{''.join(self.lines)[-3000:]}")

    def text(self) -> str:
        return "".join(self.lines)


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def answer_of(sock: socket.socket) -> tuple[int, dict, dict]:
    """The status, headers and JSON body a server wrote before closing `sock`."""
    data = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def in_flight(url: str, body: bytes = b'{"input": ["a text whose body never ends"') -> socket.socket:
    """A request whose head and part of its body were sent: in flight, holding its connection."""
    sock = socket.create_connection(address(url), timeout=30)
    sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % (len(body) + 1000) + body)
    return sock


def gauge(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not on /metrics")


@pytest.fixture(scope="module")
def crowd(minilm_dir):
    """A server with a small connection cap (64) and request limit (3), logging JSON lines."""
    with running_server("--model", minilm_dir, "--max-connections", "64", "--max-requests", "3",
                        "--header-timeout", "60", "--access-log", "json") as (process, url):
        yield process, url, Lines(process.stdout)


def test_idle_connections_are_closed_first_and_cost_no_service(crowd):
    """20 slowloris heads and 200 sockets that send nothing against a cap of 64: the oldest idle
    ones are closed to make room (the slow heads told so in JSON with Retry-After), and a normal
    client is served throughout, its keep-alive connection never the one closed."""
    process, url, log = crowd
    slow = []
    for _ in range(20):
        sock = socket.create_connection(address(url), timeout=30)
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    idle = [socket.create_connection(address(url), timeout=30) for _ in range(200)]
    latencies = []
    with httpx.Client(timeout=30) as client:
        for i in range(10):
            idle.append(socket.create_connection(address(url), timeout=30))  # the crowd keeps coming
            start = time.perf_counter()
            response = client.post(url + "/v1/embeddings", json={"input": f"summit define {i}"})
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    assert max(latencies) < 5
    for sock in slow:
        status, headers, body = answer_of(sock)
        assert status == 503 and body["error"]["code"] == "too_many_connections" and int(headers["retry-after"]) >= 1
        sock.close()
    assert gauge(url, "minie5_connections") <= 64
    assert gauge(url, "minie5_connections_reclaimed_total") >= 20 + 210 - 64
    # 233 connections came (the probe's and two to /metrics among them) and at most 64 are open:
    # the 120 oldest idle ones are certainly among those closed, without a word.
    assert all(sock.recv(1) == b"" for sock in idle[:120])
    for sock in idle:
        sock.close()


def test_requests_past_the_limit_in_flight_get_429_in_their_protocols_shape(crowd):
    """Three requests in flight (bodies still arriving) hold --max-requests 3: a fourth gets 429
    with Retry-After, in OpenAI's shape on /v1/embeddings and TEI's on /embed; the probes still
    answer; once they are gone, requests are served again."""
    process, url, log = crowd
    held = [in_flight(url) for _ in range(3)]
    deadline = time.time() + 10
    while gauge(url, "minie5_requests_in_flight") < 4:  # the three, and this /metrics request
        assert time.time() < deadline
        time.sleep(0.05)
    busy = httpx.post(url + "/v1/embeddings", json={"input": "a"}, timeout=30)
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "too_many_requests", busy.text
    assert int(busy.headers["Retry-After"]) >= 1
    tei = httpx.post(url + "/embed", json={"inputs": "a"}, timeout=30)
    assert tei.status_code == 429 and tei.json()["error_type"] == "Overloaded", tei.text
    assert httpx.get(url + "/health").status_code == 200 and httpx.get(url + "/ready").status_code == 200
    for sock in held:
        sock.close()
    deadline = time.time() + 10
    while (response := httpx.post(url + "/v1/embeddings", json={"input": "a"}, timeout=30)).status_code == 429:
        assert time.time() < deadline
        time.sleep(0.05)
    assert response.status_code == 200


def test_the_access_log_and_metrics_carry_each_requests_figures(crowd):
    process, url, log = crowd
    response = httpx.post(url + "/v1/embeddings", json={"input": ["one text", "and another one"], "model": "x"},
                          timeout=30)
    assert response.status_code == 200
    tokens = response.json()["usage"]["total_tokens"]
    entries = [json.loads(line) for line in log.text().splitlines() if line.startswith("{")]
    entry = [e for e in entries if e["route"] == "/v1/embeddings" and e["texts"] == 2][-1]
    assert entry["status"] == 200 and entry["method"] == "POST" and entry["tokens"] == tokens
    assert entry["model"] and entry["compute_ms"] > 0 and entry["queue_ms"] >= 0
    assert entry["total_ms"] >= entry["compute_ms"] and entry["time"].endswith("Z")
    assert any(e["status"] == 429 and e["route"] == "/embed" for e in entries)  # refusals are logged too
    metrics = httpx.get(url + "/metrics", timeout=30).text
    assert "minie5_request_queue_seconds_count{model=" in metrics
    assert "minie5_request_compute_seconds_count{model=" in metrics


def test_a_new_connection_is_refused_in_json_only_when_every_connection_is_busy(minilm_dir):
    with running_server("--model", minilm_dir, "--max-connections", "3") as (process, url):
        held = [in_flight(url) for _ in range(3)]
        time.sleep(0.3)
        with socket.create_connection(address(url), timeout=30) as sock:
            status, headers, body = answer_of(sock)
        assert status == 503 and body["error"]["code"] == "too_many_connections"
        assert int(headers["retry-after"]) >= 1
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert httpx.post(url + "/v1/embeddings", json={"input": "a"}, timeout=30).status_code == 200


def test_ctrl_c_says_what_it_drains_and_a_second_stops_now(minilm_dir):
    """Six clients with ~1 s of work each in flight: the first SIGINT says how many requests it
    drains, the second answers every waiting one with a JSON 503 and Retry-After at once, and the
    process exits without a traceback."""
    batches = [[f"{c}.{i} {PASSAGE}" for i in range(40)] for c in range(6)]
    with running_server("--model", minilm_dir, "--access-log") as (process, url):
        errors, access = Lines(process.stderr), Lines(process.stdout)
        results: dict[int, object] = {}

        def client(c):
            try:
                results[c] = httpx.post(url + "/v1/embeddings", json={"input": batches[c]}, timeout=120)
            except httpx.HTTPError as e:  # recorded: asserted below
                results[c] = e

        threads = [threading.Thread(target=client, args=(c,)) for c in range(6)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while gauge(url, "minie5_requests_in_flight") < 7:  # the six, and this /metrics request
            assert time.time() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        errors.wait_for("draining 6 requests (Ctrl-C again to stop now)")
        process.send_signal(signal.SIGINT)
        stopped = time.perf_counter()
        for t in threads:
            t.join(60)
        assert process.wait(30) == 128 + signal.SIGINT
        took = time.perf_counter() - stopped
    statuses = [getattr(results[c], "status_code", repr(results[c])) for c in range(6)]
    assert set(statuses) <= {200, 503} and 503 in statuses, statuses
    for response in results.values():
        if response.status_code == 503:
            assert response.json()["error"]["code"] == "shutting_down" and int(response.headers["Retry-After"]) >= 1
    assert took < 10
    errors.wait_for(f"stopping now: {statuses.count(503)} waiting requests answered 503")
    errors.wait_for("stopped (")
    assert "Traceback" not in errors.text() and "Exception in ASGI" not in errors.text(), errors.text()[-3000:]
    access.wait_for('"POST /v1/embeddings" 503 model=')


def test_ready_answers_503_for_the_pre_stop_delay_before_the_listener_closes(minilm_dir):
    """--pre-stop-delay 2: after SIGTERM a balancer probing /ready on a new connection sees 503
    while requests are still served; then the listener closes and the process exits."""
    with running_server("--model", minilm_dir, "--pre-stop-delay", "2") as (process, url):
        errors = Lines(process.stderr)
        process.send_signal(signal.SIGTERM)
        errors.wait_for("draining 0 requests")
        signalled = time.perf_counter()
        ready = httpx.get(url + "/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "draining" and ready.headers["Retry-After"]
        assert httpx.post(url + "/v1/embeddings", json={"input": "still served"}, timeout=10).status_code == 200
        assert process.wait(30) in (0, -signal.SIGTERM)
        assert time.perf_counter() - signalled > 1.5
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/ready", timeout=5)
    assert "the listener closes in 2 s" in errors.text() and "Traceback" not in errors.text()


@pytest.mark.parametrize("flag, value", [("--pre-stop-delay", "-1"), ("--max-requests", "0"),
                                         ("--max-connections", "0"), ("--max-batch-tokens", "-5")])
def test_a_bad_limit_is_refused_naming_its_flag(flag, value, capsys):
    from minie5.cli import main

    assert main(["serve", "--model", "unused", flag, value]) == 2
    assert f"minie5 serve: error: {flag} must be" in capsys.readouterr().err
