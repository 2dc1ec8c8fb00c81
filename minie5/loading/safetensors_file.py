"""Reading the safetensors format: named tensors in one memory-mapped file.

The format (https://github.com/huggingface/safetensors, "Format"): 8 bytes holding N, the length of
a JSON header, as a little-endian uint64; N bytes of JSON mapping each tensor name to its
`dtype`, `shape` and `data_offsets` [begin, end) into the byte buffer that follows the header,
plus an optional `__metadata__` entry of strings; then that byte buffer. All data is little-endian
and C-ordered.

minie5 reads the format itself rather than through the `safetensors` package because that
package's NumPy interface cannot return BF16 tensors (NumPy has no bfloat16 type), and bf16 is a
common way to ship these models. Reading it here takes one page of code and lets every error name
the file and the tensor.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import WeightsError

# Storage types that can be turned into float tensors. BF16 is the top half of a float32 (same
# exponent, 7-bit mantissa), so it is widened by a 16-bit shift rather than through a NumPy dtype.
FLOAT_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}
OTHER_DTYPES = {"I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
                "U16": "<u2", "U32": "<u4", "U64": "<u8", "F8_E4M3": "u1", "F8_E5M2": "u1"}
_MAX_HEADER_BYTES = 100_000_000  # the reference implementation's own limit


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in a safetensors header."""

    dtype: str  # safetensors' name for the storage type: "F32", "BF16", "I64", ...
    shape: tuple[int, ...]
    begin: int  # byte offsets into the data buffer
    end: int


class SafetensorsFile:
    """The tensors of one .safetensors file: their names, dtypes and shapes, and their values on
    request, read from a read-only memory map so that only what is asked for is touched."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as f:
                prefix = f.read(8)
                header_len = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
                if not 2 <= header_len <= min(_MAX_HEADER_BYTES, size - 8):
                    raise self._error(f"not a safetensors file (header length field reads "
                                      f"{header_len}, file is {size} bytes)")
                header_bytes = f.read(header_len)
        except FileNotFoundError:
            raise WeightsError(f"{self.path}: no such file (a model directory needs model.safetensors)") from None
        except IsADirectoryError:
            raise WeightsError(f"{self.path}: is a directory, expected a .safetensors file") from None
        except OSError as e:
            raise WeightsError(f"{self.path}: cannot read ({e.strerror or e})") from None
        header = self._parse_header(header_bytes)
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise self._error("__metadata__ must map strings to strings")
        self.metadata: dict[str, str] = metadata
        self._data_start = 8 + header_len
        data_size = size - self._data_start
        self.tensors: dict[str, TensorInfo] = {}
        for name, entry in header.items():
            self.tensors[name] = self._parse_entry(name, entry, data_size)
        self._check_layout(data_size)
        self._map = np.memmap(self.path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)

    def _error(self, message: str, tensor: str | None = None) -> WeightsError:
        where = f"{self.path}: tensor {tensor!r}: " if tensor else f"{self.path}: "
        return WeightsError(where + message)

    def _parse_header(self, header_bytes: bytes) -> dict:
        """The header as a JSON object of tensor entries, refusing what the format forbids: a name
        given twice (JSON would keep the last silently), and anything but a flat object."""
        def no_duplicates(pairs):
            names = [name for name, _ in pairs]
            if len(set(names)) != len(names):
                twice = next(n for n in names if names.count(n) > 1)
                raise self._error(f"the header names tensor {twice!r} twice")
            return dict(pairs)

        if not header_bytes.lstrip()[:1] == b"{":
            raise self._error("not a safetensors file (the header does not start with '{')")
        try:
            header = json.loads(header_bytes, object_pairs_hook=no_duplicates)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._error(f"not a safetensors file (header is not JSON: {e})") from None
        except RecursionError:
            raise self._error("not a safetensors file (the header is nested too deeply)") from None
        if not isinstance(header, dict):
            raise self._error("not a safetensors file (header is not a JSON object)")
        return header

    def _check_layout(self, data_size: int) -> None:
        """The format's rule: the tensors' byte ranges tile the data buffer in order, from its
        first byte to its last, with no gap and no overlap (one tensor never aliases another)."""
        position = 0
        for name, info in sorted(self.tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
            if info.begin != position:
                what = "overlaps the tensor before it" if info.begin < position else "leaves a gap before it"
                raise self._error(f"data_offsets {[info.begin, info.end]} {what} (expected to start at "
                                  f"byte {position})", name)
            position = info.end
        if position != data_size:
            raise self._error(f"the tensors cover {position} bytes of the {data_size}-byte data buffer; "
                              "the rest is not accounted for")

    def _parse_entry(self, name: str, entry, data_size: int) -> TensorInfo:
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise self._error(f"malformed header entry {str(entry)[:200]}", name) from None
        if not isinstance(dtype, str):
            raise self._error(f"malformed dtype {str(dtype)[:50]}", name)
        numpy_type = FLOAT_DTYPES.get(dtype) or OTHER_DTYPES.get(dtype)
        if numpy_type is None:
            raise self._error(f"unknown dtype {dtype!r}", name)
        if not all(type(n) is int and n >= 0 for n in (*shape, begin, end)) or len(shape) > 32:
            raise self._error(f"malformed shape {str(list(shape))[:200]} or data_offsets {[begin, end]}", name)
        nbytes = math.prod(shape) * np.dtype(numpy_type).itemsize  # Python ints: no overflow
        if end - begin != nbytes:
            raise self._error(f"data_offsets {[begin, end]} hold {end - begin} bytes, but "
                              f"{dtype} {list(shape)} needs {nbytes}", name)
        if end > data_size:
            raise self._error(f"data ends at byte {end} of a {data_size}-byte buffer: the file is "
                              "truncated", name)
        return TensorInfo(dtype, shape, begin, end)

    def raw(self, name: str) -> np.ndarray:
        """The tensor as stored (BF16 as uint16 bit patterns), a read-only view of the file."""
        info = self.tensors[name]
        numpy_type = FLOAT_DTYPES.get(info.dtype) or OTHER_DTYPES[info.dtype]
        start = self._data_start + info.begin
        return self._map[start:start + info.end - info.begin].view(numpy_type).reshape(info.shape)

    def float_tensor(self, name: str, dtype=np.float32) -> np.ndarray:
        """The tensor widened (or narrowed) to `dtype`, as a new C-contiguous array in memory."""
        info = self.tensors[name]
        if info.dtype not in FLOAT_DTYPES:
            raise self._error(f"has dtype {info.dtype}, expected a floating-point type "
                              f"({', '.join(FLOAT_DTYPES)})", name)
        stored = self.raw(name)
        if info.dtype == "BF16":
            stored = (stored.astype(np.uint32) << 16).view(np.float32)
        return np.ascontiguousarray(stored, dtype=dtype)
