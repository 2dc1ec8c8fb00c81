"""Loading a BERT's weights from model.safetensors, strictly, into nested dicts named as in
transformers.

Every tensor the forward pass uses is listed once, by its transformers module path
(`embeddings.word_embeddings.weight`, `encoder.layer.{i}.attention.self.query.weight`, ...), with
the shape `config.json` implies. Loading fails, naming the file and the tensor, when one is missing,
has another shape or is not floating point. The result nests the same names, so the reference
model reads `params["encoder"]["layer"][3]["attention"]["self"]["query"]` and calls
`linear(x, **query)` with that dict's `weight` and `bias`.

Linear weights stay as stored: [out_features, in_features], like torch.nn.Linear, and the
reference computes `x @ weight.T`. That is the only layout question; no tensor is transposed here.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import WeightsError
from .config import BertConfig
from .safetensors_file import SafetensorsFile

# Checkpoints saved from BertForMaskedLM, BertForPreTraining and friends prefix the encoder with
# "bert." (XLMRobertaForMaskedLM: "roberta."); checkpoints of a bare BertModel or XLMRobertaModel
# (e5, all-MiniLM) do not.
PREFIXES = ("bert.", "roberta.", "distilbert.", "mpnet.", "model.")
# Stored but not used to embed, so skipped without a word: registered buffers (position_ids is just
# arange(512)), the pooler (a dense+tanh on [CLS] that mean pooling never reads), and the masked-LM
# and next-sentence heads ("cls.", RoBERTa's "lm_head.") of pre-training checkpoints, and a
# cross-encoder's classification head ("classifier.", read by loading.heads). Anything else unknown
# is reported in a warning, since it may mean the file is not the model its config describes.
# DistilBertForMaskedLM's head is vocab_transform, vocab_layer_norm and vocab_projector; its
# sequence classifier's is pre_classifier and classifier. ModernBertForMaskedLM prefixes the
# encoder with "model." and adds head. and decoder.
IGNORED = re.compile(r"embeddings\.(position_ids|token_type_ids)|pooler\..*|cls\..*|lm_head\..*|classifier\..*"
                     r"|pre_classifier\..*|vocab_(transform|layer_norm|projector)\..*|head\..*|decoder\..*")


def expected_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor the encoder uses, by transformers name, with its shape."""
    H, F = config.hidden_size, config.intermediate_size
    shapes = {
        "embeddings.word_embeddings.weight": (config.vocab_size, H),
        "embeddings.position_embeddings.weight": (config.max_position_embeddings, H),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
    }
    for i in range(config.num_hidden_layers):
        layer = f"encoder.layer.{i}."
        linears = {  # module -> (out_features, in_features)
            "attention.self.query": (H, H),
            "attention.self.key": (H, H),
            "attention.self.value": (H, H),
            "attention.output.dense": (H, H),
            "intermediate.dense": (F, H),
            "output.dense": (H, F),
        }
        for module, (n_out, n_in) in linears.items():
            shapes[layer + module + ".weight"] = (n_out, n_in)
            shapes[layer + module + ".bias"] = (n_out,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[layer + norm + ".weight"] = (H,)
            shapes[layer + norm + ".bias"] = (H,)
    return shapes


TENSORS_PER_LAYER = 16  # 6 linear layers and 2 LayerNorms, each a weight and a bias
EMBEDDING_TENSORS = 5


def check_sizes(file: SafetensorsFile, config: BertConfig) -> None:
    """Hold config.json's sizes against the file's header before anything is built from them: a
    config asking for a billion layers, or a vocabulary the file does not have, fails here at once
    instead of after the expected tensors' names fill memory."""
    needed = EMBEDDING_TENSORS + TENSORS_PER_LAYER * config.num_hidden_layers
    if needed > len(file.tensors):
        raise WeightsError(f"{file.path}: config.json asks for {config.num_hidden_layers} layers ({needed} "
                           f"tensors), but the file holds {len(file.tensors)} tensors")
    by_name = _strip_prefix(file)
    word = by_name.get("embeddings.word_embeddings.weight")
    expected = (config.vocab_size, config.hidden_size)
    if word is not None and file.tensors[word].shape != expected:
        raise WeightsError(f"{file.path}: tensor {word!r} has shape {list(file.tensors[word].shape)}, "
                           f"expected {list(expected)} from config.json")


# Other formats a model folder may hold instead of model.safetensors.
OTHER_WEIGHT_FILES = ("pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json",
                      "tf_model.h5", "flax_model.msgpack", "model.onnx", "onnx/model.onnx")


def weights_file(folder: Path) -> Path:
    """The folder's model.safetensors, or an error saying what is there instead and how to convert it."""
    path = folder / "model.safetensors"
    if path.exists():
        return path
    found = [name for name in OTHER_WEIGHT_FILES if (folder / name).exists()]
    if not found:
        raise WeightsError(f"{path}: no such file (a model directory needs model.safetensors)")
    if found[0].endswith(".index.json"):
        advice = "minie5 reads one model.safetensors; merge the shards"
    else:
        advice = "minie5 reads only safetensors, which cannot run code when loaded"
    raise WeightsError(
        f"{path}: no such file; the folder has {', '.join(found)} instead. {advice}: with transformers "
        f"installed, python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{folder}')"
        f".save_pretrained('{folder}', safe_serialization=True, max_shard_size='10GB')\"")


def load_weights(path: str | Path, config: BertConfig, dtype=np.float32) -> dict:
    """Read every tensor of `expected_shapes(config)` from `path` as `dtype` and nest them."""
    file = SafetensorsFile(path)
    check_sizes(file, config)
    return load_tensors(file, expected_shapes(config), config, dtype)


def load_tensors(file: SafetensorsFile | str | Path, shapes: dict[str, tuple[int, ...]], config,
                 dtype=np.float32) -> dict:
    """Read every tensor of `shapes` (a family's names and shapes) from `file` as `dtype`, nested:
    what every family's weights reader does once it knows its tensors."""
    file = file if isinstance(file, SafetensorsFile) else SafetensorsFile(file)
    if config.num_hidden_layers > len(file.tensors):  # before a billion layers' names fill memory
        raise WeightsError(f"{file.path}: config.json asks for {config.num_hidden_layers} layers, but the file "
                           f"holds {len(file.tensors)} tensors")
    by_name = _strip_prefix(file)

    missing = [name for name in shapes if name not in by_name]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise WeightsError(f"{file.path}: missing tensor{'s' if len(missing) > 1 else ''} {shown} "
                           f"(config.json asks for {config.num_hidden_layers} layers of a "
                           f"{config.model_type} model)")
    unknown = [stored for name, stored in by_name.items()
               if name not in shapes and not IGNORED.fullmatch(name)]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        warnings.warn(f"{file.path}: ignoring {len(unknown)} tensor(s) the encoder does not use: {shown}",
                      stacklevel=2)

    flat = {}
    for name, shape in shapes.items():
        stored = by_name[name]
        info = file.tensors[stored]
        if info.shape != shape:
            raise WeightsError(f"{file.path}: tensor {stored!r} has shape {list(info.shape)}, expected "
                               f"{list(shape)} from config.json")
        flat[name] = file.float_tensor(stored, dtype)
        if not np.isfinite(flat[name]).all():
            raise WeightsError(f"{file.path}: tensor {stored!r} contains NaN or infinite values")
    return nest(flat)


def _strip_prefix(file: SafetensorsFile) -> dict[str, str]:
    """Map canonical names (no "bert." prefix) to the names stored in the file."""
    by_name: dict[str, str] = {}
    for stored in file.tensors:
        name = next((stored[len(p):] for p in PREFIXES if stored.startswith(p)), stored)
        if name in by_name:
            raise WeightsError(f"{file.path}: tensor {name!r} is stored twice, as {by_name[name]!r} "
                               f"and {stored!r}")
        by_name[name] = stored
    return by_name


def nest(flat: dict[str, np.ndarray]) -> dict:
    """{"encoder.layer.0.output.dense.weight": w} -> {"encoder": {"layer": [{"output": {...}}]}}.
    Numbered components become list positions, so layers can be iterated in order."""
    root: dict = {}
    for name, value in flat.items():
        node = root
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _lists_for_numbered_keys(root)


def _lists_for_numbered_keys(node):
    if not isinstance(node, dict):
        return node
    node = {key: _lists_for_numbered_keys(child) for key, child in node.items()}
    if node and all(key.isdigit() for key in node):
        return [node[str(i)] for i in range(len(node))]
    return node
