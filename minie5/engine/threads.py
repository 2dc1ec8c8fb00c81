"""Every thread setting of the engine, in one place: how many cores a pass uses, how Numba's OpenMP
threads wait between kernels, and OpenBLAS held to one thread during a pass.

The engine alternates between matrix products and Numba kernels. Products that go to OpenBLAS are
split over the engine's own pool of `threads` Python threads, each calling a single-threaded
OpenBLAS (OpenBLAS's own threads would spin between products and steal the kernels' cores). The
kernels use `threads` Numba threads; Numba's limit is per calling thread, so it is set for every
pass (ThreadLimits.applied), never once for the process.
"""

from __future__ import annotations

import contextlib
import os

import numba
from threadpoolctl import ThreadpoolController

from ..errors import check_int

THREADS_ENV = "MINIE5_NUM_THREADS"
# How many times Numba's GNU OpenMP threads spin, waiting for the next parallel kernel, before they
# sleep: tens of microseconds. Too long (GNU's default is 300,000) and on a machine with few cores
# they steal the cores the OpenBLAS calls need; not at all, and each of a short query's ~100
# parallel kernels pays for waking a thread (docs/engine-guide.md has the measurements).
OPENMP_SPIN_COUNT = "20000"


def set_openmp_wait_policy() -> None:
    """Give Numba's OpenMP threads a short spin, unless the user chose a wait policy or spin count.
    GOMP_SPINCOUNT is GNU OpenMP's knob; Intel's OpenMP, if Numba uses it, sleeps at once
    (KMP_BLOCKTIME=0). Both are read when the OpenMP runtime loads, at Numba's first parallel
    kernel, so this runs when the engine is imported."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", OPENMP_SPIN_COUNT)
        os.environ.setdefault("KMP_BLOCKTIME", "0")


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
    return min(check_int(source, threads, 1), numba.config.NUMBA_NUM_THREADS)


class ThreadLimits:
    """The cores one forward pass may use: Numba's threads, and OpenBLAS held to one thread (the
    engine splits its products itself), both for the duration of the pass only."""

    def __init__(self, threads: int):
        self.threads = threads
        # threadpoolctl's view of the BLAS libraries loaded in this process (NumPy's OpenBLAS),
        # found once here rather than at every pass.
        self._blas = ThreadpoolController()

    @contextlib.contextmanager
    def applied(self):
        with self._blas.limit(limits=1, user_api="blas"):
            numba.set_num_threads(self.threads)
            yield
