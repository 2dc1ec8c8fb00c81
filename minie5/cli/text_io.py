"""Texts in and vectors out for the command line: plain text, JSONL and CSV files, standard input.

Every input line is a text, empty lines included, so output row i is always input line i. Records
of JSONL and CSV files are kept, so their other fields travel with their vectors.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..files import write_atomically
from .common import InputError, Origin, UsageError

OUTPUT_FORMATS = (".npy", ".jsonl", ".csv")
INPUT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}  # else: text
DEFAULT_FIELD = "text"


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise InputError(f"{source} is not valid UTF-8 (line {line}, byte {e.start})") from None


def split_lines(text: str) -> list[str]:
    """One text per line. Empty lines are texts too, so output row i is always input line i."""
    if not text:
        return []
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def read_stdin_text() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("no TEXT given and standard input is a terminal: pass texts as arguments, "
                         "--input FILE, or pipe them in, one per line")
    return decode_utf8(sys.stdin.buffer.read(), "standard input")


def read_stdin_lines() -> list[str]:
    return split_lines(read_stdin_text())


def input_format(path: Path, text: str, field: str | None, fmt: str | None, option: str) -> str:
    """How to read an input: as asked (--format), else by the file's extension; standard input is
    text unless --field asks for records, then JSON lines or CSV by its first line. A --field that
    plain text would ignore is an error, never a silent embedding of whole lines."""
    if fmt is not None:
        return fmt
    stdin = str(path) == "-"
    kind = "text" if stdin else INPUT_FORMATS.get(path.suffix.lower(), "text")
    if kind == "text" and field is not None:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if stdin and first.startswith("{"):
            return "jsonl"
        if stdin and field in next(csv.reader([first]), []):
            return "csv"
        where = "standard input" if stdin else f"{option} {path}"
        raise UsageError(f"--field {field}: {where} is read as plain text, one text per line"
                         f"{'' if stdin else ' (by its extension)'}, which has no fields; pass --format jsonl, "
                         "json or csv to read records")
    return kind


def read_records(path: Path, field: str | None, option: str,
                 fmt: str | None = None) -> tuple[list[str], list | None, Origin]:
    """The texts of an input file (or of standard input, '-'), for records (JSONL, JSON, CSV) the
    records they came from, and where each text is."""
    if str(path) == "-":
        text, label = read_stdin_text(), "standard input"
    else:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"{option} {path}: cannot read ({e.strerror or e})") from None
        label = f"{option} {path}"
        text = decode_utf8(data, label)
    kind = input_format(path, text, field, fmt, option)
    field = field or DEFAULT_FIELD
    if kind == "text":
        return split_lines(text), None, Origin(label)
    if kind == "csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if rows and field not in rows[0]:
            raise InputError(f"{label}: no column {field!r} (columns: {', '.join(rows[0])}); "
                             "choose one with --field")
        return [row[field] or "" for row in rows], rows, Origin(label, unit="row")
    if kind == "json" and text.lstrip().startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{label} line {e.lineno}: not valid JSON ({e.msg})") from None
        numbered = list(enumerate(array, start=1))
        origin = Origin(label, unit="record")
    else:  # JSON lines (a .json file that is not an array is read as JSON lines too)
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as e:
                raise InputError(f"{label} line {number}: not valid JSON ({e.msg})") from None
        origin = Origin(label, [number for number, _ in numbered])
    records, texts = [], []
    for number, record in numbered:
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            what = "not a JSON object" if not isinstance(record, dict) else (
                f"no field {field!r}" if field not in record else f"field {field!r} is not a string")
            raise InputError(f"{label} {origin.unit} {number}: {what} (choose the text's field with --field)")
        records.append(record)
        texts.append(value)
    return texts, records, origin


# ---- output

def format_number(v) -> str:
    # Nine significant digits give back every float32 exactly; integers (quantised) as they are.
    return f"{v:.9g}" if isinstance(v, float) else str(v)


def format_jsonl(vectors: np.ndarray, records: list | None = None) -> str:
    """A JSON array per vector; with records (JSON objects), each record plus an "embedding" field."""
    rows = ["[" + ",".join(map(format_number, row)) + "]" for row in vectors.tolist()]
    if records is not None and all(isinstance(r, dict) for r in records):
        return "".join(json.dumps(r, ensure_ascii=False)[:-1] + (", " if r else "") +
                       f'"embedding": {row}}}\n' for r, row in zip(records, rows))
    return "".join(row + "\n" for row in rows)


def csv_columns(records: list | None) -> list[str]:
    """The input's columns (every field of the records, in first-seen order), else just "text"."""
    if records is None:
        return ["text"]
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return list(columns)


def format_csv_rows(vectors: np.ndarray, texts: list[str], records: list | None, columns: list[str],
                    header: bool = False) -> str:
    """CSV rows: the record's fields (or the text), then one column per number; or, with
    header=True, the header row of `columns`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for i, row in enumerate(vectors.tolist()):
        if records is None:
            fields = [texts[i]]
        else:
            fields = [_csv_cell(records[i].get(c, "")) for c in columns]
        writer.writerow([*fields, *map(format_number, row)])
    return buffer.getvalue()


def _csv_cell(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def write_vectors(out: Path | None, chunks: Iterable[np.ndarray], texts: list[str], records: list | None,
                  empty: np.ndarray) -> None:
    """Write the vectors of `texts`, arriving in order as `chunks`, to `out` (None: stdout as JSON
    lines) as they come, so that no more than a chunk is held. A file is written under a temporary
    name (created before the first vector is computed, so a bad path fails at once) and renamed
    when complete. `empty` is a [0, dim] array of the output's dtype, for the headers."""
    if out is None:
        _write_rows(sys.stdout.write, chunks, texts, records, "jsonl")
        sys.stdout.flush()
        return
    kind = out.suffix.lstrip(".")

    def write(f):
        if kind == "npy":  # the header names the final shape; the rows follow as they come
            np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(empty.dtype),
                                                     "fortran_order": False, "shape": (len(texts), empty.shape[1])})
        elif kind == "csv":
            f.write(format_csv_rows(empty, [], None, [*csv_columns(records), *(f"e{i}" for i in range(empty.shape[1]))],
                                    header=True).encode("utf-8"))
        _write_rows(lambda text: f.write(text if isinstance(text, bytes) else text.encode("utf-8")),
                    chunks, texts, records, kind)

    write_atomically(out, write)


def _write_rows(write, chunks: Iterable[np.ndarray], texts: list[str], records: list | None, kind: str) -> None:
    columns = csv_columns(records)
    start = 0
    for vectors in chunks:
        recs = None if records is None else records[start:start + len(vectors)]
        if kind == "npy":
            write(np.ascontiguousarray(vectors).tobytes())
        elif kind == "csv":
            write(format_csv_rows(vectors, texts[start:start + len(vectors)], recs, columns))
        else:
            write(format_jsonl(vectors, recs))
        start += len(vectors)
