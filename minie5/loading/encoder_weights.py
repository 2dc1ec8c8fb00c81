"""The tensors of the encoder families beside BERT's (weights.py), by transformers' names, with
the shapes their config implies: each family's `shapes(config)` and weights reader.

    DistilBertModel  embeddings.{word,position}_embeddings, embeddings.LayerNorm;
                     transformer.layer.{i}.attention.{q,k,v,out}_lin, sa_layer_norm,
                     ffn.lin1, ffn.lin2, output_layer_norm
    MPNetModel       embeddings.{word,position}_embeddings, embeddings.LayerNorm;
                     encoder.layer.{i}.attention.attn.{q,k,v,o}, attention.LayerNorm,
                     intermediate.dense, output.dense, output.LayerNorm;
                     encoder.relative_attention_bias (one [buckets, heads] table for all layers)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .encoder_configs import DistilBertConfig, ModernBertConfig, MPNetConfig
from .weights import load_tensors


def _linears(prefix: str, linears: dict[str, tuple[int, int]], norms: tuple[str, ...], H: int) -> dict:
    shapes = {}
    for module, (n_out, n_in) in linears.items():
        shapes[f"{prefix}{module}.weight"] = (n_out, n_in)
        shapes[f"{prefix}{module}.bias"] = (n_out,)
    for norm in norms:
        shapes[f"{prefix}{norm}.weight"] = (H,)
        shapes[f"{prefix}{norm}.bias"] = (H,)
    return shapes


def distilbert_shapes(config: DistilBertConfig) -> dict[str, tuple[int, ...]]:
    H, F = config.dim, config.hidden_dim
    shapes = {"embeddings.word_embeddings.weight": (config.vocab_size, H),
              "embeddings.position_embeddings.weight": (config.max_position_embeddings, H),
              "embeddings.LayerNorm.weight": (H,), "embeddings.LayerNorm.bias": (H,)}
    for i in range(config.n_layers):
        shapes.update(_linears(f"transformer.layer.{i}.", {
            "attention.q_lin": (H, H), "attention.k_lin": (H, H), "attention.v_lin": (H, H),
            "attention.out_lin": (H, H), "ffn.lin1": (F, H), "ffn.lin2": (H, F)},
            ("sa_layer_norm", "output_layer_norm"), H))
    return shapes


def mpnet_shapes(config: MPNetConfig) -> dict[str, tuple[int, ...]]:
    H, F = config.hidden_size, config.intermediate_size
    shapes = {"embeddings.word_embeddings.weight": (config.vocab_size, H),
              "embeddings.position_embeddings.weight": (config.max_position_embeddings, H),
              "embeddings.LayerNorm.weight": (H,), "embeddings.LayerNorm.bias": (H,),
              "encoder.relative_attention_bias.weight": (config.relative_attention_num_buckets,
                                                         config.num_attention_heads)}
    for i in range(config.num_hidden_layers):
        shapes.update(_linears(f"encoder.layer.{i}.", {
            "attention.attn.q": (H, H), "attention.attn.k": (H, H), "attention.attn.v": (H, H),
            "attention.attn.o": (H, H), "intermediate.dense": (F, H), "output.dense": (H, F)},
            ("attention.LayerNorm", "output.LayerNorm"), H))
    return shapes


def load_distilbert(path: str | Path, config: DistilBertConfig, dtype=np.float32) -> dict:
    return load_tensors(path, distilbert_shapes(config), config, dtype)


def load_mpnet(path: str | Path, config: MPNetConfig, dtype=np.float32) -> dict:
    return load_tensors(path, mpnet_shapes(config), config, dtype)


def modernbert_shapes(config: ModernBertConfig) -> dict[str, tuple[int, ...]]:
    """ModernBertModel: embeddings.tok_embeddings, embeddings.norm; layers.{i}.attn_norm (not in
    layer 0, whose input is already normed), attn.Wqkv, attn.Wo, mlp_norm, mlp.Wi [2F, H], mlp.Wo;
    final_norm. Biases only where config.json's norm_bias, attention_bias, mlp_bias ask."""
    H, F = config.hidden_size, config.intermediate_size

    def norm(name: str) -> dict:
        return {f"{name}.weight": (H,), **({f"{name}.bias": (H,)} if config.norm_bias else {})}

    def linear(name: str, n_out: int, n_in: int, bias: bool) -> dict:
        return {f"{name}.weight": (n_out, n_in), **({f"{name}.bias": (n_out,)} if bias else {})}

    shapes = {"embeddings.tok_embeddings.weight": (config.vocab_size, H), **norm("embeddings.norm")}
    for i in range(config.num_hidden_layers):
        p = f"layers.{i}."
        if i > 0:
            shapes.update(norm(p + "attn_norm"))
        shapes.update({**linear(p + "attn.Wqkv", 3 * H, H, config.attention_bias),
                       **linear(p + "attn.Wo", H, H, config.attention_bias), **norm(p + "mlp_norm"),
                       **linear(p + "mlp.Wi", 2 * F, H, config.mlp_bias),
                       **linear(p + "mlp.Wo", H, F, config.mlp_bias)})
    shapes.update(norm("final_norm"))
    return shapes


def load_modernbert(path: str | Path, config: ModernBertConfig, dtype=np.float32) -> dict:
    return load_tensors(path, modernbert_shapes(config), config, dtype)
