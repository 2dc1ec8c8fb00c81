"""The input, cut into parts whose boundaries depend only on the input: so a re-run with the same
arguments finds the parts it already wrote, and redoes only the rest.

A part is rows [start, stop) of one input file, written to its own Parquet file named after both
(part-<file number>-<first row>.parquet). It appears under that name only once complete (written
under a temporary name, then renamed), so a part file that exists is a finished part.

The manifest (_minie5_manifest.json) records what the output folder holds: the model (its name and
a digest of the files that decide the vectors), the options, and a fingerprint of every input
file. A run whose model, options or input differ refuses to mix its parts with the old ones unless
told to start over.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import Minie5Error
from ..files import write_atomically

MANIFEST = "_minie5_manifest.json"
FORMATS = (".parquet", ".jsonl", ".csv", ".txt")
FINGERPRINT_BYTES = 1 << 20  # the head and the tail of each input file are hashed, with its size and time


@dataclass(frozen=True)
class InputFile:
    path: str
    rows: int
    size: int
    mtime_ns: int
    digest: str  # BLAKE2b of the first and last MiB


@dataclass(frozen=True)
class Part:
    file: int  # index into the input files
    path: str
    start: int  # rows [start, stop) of that file
    stop: int

    @property
    def name(self) -> str:
        return f"part-{self.file:05d}-{self.start:012d}.parquet"


def find_inputs(spec: str) -> list[Path]:
    """The input files of `spec`: a file, a folder (its .parquet, .jsonl, .csv and .txt files) or a glob."""
    path = Path(spec)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in FORMATS and p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
    if not files:
        raise Minie5Error(f"{spec}: no input (a .parquet, .jsonl, .csv or .txt file, a folder of them, or a glob)")
    for file in files:
        if file.suffix not in FORMATS:
            raise Minie5Error(f"{file}: not a .parquet, .jsonl, .csv or .txt file")
    return files


def describe_input(path: Path) -> InputFile:
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        digest.update(f.read(FINGERPRINT_BYTES))
        if stat.st_size > 2 * FINGERPRINT_BYTES:
            f.seek(-FINGERPRINT_BYTES, os.SEEK_END)
        digest.update(f.read(FINGERPRINT_BYTES))
    return InputFile(str(path.resolve()), count_rows(path), stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception as e:  # pyarrow's errors for a corrupt file are of several kinds
            raise Minie5Error(f"{path}: not a readable Parquet file ({e})") from None
    if path.suffix in (".txt", ".csv"):
        return len(read_rows(path, "text"))
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def read_rows(path: Path, column: str) -> list[dict]:
    """The rows of a .txt file (every line a text, empty lines too, as `minie5 embed` reads it, in
    `column`) or a .csv file (a header row, then records)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise Minie5Error(f"{path}: not valid UTF-8 (byte {e.start})") from None
    if path.suffix == ".csv":
        import csv
        import io

        return list(csv.DictReader(io.StringIO(text, newline="")))
    lines = text.removesuffix("\n").split("\n") if text else []
    return [{column: line.removesuffix("\r")} for line in lines]


def plan_parts(inputs: list[InputFile], rows_per_part: int) -> list[Part]:
    return [Part(i, f.path, start, min(start + rows_per_part, f.rows))
            for i, f in enumerate(inputs) for start in range(0, f.rows, rows_per_part)]


def prepare_output(output: Path, manifest: dict, restart: bool) -> None:
    """Make `output` hold `manifest`: new, the same job again (its parts are kept), or, with
    restart, emptied of another job's parts first. Another job's folder without restart: refused."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise Minie5Error(f"{path}: unreadable ({e}); pass --restart to start over") from None
        if old == manifest:
            return
        if not restart:
            changed = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise Minie5Error(f"{output} holds parts of another job (its {', '.join(changed)} differ); pass "
                              "--restart to delete them and start over, or choose another output folder")
    if restart or path.exists():
        for stale in output.glob("part-*.parquet"):
            stale.unlink()
    write_atomically(path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))


def manifest_for(model_key: dict, options: dict, inputs: list[InputFile], rows_per_part: int) -> dict:
    return {"format": "minie5-embed-corpus", "version": 1, "model": model_key, "options": options,
            "rows_per_part": rows_per_part, "inputs": [asdict(f) for f in inputs]}
