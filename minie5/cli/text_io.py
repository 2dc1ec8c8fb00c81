"""Texts in and vectors out for the command line: plain text, JSONL and CSV files, standard input.

Every input line is a text, empty lines included, so output row i is always input line i. Records
of JSONL and CSV files are kept, so their other fields travel with their vectors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..files import write_atomically
from .common import UsageError

OUTPUT_FORMATS = (".npy", ".jsonl", ".csv")
INPUT_FORMATS = {".jsonl": "jsonl", ".csv": "csv"}  # anything else: plain text, one per line


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UsageError(f"{source} is not valid UTF-8 (line {line}, byte {e.start})") from None


def split_lines(text: str) -> list[str]:
    """One text per line. Empty lines are texts too, so output row i is always input line i."""
    if not text:
        return []
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def read_stdin_lines() -> list[str]:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("no TEXT given and standard input is a terminal: pass texts as arguments, "
                         "--input FILE, or pipe them in, one per line")
    return split_lines(decode_utf8(sys.stdin.buffer.read(), "standard input"))


def read_records(path: Path, field: str, option: str) -> tuple[list[str], list | None]:
    """The texts of an input file and, for .jsonl/.csv, the records they came from."""
    if str(path) == "-":
        return read_stdin_lines(), None
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot read ({e.strerror or e})") from None
    text = decode_utf8(data, f"{option} {path}")
    kind = INPUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        return split_lines(text), None
    if kind == "csv":
        import csv
        import io

        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if rows and field not in rows[0]:
            raise UsageError(f"{option} {path}: no column {field!r} (columns: {', '.join(rows[0])}); "
                             "choose one with --field")
        return [row[field] or "" for row in rows], rows
    import json

    records, texts = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{option} {path} line {number}: not valid JSON ({e.msg})") from None
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            what = "not a JSON object" if not isinstance(record, dict) else (
                f"no field {field!r}" if field not in record else f"field {field!r} is not a string")
            raise UsageError(f"{option} {path} line {number}: {what} (choose the text's field with --field)")
        records.append(record)
        texts.append(value)
    return texts, records


# ---- output

def format_number(v) -> str:
    # Nine significant digits give back every float32 exactly; integers (quantised) as they are.
    return f"{v:.9g}" if isinstance(v, float) else str(v)


def format_jsonl(vectors: np.ndarray, records: list | None = None) -> str:
    import json

    rows = ["[" + ",".join(map(format_number, row)) + "]" for row in vectors.tolist()]
    if records is not None and all(isinstance(r, dict) for r in records):
        return "".join(json.dumps(r, ensure_ascii=False)[:-1] + (", " if r else "") +
                       f'"embedding": {row}}}\n' for r, row in zip(records, rows))
    return "".join(row + "\n" for row in rows)


def format_csv(vectors: np.ndarray, texts: list[str]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", *(f"e{i}" for i in range(vectors.shape[1]))])
    for text, row in zip(texts, vectors.tolist()):
        writer.writerow([text, *map(format_number, row)])
    return buffer.getvalue()



def write_output(vectors: np.ndarray, out: Path, texts: list[str], records: list | None = None) -> None:
    if out.suffix == ".npy":
        write_atomically(out, lambda f: np.save(f, vectors))
    elif out.suffix == ".csv":
        write_atomically(out, lambda f: f.write(format_csv(vectors, texts).encode("utf-8")))
    else:
        write_atomically(out, lambda f: f.write(format_jsonl(vectors, records).encode("utf-8")))
