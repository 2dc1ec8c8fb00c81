"""The engine for the encoder families beside BERT (minie5/families.py names which runs which).

DistilBERT and MPNet compute BERT's post-LN layer under other names, so both run on NumbaBackend,
every product and kernel shared, once their weights are laid out by BERT's names here (no copy:
the same arrays, renamed). Neither has token types: a zero row stands in for BERT's table, adding
exactly 0. MPNet's attention adds its relative-position bias (kernels.relative_attention).
NomicBERT is BERT's post-LN layer too, with zero biases, rotary positions on queries and keys and a
SwiGLU feed-forward (NomicBertBackend).
"""

from __future__ import annotations

import numba
import numpy as np

from ..loading.encoder_configs import DistilBertConfig, MPNetConfig, NomicBertConfig
from ..reference.mpnet import position_bias
from ..reference.rotary import rotary_cos_sin
from .kernels.gated_feed_forward import SILU, glu
from .kernels.relative_attention import self_attention_relative
from .kernels.rotary_positions import rotate_queries_keys
from .numba_backend import NumbaBackend
from .threads import ThreadLimits


def _bert_layer(query, key, value, attention_output, attention_norm, intermediate, output, output_norm) -> dict:
    return {"attention": {"self": {"query": query, "key": key, "value": value},
                          "output": {"dense": attention_output, "LayerNorm": attention_norm}},
            "intermediate": {"dense": intermediate}, "output": {"dense": output, "LayerNorm": output_norm}}


def _bert_embeddings(emb: dict, H: int) -> dict:
    zero_type = {"weight": np.zeros((1, H), dtype=emb["word_embeddings"]["weight"].dtype)}
    return {"word_embeddings": emb["word_embeddings"], "position_embeddings": emb["position_embeddings"],
            "token_type_embeddings": zero_type, "LayerNorm": emb["LayerNorm"]}


def distilbert_as_bert(params: dict, config: DistilBertConfig) -> dict:
    """DistilBertModel's weights by BertModel's names."""
    layers = [_bert_layer(p["attention"]["q_lin"], p["attention"]["k_lin"], p["attention"]["v_lin"],
                          p["attention"]["out_lin"], p["sa_layer_norm"], p["ffn"]["lin1"], p["ffn"]["lin2"],
                          p["output_layer_norm"]) for p in params["transformer"]["layer"]]
    return {"embeddings": _bert_embeddings(params["embeddings"], config.hidden_size), "encoder": {"layer": layers}}


def mpnet_as_bert(params: dict, config: MPNetConfig) -> dict:
    """MPNetModel's weights by BertModel's names (the relative bias table stays MPNet's)."""
    layers = [_bert_layer(p["attention"]["attn"]["q"], p["attention"]["attn"]["k"], p["attention"]["attn"]["v"],
                          p["attention"]["attn"]["o"], p["attention"]["LayerNorm"], p["intermediate"]["dense"],
                          p["output"]["dense"], p["output"]["LayerNorm"]) for p in params["encoder"]["layer"]]
    return {"embeddings": _bert_embeddings(params["embeddings"], config.hidden_size), "encoder": {"layer": layers}}


def distilbert_engine(params: dict, config: DistilBertConfig, threads: ThreadLimits, deterministic: bool,
                      weights: str) -> NumbaBackend:
    return NumbaBackend(distilbert_as_bert(params, config), config, threads, deterministic=deterministic,
                        weights=weights)


class MPNetBackend(NumbaBackend):
    """NumbaBackend with MPNet's attention: the relative-position bias added to every score."""

    def __init__(self, params: dict, config: MPNetConfig, threads: ThreadLimits, deterministic: bool = False,
                 weights: str = "float32"):
        super().__init__(mpnet_as_bert(params, config), config, threads, deterministic=deterministic, weights=weights)
        self.relative_attention_bias = {"weight": np.asarray(
            params["encoder"]["relative_attention_bias"]["weight"], dtype=np.float32)}
        self._bias_t = np.zeros((config.num_attention_heads, 0, 0), dtype=np.float32)

    def _position_bias_t(self, T: int) -> np.ndarray:  # -> [N, T, T], key rows, query columns
        """The bias for texts of up to T tokens, built once for the longest and cut for the rest."""
        if self._bias_t.shape[1] < T:
            bias = position_bias(T, self.relative_attention_bias, self.config.relative_attention_num_buckets)
            self._bias_t = np.ascontiguousarray(bias.transpose(0, 2, 1))  # as the kernel keeps scores
        return self._bias_t

    def _self_attention(self, qkv, qkv_bias, offsets, num_heads, ctx) -> None:  # [M, 3H] -> ctx [M, H]
        bias_t = self._position_bias_t(int(np.diff(offsets).max()))
        with numba.parallel_chunksize(1):
            self_attention_relative(qkv.T, qkv_bias, offsets, num_heads, bias_t, ctx)


