"""ModernBERT (Warner et al. 2024, "Smarter, Better, Faster, Longer"), as transformers'
ModernBertModel computes it: an encoder rebuilt with what decoders learned since BERT.

    embeddings   tok_embeddings, then a LayerNorm (embeddings.norm); no position table at all
    layer i      x + Wo(attention(attn_norm(x)))        pre-norm: the residual stream is never
                 x + mlp.Wo(GeGLU(mlp.Wi(mlp_norm(x))))  normalised, each branch's input is
    final_norm   one LayerNorm after the last layer

Positions come from rotary embeddings (reference/rotary.py) applied to queries and keys in every
layer, with a base of global_rope_theta (160000) in global layers and local_rope_theta (10000)
in the others. Every third layer (0, 3, 6, ...) is global: every token sees the whole text; the
others see only tokens within local_attention / 2 = 64 positions (reference/grouped_query_attention.py's
window), which keeps attention's cost linear over 8192-token texts. Layer 0 has no attn_norm: its
input is the embeddings' norm. LayerNorms and linear layers carry no biases (norm_bias,
attention_bias and mlp_bias are false in the released models).

transformers returns as hidden states the embeddings' output and each layer's output; the last
hidden state (what is pooled) is the last layer's output after final_norm.

Legend as reference/__init__.py: B batch, T tokens, H hidden, N heads, D head size, F intermediate.
"""

import numpy as np

from ..loading.encoder_configs import ModernBertConfig
from .attention import merge_heads
from .gated_feed_forward import glu
from .grouped_query_attention import attention_mask_4d, grouped_query_attention
from .layer_norm import layer_norm
from .linear import linear
from .rotary import apply_rotary, rotary_cos_sin


def norm(x: np.ndarray, weight: np.ndarray, eps: float, bias: np.ndarray | None = None) -> np.ndarray:  # [..., H]
    """nn.LayerNorm(bias=config.norm_bias): without a bias unless the checkpoint has one."""
    return layer_norm(x, weight, 0.0 if bias is None else bias, eps)


def attention(x: np.ndarray, attention_mask: np.ndarray, Wqkv: dict, Wo: dict, config: ModernBertConfig,
              layer: int) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """ModernBertAttention: one projection to q, k and v, rotary on q and k, attention (global or
    windowed by the layer), Wo."""
    B, T, H = x.shape
    N, D = config.num_attention_heads, config.head_size
    qkv = linear(x, **Wqkv).reshape(B, T, 3, N, D).transpose(2, 0, 3, 1, 4)  # [3, B, N, T, D]
    positions = np.broadcast_to(np.arange(T), (B, T))
    cos, sin = rotary_cos_sin(positions, D, config.rope_theta(layer), dtype=x.dtype)  # [B, T, D]
    q, k = apply_rotary(qkv[0], cos, sin), apply_rotary(qkv[1], cos, sin)
    mask = attention_mask_4d(attention_mask, causal=False, sliding_window=config.window(layer))
    return linear(merge_heads(grouped_query_attention(q, k, qkv[2], mask, D ** -0.5)), **Wo)


def mlp(x: np.ndarray, Wi: dict, Wo: dict, activation: str) -> np.ndarray:  # [B, T, H] -> [B, T, H]
    """ModernBertMLP: Wi's output halves are (input, gate); Wo(act(input) * gate): GeGLU."""
    h = linear(x, **Wi)  # [B, T, 2F]
    F = h.shape[-1] // 2
    return linear(glu(h[..., :F], h[..., F:], activation), **Wo)


def encoder_layer(x: np.ndarray, attention_mask: np.ndarray, params: dict, config: ModernBertConfig,
                  layer: int) -> np.ndarray:  # [B, T, H] -> [B, T, H]
    """ModernBertEncoderLayer: pre-norm attention and GeGLU feed-forward, each added to x."""
    eps = config.norm_eps
    h = norm(x, **params["attn_norm"], eps=eps) if "attn_norm" in params else x  # layer 0: nn.Identity
    x = x + attention(h, attention_mask, **params["attn"], config=config, layer=layer)
    return x + mlp(norm(x, **params["mlp_norm"], eps=eps), **params["mlp"], activation=config.hidden_activation)


def modernbert(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: ModernBertConfig,
               types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] -> L+1 x [B, T, H]
    """ModernBertModel: the embeddings' output and every layer's, the last after final_norm."""
    if types is not None:
        raise ValueError("ModernBERT has no token types: it reads one text per sequence")
    emb = params["embeddings"]
    x = norm(emb["tok_embeddings"]["weight"][input_ids], **emb["norm"], eps=config.norm_eps)
    hidden_states = [x]
    for i, layer in enumerate(params["layers"]):
        hidden_states.append(encoder_layer(hidden_states[-1], attention_mask, layer, config, i))
    hidden_states[-1] = norm(hidden_states[-1], **params["final_norm"], eps=config.norm_eps)
    return hidden_states
