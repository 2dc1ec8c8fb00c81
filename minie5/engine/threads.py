"""How many cores a forward pass uses.

The engine alternates between matrix products (OpenBLAS, through NumPy) and Numba kernels. The
products are split over the engine's own pool of `threads` Python threads, each calling a
single-threaded OpenBLAS, so OpenBLAS's own threads are held to one during a pass (they would spin
between products and steal the kernels' cores). The kernels use `threads` Numba threads; that
limit is per calling thread, so the engine sets it in every pass (see backend._forward).
"""

from __future__ import annotations

import contextlib
import os

import numba
from threadpoolctl import ThreadpoolController

THREADS_ENV = "MINIE5_NUM_THREADS"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # respects taskset and container CPU sets
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_threads(threads: int | None) -> int:
    """The thread count to use: the argument, else $MINIE5_NUM_THREADS, else every core, and never
    more than Numba was started with (NUMBA_NUM_THREADS)."""
    source = "threads"
    if threads is None and os.environ.get(THREADS_ENV):
        source, threads = THREADS_ENV, os.environ[THREADS_ENV]
        try:
            threads = int(threads)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {threads!r}") from None
    if threads is None:
        threads = available_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"{source} must be a positive integer, got {threads!r}")
    return min(threads, numba.config.NUMBA_NUM_THREADS)


class ThreadLimits:
    """The cores one forward pass may use, applied to Numba and to the BLAS for the pass only."""

    def __init__(self, threads: int):
        self.threads = threads
        # threadpoolctl's view of the BLAS libraries loaded in this process (NumPy's OpenBLAS),
        # found once here rather than at every pass.
        self._blas = ThreadpoolController()

    @contextlib.contextmanager
    def applied(self):
        """OpenBLAS held to one thread for the duration: the engine splits products itself."""
        with self._blas.limit(limits=1, user_api="blas"):
            yield
