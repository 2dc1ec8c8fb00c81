"""Whether Numba can keep compiled kernels on disk, asked once for the whole package.

Numba caches beside the source (each package folder's __pycache__), else in NUMBA_CACHE_DIR or the
user's cache folder. A system install run by a service user may have none of them writable, and
Numba then refuses `cache=True` when the module is imported. minie5 asks first and, with nowhere to
cache, compiles in each process instead (a one-time notice says so), rather than failing to import.
"""

from __future__ import annotations

import functools
import warnings

from numba import njit


def _probe():  # pragma: no cover - compiled only to ask Numba for a cache location
    return 0


@functools.cache
def available() -> bool:
    try:
        njit(cache=True)(_probe)  # asking for a cache creates its locator, or fails as every kernel would
        return True
    except RuntimeError as e:
        warnings.warn(f"minie5: Numba cannot cache compiled kernels ({e}); they will be compiled in each "
                      "process (about 15 s). Set NUMBA_CACHE_DIR to a writable folder to keep them.",
                      RuntimeWarning, stacklevel=3)
        return False
