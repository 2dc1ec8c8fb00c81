"""The Numba engine: the encoder's forward pass on packed tokens, fast, on the CPU."""

import os

# Numba's OpenMP threading layer keeps its threads spinning after every parallel kernel, and
# OpenBLAS's threads spin after every matrix product. The engine alternates between the two dozens
# of times per layer, so on a machine with few cores the spinning threads of one pool steal the
# cores the other needs: measured here on 2 cores, a 10-token query took 400 ms instead of 12 ms.
# A passive wait policy makes OpenMP's threads sleep at once. It must be set before the OpenMP
# runtime loads (at Numba's first parallel kernel); a value the user set is left alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .backend import NumbaBackend  # noqa: E402
from .threads import ThreadLimits, resolve_threads  # noqa: E402

__all__ = ["NumbaBackend", "ThreadLimits", "resolve_threads"]
