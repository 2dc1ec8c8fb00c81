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

from .encoder_configs import DistilBertConfig, ModernBertConfig, MPNetConfig, NomicBertConfig
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


def nomic_bert_shapes(config: NomicBertConfig) -> dict[str, tuple[int, ...]]:
    """The tensors as nomic-ai's checkpoints store them (and transformers 5 reads them, renaming
    each as its NomicBertModel names it: conversion_mapping's "nomic_bert"):

        embeddings.word_embeddings, embeddings.token_type_embeddings, emb_ln  (embeddings.LayerNorm)
        encoder.layers.{i}.attn.Wqkv      [3H, H]  -> self_attn.{q,k,v}_proj, in that order
        encoder.layers.{i}.attn.out_proj           -> self_attn.o_proj
        encoder.layers.{i}.mlp.fc11 / fc12 / fc2   -> mlp.up_proj / gate_proj / down_proj
        encoder.layers.{i}.norm1 / norm2           -> post_attention_layernorm / post_mlp_layernorm
    """
    H, F = config.hidden_size, config.intermediate_size
    shapes = {"embeddings.word_embeddings.weight": (config.vocab_size, H),
              "embeddings.token_type_embeddings.weight": (config.type_vocab_size, H),
              "emb_ln.weight": (H,), "emb_ln.bias": (H,)}
    for i in range(config.num_hidden_layers):
        p = f"encoder.layers.{i}."
        shapes.update({p + "attn.Wqkv.weight": (3 * H, H), p + "attn.out_proj.weight": (H, H),
                       p + "mlp.fc11.weight": (F, H), p + "mlp.fc12.weight": (F, H), p + "mlp.fc2.weight": (H, F),
                       p + "norm1.weight": (H,), p + "norm1.bias": (H,), p + "norm2.weight": (H,),
                       p + "norm2.bias": (H,)})
    return shapes


def load_nomic_bert(path: str | Path, config: NomicBertConfig, dtype=np.float32) -> dict:
    """The stored tensors, renamed as transformers' NomicBertModel names them (its docstring above):
    {"embeddings": {word_embeddings, token_type_embeddings, LayerNorm}, "layers": [{self_attn:
    {q_proj, k_proj, v_proj, o_proj}, mlp: {gate_proj, up_proj, down_proj}, post_attention_layernorm,
    post_mlp_layernorm}]}. Wqkv's three row blocks become q, k and v (views, no copy)."""
    stored = load_tensors(path, nomic_bert_shapes(config), config, dtype)
    H = config.hidden_size
    embeddings = {**stored["embeddings"], "LayerNorm": stored["emb_ln"]}
    layers = []
    for layer in stored["encoder"]["layers"]:
        qkv = layer["attn"]["Wqkv"]["weight"]
        mlp = layer["mlp"]
        layers.append({
            "self_attn": {"q_proj": {"weight": qkv[:H]}, "k_proj": {"weight": qkv[H:2 * H]},
                          "v_proj": {"weight": qkv[2 * H:]}, "o_proj": layer["attn"]["out_proj"]},
            "mlp": {"gate_proj": mlp["fc12"], "up_proj": mlp["fc11"], "down_proj": mlp["fc2"]},
            "post_attention_layernorm": layer["norm1"], "post_mlp_layernorm": layer["norm2"]})
    return {"embeddings": embeddings, "layers": layers}
