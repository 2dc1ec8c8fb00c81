"""Dynamic batching: the prepared token sequences of concurrent requests merged into engine passes.

Contract: `await batcher.pool(items)` returns `forward(items)`'s rows for those items, in order,
exactly as one call would give them: for an embedder, `forward` is `Embedder.pool` and the items
are token id sequences (what to do with the vectors next, window means and unit length, is the
text pipeline's `finish`, in the request's handler); for a cross-encoder, the items are (ids,
token types) pairs and the rows are logits. Behind it, one task takes whatever is queued when the
engine becomes free (waiting `wait_s` at most for company, and no longer once the token budget of
a pass is full), runs `forward` on a worker thread so the event loop never blocks, and hands each
request its rows. Several batchers (one per served model) may share one worker thread: the cores
then run one model's pass at a time. While a pass runs, new requests queue up and join the next
one: under load, passes grow by themselves; alone, a request waits only `wait_s`.

A request larger than the budget runs in several passes, a budget's worth at a time, and between
them goes to the back of the queue: a single query that arrives behind a batch of 32 passages
waits for one pass, not for the whole batch (round robin, as an operating system's scheduler
shares a core). Rows do not depend on which pass computed them.

Work follows its client. A job is queued, then started (some of its items through the engine),
then done; while it waits it can be dropped, and what is left never reaches the engine:

    client_gone   the caller's connection closed (the handler passes an awaitable that says so)
    deadline      the request's deadline passed before any of its items reached the engine:
                  `Unavailable` (a started job is finished)
    expire()      the server is draining and its time is up: `Unavailable` for jobs not started
    cancelled     the caller's task was cancelled (the server stopping now; `halt()` drops the rest)

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
    sizes: list[int]  # each item's tokens
    future: asyncio.Future = field(repr=False)
    state: str = "queued"  # queued -> running -> (started -> running ->) done; or dropped on the way
    leaving: str = ""  # why its rest is dropped once the pass it is in ends (its client left meanwhile)
    timing: Timing = field(default_factory=Timing)
    queued_at: float = field(default_factory=time.perf_counter)
    done: int = 0  # items through the engine, in order
    rows: list = field(default_factory=list)  # their rows, a pass at a time

    @property
    def waiting(self) -> bool:
        return self.state in ("queued", "started")

    def left(self) -> tuple[int, int]:
        """Items and tokens not yet through the engine."""
        return len(self.items) - self.done, sum(self.sizes[self.done:])


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
        self._stopping = False  # finish what is queued, then stop
        self._halted = False  # start no pass again
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
        job = _Job(items, [self.size(item) for item in items], loop.create_future(), timing=timing or Timing())
        self._pending.append(job)
        self._count(*job.left(), +1)
        self._arrived.set()
        waiting = {job.future} | ({client_gone} if client_gone is not None else set())
        while True:
            timeout = None if deadline is None or job.state != "queued" else max(0.0, deadline - loop.time())
            # (a job's state moves on without waking it: a started job just stops having a deadline)
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
            # started when the deadline came: it is finished, and answered

    def expire(self, reason: str = "draining", started: bool = False) -> int:
        """Drop every job not started yet (with `started`, every job still waiting; a running pass
        finishes): each caller gets Unavailable. Returns how many were dropped."""
        dropped = [job for job in self._pending if job.state == "queued" or (started and job.waiting)]
        for job in dropped:
            self._drop(job, reason)
            job.future.set_exception(Unavailable("the server is shutting down"))
        return len(dropped)

    def halt(self) -> None:
        """Start no pass again: what is queued is dropped (Unavailable), new work refused."""
        self._stopping = self._halted = True
        self.expire("draining", started=True)
        self._arrived.set()

    def retry_after(self) -> int:
        """Whole seconds until the work now queued or running is done, at the measured rate (1 to
        120; 1 before anything was measured)."""
        if not self._tokens_per_s:
            return 1
        return min(120, max(1, math.ceil(self._backlog_tokens / self._tokens_per_s)))

    def _count(self, items: int, tokens: int, sign: int) -> None:
        self._queued += sign * items
        self._backlog_tokens += sign * tokens
        self.metrics.queued_texts = self._queued

    def _drop(self, job: _Job, reason: str) -> None:
        """Take a waiting job's items not yet computed out of the queue's counts (the collector
        skips it); a job in the pass running is dropped when the pass ends; a done one is left."""
        if job.state == "running":
            job.leaving = reason
            return
        if not job.waiting:
            return
        job.state = "dropped"
        items, tokens = job.left()
        self._count(items, tokens, -1)
        self.metrics.dropped[reason] += items

    def _next_waiting(self) -> _Job | None:
        while self._pending:
            job = self._pending.popleft()
            if job.waiting:
                return job
        return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            parts = await self._collect(loop)
            if parts is None:
                return
            await self._forward(loop, parts)

    async def _collect(self, loop) -> list[tuple[_Job, int, int]] | None:
        """The next pass, as (job, first item, end) parts: the first waiting job, then whatever
        else comes within wait_s, items in order up to the token budget (at least one item). None
        once stop() was asked for and nothing is left."""
        job = None if self._halted else self._next_waiting()
        while job is None:
            if self._stopping:
                return None
            self._arrived.clear()
            await self._arrived.wait()
            job = self._next_waiting()
        parts, tokens = [], 0
        deadline = loop.time() + self.wait_s
        while True:
            end = job.done
            while end < len(job.items) and (tokens == 0 or tokens + job.sizes[end] <= self.max_batch_tokens):
                tokens += job.sizes[end]
                end += 1
            if end > job.done:
                parts.append((job, job.done, end))
                job.state = "running"
            if end < len(job.items):  # the budget is full: the job's rest waits for a later pass
                break
            job = self._next_waiting()
            while job is None:
                remaining = deadline - loop.time()
                if remaining <= 0 or self._stopping:
                    return parts
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    return parts
                job = self._next_waiting()
        return parts

    async def _forward(self, loop, parts: list[tuple[_Job, int, int]]) -> None:
        items = [item for job, start, end in parts for item in job.items[start:end]]
        tokens = sum(sum(job.sizes[start:end]) for job, start, end in parts)
        self.metrics.batch_texts.observe(len(items))
        self.metrics.batch_tokens.observe(tokens)
        started = time.perf_counter()
        for job, start, _ in parts:
            if start == 0:
                job.timing.queue_s = started - job.queued_at
        try:
            rows = await loop.run_in_executor(self._executor, self.forward, items)
        except Exception as e:  # reported to every request of the pass, never lost
            for job, start, _ in parts:
                self._count(len(job.items) - start, sum(job.sizes[start:]), -1)
                job.state = "done"
                if not job.future.done():
                    job.future.set_exception(e)
            return
        took = time.perf_counter() - started
        rate = tokens / max(took, 1e-6)
        self._tokens_per_s = rate if self._tokens_per_s is None else 0.7 * self._tokens_per_s + 0.3 * rate
        offset = 0
        for job, start, end in parts:
            job.rows.append(rows[offset:offset + end - start])
            offset += end - start
            job.timing.compute_s += took
            self._count(end - start, sum(job.sizes[start:end]), -1)
            job.done = end
            if end < len(job.items) and (job.leaving or self._halted):
                reason, job.leaving = job.leaving or "draining", ""
                job.state = "started"  # waiting, so that _drop takes its rest out of the counts
                self._drop(job, reason)
                continue
            if end < len(job.items):
                job.state = "started"
                self._pending.append(job)  # the back of the queue: round robin
                self._arrived.set()
            else:
                job.state = "done"
                if not job.future.done():  # a request whose client went away is simply not answered
                    job.future.set_result(job.rows[0] if len(job.rows) == 1 else np.concatenate(job.rows))
