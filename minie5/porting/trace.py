"""Traces: every intermediate tensor of the forward pass, named after transformers' modules.

A trace runs the NumPy reference one function at a time (the same functions `reference.bert`
composes, tested to give the same result) and keeps each function's output. Names are the module paths of
transformers' BertModel / XLMRobertaModel whose output the tensor is, so a PyTorch forward hook on
that module records the same thing (`minie5 verify --against transformers` does exactly that):

    input_ids, attention_mask                  [B, T] int64, the padded batch
    embeddings.sum                             [B, T, H]  word + token type + position (the input
                                                          of embeddings.LayerNorm)
    embeddings.LayerNorm                       [B, T, H]  the embeddings' output
    encoder.layer.{i}.attention.self.query     [B, T, H]  likewise .key and .value (bias included)
    encoder.layer.{i}.attention.self.probs     [B, N, T, T] softmax weights, query rows, key columns
    encoder.layer.{i}.attention.self           [B, T, H]  the heads' context vectors, merged
    encoder.layer.{i}.attention.output.dense   [B, T, H]  their projection, before the residual
    encoder.layer.{i}.attention.output.LayerNorm [B, T, H] the attention block's output
    encoder.layer.{i}.intermediate             [B, T, F]  the feed-forward's inner layer, after GELU
    encoder.layer.{i}.output.dense             [B, T, H]  its projection, before the residual
    encoder.layer.{i}.output.LayerNorm         [B, T, H]  the layer's output
    pooled                                     [B, H]     after pooling (mean, CLS or max)
    embedding                                  [B, H]     the sentence vector (normalised if the
                                                          model normalises)

Values at padded positions (attention_mask == 0) are not part of the format: compare real tokens.
The file format (`save` / `load`) is a NumPy .npz with one array per name plus `__meta__`, a JSON
string; docs/trace-format.md describes it for ports in other languages.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import reference
from ..loading.config import BertConfig
from ..reference.padding import pad_batch

FORMAT = "minie5-trace"
VERSION = 1
META = "__meta__"
LAYER_STEPS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.self.probs",
               "attention.self", "attention.output.dense", "attention.output.LayerNorm", "intermediate",
               "output.dense", "output.LayerNorm")


def tensor_names(num_layers: int) -> list[str]:
    """Every name of a trace, in the order the forward pass produces them."""
    names = ["input_ids", "attention_mask", "embeddings.sum", "embeddings.LayerNorm"]
    for i in range(num_layers):
        names += [f"encoder.layer.{i}.{step}" for step in LAYER_STEPS]
    return names + ["pooled", "embedding"]


def run(ids: list[np.ndarray], params: dict, config: BertConfig, pooling: str,
        normalize: bool) -> dict[str, np.ndarray]:
    """The trace of one padded batch, in the dtype of `params`: `reference.bert` one function at a
    time, keeping each function's output under its module's name."""
    input_ids, attention_mask = pad_batch(ids, config.pad_token_id)
    out: dict[str, np.ndarray] = {"input_ids": input_ids, "attention_mask": attention_mask}
    eps, N = config.layer_norm_eps, config.num_attention_heads

    emb = params["embeddings"]
    positions = reference.position_ids(input_ids, config.pad_token_id, config.position_offset)
    x = out["embeddings.sum"] = reference.embedding_sum(
        input_ids, positions, reference.token_type_ids(input_ids), emb["word_embeddings"],
        emb["position_embeddings"], emb["token_type_embeddings"])
    x = out["embeddings.LayerNorm"] = reference.layer_norm(x, **emb["LayerNorm"], eps=eps)

    for i, p in enumerate(params["encoder"]["layer"]):
        name = f"encoder.layer.{i}."
        attn = p["attention"]
        q, k, v = (reference.linear(x, **attn["self"][n]) for n in ("query", "key", "value"))
        for step, tensor in zip(("query", "key", "value"), (q, k, v)):
            out[name + "attention.self." + step] = tensor
        q, k, v = (reference.split_heads(t, N) for t in (q, k, v))
        probs = out[name + "attention.self.probs"] = reference.attention_probs(q, k, attention_mask)
        context = out[name + "attention.self"] = reference.attention_context(probs, v)
        h = out[name + "attention.output.dense"] = reference.linear(context, **attn["output"]["dense"])
        x = out[name + "attention.output.LayerNorm"] = reference.layer_norm(h + x, **attn["output"]["LayerNorm"],
                                                                            eps=eps)
        h = out[name + "intermediate"] = reference.gelu(reference.linear(x, **p["intermediate"]["dense"]))
        h = out[name + "output.dense"] = reference.linear(h, **p["output"]["dense"])
        x = out[name + "output.LayerNorm"] = reference.layer_norm(h + x, **p["output"]["LayerNorm"], eps=eps)

    pooled = out["pooled"] = reference.pool(x, attention_mask, pooling)
    out["embedding"] = reference.l2_normalize(pooled) if normalize else pooled
    return out


DECODER_MODEL_TYPES = ("qwen3", "gemma3_text")  # loading/decoder_config.py's families


def trace_model(model, texts: list[str], dtype: str | None = None) -> dict[str, np.ndarray]:
    """`Model.trace`: the trace of `texts` through `model`'s reference, in `dtype` (default: the
    model's). The weights are read again in that dtype unless the model already holds them."""
    if not texts:
        raise ValueError("trace needs at least one text")
    if getattr(model.config, "model_type", None) in DECODER_MODEL_TYPES:
        raise ValueError(f"traces follow BERT's layers; {model.config.model_type} models have no trace yet (their "
                         "reference, step by step: minie5/reference/qwen3.py and gemma3.py)")
    params = model.parameters(dtype)
    return run(model.tokenizer.tokenize(texts), params, model.config, model.pooling, model.pipeline.normalize)


def metadata(model, texts: list[str]) -> dict:
    """What a trace file records beside its tensors: the texts and the model that embedded them."""
    from .. import __version__

    c = model.config
    return {"texts": list(texts), "model": model.name, "model_type": c.model_type,
            "num_hidden_layers": c.num_hidden_layers, "hidden_size": c.hidden_size,
            "num_attention_heads": c.num_attention_heads, "pooling": model.pooling,
            "normalize": model.pipeline.normalize, "max_length": model.max_length,
            "producer": f"minie5 {__version__}"}


def save(path: str | Path, tensors: dict[str, np.ndarray], meta: dict) -> None:
    meta = {"format": FORMAT, "version": VERSION, **meta}
    np.savez(path, **tensors, **{META: np.array(json.dumps(meta))})


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """A trace file: its tensors by name, and its metadata."""
    from ..errors import Minie5Error

    try:
        with np.load(path, allow_pickle=False) as data:
            tensors = {name: data[name] for name in data.files}
    except (OSError, ValueError) as e:
        raise Minie5Error(f"{path}: not a trace file (.npz) ({e})") from None
    meta = {}
    if META in tensors:
        try:
            meta = json.loads(str(tensors.pop(META)))
        except json.JSONDecodeError:
            raise Minie5Error(f"{path}: {META} is not JSON") from None
    if "attention_mask" not in tensors:
        raise Minie5Error(f"{path}: no 'attention_mask' tensor: a trace needs it to tell real tokens from padding")
    return tensors, meta
