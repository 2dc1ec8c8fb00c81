"""Dynamic batching: the prepared token sequences of concurrent requests merged into engine passes.

Contract: `await batcher.pool(items)` returns `forward(items)`'s rows for those items, in order,
exactly as one call would give them: for an embedder, `forward` is `Embedder.pool` and the items
are token id sequences (what to do with the vectors next, window means and unit length, is the
text pipeline's `finish`, in the request's handler); for a cross-encoder, the items are (ids,
token types) pairs and the rows are logits. Behind it, one task takes whatever is queued when the
engine becomes free (waiting `wait_s` at most for company, and no longer once a token budget is
full), runs `forward` on a worker thread so the event loop never blocks, and hands each request
its rows. Several batchers (one per served model) may share one worker thread: the cores then run
one model's pass at a time. While a pass runs, new requests queue up and join the next one: under
load, batches grow by themselves; alone, a request waits only `wait_s`.

Work follows its client. A job is queued, then running, then done; while it is still queued it
can be dropped, and it never reaches the engine:

    client_gone   the caller's connection closed (the handler passes an awaitable that says so)
    deadline      the request's deadline passed before its job left the queue: `Unavailable`
    expire()      the server is draining and its time is up: `Unavailable`

    cancelled     the caller's task was cancelled (the server stopping now)

A running pass is not interrupted: it is one engine call, and the rows of a client that left are
simply not delivered. The queue's drain rate (tokens per second, measured on every pass) sizes
`retry_after()`, the Retry-After of a 429 or 503.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .metrics import ModelMetrics


class QueueFull(Exception):
    """More sequences are waiting than the server allows."""


class ClientGone(Exception):
    """The client closed its connection before its answer was ready."""


class Unavailable(Exception):
    """The job was dropped before it reached the engine: its deadline passed, or the server is draining."""


@dataclass
class Timing:
    """Where a job's time went: waiting in the queue, and the engine pass it ran in."""

    queue_s: float = 0.0
    compute_s: float = 0.0


