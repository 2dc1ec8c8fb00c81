"""Gated feed-forwards (Shazeer 2020, "GLU Variants Improve Transformer"): SwiGLU (Qwen3, Llama,
NomicBERT) and GeGLU (Gemma3, ModernBERT).

BERT's feed-forward is down(act(up(x))). A gated one computes two projections of the token, passes
one through the activation and multiplies the other by it, channel by channel:

    down(act(gate(x)) * up(x))        SwiGLU: act = SiLU;  GeGLU: act = GELU

The product lets each channel open or close on the token's content; at the same parameter count
it trains to a lower loss than the ungated form (Shazeer 2020, table 1), which is why models built
since use it. Names follow transformers' Qwen3MLP and Gemma3MLP (gate_proj, up_proj, down_proj);
ModernBERT stores gate and up as one `Wi` whose output halves are (up, gate), and NomicBERT as
`fc12` (gate) and `fc11` (up), both the same computation.
"""

import math

import numpy as np

from .feed_forward import gelu
from .linear import linear


def silu(x: np.ndarray) -> np.ndarray:  # [...] -> [...]
    """SiLU / swish (Elfwing et al. 2017; Ramachandran et al. 2017): x * sigmoid(x)."""
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x: np.ndarray) -> np.ndarray:  # [...] -> [...]
    """GELU's tanh approximation (Hendrycks & Gimpel 2016, section 2), transformers'
    "gelu_pytorch_tanh" and "gelu_new": Gemma's activation. Not the exact erf GELU: a model
    trained with one embeds differently through the other."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


# config.json's hidden_act / hidden_activation -> the function, by transformers' ACT2FN names.
ACTIVATIONS = {"silu": silu, "swish": silu, "gelu": gelu, "gelu_pytorch_tanh": gelu_tanh, "gelu_new": gelu_tanh}


def glu(gate: np.ndarray, up: np.ndarray, activation: str) -> np.ndarray:  # [..., F] x 2 -> [..., F]
    """The gating itself: act(gate) * up, channel by channel."""
    return ACTIVATIONS[activation](gate) * up


def gated_feed_forward(x: np.ndarray, gate_proj: dict, up_proj: dict, down_proj: dict,
                       activation: str) -> np.ndarray:  # [..., H] -> [..., H]
    """Qwen3MLP / Gemma3MLP: down_proj(act(gate_proj(x)) * up_proj(x)), no residual, no norm
    (the decoder layer around it adds those)."""
    return linear(glu(linear(x, **gate_proj), linear(x, **up_proj), activation), **down_proj)
