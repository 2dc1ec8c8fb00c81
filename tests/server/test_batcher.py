"""The batcher alone, with a recording engine: passes under the token budget, a big request
split across passes so that a small one overtakes it, rows in order, and work whose client
left never reaching the engine."""

import asyncio
import threading

import numpy as np

from minie5.server.batcher import Batcher, ClientGone


class Engine:
    """forward(items) -> one row per item (the item itself), each pass recorded; `gate` holds a
    pass until the test lets it go."""

    def __init__(self):
        self.passes: list[list] = []
        self.gate = threading.Semaphore(0)

    def forward(self, items):
        self.gate.acquire()
        self.passes.append(list(items))
        return np.array(items, dtype=np.float64)[:, None]


def batcher(engine: Engine, budget: int) -> Batcher:
    return Batcher(engine.forward, max_batch_tokens=budget, max_queued=10_000, wait_s=0.0, size=lambda item: 100)


def test_a_big_request_runs_a_budget_at_a_time_and_a_small_one_overtakes_it():
    engine = Engine()

    async def run():
        b = batcher(engine, budget=300)  # three items of 100 tokens a pass
        await b.start()
        big = asyncio.ensure_future(b.pool(list(range(10))))
        while not b._queued or b._pending:  # the big request's first pass has started
            await asyncio.sleep(0.001)
        small = asyncio.ensure_future(b.pool([100]))
        await asyncio.sleep(0.01)
        order = []
        big.add_done_callback(lambda _: order.append("big"))
        small.add_done_callback(lambda _: order.append("small"))
        for _ in range(5):
            engine.gate.release()
        rows_big, rows_small = await big, await small
        await b.stop()
        return order, rows_big, rows_small

    order, rows_big, rows_small = asyncio.run(run())
    # round robin, 300 tokens at most, the budget filled: the small one rides in the second pass
    assert engine.passes == [[0, 1, 2], [100, 3, 4], [5, 6, 7], [8, 9]]
    assert order == ["small", "big"]
    np.testing.assert_array_equal(rows_big[:, 0], np.arange(10))
    np.testing.assert_array_equal(rows_small[:, 0], [100])


def test_the_rest_of_a_request_whose_client_left_never_reaches_the_engine():
    engine = Engine()

    async def run():
        b = batcher(engine, budget=200)
        await b.start()
        gone = asyncio.get_running_loop().create_future()
        job = asyncio.ensure_future(b.pool(list(range(8)), client_gone=gone))
        while not b._queued or b._pending:
            await asyncio.sleep(0.001)
        gone.set_result(None)  # the client leaves during the first pass
        await asyncio.sleep(0.01)
        engine.gate.release()
        try:
            await job
        except ClientGone:
            pass
        else:
            raise AssertionError("the request was answered after its client left")
        alive = asyncio.ensure_future(b.pool([50]))
        engine.gate.release()
        rows = await alive
        await b.stop()
        return b, rows

    b, rows = asyncio.run(run())
    assert engine.passes == [[0, 1], [50]]
    assert b.metrics.dropped["client_gone"] == 6 and b.metrics.queued_texts == 0
    assert rows[0, 0] == 50
