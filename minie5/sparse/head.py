"""The masked-LM head and the static query weights: read strictly from model.safetensors, and run
on the token vectors a backend hands over (`token_states`).

    cls.predictions.transform.dense.{weight,bias}       [H, H], [H]
    cls.predictions.transform.LayerNorm.{weight,bias}   [H], [H]
    cls.predictions.decoder.weight                      [V, H]  absent when tied: the word embeddings
    cls.predictions.bias (or .decoder.bias)             [V]
    SparseStaticEmbedding: weight                       [V]

`SpladeHead` turns a batch's packed token vectors into its texts' pooled vectors. With the NumPy
reference it runs sparse/splade.py text by text in the reference's dtype. With the Numba engine
the vocabulary-sized product is the cost (V x H multiply-adds per token, about a third of
all-MiniLM-L6-v2's encoder): it runs through the engine's own product kernel, in the engine's dtype
(float32, int8 or bfloat16 weights), on the packed real tokens only (no padding rows, unlike a
padded [B, T, V] batch), a block of at most HEAD_ROWS tokens at a time so that the [rows, V]
scores stay bounded (about 31 MB), and the pooling kernel reduces each block's scores to one row
per text before the next block is computed.
"""

from __future__ import annotations

import numpy as np

from ..engine.kernels import add_bias_gelu
from ..errors import WeightsError
from ..loading.config import BertConfig
from ..loading.safetensors_file import SafetensorsFile
from ..loading.weights import PREFIXES
from . import kernels, splade

HEAD_ROWS = 256  # tokens whose vocabulary scores are held at once: 256 x 30528 float32, about 31 MB


def _tensor(file: SafetensorsFile, stored: dict, names: tuple[str, ...], shape: tuple, dtype,
            what: str) -> np.ndarray | None:
    """The first of `names` in the file, checked against `shape`; None if none is there."""
    for name in names:
        if name in stored:
            info = file.tensors[stored[name]]
            if info.shape != shape:
                raise WeightsError(f"{file.path}: tensor {stored[name]!r} has shape {list(info.shape)}, expected "
                                   f"{list(shape)} ({what})")
            tensor = file.float_tensor(stored[name], dtype)
            if not np.isfinite(tensor).all():
                raise WeightsError(f"{file.path}: tensor {stored[name]!r} contains NaN or infinite values")
            return tensor
    return None


def load_mlm_head(path, config: BertConfig, word_embeddings: np.ndarray, dtype=np.float32) -> dict:
    """BertOnlyMLMHead's weights as splade.mlm_logits takes them: {"transform": {"dense",
    "LayerNorm"}, "decoder": {"weight", "bias"}}; the decoder's weight is the word embeddings when
    the file does not store its own (transformers ties them and saves one copy)."""
    if config.model_type != "bert":
        raise WeightsError(f"{path}: the masked-LM head of a {config.model_type!r} model is not supported "
                           "(minie5 runs BERT's BertOnlyMLMHead for SPLADE)")
    file = SafetensorsFile(path)
    stored = {next((n[len(p):] for p in PREFIXES if n.startswith(p)), n): n for n in file.tensors}
    H, V = config.hidden_size, config.vocab_size
    prefix = "cls.predictions."
    need = {"transform.dense.weight": (H, H), "transform.dense.bias": (H,), "transform.LayerNorm.weight": (H,),
            "transform.LayerNorm.bias": (H,)}
    head: dict = {"transform": {"dense": {}, "LayerNorm": {}}, "decoder": {}}
    for name, shape in need.items():
        tensor = _tensor(file, stored, (prefix + name,), shape, dtype, "the masked-LM head's transform")
        if tensor is None:
            raise WeightsError(f"{file.path}: missing tensor {prefix + name!r}: a SPLADE model needs the masked-LM "
                               "head (a BertForMaskedLM checkpoint); this file holds only the encoder")
        _, module, leaf = name.split(".")
        head["transform"][module][leaf] = tensor
    decoder = _tensor(file, stored, (prefix + "decoder.weight",), (V, H), dtype, "the decoder, [vocab_size, hidden]")
    head["decoder"]["weight"] = word_embeddings.astype(dtype, copy=False) if decoder is None else decoder
    bias = _tensor(file, stored, (prefix + "bias", prefix + "decoder.bias"), (V,), dtype, "the decoder's bias")
    if bias is None:
        raise WeightsError(f"{file.path}: missing tensor {prefix + 'bias'!r} (the decoder's bias)")
    head["decoder"]["bias"] = bias
    return head


def load_static_weights(path, vocab_size: int) -> np.ndarray:  # -> [V] float32
    """SparseStaticEmbedding's weight: one learned weight per vocabulary entry."""
    file = SafetensorsFile(path)
    weight = _tensor(file, {n: n for n in file.tensors}, ("weight",), (vocab_size,), np.float32,
                     "one weight per vocabulary entry")
    if weight is None:
        raise WeightsError(f"{file.path}: missing tensor 'weight' (SparseStaticEmbedding's [vocab_size] weights)")
    return weight


class SpladeHead:
    """`head(x, offsets)` for a backend's `token_states`: the batch's texts' SPLADE vectors
    [B, V] (float32; the reference's dtype with the NumPy backend)."""

    def __init__(self, params: dict, config: BertConfig, backend, strategy: str = "max", activation: str = "relu"):
        self.params, self.config, self.backend = params, config, backend
        self.strategy, self.activation = strategy, activation
        self.engine = hasattr(backend, "product")  # the Numba engine; the reference has no product of its own
        if self.engine:
            self.transform_weight = backend.pack(params["transform"]["dense"]["weight"])
            self.decoder_weight = backend.pack(params["decoder"]["weight"])
            self.padded_vocab = self.decoder_weight.padded_rows

    def __call__(self, x: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # [M, H], [B + 1] -> [B, V]
        if not self.engine:
            return np.stack([splade.splade(x[a:b], self.params, self.config.layer_norm_eps, self.strategy,
                                           self.activation) for a, b in zip(offsets[:-1], offsets[1:])])
        return self._engine(x, offsets)

    def _engine(self, x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        transform, decoder = self.params["transform"], self.params["decoder"]
        M, H = x.shape
        t = np.empty((M, self.transform_weight.padded_rows), np.float32)
        self.backend.product(x, self.transform_weight, t)
        t = np.ascontiguousarray(t[:, :H])
        add_bias_gelu(t, transform["dense"]["bias"])
        kernels.layer_norm_rows(t, transform["LayerNorm"]["weight"], transform["LayerNorm"]["bias"],
                                self.config.layer_norm_eps)
        texts = len(offsets) - 1
        out = np.empty((texts, self.config.vocab_size), np.float32)
        pool = kernels.splade_max_pool if self.strategy == "max" else kernels.splade_sum_pool
        scores = np.empty((min(M, HEAD_ROWS), self.padded_vocab), np.float32)
        first = 0
        while first < texts:  # blocks of whole texts, at most HEAD_ROWS tokens (a longer text alone)
            last = first + 1
            while last < texts and offsets[last + 1] - offsets[first] <= HEAD_ROWS:
                last += 1
            r0, r1 = int(offsets[first]), int(offsets[last])
            if r1 - r0 > scores.shape[0]:
                scores = np.empty((r1 - r0, self.padded_vocab), np.float32)
            block = scores[:r1 - r0]
            self.backend.product(t[r0:r1], self.decoder_weight, block)
            pool(block, decoder["bias"], offsets[first:last + 1] - r0, self.activation == "log1p_relu",
                 out[first:last])
            first = last
        return out
