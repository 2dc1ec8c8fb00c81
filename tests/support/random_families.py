"""Encoder families beside BERT with seeded random weights, rebuilt without torch, for their golden
tests (tests/families/), as random_bert.py does for BERT and XLM-R.

Each model has its family's real layer shapes (the width, heads, feed-forward, epsilon and
position table of the model it mirrors) with fewer layers, and a small tokenizer of the family's
kind built by `tokenizers` (tools/make_family_goldens.py --tokenizers, committed under
tests/golden/families/): byte-level BPE for RoBERTa and ModernBERT, SentencePiece Unigram for CamemBERT (XLM-R's
of tests/golden/unigram), WordPiece for DistilBERT and MPNet.

The weights are drawn by tensor name from minie5's own list of the family's tensors; the golden
tool loads them into transformers' class and refuses any name it does not recognise or lacks, so
a wrong name cannot pass unnoticed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tests.support.random_bert import weights_digest

FAMILY_GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "families"
TOKENIZERS = FAMILY_GOLDEN / "tokenizers"
LAYERS = 2

# roberta-base's config.json with 2 of its 12 layers and the small byte-level BPE vocabulary.
ROBERTA_CONFIG = {
    "architectures": ["RobertaModel"], "model_type": "roberta", "hidden_act": "gelu", "hidden_size": 768,
    "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": LAYERS, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
    "position_embedding_type": "absolute", "vocab_size": 0,
}
# camembert-base's: RoBERTa's shapes with a SentencePiece vocabulary.
CAMEMBERT_CONFIG = {**ROBERTA_CONFIG, "architectures": ["CamembertModel"], "model_type": "camembert"}
# distilbert-base-uncased's, 2 of its 6 layers.
DISTILBERT_CONFIG = {
    "architectures": ["DistilBertModel"], "model_type": "distilbert", "activation": "gelu", "dim": 768,
    "hidden_dim": 3072, "n_heads": 12, "n_layers": LAYERS, "max_position_embeddings": 512, "pad_token_id": 0,
    "sinusoidal_pos_embds": False, "vocab_size": 0,
}
# sentence-transformers/all-mpnet-base-v2's, 2 of its 12 layers.
MPNET_CONFIG = {
    "architectures": ["MPNetModel"], "model_type": "mpnet", "hidden_act": "gelu", "hidden_size": 768,
    "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": LAYERS, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514, "relative_attention_num_buckets": 32, "pad_token_id": 1, "bos_token_id": 0,
    "eos_token_id": 2, "vocab_size": 0,
}
# all-mpnet-base-v2's sentence-transformers files: mean pooling, then Normalize; 384 tokens.
MPNET_ST_FILES = {
    "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                     {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                     {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
    "sentence_bert_config.json": {"max_seq_length": 384, "do_lower_case": False},
    "1_Pooling/config.json": {"word_embedding_dimension": 768, "pooling_mode_cls_token": False,
                              "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                              "pooling_mode_mean_sqrt_len_tokens": False},
}
# answerdotai/ModernBERT-base's, 3 of its 22 layers: global, sliding, sliding.
MODERNBERT_CONFIG = {
    "architectures": ["ModernBertModel"], "model_type": "modernbert", "hidden_activation": "gelu", "hidden_size": 768,
    "intermediate_size": 1152, "num_attention_heads": 12, "num_hidden_layers": 3, "norm_eps": 1e-05,
    "norm_bias": False, "attention_bias": False, "mlp_bias": False, "max_position_embeddings": 8192,
    "global_rope_theta": 160000.0, "local_rope_theta": 10000.0, "local_attention": 128,
    "global_attn_every_n_layers": 3, "pad_token_id": 0, "cls_token_id": 2, "sep_token_id": 3, "bos_token_id": 2,
    "eos_token_id": 3, "vocab_size": 0,
}
# nomic-ai/nomic-embed-text-v1.5's, in transformers' NomicBertConfig names, 2 of its 12 layers; its
# tensors under nomic's own names (as its model.safetensors has them); its prompts and pipeline.
NOMIC_CONFIG = {
    "architectures": ["NomicBertModel"], "model_type": "nomic_bert", "hidden_act": "silu", "hidden_size": 768,
    "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": LAYERS, "layer_norm_eps": 1e-12,
    "max_position_embeddings": 2048, "type_vocab_size": 2, "pad_token_id": 0,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000.0}, "vocab_size": 0,
}
NOMIC_ST_FILES = {
    **{name: content for name, content in MPNET_ST_FILES.items() if name != "sentence_bert_config.json"},
    "sentence_bert_config.json": {"max_seq_length": 8192, "do_lower_case": False},
    "config_sentence_transformers.json": {"prompts": {"query": "search_query: ", "document": "search_document: "},
                                          "default_prompt_name": None, "similarity_fn_name": "cosine"},
}
UNIGRAM = Path(__file__).resolve().parents[1] / "golden" / "unigram"
# name -> (config, seed, tokenizer folder, extra sentence-transformers files)
FAMILY_MODELS = {
    "roberta-random": (ROBERTA_CONFIG, 21, TOKENIZERS / "byte-bpe", {}),
    "camembert-random": (CAMEMBERT_CONFIG, 22, UNIGRAM, {}),
    "distilbert-random": (DISTILBERT_CONFIG, 23, TOKENIZERS / "wordpiece-bert", {}),
    "mpnet-random": (MPNET_CONFIG, 24, TOKENIZERS / "wordpiece-mpnet", MPNET_ST_FILES),
    "modernbert-random": (MODERNBERT_CONFIG, 25, TOKENIZERS / "byte-bpe-bert", {}),
    "nomic-random": (NOMIC_CONFIG, 26, TOKENIZERS / "wordpiece-bert", NOMIC_ST_FILES),
}


def vocab_size(tokenizer_dir: Path) -> int:
    import tokenizers

    return tokenizers.Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab_size(True)


def config_of(name: str) -> dict:
    config, _, tokenizer_dir, _ = FAMILY_MODELS[name]
    return {**config, "vocab_size": vocab_size(tokenizer_dir)}


def random_weights(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Float32 weights for every tensor of `shapes`, drawn in its order, scaled as random_bert's:
    peaked attention (query and key gain 1.5), feed-forwards in GELU's curved region, norm gains
    of either sign in [0.5, 2] and biases in [-1, 1], far from (1, 0)."""
    rng = np.random.RandomState(seed)
    weights = {}
    for name, shape in shapes.items():
        norm = "norm" in name.lower() or "_ln" in name
        if norm and name.endswith(".weight"):
            sign = np.where(rng.uniform(size=shape) < 0.2, -1.0, 1.0)
            value = sign * rng.uniform(0.5, 2.0, shape)
        elif norm:
            value = rng.uniform(-1.0, 1.0, shape)
        elif name.endswith(".bias"):
            value = rng.standard_normal(shape) * 0.2
        elif "relative_attention_bias" in name:
            value = rng.standard_normal(shape) * 1.0  # a bias of about one unit of score per bucket
        elif "embeddings" in name:
            value = rng.standard_normal(shape) * (0.5 if "word" in name else 0.3)
        else:
            gain = 1.5 if name.rsplit(".", 2)[-2] in ("q", "k", "query", "key", "q_lin", "k_lin") else 1.0
            value = rng.standard_normal(shape) * gain / np.sqrt(shape[1])
        weights[name] = value.astype(np.float32)
    return weights


def build(name: str, directory: str | Path) -> str:
    """Write the random model `name` into `directory` (config.json, model.safetensors, the
    tokenizer, any sentence-transformers files); returns the weights' digest."""
    from safetensors.numpy import save_file

    from minie5 import families

    config, seed, tokenizer_dir, st_files = FAMILY_MODELS[name]
    config = config_of(name)
    family = families.family_for(config["model_type"])
    weights = random_weights(family.shapes(family.config.from_dict(config)), seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir / file, directory / file)
    for file, content in st_files.items():
        (directory / file).parent.mkdir(parents=True, exist_ok=True)
        (directory / file).write_text(json.dumps(content, indent=2) + "\n")
    return weights_digest(weights)
