"""Small builders for test inputs: tiny configs, and safetensors files written byte by byte."""

import json
import struct
from pathlib import Path

import numpy as np

from tests.support import random_bert

TINY_CONFIG = dict(random_bert.E5_SMALL_V2_CONFIG, vocab_size=50, hidden_size=8, num_attention_heads=2,
                   intermediate_size=16, num_hidden_layers=2, max_position_embeddings=16)


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, rounding to nearest even (as torch's .to(bfloat16))."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def write_safetensors(path: Path, tensors: dict, dtypes: dict | None = None) -> Path:
    """Write `tensors` (name -> float32 array) in the safetensors format. `dtypes` picks a storage
    type per name ("F32" by default, "F16", "BF16", "I64"): written here, byte by byte, because
    the safetensors package cannot write bf16 from NumPy."""
    dtypes = dtypes or {}
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        dtype = dtypes.get(name, "F32")
        data = {"F32": lambda a: a.astype("<f4"), "F16": lambda a: a.astype("<f2"),
                "BF16": to_bf16_bits, "I64": lambda a: a.astype("<i8")}[dtype](np.asarray(array))
        raw = data.tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks))
    return path


def copy_model(source: Path, target: Path, weights: dict | None = None, dtypes: dict | None = None,
               config: dict | None = None) -> Path:
    """A model directory with `source`'s tokenizer, and the given (or `source`'s) config and weights."""
    from minie5.loading.safetensors_file import SafetensorsFile

    target.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json",):
        (target / name).write_bytes((source / name).read_bytes())
    if config is None:
        config = json.loads((source / "config.json").read_text())
    (target / "config.json").write_text(json.dumps(config))
    if weights is None:
        file = SafetensorsFile(source / "model.safetensors")
        weights = {name: file.float_tensor(name) for name in file.tensors if file.tensors[name].dtype == "F32"}
    write_safetensors(target / "model.safetensors", weights, dtypes)
    return target


SMALL_CONFIG = dict(random_bert.E5_SMALL_V2_CONFIG, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                    num_hidden_layers=1)  # MiniLM's vocabulary and positions, so its tokenizer fits


def small_model(source: Path, target: Path, **config_changes) -> Path:
    """A 1-layer, 32-wide BERT with `source`'s tokenizer and seeded random weights: quick to run
    where only the pipeline around the encoder is under test."""
    config = dict(SMALL_CONFIG, **config_changes)
    return copy_model(source, target, random_bert.random_weights(config, seed=3), config=config)


def raw_safetensors(path: Path, header: str, data: bytes) -> Path:
    """A safetensors file with exactly this header text and data: for files no writer would make."""
    encoded = header.encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path
