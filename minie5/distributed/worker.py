"""One part of an embed-corpus job: read its rows, embed them, write them as a Parquet file.

Rows are embedded longest first (Model.encode packs texts of like length together) and written in
input order, with every input column kept and the embedding added. The file is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from ..batch_embedder import BadRowError, BatchEmbedder
from ..errors import Minie5Error, TextError, TruncationWarning
from ..files import json_object, write_atomically
from .parts import Part, read_rows


def read_part(part: Part, column: str = "text"):
    """Rows [start, stop) of the part's file, as a pyarrow Table (a .txt file's lines in `column`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(part.path)
    if path.suffix in (".txt", ".csv"):
        rows = read_rows(path, column)[part.start:part.stop]
        return pa.Table.from_pylist(rows) if rows else pa.table({column: pa.array([], pa.string())})
    if path.suffix == ".parquet":
        file = pq.ParquetFile(path)
        tables, first = [], 0
        for group in range(file.num_row_groups):
            rows = file.metadata.row_group(group).num_rows
            if first + rows > part.start and first < part.stop:
                tables.append(file.read_row_group(group).slice(max(part.start - first, 0),
                                                                part.stop - max(part.start, first)))
            first += rows
        return pa.concat_tables(tables) if tables else file.schema_arrow.empty_table()
    records, row = [], 0
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if part.start <= row < part.stop:
                records.append(json_object(line, path, number))
            row += 1
            if row >= part.stop:
                break
    return pa.Table.from_pylist(records)


def embed_part(part: Part, embedder: BatchEmbedder, output: Path) -> dict:
    """Write the part's file; return what happened: rows, rows with bad text (by file row), seconds."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    table = read_part(part, embedder.column)
    if embedder.column not in table.column_names:
        raise Minie5Error(f"{part.path}: no column {embedder.column!r} (columns: {', '.join(table.column_names)})")
    texts = table.column(embedder.column).to_pylist()
    bad = [part.start + i for i, t in enumerate(texts) if not isinstance(t, str)]
    try:
        with warnings.catch_warnings(record=True) as caught:  # counted, and said once by the driver
            warnings.simplefilter("always", TruncationWarning)
            table = embedder(table)
    except BadRowError as e:
        raise Minie5Error(f"{part.path}: row {bad[0]} (part {part.name}): {str(e).split(': ', 1)[1]}; "
                          "choose --on-bad-row skip or empty to go on without such rows") from None
    except TextError as e:
        raise Minie5Error(f"{part.path}: row {part.start + e.index} (part {part.name}): {e.problem}; choose "
                          "another long mode (--long truncate or --long chunk)") from None
    truncated = [w.message for w in caught if isinstance(w.message, TruncationWarning)]
    for other in caught:
        if not isinstance(other.message, TruncationWarning):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    write_atomically(output / part.name, lambda f: pq.write_table(table, f))
    return {"part": part.name, "rows": len(texts), "bad_rows": bad, "seconds": time.perf_counter() - started,
            "truncated_rows": sum(w.count for w in truncated),
            "max_length": truncated[0].max_length if truncated else None, "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float | None:
    """This worker process's peak resident memory so far (Linux), for the job's summary."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None
