"""Dynamic batching: the prepared token sequences of concurrent requests merged into engine passes.

Contract: `await batcher.pool(ids)` returns the pooled vectors of those id sequences, in order,
exactly as `Embedder.pool` gives them; what to do with them next (window means, unit length) is
the text pipeline's `finish`, in the request's handler. Behind it, one task takes whatever is
queued when the engine becomes free (waiting `wait_s` at most for company, and no longer once a
token budget is full), runs `Embedder.pool` on a worker thread so the event loop never blocks, and
hands each request its rows. While a pass runs, new requests queue up and join the next one: under
load, batches grow by themselves; alone, a request waits only `wait_s`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .metrics import Metrics


class QueueFull(Exception):
    """More sequences are waiting than the server allows."""


@dataclass
class _Job:
    ids: list[np.ndarray]
    future: asyncio.Future = field(repr=False)


class Batcher:
    def __init__(self, embedder, *, max_batch_tokens: int, max_queued: int, wait_s: float,
                 metrics: Metrics | None = None):
        self.embedder = embedder  # a minie5.encode.Embedder
        self.max_batch_tokens = max_batch_tokens  # stop collecting once a batch holds this many tokens
        self.max_queued = max_queued  # sequences queued or in the engine; beyond it, QueueFull
        self.wait_s = wait_s
        self.metrics = metrics or Metrics()
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._queued = 0
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minie5-forward")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def pool(self, ids: list[np.ndarray]) -> np.ndarray:  # n ragged -> [n, H]
        if self._queued + len(ids) > self.max_queued:
            raise QueueFull(f"{self._queued} sequences are waiting (the limit is {self.max_queued})")
        future = asyncio.get_running_loop().create_future()
        self._queued += len(ids)
        self.metrics.queued_texts = self._queued
        await self._queue.put(_Job(ids, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs, stopping = await self._collect(loop)
            if jobs:
                await self._forward(loop, jobs)
            self._queued -= sum(len(job.ids) for job in jobs)
            self.metrics.queued_texts = self._queued
            if stopping:
                return

    async def _collect(self, loop) -> tuple[list[_Job], bool]:
        """The next batch: the first job to arrive, then whatever else comes within wait_s, up to
        the token budget. Returns it with whether stop() was asked for."""
        first = await self._queue.get()
        if first is None:
            return [], True
        jobs, tokens = [first], sum(len(s) for s in first.ids)
        deadline = loop.time() + self.wait_s
        while tokens < self.max_batch_tokens:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
            if job is None:
                return jobs, True
            jobs.append(job)
            tokens += sum(len(s) for s in job.ids)
        return jobs, False

    async def _forward(self, loop, jobs: list[_Job]) -> None:
        ids = [seq for job in jobs for seq in job.ids]
        self.metrics.batch_texts.observe(len(ids))
        self.metrics.batch_tokens.observe(sum(len(s) for s in ids))
        try:
            vectors = await loop.run_in_executor(self._executor, self.embedder.pool, ids)
        except Exception as e:  # reported to every request of the batch, never lost
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(e)
            return
        start = 0
        for job in jobs:
            if not job.future.done():  # a request whose client went away is simply dropped
                job.future.set_result(vectors[start:start + len(job.ids)])
            start += len(job.ids)
