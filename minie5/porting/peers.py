"""Traces from other implementations, for `minie5 verify`: transformers + PyTorch, and ONNX Runtime.

Neither library is a dependency of minie5; each is imported only here, when asked for, and its
absence is a one-line error saying what to install.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import Minie5Error, install_hint
from ..reference.padding import pad_batch


def transformers_trace(model, texts: list[str]) -> dict[str, np.ndarray]:
    """The trace of `texts` through transformers' AutoModel for `model`'s folder, recorded with
    forward hooks on the very modules the trace names come from; tokenized by AutoTokenizer."""
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        raise Minie5Error("--against transformers needs PyTorch and transformers: "
                          f"{install_hint('reference')} (with a CPU torch)") from None

    path = str(model.path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    peer = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    batch = tokenizer(texts, max_length=model.max_length, truncation=True, padding=True, return_tensors="pt")
    out: dict[str, np.ndarray] = {"input_ids": batch["input_ids"].numpy().astype(np.int64),
                                  "attention_mask": batch["attention_mask"].numpy().astype(np.int64)}

    def keep(name):
        def hook(module, inputs, output):
            out[name] = (output[0] if isinstance(output, tuple) else output).detach().numpy().copy()
        return hook

    hooks = [peer.embeddings.LayerNorm.register_forward_pre_hook(
                 lambda module, inputs: out.__setitem__("embeddings.sum", inputs[0].detach().numpy().copy())),
             peer.embeddings.LayerNorm.register_forward_hook(keep("embeddings.LayerNorm"))]
    for i, layer in enumerate(peer.encoder.layer):
        modules = {"attention.self.query": layer.attention.self.query, "attention.self.key": layer.attention.self.key,
                   "attention.self.value": layer.attention.self.value, "attention.self": layer.attention.self,
                   "attention.output.dense": layer.attention.output.dense,
                   "attention.output.LayerNorm": layer.attention.output.LayerNorm,
                   "intermediate": layer.intermediate, "output.dense": layer.output.dense,
                   "output.LayerNorm": layer.output.LayerNorm}
        hooks += [module.register_forward_hook(keep(f"encoder.layer.{i}.{step}")) for step, module in modules.items()]
    try:
        with torch.no_grad():
            outputs = peer(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")},
                           output_attentions=True)
    finally:
        for hook in hooks:
            hook.remove()
    for i, probs in enumerate(outputs.attentions):
        out[f"encoder.layer.{i}.attention.self.probs"] = probs.numpy()
    out.update(pool_like_sentence_transformers(outputs.last_hidden_state, batch["attention_mask"], model))
    return out


def pool_like_sentence_transformers(hidden, mask, model) -> dict[str, np.ndarray]:
    """Pooling and normalisation in PyTorch, as sentence-transformers' Pooling and Normalize do."""
    import torch

    m = mask[..., None].to(hidden.dtype)
    if model.pooling == "mean":
        pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
    elif model.pooling == "cls":
        pooled = hidden[:, 0]
    else:
        pooled = hidden.masked_fill(m == 0, -1e9).max(dim=1).values
    embedding = torch.nn.functional.normalize(pooled, p=2, dim=1) if model.pipeline.normalize else pooled
    return {"pooled": pooled.numpy(), "embedding": embedding.numpy()}


# ONNX outputs that are trace tensors under another name (as transformers' and
# sentence-transformers' exports call them).
_ONNX_ALIASES = {"token_embeddings": "last", "last_hidden_state": "last", "sentence_embedding": "embedding"}
_HIDDEN_STATE = re.compile(r"hidden_states?[._]?(\d+)")


def onnx_trace(model, texts: list[str], onnx_path: Path) -> dict[str, np.ndarray]:
    """Run an ONNX export of `model` on `texts` (tokenized by minie5) and name what it outputs:
    outputs named like trace tensors are taken as they are; last_hidden_state / token_embeddings
    is the last layer's output, hidden_states.{i} the i-th hidden state, sentence_embedding the
    embedding. Other outputs (a BERT pooler's, say) are left out."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise Minie5Error("--against FILE.onnx needs ONNX Runtime: pip install onnxruntime") from None
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for unreadable models
        raise Minie5Error(f"{onnx_path}: ONNX Runtime cannot load it ({str(e).splitlines()[0]})") from None
    input_ids, attention_mask = pad_batch(model.tokenizer.tokenize(texts), model.config.pad_token_id)
    given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": np.zeros_like(input_ids)}
    feeds = {}
    for spec in session.get_inputs():
        if spec.name not in given:
            raise Minie5Error(f"{onnx_path}: input {spec.name!r} is not one minie5 can give "
                              "(input_ids, attention_mask, token_type_ids)")
        feeds[spec.name] = given[spec.name].astype(np.int32 if "int32" in spec.type else np.int64)
    names = [o.name for o in session.get_outputs()]
    out = {"input_ids": input_ids, "attention_mask": attention_mask}
    last = f"encoder.layer.{model.config.num_hidden_layers - 1}.output.LayerNorm"
    for name, value in zip(names, session.run(names, feeds)):
        hidden = _HIDDEN_STATE.fullmatch(name)
        if hidden:
            i = int(hidden.group(1))
            out["embeddings.LayerNorm" if i == 0 else f"encoder.layer.{i - 1}.output.LayerNorm"] = value
        elif _ONNX_ALIASES.get(name) == "last":
            out[last] = value
        else:
            out[_ONNX_ALIASES.get(name, name)] = value
    if "embedding" not in out and last in out:  # pool its last layer as the model does
        from .. import reference

        pooled = reference.pool(out[last], attention_mask, model.pooling)
        out["pooled"] = pooled
        out["embedding"] = reference.l2_normalize(pooled) if model.pipeline.normalize else pooled
    return out
