"""The operations decoder-style models share (reference/rotary.py, rms_norm.py, gated_feed_forward.py,
grouped_query_attention.py, last_token_pool.py) against transformers' and sentence-transformers'
own modules, in float64 on random inputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from transformers.masking_utils import causal_mask_function, sliding_window_overlay  # noqa: E402
from transformers.models.gemma3 import modeling_gemma3  # noqa: E402
from transformers.models.qwen3 import modeling_qwen3  # noqa: E402
from transformers.models.qwen3.configuration_qwen3 import Qwen3Config  # noqa: E402

from minie5.reference import gated_feed_forward as gff  # noqa: E402
from minie5.reference.grouped_query_attention import attention_mask_4d, grouped_query_attention  # noqa: E402
from minie5.reference.last_token_pool import last_token_pool  # noqa: E402
from minie5.reference.rms_norm import rms_norm  # noqa: E402
from minie5.reference.rotary import apply_rotary, apply_rotary_interleaved, rotary_cos_sin  # noqa: E402

rng = np.random.default_rng(0)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("theta", [10000.0, 1000000.0])
def test_rotary_matches_transformers(theta):
    B, N, T, D = 2, 3, 7, 16
    config = Qwen3Config(hidden_size=N * D, num_attention_heads=N, head_dim=D, rope_theta=theta)
    rotary = modeling_qwen3.Qwen3RotaryEmbedding(config)
    positions = np.stack([np.arange(T), np.arange(T) + 5])
    x = rng.standard_normal((B, N, T, D))
    cos_t, sin_t = rotary(t(x), t(positions))  # computed in float32 by transformers
    cos, sin = rotary_cos_sin(positions, D, theta)
    np.testing.assert_allclose(cos, cos_t.numpy(), atol=1e-6)
    np.testing.assert_allclose(sin, sin_t.numpy(), atol=1e-6)
    expected, _ = modeling_qwen3.apply_rotary_pos_emb(t(x), t(x), t(cos), t(sin))
    np.testing.assert_allclose(apply_rotary(x, cos, sin), expected.numpy(), atol=1e-12)


def test_rotary_scores_depend_on_relative_position_only():
    D, theta = 32, 10000.0
    q, k = rng.standard_normal((2, 1, 1, 1, D))
    def score(m, n):
        cos, sin = rotary_cos_sin(np.array([[m, n]]), D, theta, np.float64)
        qm = apply_rotary(q, cos[:, :1], sin[:, :1])
        kn = apply_rotary(k, cos[:, 1:], sin[:, 1:])
        return float((qm * kn).sum())
    assert score(3, 1) == pytest.approx(score(103, 101), abs=1e-9)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)


def test_interleaved_rotary_is_half_split_on_permuted_channels():
    D = 8
    x = rng.standard_normal((1, 2, 5, D))
    cos, sin = rotary_cos_sin(np.arange(5)[None], D, 10000.0, np.float64)
    order = np.r_[0:D:2, 1:D:2]  # channel 2i -> i, 2i + 1 -> i + D/2
    expected = apply_rotary(x[..., order], cos, sin)
    np.testing.assert_allclose(apply_rotary_interleaved(x, cos, sin)[..., order], expected, atol=1e-12)


@pytest.mark.parametrize("module,offset", [(modeling_qwen3.Qwen3RMSNorm, 0.0), (modeling_gemma3.Gemma3RMSNorm, 1.0)])
def test_rms_norm_matches_transformers(module, offset):
    H, eps = 24, 1e-6
    norm = module(H, eps=eps).double()
    weight = rng.standard_normal(H)
    with torch.no_grad():
        norm.weight.copy_(t(weight))
    x = rng.standard_normal((3, 5, H)) * 4
    # Both transformers classes normalise in float32 whatever the module's dtype: float32's rounding.
    np.testing.assert_allclose(rms_norm(x, weight, eps, offset), norm(t(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert not np.allclose(rms_norm(x, weight, eps, 1.0 - offset), norm(t(x)).detach().numpy(), atol=1e-2)


@pytest.mark.parametrize("family,act", [("qwen3", "silu"), ("gemma3", "gelu_pytorch_tanh")])
def test_gated_feed_forward_matches_transformers(family, act):
    H, F = 16, 40
    if family == "qwen3":
        mlp = modeling_qwen3.Qwen3MLP(Qwen3Config(hidden_size=H, intermediate_size=F, hidden_act=act))
    else:
        from transformers.models.gemma3.configuration_gemma3 import Gemma3TextConfig
        mlp = modeling_gemma3.Gemma3MLP(Gemma3TextConfig(hidden_size=H, intermediate_size=F, hidden_activation=act))
    mlp = mlp.double()
    params = {name: {"weight": getattr(mlp, name).weight.detach().numpy()} for name in ("gate_proj", "up_proj",
                                                                                       "down_proj")}
    x = rng.standard_normal((2, 3, H))
    np.testing.assert_allclose(gff.gated_feed_forward(x, **params, activation=act), mlp(t(x)).detach().numpy(),
                               atol=1e-12)


def test_activations_match_transformers():
    from transformers.activations import ACT2FN
    x = np.linspace(-8, 8, 101)
    for name, fn in gff.ACTIVATIONS.items():
        np.testing.assert_allclose(fn(x), ACT2FN[name](t(x)).numpy(), atol=1e-12, err_msg=name)


def transformers_mask(attention_mask, causal, window, bidirectional_window):
    """The boolean mask transformers' mask functions define, evaluated index by index."""
    B, T = attention_mask.shape
    out = np.zeros((B, 1, T, T), dtype=bool)
    overlay = sliding_window_overlay(window) if window and causal else None
    for b in range(B):
        for q in range(T):
            for k in range(T):
                ok = bool(causal_mask_function(b, 0, q, k)) if causal else True
                if overlay is not None:
                    ok = ok and bool(overlay(b, 0, q, k))
                if window and not causal:
                    ok = bool(bidirectional_window(window)(b, 0, q, k))
                out[b, 0, q, k] = ok and attention_mask[b, k] > 0
    return out


