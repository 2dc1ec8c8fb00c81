"""The encoder families' kernels against their reference twins: MPNet's relative-bias attention
(kernels.relative_attention vs reference.mpnet) and the rotary turn of queries and keys
(kernels.rotary_positions vs reference.rotary.apply_rotary), on packed texts of several lengths."""

import numpy as np

from minie5.engine.kernels.relative_attention import self_attention_relative
from minie5.engine.kernels.rotary_positions import rotate_queries_keys
from minie5.reference import mpnet
from minie5.reference.rotary import apply_rotary, rotary_cos_sin

rng = np.random.default_rng(3)
LENGTHS = [1, 7, 40, 200]  # past 128 tokens, the buckets' log-scale range is reached


def packed(H: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.concatenate([[0], np.cumsum(LENGTHS)]).astype(np.int64)
    return offsets, rng.standard_normal((int(offsets[-1]), 3 * H), dtype=np.float32)


def test_relative_attention_matches_mpnet_reference():
    N, D, buckets = 4, 16, 32
    H = N * D
    offsets, qkv = packed(H)
    bias = rng.standard_normal(3 * H).astype(np.float32)
    table = {"weight": rng.standard_normal((buckets, N)).astype(np.float32)}
    position_bias = mpnet.position_bias(max(LENGTHS), table, buckets)  # [N, T, T]
    out = np.empty((qkv.shape[0], H), np.float32)
    self_attention_relative(qkv.T, bias, offsets, N, np.ascontiguousarray(position_bias.transpose(0, 2, 1)), out)
    for s, n in enumerate(LENGTHS):
        rows = qkv[offsets[s]:offsets[s + 1]] + bias
        # Queries, keys and values straight from qkv (the kernel starts after the product and stops
        # before the o projection).
        q, k, v = (rows[:, i * H:(i + 1) * H] for i in range(3))
        expected = _reference_attention(q, k, v, position_bias[:, :n, :n], N)
        np.testing.assert_allclose(out[offsets[s]:offsets[s + 1]], expected, rtol=0, atol=2e-5)


def _reference_attention(q, k, v, position_bias, N):
    from minie5.reference.attention import merge_heads, softmax, split_heads

    qh, kh, vh = (split_heads(a[None], N) for a in (q, k, v))
    scores = (qh @ kh.transpose(0, 1, 3, 2)) * qh.shape[-1] ** -0.5 + position_bias
    return merge_heads(softmax(scores) @ vh)[0]


def test_rotary_turn_matches_reference():
    N, D = 3, 32
    H = N * D
    offsets, qkv = packed(H)
    positions = np.concatenate([np.arange(n) for n in LENGTHS]).astype(np.int64)
    cos, sin = rotary_cos_sin(np.arange(max(LENGTHS)), D, 1000.0)
    turned = qkv.copy()
    rotate_queries_keys(turned, positions, cos, sin, N, D)
    for part in range(2):  # queries, then keys: [1, N, M, D] as the reference takes heads
        heads = qkv[:, part * H:(part + 1) * H].reshape(-1, N, D).transpose(1, 0, 2)[None]
        expected = apply_rotary(heads, cos[positions][None], sin[positions][None])[0].transpose(1, 0, 2)
        np.testing.assert_allclose(turned[:, part * H:(part + 1) * H].reshape(-1, N, D), expected, atol=2e-5)
    np.testing.assert_array_equal(turned[:, 2 * H:], qkv[:, 2 * H:])  # values untouched


def test_pre_norm_kernels_match_modernbert_reference():
    from minie5.engine.kernels.pre_norm import add_layer_norm, gelu_glu, layer_norm_rows
    from minie5.reference.gated_feed_forward import glu
    from minie5.reference.modernbert import norm

    M, H, F = 37, 64, 96
    x = rng.standard_normal((M, H), dtype=np.float32) * 3
    y = rng.standard_normal((M, H), dtype=np.float32)
    weight, bias = rng.uniform(0.5, 2, H).astype(np.float32), np.zeros(H, np.float32)
    out = np.empty_like(x)
    layer_norm_rows(x, weight, bias, 1e-5, out)
    np.testing.assert_allclose(out, norm(x, weight, 1e-5), atol=2e-5)
    residual = x.copy()
    add_layer_norm(residual, y, weight, bias, 1e-5, out)
    np.testing.assert_allclose(residual, x + y, atol=1e-6)
    np.testing.assert_allclose(out, norm(x + y, weight, 1e-5), atol=2e-5)
    input_gate = rng.standard_normal((M, 2 * F), dtype=np.float32) * 2
    gated = np.empty((M, F), np.float32)
    gelu_glu(input_gate, gated)
    np.testing.assert_allclose(gated, glu(input_gate[:, :F], input_gate[:, F:], "gelu"), atol=2e-5)
