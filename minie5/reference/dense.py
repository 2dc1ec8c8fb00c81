"""sentence-transformers' Dense module: after pooling, a linear projection of the sentence vector and
an activation, activation(x @ W^T + b). EmbeddingGemma has two (768 -> 3072 -> 768, no bias, no
activation), trained with the model; older models use one with Tanh (the module's default) to
change the vector's width. It runs on each pooled vector alone, before Normalize.
"""

from __future__ import annotations

import numpy as np

from ..loading.sentence_transformers import TANH
from .feed_forward import gelu
from .gated_feed_forward import silu
from .linear import linear

# The torch.nn module classes a Dense module's config names, by the full name sentence-transformers
# saves ("activation_function"), -> the function; loading.sentence_transformers.DENSE_ACTIVATIONS
# lists the same names.
ACTIVATIONS = {
    "torch.nn.modules.linear.Identity": lambda x: x,
    TANH: np.tanh,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
    "torch.nn.modules.activation.Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "torch.nn.modules.activation.GELU": gelu,
    "torch.nn.modules.activation.SiLU": silu,
}


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
          activation: str) -> np.ndarray:  # [B, in] -> [B, out]
    return ACTIVATIONS[activation](linear(x, weight, bias))


class DenseBackend:
    """A backend whose pooled vectors go through the model's Dense modules, in order: what
    sentence-transformers runs between Pooling and Normalize. Everything else is the backend's."""

    def __init__(self, backend, layers: list[tuple[np.ndarray, np.ndarray | None, str]]):
        self.backend = backend
        self.layers = layers  # (weight [out, in], bias [out] or None, activation), in order

    def __getattr__(self, name: str):
        return getattr(self.backend, name)

    def embed(self, ids: list[np.ndarray], pooling: str, token_types: list[np.ndarray] | None = None) -> np.ndarray:
        x = self.backend.embed(ids, pooling, token_types)  # [B, H]
        for weight, bias, activation in self.layers:
            x = dense(x, weight, bias, activation)
        return x


def with_dense(backend, modules, hidden_size: int):
    """`backend`, or a DenseBackend over it when the pipeline has Dense modules (loading.sentence_transformers
    .DenseModule), their weights read here. The last must give `hidden_size` features: a model's vectors keep
    its hidden size throughout minie5 (EmbeddingGemma's 768 -> 3072 -> 768 does)."""
    if not modules:
        return backend
    if modules[0].in_features != hidden_size or modules[-1].out_features != hidden_size:
        raise ValueError(f"{modules[0].path}: Dense modules from {modules[0].in_features} to "
                         f"{modules[-1].out_features} features; minie5 runs Dense modules that start and end at "
                         f"the model's hidden size ({hidden_size})")
    return DenseBackend(backend, [(*module.weights(), module.activation) for module in modules])
