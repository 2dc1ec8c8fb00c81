"""The engine for the encoder families beside BERT (minie5/families.py names which runs which).

DistilBERT and MPNet compute BERT's post-LN layer under other names, so both run on NumbaBackend,
every product and kernel shared, once their weights are laid out by BERT's names here (no copy:
the same arrays, renamed). Neither has token types: a zero row stands in for BERT's table, adding
exactly 0. MPNet's attention adds its relative-position bias (kernels.relative_attention).
NomicBERT is BERT's post-LN layer too, with zero biases, rotary positions on queries and keys and a
SwiGLU feed-forward (NomicBertBackend). ModernBERT is pre-norm, so it has a pass of its own
(ModernBertBackend) on the same products and the shared rotary and attention kernels.
"""

from __future__ import annotations

import numba
import numpy as np

from ..loading.encoder_configs import DistilBertConfig, ModernBertConfig, MPNetConfig, NomicBertConfig
from ..reference.mpnet import position_bias
from ..reference.rotary import rotary_cos_sin
from . import kernels
from .kernels import bfloat16, int8
from .kernels.gated_feed_forward import SILU, glu
from .kernels.grouped_query_attention import grouped_query_attention
from .kernels.pre_norm import add_layer_norm, gelu_glu, layer_norm_rows
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


class ModernBertBackend(NumbaBackend):
    """The engine for ModernBERT (reference/modernbert.py), pre-norm, on packed tokens:

        x = LN(tok_embeddings[ids]);  h = x                        layer 0 reads x itself
        per layer:  qkv = h @ Wqkv^T; rotary on q and k (the layer kind's base)
                    global layer: kernels.self_attention; sliding: the windowed attention kernel
                    x += ctx @ Wo^T; h = LN(x)                     add_layer_norm (mlp_norm)
                    x += Wo(GeGLU(h @ Wi^T)); h = LN(x)            the next attn_norm, or final_norm
        pooled: h after the last layer (the final norm's output)

    NumbaBackend's products (float32, int8, bfloat16), buffers and thread limits; the kernels
    between them are kernels.pre_norm's and the shared rotary and attention kernels."""

    def __init__(self, params: dict, config: ModernBertConfig, threads: ThreadLimits, deterministic: bool = False,
                 weights: str = "float32"):
        H = config.hidden_size
        zero = np.zeros(H, np.float32)
        empty = {"embeddings": {"word_embeddings": {"weight": np.zeros((1, H), np.float32)},
                                "position_embeddings": {"weight": np.zeros((1, H), np.float32)},
                                "token_type_embeddings": {"weight": np.zeros((1, H), np.float32)},
                                "LayerNorm": {"weight": zero, "bias": zero}},
                 "encoder": {"layer": []}}
        super().__init__(empty, config, threads, deterministic=deterministic, weights=weights)
        packers = {"float32": kernels.pack_weight, "int8": int8.pack_weight, "bfloat16": bfloat16.pack_weight}
        pack = packers[self.weights]  # self.weights: float32 where the CPU lacks int8's or bfloat16's instructions

        def norm(p: dict) -> tuple[np.ndarray, np.ndarray]:
            return np.asarray(p["weight"], np.float32), np.asarray(p.get("bias", zero), np.float32)

        def no_bias(p: dict) -> None:
            if "bias" in p:
                raise NotImplementedError("ModernBERT with linear biases (attention_bias, mlp_bias) has no engine yet")

        self.tok_embeddings = params["embeddings"]["tok_embeddings"]["weight"]
        self.embeddings_norm = norm(params["embeddings"]["norm"])
        self.final_norm = norm(params["final_norm"])
        self.modern_layers = []
        for p in params["layers"]:
            for linear in (p["attn"]["Wqkv"], p["attn"]["Wo"], p["mlp"]["Wi"], p["mlp"]["Wo"]):
                no_bias(linear)
            self.modern_layers.append({
                "attn_norm": norm(p["attn_norm"]) if "attn_norm" in p else None, "mlp_norm": norm(p["mlp_norm"]),
                "Wqkv": pack(p["attn"]["Wqkv"]["weight"]), "attn_Wo": pack(p["attn"]["Wo"]["weight"]),
                "Wi": pack(p["mlp"]["Wi"]["weight"]), "mlp_Wo": pack(p["mlp"]["Wo"]["weight"])})
        self.no_bias = np.zeros(3 * H, np.float32)

    def _forward(self, ids: list[np.ndarray], keep: list | None,
                 token_types: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if token_types is not None:
            raise ValueError("ModernBERT has no token types (segments)")
        config = self.config
        H, F, N, D, eps = (config.hidden_size, config.intermediate_size, config.num_attention_heads,
                           config.head_size, config.norm_eps)
        lengths = np.fromiter((len(seq) for seq in ids), dtype=np.int64, count=len(ids))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        M = int(offsets[-1])
        positions = np.arange(M, dtype=np.int64) - np.repeat(offsets[:-1], lengths)  # each text from 0
        x, h, y = self._buffer("x", M, H), self._buffer("h", M, H), self._buffer("y", M, H)
        qkv, ctx = self._buffer("qkv", M, 3 * H), self._buffer("ctx", M, H)
        gate_up, g = self._buffer("gate_up", M, 2 * F), self._buffer("g", M, F)
        x[:] = self.tok_embeddings[np.concatenate(ids)]
        layer_norm_rows(x, *self.embeddings_norm, eps, x)
        if keep is not None:
            keep.append(x.copy())
        longest = int(lengths.max())
        angles = {}
        for i, layer in enumerate(self.modern_layers):
            if layer["attn_norm"] is None:  # layer 0: its input is the embeddings' norm already
                h[:] = x
            theta = config.rope_theta(i)
            if theta not in angles:
                angles[theta] = rotary_cos_sin(np.arange(longest), D, theta)
            self._matmul(h, layer["Wqkv"], qkv)
            rotate_queries_keys(qkv, positions, *angles[theta], N, D)
            window = config.window(i)
            with numba.parallel_chunksize(1):
                if window is None:
                    kernels.self_attention(qkv.T, self.no_bias, offsets, N, ctx)
                else:
                    grouped_query_attention(qkv, offsets, N, N, np.float32(D ** -0.5), False, window, ctx)
            self._matmul(ctx, layer["attn_Wo"], y)
            add_layer_norm(x, y, *layer["mlp_norm"], eps, h)
            self._matmul(h, layer["Wi"], gate_up)
            gelu_glu(gate_up, g)
            self._matmul(g, layer["mlp_Wo"], y)
            last = i + 1 == len(self.modern_layers)
            add_layer_norm(x, y, *(self.final_norm if last else self.modern_layers[i + 1]["attn_norm"]), eps, h)
            if keep is not None:
                keep.append((h if last else x).copy())
        return offsets, h


def modernbert_engine(params: dict, config: ModernBertConfig, threads: ThreadLimits, deterministic: bool,
                      weights: str) -> ModernBertBackend:
    return ModernBertBackend(params, config, threads, deterministic, weights)
