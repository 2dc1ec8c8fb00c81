"""The fast forward pass of the decoder-based embedders (Qwen3, Gemma3 text), on packed tokens.

Per layer, with x the [M, H] packed residual stream of a batch and h its normalised copy:

    qkv = h @ [Wq; Wk; Wv]^T              one product: [M, (N + 2 Nkv) D]
    qk_norm_rotary(qkv)                   RMSNorm of each query and key head, then its rotary turn
    grouped_query_attention(qkv) -> ctx   per text and head, causal or bidirectional, windowed
    y = ctx @ Wo^T                        [M, H]
    Qwen3:  x += y;            h = RMSNorm(x)                               add_rms_norm
    Gemma3: y = RMSNorm(y);    x += y; h = RMSNorm(x)                       rms_norm, add_rms_norm
    gu = h @ [Wgate; Wup]^T                one product: [M, 2F]
    g = act(gate) * up                    glu                                [M, F]
    y = g @ Wdown^T                       [M, H], then as after attention (Gemma3 normalises y first)

The products are the BERT engine's (NumbaBackend._matmul: kernels.linear on packed weights,
OpenBLAS on long batches where measured faster, kernels.int8 / kernels.bfloat16 for those
dtypes), each weight packed once at load; everything between them is a kernel of its own beside
its reference twin (kernels/rms_norm.py, rotary.py, grouped_query_attention.py,
gated_feed_forward.py, last_token_pool.py). The pass ends with the final RMSNorm and pooling.
"""

from __future__ import annotations

import numpy as np

from ..loading.decoder_config import DecoderConfig
from ..reference.rotary import rotary_cos_sin
from . import kernels
from .kernels import bfloat16, int8
from .kernels.gated_feed_forward import ACTIVATION_CODES, glu
from .kernels.grouped_query_attention import grouped_query_attention
from .kernels.last_token_pool import last_token_pool
from .kernels.rms_norm import add_rms_norm, rms_norm
from .kernels.rotary import qk_norm_rotary
from .numba_backend import _FORWARD_LOCK, NumbaBackend
from .threads import ThreadLimits

POOLINGS = {**kernels.POOLINGS, "lasttoken": last_token_pool}


