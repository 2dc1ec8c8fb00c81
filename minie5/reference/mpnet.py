"""MPNet (Song et al. 2020), as transformers' MPNetModel computes it: the encoder of
sentence-transformers' all-mpnet-base-v2. BERT's post-LN layer, RoBERTa's positions, and one thing
of its own: every attention score gets a learned bias per head that depends on how far apart the
two tokens are, bucketed (T5's relative position buckets, Raffel et al. 2020, section 2.1):

    bias[n, i, j] = relative_attention_bias[bucket(j - i), n]      one table shared by all layers

Buckets: half for keys before the query, half after; within each half, distances below 8 get a
bucket each and longer ones share logarithmically wider buckets up to 128 tokens and beyond.

Legend as reference/__init__.py: B batch, T tokens, H hidden, N heads, D head size, F feed-forward.
"""

import math

import numpy as np

from ..loading.encoder_configs import MPNetConfig
from .attention import merge_heads, softmax, split_heads
from .embeddings import position_ids
from .feed_forward import feed_forward
from .layer_norm import layer_norm
from .linear import linear

MAX_DISTANCE = 128  # MPNetEncoder.relative_position_bucket's max_distance


def relative_position_bucket(relative_position: np.ndarray, num_buckets: int,
                             max_distance: int = MAX_DISTANCE) -> np.ndarray:  # [T, T] ints -> [T, T] ints
    """The bucket of each key-minus-query distance, as MPNetEncoder.relative_position_bucket."""
    n = -relative_position
    half = num_buckets // 2
    bucket = (n < 0).astype(np.int64) * half  # keys after the query take the upper half
    n = np.abs(n)
    exact = half // 2
    # Distances from `exact` up share buckets on a log scale, computed in float32 as torch does;
    # the log is taken of max(n, exact) so that it is finite where it is not used.
    far = np.maximum(n, exact).astype(np.float32)
    scaled = np.log(far / np.float32(exact)) / np.float32(math.log(max_distance / exact)) * np.float32(half - exact)
    large = np.minimum(exact + scaled.astype(np.int64), half - 1)
    return bucket + np.where(n < exact, n, large)


def position_bias(T: int, relative_attention_bias: dict, num_buckets: int) -> np.ndarray:  # -> [N, T, T]
    """MPNetEncoder.compute_position_bias for a padded batch of length T: every text's bias, as its
    tokens sit at 0..T-1 (padding is at the right, so a text's own rows are the top-left corner)."""
    positions = np.arange(T)
    buckets = relative_position_bucket(positions[None, :] - positions[:, None], num_buckets)  # [T, T]
    return relative_attention_bias["weight"][buckets].transpose(2, 0, 1)  # [T, T, N] -> [N, T, T]


def self_attention(x: np.ndarray, attention_mask: np.ndarray, bias: np.ndarray, q: dict, k: dict, v: dict, o: dict,
                   num_heads: int) -> np.ndarray:  # [B, T, H], [B, T], [N, T, T] -> [B, T, H]
    """MPNetSelfAttention: BERT's scaled dot products plus the relative bias, then o."""
    qh, kh, vh = (split_heads(linear(x, **p), num_heads) for p in (q, k, v))  # [B, N, T, D]
    scores = (qh @ kh.transpose(0, 1, 3, 2)) * qh.shape[-1] ** -0.5 + bias  # [B, N, T, T]
    scores = np.where(attention_mask[:, None, None, :] > 0, scores, -np.inf)
    return linear(merge_heads(softmax(scores) @ vh), **o)


def encoder_layer(x: np.ndarray, attention_mask: np.ndarray, bias: np.ndarray, params: dict,
                  config: MPNetConfig) -> np.ndarray:  # [B, T, H] -> [B, T, H]
    """MPNetLayer: attention, + x, attention.LayerNorm; then BERT's feed-forward."""
    eps = config.layer_norm_eps
    attention = params["attention"]
    h = self_attention(x, attention_mask, bias, **attention["attn"], num_heads=config.num_attention_heads)
    x = layer_norm(h + x, **attention["LayerNorm"], eps=eps)
    return feed_forward(x, params["intermediate"], params["output"], eps)


def mpnet(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: MPNetConfig,
          types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] -> L+1 x [B, T, H]
    """MPNetModel: the embeddings' output (word + RoBERTa-style position, LayerNorm) and every layer's."""
    if types is not None:
        raise ValueError("MPNet has no token types: it reads one text per sequence")
    emb = params["embeddings"]
    positions = position_ids(input_ids, config.pad_token_id, config.position_offset)
    x = layer_norm(emb["word_embeddings"]["weight"][input_ids] + emb["position_embeddings"]["weight"][positions],
                   **emb["LayerNorm"], eps=config.layer_norm_eps)
    encoder = params["encoder"]
    bias = position_bias(input_ids.shape[1], encoder["relative_attention_bias"],
                         config.relative_attention_num_buckets).astype(x.dtype)
    hidden_states = [x]
    for layer in encoder["layer"]:
        hidden_states.append(encoder_layer(hidden_states[-1], attention_mask, bias, layer, config))
    return hidden_states
