"""Load test of `minie5 serve`: concurrent clients on loopback, against `Model.encode` of the same
texts in the same run.

    python tools/load_test.py [--clients 1 8 64] [--seconds 30] [--model DIR]

Starts a server on 127.0.0.1 (a free port), then for each client count runs that many clients for
a bounded time, each sending requests of 1 to 8 texts of mixed length (the benchmark corpus: 5 to
300 words, and short queries) and waiting for the answer before sending the next. Reports p50/p99
latency, requests/s, texts/s and errors per level, and the server's texts/s at the highest level
against direct `Model.encode` of the texts the clients sent, measured in this process before the
server starts (the two never compete for the cores). Every request goes to 127.0.0.1 only.

Needs `pip install -e ".[server,test]"` (httpx). The default model is a BERT with e5-small-v2's
exact shape and random weights (tools/bench.py); speed does not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def request_plan(seed: int = 0, n: int = 2000) -> list[list[str]]:
    """The requests clients send, in order: 1 to 8 texts each, passages and queries mixed."""
    from tools import bench

    rng = random.Random(seed)
    passages, queries = bench.corpus_texts(400), [f"query: {q}" for q in bench.query_texts(400)]
    plan = []
    for _ in range(n):
        size = rng.randint(1, 8)
        plan.append([rng.choice(passages) if rng.random() < 0.5 else rng.choice(queries) for _ in range(size)])
    return plan


async def run_level(url: str, clients: int, seconds: float, plan: list[list[str]]) -> dict:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    texts_done = 0
    cursor = 0
    deadline = time.perf_counter() + seconds

    async def client(http):
        nonlocal texts_done, cursor
        while time.perf_counter() < deadline:
            texts = plan[cursor % len(plan)]
            cursor += 1
            start = time.perf_counter()
            try:
                response = await http.post(url + "/v1/embeddings", json={"input": texts, "model": "m",
                                                                         "encoding_format": "base64"})
                status = response.status_code
                if status == 200 and len(response.json()["data"]) != len(texts):
                    status = -1  # a wrong answer counts as an error
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                texts_done += len(texts)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ok = statuses.get(200, 0)
    lat = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(latencies), "ok": ok, "errors": len(latencies) - ok,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "requests_s": ok / elapsed, "texts_s": texts_done / elapsed, "texts": texts_done}


def direct(model_dir: Path, plan: list[list[str]], threads: int | None) -> tuple[float, np.ndarray]:
    """Model.encode in this process (kernels compiled before timing): texts/s on the texts of the
    first 300 requests in one call, and the latency of each of the first 100 requests alone (ms)."""
    import warnings

    import minie5

    texts = [t for request in plan[:300] for t in request]
    model = minie5.load(model_dir, threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.encode(texts[:16])
        start = time.perf_counter()
        model.encode(texts)
        rate = len(texts) / (time.perf_counter() - start)
        latencies = []
        for request in plan[:100]:
            start = time.perf_counter()
            model.encode(request)
            latencies.append((time.perf_counter() - start) * 1000)
    del model
    gc.collect()
    return rate, np.array(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--seconds", type=float, default=30.0, help="per client count (default 30)")
    parser.add_argument("--model", type=Path, help="model folder (default: e5-small-v2's shape, random weights)")
    parser.add_argument("--threads", type=int, help="cores for the engine (default: all)")
    args = parser.parse_args()
    from tests.support.server import running_server
    from tools import bench

    model_dir = args.model or bench.prepare_model(Path.home() / ".cache" / "minie5-bench")
    plan = request_plan()
    rate, alone = direct(model_dir, plan, args.threads)
    print(f"direct Model.encode: {rate:,.1f} texts/s on the texts of 300 requests; one request at a time: "
          f"p50 {np.percentile(alone, 50):.1f} ms, p99 {np.percentile(alone, 99):.1f} ms", flush=True)

    extra = ["--threads", str(args.threads)] if args.threads else []
    results = []
    with running_server("--model", model_dir, "--max-queue", "100000", *extra) as (process, url):
        asyncio.run(run_level(url, 4, 3.0, plan))  # warm-up: connections, first batches
        for clients in args.clients:
            # Level 1 replays the requests timed alone above, so its latencies compare one to one.
            result = asyncio.run(run_level(url, clients, args.seconds, plan))
            results.append(result)
            print(f"{clients:>3} clients: {result['requests']:>5} requests, {result['errors']} errors, "
                  f"p50 {result['p50_ms']:7.1f} ms, p99 {result['p99_ms']:7.1f} ms, "
                  f"{result['requests_s']:6.1f} req/s, {result['texts_s']:6.1f} texts/s", flush=True)

    print("\n| clients | requests | errors | p50 ms | p99 ms | requests/s | texts/s | server / direct |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['clients']} | {r['requests']:,} | {r['errors']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['requests_s']:.1f} | {r['texts_s']:.1f} | {r['texts_s'] / rate:.2f}x |")
    print(f"\ndirect Model.encode of the same texts: {rate:.1f} texts/s; the same requests one at a time, "
          f"no server: p50 {np.percentile(alone, 50):.1f} ms, p99 {np.percentile(alone, 99):.1f} ms")
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    print(f"CPU: {name}, {len(__import__('os').sched_getaffinity(0))} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