@dataclass(eq=False)
class _Job:
    items: list
    tokens: int
    future: asyncio.Future = field(repr=False)
    state: str = "queued"  # queued -> running -> done; or queued -> dropped
    timing: Timing = field(default_factory=Timing)
    queued_at: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(self, forward: Callable[[list], np.ndarray], *, max_batch_tokens: int, max_queued: int,
                 wait_s: float, size: Callable[[object], int] = len, metrics: ModelMetrics | None = None,
                 executor: ThreadPoolExecutor | None = None):
        self.forward = forward  # items -> one row each, in order (Embedder.pool, for an embedder)
        self.size = size  # an item's tokens
        self.max_batch_tokens = max_batch_tokens  # stop collecting once a batch holds this many tokens
        self.max_queued = max_queued  # sequences queued or in the engine; beyond it, QueueFull
        self.wait_s = wait_s
        self.metrics = metrics or ModelMetrics()
        self._pending: collections.deque[_Job] = collections.deque()  # queued (and dropped, skipped)
        self._arrived = asyncio.Event()
        self._queued = 0  # sequences queued or running
        self._backlog_tokens = 0  # their tokens
        self._tokens_per_s: float | None = None  # the engine's measured rate, smoothed
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="minie5-forward")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self, now: bool = False) -> None:
        """Finish what is queued, then stop; `now`: drop what is queued and abandon the pass
        running (its thread finishes it for nobody)."""
        if self._task is not None:
            if now:
                self.halt()
                self._task.cancel()
            self._stopping = True
            self._arrived.set()
            try:
                await self._task
            except asyncio.CancelledError:
                if not now:
                    raise
            self._task = None
        if self._owns_executor:
            self._executor.shutdown(wait=True)

    async def pool(self, items: list, *, client_gone: asyncio.Future | None = None,
                   deadline: float | None = None, timing: Timing | None = None) -> np.ndarray:  # n items -> [n, ...]
        """`forward`'s rows for `items`. Raises QueueFull at once when the queue is full, ClientGone
        when `client_gone` completes first, Unavailable when the job is still queued at `deadline`
        (the event loop's clock) or is expired. `timing`, if given, is filled in when the rows come."""
        if self._stopping:
            raise Unavailable("the server is shutting down")
        if self._queued + len(items) > self.max_queued:
            raise QueueFull(f"{self._queued} sequences are waiting (the limit is {self.max_queued})")
        loop = asyncio.get_running_loop()
        job = _Job(items, sum(self.size(item) for item in items), loop.create_future(), timing=timing or Timing())
        self._pending.append(job)
        self._count(job, +1)
        self._arrived.set()
        waiting = {job.future} | ({client_gone} if client_gone is not None else set())
        while True:
            timeout = None if deadline is None or job.state != "queued" else max(0.0, deadline - loop.time())
            try:
                done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                self._drop(job, "cancelled")
                raise
            if job.future in done:
                return job.future.result()
            if client_gone in done:
                self._drop(job, "client_gone")
                raise ClientGone()
            if job.state == "queued":  # the deadline passed while it waited
                self._drop(job, "deadline")
                raise Unavailable("the request waited past the server's --request-timeout")
            # running when the deadline came: it finishes in one engine pass, so it is answered

    def expire(self, reason: str = "draining") -> int:
        """Drop every queued job (a running pass finishes): each caller gets Unavailable. Returns
        how many were dropped."""
        dropped = [job for job in self._pending if job.state == "queued"]
        for job in dropped:
            self._drop(job, reason)
            job.future.set_exception(Unavailable("the server is shutting down"))
        return len(dropped)

    def halt(self) -> None:
        """Start no pass again: what is queued is dropped (Unavailable), new work refused."""
        self._stopping = True
        self.expire("draining")
        self._arrived.set()

    def retry_after(self) -> int:
        """Whole seconds until the work now queued or running is done, at the measured rate (1 to
        120; 1 before anything was measured)."""
        if not self._tokens_per_s:
            return 1
        return min(120, max(1, math.ceil(self._backlog_tokens / self._tokens_per_s)))

    def _count(self, job: _Job, sign: int) -> None:
        self._queued += sign * len(job.items)
        self._backlog_tokens += sign * job.tokens
        self.metrics.queued_texts = self._queued

    def _drop(self, job: _Job, reason: str) -> None:
        """Take a queued job out of the queue's counts (the collector skips it); a running or done
        job is left alone."""
        if job.state != "queued":
            return
        job.state = "dropped"
        self._count(job, -1)
        self.metrics.dropped[reason] += len(job.items)

    def _next_queued(self) -> _Job | None:
        while self._pending:
            job = self._pending.popleft()
            if job.state == "queued":
                return job
        return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect(loop)
            if jobs is None:
                return
            await self._forward(loop, jobs)
            for job in jobs:
                job.state = "done"
                self._count(job, -1)

    async def _collect(self, loop) -> list[_Job] | None:
        """The next batch: the first live job, then whatever else comes within wait_s, up to the
        token budget. None once stop() was asked for and nothing is left."""
        first = self._next_queued()
        while first is None:
            if self._stopping:
                return None
            self._arrived.clear()
            await self._arrived.wait()
            first = self._next_queued()
        jobs, tokens = [first], first.tokens
        deadline = loop.time() + self.wait_s
        while tokens < self.max_batch_tokens:
            job = self._next_queued()
            if job is None:
                remaining = deadline - loop.time()
                if remaining <= 0 or self._stopping:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
                continue
            jobs.append(job)
            tokens += job.tokens
        for job in jobs:
            job.state = "running"
        return jobs

    async def _forward(self, loop, jobs: list[_Job]) -> None:
        items = [item for job in jobs for item in job.items]
        tokens = sum(job.tokens for job in jobs)
        self.metrics.batch_texts.observe(len(items))
        self.metrics.batch_tokens.observe(tokens)
        started = time.perf_counter()
        for job in jobs:
            job.timing.queue_s = started - job.queued_at
        try:
            rows = await loop.run_in_executor(self._executor, self.forward, items)
        except Exception as e:  # reported to every request of the batch, never lost
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(e)
            return
        took = time.perf_counter() - started
        for job in jobs:
            job.timing.compute_s = took
        rate = tokens / max(took, 1e-6)
        self._tokens_per_s = rate if self._tokens_per_s is None else 0.7 * self._tokens_per_s + 0.3 * rate
        start = 0
        for job in jobs:
            if not job.future.done():  # a request whose client went away is simply not answered
                job.future.set_result(rows[start:start + len(job.items)])
            start += len(job.items)
