"""The Numba engine: the encoder's forward pass on packed tokens, fast, on the CPU.

    kernels/          the fast twins of the reference's functions, a file per concept
    numba_backend.py  the forward pass: products and kernels on packed batches, buffers reused
    threads.py        every thread setting: cores per pass, OpenMP's wait, OpenBLAS held to one
"""

from .threads import set_openmp_wait_policy

set_openmp_wait_policy()  # before any kernel starts the OpenMP runtime

from .numba_backend import NumbaBackend  # noqa: E402
from .threads import ThreadLimits, resolve_threads  # noqa: E402

__all__ = ["NumbaBackend", "ThreadLimits", "resolve_threads"]
