"""Where Numba keeps minie5's compiled kernels, and what happens when it cannot keep them.

By default Numba caches beside the source, in the package's own __pycache__ folders. For an
installed package that is site-packages: `pip uninstall` does not know those files and leaves the
folders behind, and the empty `minie5/` they leave then shadows a later editable install
("cannot import name ... (unknown location)"). So minie5's kernels are cached in the user's cache
folder instead ($XDG_CACHE_HOME or ~/.cache, then minie5/numba/), one subfolder per source
location, and nothing is ever written into the installed package. NUMBA_CACHE_DIR, when set,
still wins, as Numba documents.

Where no folder is writable (a system install run by a service user), Numba would refuse
`cache=True` at import; minie5 asks first and compiles in each process instead, with a one-time
notice, rather than failing to import.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

from numba import njit

from .files import user_cache_dir

PACKAGE = Path(__file__).resolve().parent


def cache_folder() -> Path:
    return user_cache_dir() / "numba"


def _install_locator() -> None:
    """Put minie5's locator first in Numba's list; it answers for minie5's files only."""
    try:
        from numba.core import caching
    except ImportError:  # pragma: no cover - a Numba without the module: keep its default
        return

    class Minie5CacheLocator(caching.UserProvidedCacheLocator):
        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            self._cache_path = str(cache_folder() / self.get_suitable_cache_subpath(py_file))

        @classmethod
        def from_function(cls, py_func, py_file):
            if os.environ.get("NUMBA_CACHE_DIR") or not Path(py_file).resolve().is_relative_to(PACKAGE):
                return None
            return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)

    classes = caching.CacheImpl._locator_classes
    if not any(c.__name__ == "Minie5CacheLocator" for c in classes):
        classes.insert(0, Minie5CacheLocator)


def _probe():  # pragma: no cover - compiled only to ask Numba for a cache location
    return 0


@functools.cache
def available() -> bool:
    """Whether the kernels can be cached; installs minie5's cache location first."""
    _install_locator()
    try:
        njit(cache=True)(_probe)  # asking for a cache creates its locator, or fails as every kernel would
        return True
    except RuntimeError as e:
        warnings.warn(f"minie5: Numba cannot cache compiled kernels ({e}); they will be compiled in each "
                      "process (about 15 s). Set NUMBA_CACHE_DIR to a writable folder to keep them.",
                      RuntimeWarning, stacklevel=3)
        return False


# The float32 pass's kernel modules (engine/kernels/, a file per concept): the first encode of a
# process needs each of them compiled. int8's and bfloat16's kernels compile only where used.
FLOAT32_KERNELS = ("attention", "embeddings", "feed_forward", "layer_norm", "linear", "pooling")


def kernels_cached() -> bool:
    """Whether the engine's float32 kernels are already compiled on disk (else the first encode of a
    process compiles them, which takes a while; the CLI says so on a terminal): Numba's index file
    (`<module>.<function>-<line>.py<version>.nbi`) of every kernel module is in the folder Numba
    uses for engine/kernels/."""
    try:
        from numba.core import caching

        kernels = PACKAGE / "engine" / "kernels"
        subpath = caching._CacheLocator.get_suitable_cache_subpath(str(kernels / "linear.py"))
        folders = [Path(os.environ["NUMBA_CACHE_DIR"]) / subpath] if os.environ.get("NUMBA_CACHE_DIR") else [
            cache_folder() / subpath, kernels / "__pycache__"]
        return any(all(any(folder.glob(f"{module}.*.nbi")) for module in FLOAT32_KERNELS) for folder in folders)
    except Exception:  # a Numba whose internals differ: say nothing rather than something wrong
        return True
