"""Progress bars for long `encode` calls, drawn by tqdm (the bar sentence-transformers users know):
a smoothed rate and time left, the line cleared as it redraws, and a clean line after Ctrl-C."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(progress, total: int | None, unit: str = "texts") -> Iterator[Callable[[int, int], None] | None]:
    """The `progress` argument of encode as a callback (done, total): a callable is used as it
    is; True draws a bar on stderr; None or False, nothing."""
    if progress is None or progress is False:
        yield None
        return
    if callable(progress):
        yield progress
        return
    if progress is not True:
        raise ValueError(f"progress must be True, False, None or a callable, got {progress!r}")
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit=f" {unit}", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
    try:
        yield lambda done, _total: bar.update(done - bar.n)
    finally:
        bar.close()
