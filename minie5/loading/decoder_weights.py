"""Loading a Qwen3 or Gemma3 text model's weights from model.safetensors, strictly, into nested
dicts named as in transformers (`layers.{i}.self_attn.q_proj.weight`, ...).

As loading/weights.py does for BERT: every tensor the forward pass uses is listed once with the
shape config.json implies, and loading fails naming the file and the tensor when one is missing,
has another shape or is not floating point. Checkpoints saved from Qwen3ForCausalLM prefix every
name with "model."; those saved from Qwen3Model (Qwen3-Embedding) do not. No biases: these models
have none.

Memory. A 0.6B model is 2.4 GB in float32 but ships in bfloat16 (1.2 GB), and its int8 engine
needs about 0.6 GB: reading every weight into float32 first would need the 2.4 GB the smaller
dtypes are meant to save. So nothing is copied at load: a tensor stored in the dtype asked for is a
read-only view of the memory-mapped file, and one stored otherwise (bfloat16 for float32, float32
for float64) is a `StoredMatrix`, widened when it is used (the engine packs each weight from it
one at a time; the reference widens it at each use, as an array would be read). The word-vector
table is read a row per token.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import WeightsError
from .decoder_config import DecoderConfig
from .safetensors_file import SafetensorsFile
from .weights import nest

PREFIXES = ("model.",)
# The language-model head (tied to embed_tokens in these models, read by the reranker) and buffers.
IGNORED = re.compile(r"lm_head\.weight|.*rotary_emb\.inv_freq")


class StoredMatrix:
    """A weight in the file, widened to `dtype` where it is used: `np.asarray(m)`, `m.T` (as
    reference.linear reads it) and `m[rows]` (the word vectors of some tokens) give float arrays.
    Checked for NaN and infinity on its first full read."""

    def __init__(self, file: SafetensorsFile, name: str, dtype):
        self.file, self.name, self.dtype = file, name, np.dtype(dtype)
        self.shape = file.tensors[name].shape
        self.checked = False

    def __repr__(self) -> str:
        return f"StoredMatrix({self.file.path.name}:{self.name}, {list(self.shape)}, {self.dtype})"

    def read(self) -> np.ndarray:
        value = self.file.float_tensor(self.name, self.dtype)
        if not self.checked:
            check_finite(self.file, self.name, value)
            self.checked = True
        return value

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        value = self.read()
        return value if dtype is None else value.astype(dtype, copy=False)

    @property
    def T(self) -> np.ndarray:  # noqa: N802 (numpy's name)
        return self.read().T

    def __getitem__(self, index) -> np.ndarray:
        rows = self.file.raw(self.name)[index]
        if self.file.tensors[self.name].dtype == "BF16":
            rows = (rows.astype(np.uint32) << 16).view(np.float32)
        return rows.astype(self.dtype)


def expected_shapes(config: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor the decoder uses, by transformers name, with its shape (a small one first: the
    NumPy backend reads the dtype of the first)."""
    H, F, D = config.hidden_size, config.intermediate_size, config.head_dim
    N, Nkv = config.num_attention_heads, config.num_key_value_heads
    shapes = {"norm.weight": (H,), "embed_tokens.weight": (config.vocab_size, H)}
    norms = ["input_layernorm", "post_attention_layernorm"]
    if config.is_gemma:  # Gemma3 also normalises each block's output before the residual
        norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
    for i in range(config.num_hidden_layers):
        layer = f"layers.{i}."
        linears = {  # module -> (out_features, in_features)
            "self_attn.q_proj": (N * D, H), "self_attn.k_proj": (Nkv * D, H), "self_attn.v_proj": (Nkv * D, H),
            "self_attn.o_proj": (H, N * D),
            "mlp.gate_proj": (F, H), "mlp.up_proj": (F, H), "mlp.down_proj": (H, F),
        }
        for module, shape in linears.items():
            shapes[layer + module + ".weight"] = shape
        shapes[layer + "self_attn.q_norm.weight"] = (D,)
        shapes[layer + "self_attn.k_norm.weight"] = (D,)
        for norm in norms:
            shapes[layer + norm + ".weight"] = (H,)
    return shapes


def stored_names(file: SafetensorsFile) -> dict[str, str]:
    """Canonical names (no "model." prefix) -> names stored in the file."""
    by_name: dict[str, str] = {}
    for stored in file.tensors:
        name = next((stored[len(p):] for p in PREFIXES if stored.startswith(p)), stored)
        if name in by_name:
            raise WeightsError(f"{file.path}: tensor {name!r} is stored twice, as {by_name[name]!r} and {stored!r}")
        by_name[name] = stored
    return by_name


def check_tensors(file: SafetensorsFile, config: DecoderConfig) -> dict[str, str]:
    """Every expected tensor present with its shape; unknown ones warned about. -> canonical -> stored."""
    by_name = stored_names(file)
    shapes = expected_shapes(config)
    missing = [name for name in shapes if name not in by_name]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise WeightsError(f"{file.path}: missing tensor{'s' if len(missing) > 1 else ''} {shown} (config.json "
                           f"asks for {config.num_hidden_layers} layers of a {config.model_type} model)")
    unknown = [stored for name, stored in by_name.items() if name not in shapes and not IGNORED.fullmatch(name)]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        warnings.warn(f"{file.path}: ignoring {len(unknown)} tensor(s) the model does not use: {shown}", stacklevel=3)
    for name, shape in shapes.items():
        info = file.tensors[by_name[name]]
        if info.shape != shape:
            raise WeightsError(f"{file.path}: tensor {by_name[name]!r} has shape {list(info.shape)}, expected "
                               f"{list(shape)} from config.json")
    return by_name


def check_finite(file: SafetensorsFile, stored: str, value: np.ndarray) -> None:
    if not np.isfinite(value).all():
        raise WeightsError(f"{file.path}: tensor {stored!r} contains NaN or infinite values")


# safetensors' storage type that is already each NumPy dtype: those tensors are used in place.
SAME_TYPE = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64"}


def read_tensor(file: SafetensorsFile, stored: str, dtype) -> np.ndarray | StoredMatrix:
    """One tensor as `dtype`: a view of the file where it is stored so, a StoredMatrix where a matrix
    must be widened, a new array for the small vectors (norms)."""
    info = file.tensors[stored]
    if SAME_TYPE.get(np.dtype(dtype)) == info.dtype:
        value = file.float_tensor(stored, dtype)  # a read-only view of the memory map: no copy
    elif len(info.shape) == 2:
        return StoredMatrix(file, stored, dtype)
    else:
        value = file.float_tensor(stored, dtype)
    check_finite(file, stored, value)
    return value


def load_decoder_weights(path: str | Path, config: DecoderConfig, dtype=np.float32) -> dict:
    """Every tensor of `expected_shapes(config)` as `dtype` (see the module's docstring on memory),
    nested by name: params["layers"][3]["self_attn"]["q_proj"]["weight"]."""
    file = SafetensorsFile(path)
    by_name = check_tensors(file, config)
    return nest({name: read_tensor(file, by_name[name], dtype) for name in expected_shapes(config)})