class DecoderBackend(NumbaBackend):
    """The engine for Qwen3 and Gemma3 text models: NumbaBackend's products and buffers, a
    pre-norm decoder layer's kernels between them. `weights` "float32", "int8" or "bfloat16"."""

    # Buffers of 3H + (N + 2Nkv) D + N D + 3F floats per token: 74 kB at Qwen3-0.6B's widths, so
    # 4096 tokens hold about 300 MB.
    max_batch_tokens = 4096

    def __init__(self, params: dict, config: DecoderConfig, threads: ThreadLimits, deterministic: bool = False,
                 weights: str = "float32"):
        # NumbaBackend's own choice of product kernels, fallbacks and thread pool, with no layers
        # of its own: the decoder's are built below.
        super().__init__(_no_layers(config), config, threads, deterministic, weights)
        self.offset = config.norm_offset
        self.embed_tokens = params["embed_tokens"]["weight"]  # left in the file (loading/decoder_weights.py)
        self.embed_scale = np.float32(np.sqrt(config.hidden_size)) if config.is_gemma else None
        self.final_norm = params["norm"]["weight"]
        packers = {"float32": kernels.pack_weight, "int8": int8.pack_weight, "bfloat16": bfloat16.pack_weight}
        pack = packers[self.weights]
        self.layers = [_DecoderLayer(layer, pack) for layer in params["layers"]]
        self.activation = ACTIVATION_CODES[config.hidden_act]

    def embed(self, ids: list[np.ndarray], pooling: str,
              token_types: list[np.ndarray] | None = None) -> np.ndarray:  # B ragged -> [B, H] float64
        if token_types is not None:
            raise ValueError(f"{self.config.model_type} has no token types (segments)")
        with _FORWARD_LOCK, self.threads.applied():
            offsets, x = self._forward(ids, keep=None)
            out = np.empty((len(ids), self.config.hidden_size), dtype=np.float64)
            POOLINGS[pooling](x, offsets, out)
        return out

    def _forward(self, ids: list[np.ndarray], keep: list | None,
                 token_types: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        config = self.config
        H, F, D = config.hidden_size, config.intermediate_size, config.head_dim
        N, Nkv, eps = config.num_attention_heads, config.num_key_value_heads, config.rms_norm_eps
        lengths = np.fromiter((len(seq) for seq in ids), dtype=np.int64, count=len(ids))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        M = int(offsets[-1])
        input_ids = np.concatenate(ids).astype(np.int64)
        positions = np.arange(M, dtype=np.int64) - np.repeat(offsets[:-1], lengths)  # each text from 0
        x, h, y = self._buffer("x", M, H), self._buffer("h", M, H), self._buffer("y", M, H)
        qkv, ctx = self._buffer("qkv", M, (N + 2 * Nkv) * D), self._buffer("ctx", M, N * D)
        gate_up, g = self._buffer("gate_up", M, 2 * F), self._buffer("g", M, F)
        x[:] = self.embed_tokens[input_ids]  # a view of the file, or a StoredMatrix widening these rows
        if self.embed_scale is not None:
            x *= self.embed_scale
        if keep is not None:
            keep.append(x.copy())
        longest = int(lengths.max())
        rotary = {}
        for i, layer in enumerate(self.layers):
            base = config.rope_base(i)
            if base not in rotary:  # the same angles for every layer of a kind
                rotary[base] = rotary_cos_sin(np.arange(longest), D, base)
            cos, sin = rotary[base]
            if i == 0:
                rms_norm(x, layer.input_norm, eps, self.offset, h)
            self._matmul(h, layer.qkv, qkv)
            qk_norm_rotary(qkv, positions, cos, sin, layer.q_norm, layer.k_norm, N, Nkv, eps, self.offset)
            window = config.window(i) or 0
            grouped_query_attention(qkv, offsets, N, Nkv, np.float32(config.scaling), config.causal, window, ctx)
            self._matmul(ctx, layer.o_proj, y)
            if layer.post_attention_norm is not None:  # Gemma3: the block's output normalised first
                rms_norm(y, layer.post_attention_norm, eps, self.offset, y)
            add_rms_norm(x, y, layer.pre_feedforward_norm, eps, self.offset, h)
            self._matmul(h, layer.gate_up, gate_up)
            glu(gate_up, self.activation, g)
            self._matmul(g, layer.down_proj, y)
            if layer.post_feedforward_norm is not None:
                rms_norm(y, layer.post_feedforward_norm, eps, self.offset, y)
            # The residual gets y; the next layer reads it normalised by its input norm (or the final norm).
            following = self.layers[i + 1].input_norm if i + 1 < len(self.layers) else self.final_norm
            add_rms_norm(x, y, following, eps, self.offset, h)
            if keep is not None:
                keep.append((x if i + 1 < len(self.layers) else h).copy())
        return offsets, h  # after the last layer, h is the final norm's output


class _DecoderLayer:
    """One decoder layer's weights as the engine takes them: q, k, v stacked into one product and
    gate, up into another, each packed by `pack`; norms as float32 vectors."""

    def __init__(self, p: dict, pack):
        attn, mlp = p["self_attn"], p["mlp"]
        self.qkv = pack(np.concatenate([attn[name]["weight"] for name in ("q_proj", "k_proj", "v_proj")]))
        self.o_proj = pack(np.asarray(attn["o_proj"]["weight"], dtype=np.float32))
        self.gate_up = pack(np.concatenate([mlp["gate_proj"]["weight"], mlp["up_proj"]["weight"]]))
        self.down_proj = pack(np.asarray(mlp["down_proj"]["weight"], dtype=np.float32))
        self.q_norm, self.k_norm = attn["q_norm"]["weight"], attn["k_norm"]["weight"]
        self.input_norm = p["input_layernorm"]["weight"]
        gemma = "pre_feedforward_layernorm" in p
        # Qwen3 normalises the feed-forward's input with post_attention_layernorm; Gemma3 names that
        # pre_feedforward_layernorm and uses post_attention_layernorm on the attention's output.
        self.pre_feedforward_norm = p["pre_feedforward_layernorm" if gemma else "post_attention_layernorm"]["weight"]
        self.post_attention_norm = p["post_attention_layernorm"]["weight"] if gemma else None
        self.post_feedforward_norm = p["post_feedforward_layernorm"]["weight"] if gemma else None


def _no_layers(config: DecoderConfig) -> dict:
    """The params NumbaBackend.__init__ reads, empty: the decoder builds its own embeddings and layers."""
    empty = np.zeros((1, config.hidden_size), np.float32)
    norm = {"weight": empty[0], "bias": empty[0]}
    return {"embeddings": {"word_embeddings": {"weight": empty}, "position_embeddings": {"weight": empty},
                           "token_type_embeddings": {"weight": empty}, "LayerNorm": norm},
            "encoder": {"layer": []}}


def decoder_engine(params: dict, config: DecoderConfig, threads: ThreadLimits, deterministic: bool,
                   weights: str) -> DecoderBackend:
    """The registry's engine entry for the decoder families (minie5/families.py)."""
    return DecoderBackend(params, config, threads, deterministic=deterministic, weights=weights)
