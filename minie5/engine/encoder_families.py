"""The engine for the encoder families beside BERT (minie5/families.py names which runs which).

DistilBERT and MPNet compute BERT's post-LN layer under other names, so both run on NumbaBackend,
every product and kernel shared, once their weights are laid out by BERT's names here (no copy:
the same arrays, renamed). Neither has token types: a zero row stands in for BERT's table, adding
exactly 0. MPNet's attention adds its relative-position bias (kernels.relative_attention).
"""

from __future__ import annotations

import numba
import numpy as np

from ..loading.encoder_configs import DistilBertConfig, MPNetConfig
from ..reference.mpnet import position_bias
from .kernels.relative_attention import self_attention_relative
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
