"""Writing output files so that a reader never sees half of one and nothing on disk is followed.

A file is written under a fresh temporary name in the target's own folder, created exclusively
(O_EXCL: an existing file or symbolic link of that name is never opened, so a link planted there
cannot redirect the write), then renamed over the target in one step. A crash or a full disk
leaves the old file whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import Minie5Error


def user_cache_dir() -> Path:
    """minie5's folder in the user's cache: $XDG_CACHE_HOME/minie5, else ~/.cache/minie5."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minie5"


def write_atomically(out: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(f)` on a new temporary file beside `out`, then rename it to `out`."""
    out = Path(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent or ".")
    except OSError as e:
        raise OSError(f"{out}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give it a normal file's mode
        os.replace(tmp, out)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OSError(f"{out}: cannot write ({e.strerror or e})") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_object(line: str, path: Path, number: int) -> dict:
    """One line of a JSONL file as a JSON object, or an error naming the file and the line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise Minie5Error(f"{path} line {number}: not valid JSON ({e.msg})") from None
    if not isinstance(record, dict):
        raise Minie5Error(f"{path} line {number}: not a JSON object")
    return record
