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
import math
import os
from pathlib import Path

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


CGROUP_ROOT = Path("/sys/fs/cgroup")


def available_cores() -> int:
    """The cores this process may keep busy: the CPUs it may run on (taskset, a container's CPU
    set), and no more than its cgroup's CPU quota (`docker --cpus`, Kubernetes CPU limits), rounded
    up. More threads than the quota only queue: each parallel kernel then waits at its barrier for
    a thread the scheduler has throttled."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota is not None else cores


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, self_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota, in cores, of this process's cgroup or any cgroup above it (the smallest), or
    None where none is set. cgroup v2: `cpu.max` ("max 100000", or "$QUOTA $PERIOD" in
    microseconds); v1: `cpu.cfs_quota_us` (-1 for none) over `cpu.cfs_period_us`, under the cpu
    controller's mount."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one hierarchy
            quotas += [_v2_quota(d / "cpu.max") for d in _up_from(root, path)]
        elif "cpu" in controllers.split(","):
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                if mount.is_dir():
                    quotas += [_v1_quota(d) for d in _up_from(mount, path)]
                    break
    quotas = [q for q in quotas if q is not None]
    return min(quotas) if quotas else None


def _up_from(mount: Path, path: str) -> list[Path]:  # the cgroup's folder and every one above it, to the mount
    folders, parts = [mount], [p for p in path.split("/") if p]
    for i in range(len(parts)):
        folders.append(mount.joinpath(*parts[:i + 1]))
    return folders


def _v2_quota(cpu_max: Path) -> float | None:
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def resolve_threads(threads: int | None) -> int:
    """The thread count to use: the argument, else $MINIE5_NUM_THREADS, else every core this process
    may use (available_cores: affinity and CPU quota), and never more than Numba was started with
    (NUMBA_NUM_THREADS)."""
    source = "threads"
    if threads is None and os.environ.get(THREADS_ENV):
        source, threads = THREADS_ENV, os.environ[THREADS_ENV]
        try:
            threads = int(threads)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {threads!r}") from None
    if threads is None:
        return DefaultThreads(min(available_cores(), numba.config.NUMBA_NUM_THREADS))
    return min(check_int(source, threads, 1), numba.config.NUMBA_NUM_THREADS)


class DefaultThreads(int):
    """A thread count nobody chose (resolve_threads' default): the most a pass uses, fewer where
    other processes keep the cores busy (ThreadLimits.for_pass). A count a user gives is kept."""


def busy_cores(loadavg: Path = Path("/proc/loadavg")) -> int | None:
    """Tasks running or ready to run on the whole machine right now, other than the caller: the
    fourth field of /proc/loadavg ("running/total") less one; None where it cannot be read."""
    try:
        running = int(loadavg.read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)


class ThreadLimits:
    """The cores one forward pass may use: Numba's threads, and OpenBLAS held to one thread (the
    engine splits its products itself), both for the duration of the pass only."""

    def __init__(self, threads: int):
        self.threads = int(threads)
        # The default gives way to other processes (for_pass); a count the user gave is kept.
        self.adaptive = isinstance(threads, DefaultThreads)
        # threadpoolctl's view of the BLAS libraries loaded in this process (NumPy's OpenBLAS),
        # found once here rather than at every pass.
        self._blas = ThreadpoolController()

    @contextlib.contextmanager
    def applied(self):
        with self._blas.limit(limits=1, user_api="blas"):
            numba.set_num_threads(self.for_pass())
            yield

    def for_pass(self) -> int:
        """Numba's threads for the next pass: `threads`, or with the default, no more than the
        machine's cores that other tasks leave free (at least one). On a loaded machine each
        parallel kernel would otherwise wait at its barrier for a thread that lost its core
        (docs/engine-guide.md, "Threads that fit the machine", has the measurements). Kernels
        give the same bits on any thread count, so this changes speed, not vectors."""
        if not self.adaptive:
            return self.threads
        busy = busy_cores()
        if busy is None:
            return self.threads
        return max(1, min(self.threads, (os.cpu_count() or 1) - busy))
