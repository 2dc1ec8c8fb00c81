"""A one-line progress bar for long jobs, drawn on stderr only when it is a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr, with rate and time left, only on a terminal."""

    def __init__(self, unit: str, enabled: bool):
        self.unit, self.enabled, self.clock = unit, enabled and sys.stderr.isatty(), time.monotonic
        self.start = self.last = self.clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if not self.enabled or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (total - done) / rate if rate else 0
        width = 24
        bar = "#" * (width * done // max(total, 1))
        line = (f"\r[{bar:<{width}}] {done:,}/{total:,} {self.unit}  {rate:,.1f}/s  "
                f"{'ETA ' + format_seconds(eta) if done < total else format_seconds(now - self.start)}")
        sys.stderr.write(line + ("\n" if done >= total else ""))
        sys.stderr.flush()


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