def mpnet_engine(params: dict, config: MPNetConfig, threads: ThreadLimits, deterministic: bool,
                 weights: str) -> MPNetBackend:
    return MPNetBackend(params, config, threads, deterministic, weights)


def nomic_bert_as_bert(params: dict, config: NomicBertConfig) -> dict:
    """NomicBertModel's weights by BertModel's names, for NomicBertBackend: zero biases where it
    has none (adding exactly 0), a zero position table (rotary positions are applied in attention
    instead), and gate and up stacked as the intermediate product's [2F, H] weight."""
    H, F = config.hidden_size, config.intermediate_size
    dtype = params["embeddings"]["word_embeddings"]["weight"].dtype

    def no_bias(p: dict, n: int) -> dict:
        return {"weight": p["weight"], "bias": np.zeros(n, dtype)}

    layers = []
    for p in params["layers"]:
        attn, mlp = p["self_attn"], p["mlp"]
        gate_up = {"weight": np.concatenate([mlp["gate_proj"]["weight"], mlp["up_proj"]["weight"]]),
                   "bias": np.zeros(2 * F, dtype)}
        layers.append(_bert_layer(no_bias(attn["q_proj"], H), no_bias(attn["k_proj"], H), no_bias(attn["v_proj"], H),
                                  no_bias(attn["o_proj"], H), p["post_attention_layernorm"], gate_up,
                                  no_bias(mlp["down_proj"], H), p["post_mlp_layernorm"]))
    emb = params["embeddings"]
    embeddings = {"word_embeddings": emb["word_embeddings"], "token_type_embeddings": emb["token_type_embeddings"],
                  "position_embeddings": {"weight": np.zeros((config.max_tokens, H), dtype)},
                  "LayerNorm": emb["LayerNorm"]}
    return {"embeddings": embeddings, "encoder": {"layer": layers}}


class NomicBertBackend(NumbaBackend):
    """NumbaBackend with NomicBERT's two differences: queries and keys turned by rotary positions
    before attention (kernels.rotary_positions), and SwiGLU in place of GELU (the decoders'
    kernels.gated_feed_forward.glu). The embeddings kernel reads a zero position table."""

    def __init__(self, params: dict, config: NomicBertConfig, threads: ThreadLimits, deterministic: bool = False,
                 weights: str = "float32"):
        super().__init__(nomic_bert_as_bert(params, config), config, threads, deterministic=deterministic,
                         weights=weights)
        self._angles = (np.zeros((0, config.head_size), np.float32),) * 2

    def _rotary(self, T: int) -> tuple[np.ndarray, np.ndarray]:  # -> cos, sin [T, D]
        if self._angles[0].shape[0] < T:
            self._angles = rotary_cos_sin(np.arange(T), self.config.head_size, self.config.rope_theta)
        return self._angles

    def _self_attention(self, qkv, qkv_bias, offsets, num_heads, ctx) -> None:  # [M, 3H] -> ctx [M, H]
        lengths = np.diff(offsets)
        positions = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)  # each text from 0
        cos, sin = self._rotary(int(lengths.max()))
        rotate_queries_keys(qkv, positions, cos, sin, num_heads, self.config.head_size)
        super()._self_attention(qkv, qkv_bias, offsets, num_heads, ctx)

    def _feed_forward(self, layer, x, h, y, rounded_x, rounded_h) -> None:  # x [M, H] -> y [M, H]
        M, F = x.shape[0], self.config.intermediate_size
        gate_up, g = self._buffer("gate_up", M, 2 * F), self._buffer("g", M, F)
        self._matmul(x, layer.intermediate_weight, gate_up, rounded_x)
        glu(gate_up, SILU, g)
        self._matmul(g, layer.output_weight, y)  # int8: g rounded by _int8_matmul


def nomic_bert_engine(params: dict, config: NomicBertConfig, threads: ThreadLimits, deterministic: bool,
                      weights: str) -> NomicBertBackend:
    return NomicBertBackend(params, config, threads, deterministic, weights)
