"""`BatchEmbedder`: one batch of a table in, the same batch with an `embedding` column out.

What a cluster engine calls: Ray Data's `map_batches` (as the class of an actor pool), Dask's
`map_partitions`, Spark's pandas UDFs, or a plain loop. It is small and picklable (it carries
only its settings), loads its model on first use and keeps it for the life of the process, so a
worker that maps a thousand batches loads the model once. It sets its own thread limits from what
the worker was given, because the engines limit OpenMP and BLAS threads (OMP_NUM_THREADS) but not
Numba's.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from .encode.long_texts import LONG_MODES
from .encode.prompts import NO_PROMPT, ROLES
from .encode.quantize import PRECISIONS
from .errors import TextError, check_choice
from .loading.model_files import default_model
from .model import check_engine_options, load

BAD_ROW_POLICIES = ("error", "skip", "empty")
_MODELS: dict[tuple, object] = {}  # one loaded model per settings, per process
_MODELS_LOCK = threading.Lock()


class BadRowError(ValueError):
    """A row whose text is missing or not a string, under on_bad_row="error"."""


class BatchEmbedder:
    """Embed the `column` of each batch (a pandas DataFrame, a pyarrow Table, or a dict of columns)
    and return it with an `output_column` added: float32 vectors, or the chosen `precision`.

    prefix: "query", "passage" or "document": that prompt of the model (for e5, "query: " or
      "passage: "; never added twice), as every minie5 front end resolves it; None for texts as given.
    threads: cores for the engine; default MINIE5_NUM_THREADS, else OMP_NUM_THREADS (which Ray,
      Dask and Spark set to the worker's share), else all.
    on_bad_row: a null or non-string text raises BadRowError ("error", naming the row), is dropped
      from the batch ("skip"), or keeps its row with a null embedding ("empty").
    long: texts over the model's limit, as Model.encode takes it ("truncate", "chunk", "error").
    dtype: "float32", or "int8" / "bfloat16" for the engine's int8 / bfloat16 products (minie5.load's dtype).
    """

    def __init__(self, model: str | Path | None = None, column: str = "text", *, prefix: str | None = None,
                 threads: int | None = None, precision: str = "float32", ranges: np.ndarray | None = None,
                 batch_size: int = 32, output_column: str = "embedding", on_bad_row: str = "error",
                 revision: str | None = None, backend: str = "numba", long: str = "truncate",
                 dtype: str = "float32"):
        check_choice("prefix", prefix, (None, NO_PROMPT, *ROLES))
        check_choice("precision", precision, PRECISIONS)
        if precision in ("int8", "uint8") and ranges is None:
            raise ValueError(f"precision={precision!r} needs ranges= (minie5.calibration_ranges of a sample of the "
                             "corpus): each batch calibrating itself would quantise batches differently")
        check_choice("on_bad_row", on_bad_row, BAD_ROW_POLICIES)
        check_choice("long", long, LONG_MODES)
        check_engine_options(backend, dtype, False)
        self.model_name, self.revision, self.backend = str(model or default_model()), revision, backend
        self.column, self.prefix, self.threads, self.precision = column, prefix, threads, precision
        self.ranges = None if ranges is None else np.asarray(ranges, dtype=np.float32)
        self.batch_size, self.output_column, self.on_bad_row, self.long = batch_size, output_column, on_bad_row, long
        self.dtype = dtype

    @property
    def model(self):
        """The model, loaded on first use and shared by every BatchEmbedder of this process with
        the same settings."""
        key = (self.model_name, self.revision, self.backend, self._threads(), self.dtype)
        with _MODELS_LOCK:
            if key not in _MODELS:
                _MODELS[key] = load(self.model_name, revision=self.revision, backend=self.backend, threads=key[3],
                                    dtype=self.dtype)
            return _MODELS[key]

    def _threads(self) -> int | None:
        if self.threads is not None or os.environ.get("MINIE5_NUM_THREADS"):
            return self.threads
        omp = os.environ.get("OMP_NUM_THREADS", "")
        return int(omp) if omp.isdigit() and int(omp) > 0 else None

    def embed_texts(self, texts: list) -> tuple[np.ndarray | None, list[int]]:
        """Vectors of the rows whose text is usable, and the positions of the others (bad rows).
        With on_bad_row="error" a bad row raises BadRowError naming its position."""
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad and self.on_bad_row == "error":
            value = texts[bad[0]]
            raise BadRowError(f"row {bad[0]}: {self.column!r} is {'null' if value is None else type(value).__name__}, "
                              f"not a string ({len(bad)} such row(s) in this batch)")
        good = [t for t in texts if isinstance(t, str)] if bad else list(texts)
        model = self.model
        if not good:
            return None, bad
        try:
            return model.encode(good, batch_size=self.batch_size, precision=self.precision, ranges=self.ranges,
                                prompt_name=self.prefix, long=self.long), bad
        except TextError as e:  # numbered among the good rows: renumber it among the batch's
            row = [i for i, t in enumerate(texts) if isinstance(t, str)][e.index] if bad else e.index
            raise type(e)(row, e.problem, e.advice) from None

    def __call__(self, batch):
        """The batch, of the same type, with `output_column` added (rows dropped by "skip")."""
        kind = _batch_kind(batch)
        texts = _column(batch, kind, self.column)
        vectors, bad = self.embed_texts(texts)
        bad_rows = set(bad)
        keep = [i for i in range(len(texts)) if i not in bad_rows] if bad else None
        rows: list = [None] * len(texts)
        for k, i in enumerate(keep if keep is not None else range(len(texts))):
            rows[i] = vectors[k]
        if bad and self.on_bad_row == "skip":
            batch, rows = _take(batch, kind, keep), [rows[i] for i in keep]
        return _with_column(batch, kind, self.output_column, rows)


def _batch_kind(batch) -> str:
    if isinstance(batch, dict):
        return "dict"
    module = type(batch).__module__.split(".")[0]
    if module == "pandas":
        return "pandas"
    if module == "pyarrow":
        return "arrow"
    raise TypeError(f"a batch must be a pandas DataFrame, a pyarrow Table or a dict of columns, got "
                    f"{type(batch).__name__}")


def _column(batch, kind: str, name: str) -> list:
    try:
        if kind == "arrow":
            return batch.column(name).to_pylist()
        column = batch[name]
    except KeyError:
        columns = list(batch.column_names if kind == "arrow" else batch.keys() if kind == "dict" else batch.columns)
        raise KeyError(f"the batch has no column {name!r} (columns: {', '.join(map(str, columns))})") from None
    values = column.tolist() if hasattr(column, "tolist") else list(column)
    if kind == "pandas":  # pandas stores missing text as NaN or None
        values = [None if v is not None and not isinstance(v, str) and v != v else v for v in values]
    return values


def _take(batch, kind: str, rows: list[int]):
    if kind == "pandas":
        return batch.iloc[rows].reset_index(drop=True)
    if kind == "arrow":
        return batch.take(rows)
    return {k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]) for k, v in batch.items()}


def _with_column(batch, kind: str, name: str, rows: list):
    if kind == "pandas":
        out = batch.copy()
        out[name] = rows
        return out
    if kind == "arrow":
        import pyarrow as pa

        dtype = next((r.dtype for r in rows if r is not None), np.dtype(np.float32))
        return batch.append_column(name, pa.array(rows, type=pa.list_(pa.from_numpy_dtype(dtype))))
    out = dict(batch)
    if rows and all(r is not None for r in rows):
        out[name] = np.stack(rows)  # [n, dim], as Ray Data's numpy batches hold tensors
    else:  # some rows have no vector: an object column of arrays and Nones
        out[name] = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            out[name][i] = row
    return out
