"""Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer", section 3.4), as transformers'
`rotate_half` / `apply_rotary_pos_emb` compute them (Qwen3, Gemma3, ModernBERT, NomicBERT).

BERT adds a learned position vector to each token once, at the input. RoPE instead turns each
query and key, in every layer, by an angle proportional to its position: the head's D channels are
taken as D/2 pairs, and pair i turns by position * theta^(-2i/D). The dot product of a query at
position m with a key at position n then depends on m - n only (a rotation by m times the inverse
of a rotation by n), so attention sees relative positions, and shifting a whole text along the
position axis (as left padding does) leaves its attention scores unchanged up to rounding.

Two layouts pair the channels differently; a checkpoint is trained with one of them:
    half-split  (transformers' rotate_half; Llama, Qwen, Gemma, ModernBERT): channel i with i + D/2
    interleaved (RoFormer, GPT-J, NomicBERT's `rotary_emb_interleaved`):   channel 2i with 2i + 1

Legend: T tokens, D head size, N heads; theta is config.json's rope_theta (10000 for RoFormer,
1000000 for Qwen3 and Gemma3's global layers).
"""

import numpy as np


def inverse_frequencies(head_dim: int, theta: float, dtype=np.float32) -> np.ndarray:  # -> [D/2]
    """How fast each channel pair turns: theta^(-2i/D), i = 0 .. D/2 - 1 (transformers'
    compute_default_rope_parameters; the first pair turns one radian per position, the last
    nearly not at all)."""
    exponents = np.arange(0, head_dim, 2, dtype=dtype) / np.asarray(head_dim, dtype)
    return (1.0 / np.asarray(theta, dtype) ** exponents).astype(dtype)


def rotary_cos_sin(positions: np.ndarray, head_dim: int, theta: float,
                   dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:  # [..., T] -> [..., T, D] x 2
    """cos and sin of every channel's angle, laid out for the half-split pairing: the D/2 angles
    written twice, so that channel i and channel i + D/2 share theirs."""
    angles = positions[..., None].astype(dtype) * inverse_frequencies(head_dim, theta, dtype)  # [..., T, D/2]
    angles = np.concatenate([angles, angles], axis=-1)  # [..., T, D]
    return np.cos(angles), np.sin(angles)


def rotate_half(x: np.ndarray) -> np.ndarray:  # [..., D] -> [..., D]
    """(x1, x2) -> (-x2, x1) for the two halves: the 90-degree turn of every half-split pair."""
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rotary(x: np.ndarray, cos: np.ndarray,
                 sin: np.ndarray) -> np.ndarray:  # [B, N, T, D], [B, T, D] x 2 -> [B, N, T, D]
    """Turn each query or key vector by its position's angles, half-split layout: per pair,
    (a, b) -> (a cos - b sin, b cos + a sin)."""
    cos, sin = cos[:, None], sin[:, None]  # the same angles for every head
    return x * cos + rotate_half(x) * sin


def apply_rotary_interleaved(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:  # as apply_rotary
    """The same turn for the interleaved layout, where channels 2i and 2i + 1 form pair i. `cos`
    and `sin` are rotary_cos_sin's (the first D/2 of them hold each pair's angle)."""
    half = x.shape[-1] // 2
    cos, sin = cos[:, None, :, :half], sin[:, None, :, :half]  # [B, 1, T, D/2]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = odd * cos + even * sin
    return out
