"""The Numba engine: the encoder's forward pass on packed tokens, fast, on the CPU."""

import os

# How long Numba's OpenMP threads wait, spinning, for the next parallel kernel before they sleep.
# Too long, and on a machine with few cores they steal the cores the engine's own BLAS threads need
# (with GNU OpenMP's default of 300,000 spins a 10-token query once took 400 ms instead of 12 ms).
# Not at all (a passive policy), and every one of the ~100 parallel kernels of a short query pays
# for waking a sleeping thread: measured on 2 cores, 7.5 ms a query against 4.5 ms with 20,000
# spins (tens of microseconds), which also left corpus throughput unchanged (4,086 and 4,179
# tokens/s). GOMP_SPINCOUNT is GNU OpenMP's knob; Intel's OpenMP, if Numba uses it, sleeps at once
# (KMP_BLOCKTIME=0). Both must be set before the OpenMP runtime loads (at Numba's first parallel
# kernel); a wait policy or spin count the user set is left alone.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "20000")
    os.environ.setdefault("KMP_BLOCKTIME", "0")

from .backend import NumbaBackend  # noqa: E402
from .threads import ThreadLimits, resolve_threads  # noqa: E402

__all__ = ["NumbaBackend", "ThreadLimits", "resolve_threads"]