@pytest.mark.parametrize("causal,window", [(True, None), (False, None), (True, 3), (False, 3)])
def test_grouped_query_attention_matches_torch(causal, window):
    B, N, Nkv, T, D = 2, 4, 2, 6, 8
    attention_mask = np.ones((B, T), dtype=np.int64)
    attention_mask[1, 4:] = 0  # right padding in the second text
    mask = attention_mask_4d(attention_mask, causal, window)
    np.testing.assert_array_equal(mask, transformers_mask(attention_mask, causal, window,
                                                          modeling_gemma3._bidirectional_window_overlay))
    q = rng.standard_normal((B, N, T, D))
    k, v = rng.standard_normal((2, B, Nkv, T, D))
    out = grouped_query_attention(q, k, v, mask, D ** -0.5)
    expected = torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask),
                                                                scale=D ** -0.5, enable_gqa=True).numpy()
    real = attention_mask[:, None, :, None] > 0
    np.testing.assert_allclose(np.where(real, out, 0), np.where(real, expected, 0), atol=1e-12)


def test_query_seeing_no_key_gets_zeros_not_nan():
    attention_mask = np.array([[0, 0, 1, 1]])  # left padding, causal: the pads see nothing
    mask = attention_mask_4d(attention_mask, causal=True)
    q, k, v = rng.standard_normal((3, 1, 2, 4, 4))
    out = grouped_query_attention(q, k, v, mask, 0.5)
    assert np.isfinite(out).all() and not out[0, :, :2].any()


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_pool_matches_sentence_transformers(side):
    from sentence_transformers.sentence_transformer.modules import Pooling
    B, T, H = 3, 5, 4
    lengths = [5, 2, 3]
    attention_mask = np.zeros((B, T), dtype=np.int64)
    for b, n in enumerate(lengths):
        if side == "left":
            attention_mask[b, T - n:] = 1
        else:
            attention_mask[b, :n] = 1
    hidden = rng.standard_normal((B, T, H))
    pooling = Pooling(H, pooling_mode="lasttoken")
    expected = pooling({"token_embeddings": t(hidden), "attention_mask": t(attention_mask)})["sentence_embedding"]
    np.testing.assert_array_equal(last_token_pool(hidden, attention_mask), expected.numpy())
