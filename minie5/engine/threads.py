"""How many cores a forward pass uses, for both pools of threads it runs on.

The engine alternates between OpenBLAS (the matrix products, through NumPy) and Numba (the
kernels). Each has its own thread pool, and each defaults to every core; they never run at the same
moment, so the two pools do not compete, but both must be held to the same limit when the caller
asks for fewer cores. Numba's limit is per calling thread, so it is set at the start of every pass.
"""

from __future__ import annotations

import contextlib
import os

import numba

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
    def __init__(self, threads: int):
        self.threads = threads
        self._blas = _blas_controller()

    @contextlib.contextmanager
    def applied(self):
        numba.set_num_threads(self.threads)
        with self._blas.limit(limits=1, user_api="blas"):  # the engine splits products itself
            yield


def _blas_controller():
    """threadpoolctl's view of the BLAS libraries loaded in this process (NumPy's OpenBLAS)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
