"""Decoder-family embedders with seeded random weights, rebuilt without torch, for the golden tests
of tests/decoders/ (the real weights install from no package registry).

    qwen3-embedding-random   Qwen3-Embedding-0.6B's layer shapes (hidden 1024, 16 query heads,
                             8 key/value heads, head size 128, feed-forward 3072, rope_theta 1e6)
                             with 2 of its 28 layers and the byte-level BPE of
                             tests/decoders/golden/bpe; last-token pooling, Normalize, the model
                             card's query instruction as a prompt; padding on the left
    qwen3-reranker-random    Qwen3-Reranker-0.6B's: the same layers as a Qwen3ForCausalLM (names
                             prefixed "model.", the head tied to embed_tokens), its tokenizer the
                             BPE without the <|endoftext|> template and with "yes" and "no" added
    embeddinggemma-random    EmbeddingGemma-300m's layer shapes (hidden 768, 3 query heads, 1
                             key/value head, head size 256, feed-forward 1152, query_pre_attn_scalar
                             256, bidirectional) with 2 of its 24 layers, one sliding-window and one
                             global, the window cut to 8 tokens so that the test texts cross it;
                             the Unigram tokenizer of tests/decoders/golden/unigram; mean pooling,
                             then Dense 768 -> 3072 and Dense 3072 -> 768 (no bias, identity), then
                             Normalize, as its modules.json has them

Weights come from `numpy.random.RandomState` (a stream NumPy keeps fixed, NEP 19); norms are drawn
far from their neutral value (1 for Qwen3's, 0 for Gemma's 1 + weight) so that a mistake in any of
them shows. `tools/make_decoder_golden.py` feeds these folders to transformers and
sentence-transformers; the tests feed them to minie5 and check the digest.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent.parent / "decoders" / "golden"
QWEN_QUERY_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"

QWEN3_EMBEDDING_CONFIG = {  # Qwen/Qwen3-Embedding-0.6B's config.json, 2 layers, the test vocabulary
    "architectures": ["Qwen3Model"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 672,
    "eos_token_id": 672, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
    "intermediate_size": 3072, "max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 2, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True, "use_cache": True,
    "use_sliding_window": False, "vocab_size": 675, "pad_token_id": 672,
}
EMBEDDINGGEMMA_CONFIG = {  # google/embeddinggemma-300m's config.json, 2 layers, window 8, the test vocabulary
    "architectures": ["Gemma3TextModel"], "attention_bias": False, "attention_dropout": 0.0,
    "attn_logit_softcapping": None, "bos_token_id": 2, "eos_token_id": 1, "final_logit_softcapping": None,
    "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 768, "initializer_range": 0.02,
    "intermediate_size": 1152, "layer_types": ["sliding_attention", "full_attention"],
    "max_position_embeddings": 2048, "model_type": "gemma3_text", "num_attention_heads": 3,
    "num_hidden_layers": 2, "num_key_value_heads": 1, "pad_token_id": 0, "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000.0, "rope_theta": 1000000.0, "sliding_window": 8,
    "use_bidirectional_attention": True, "vocab_size": 548,
}
QWEN3_RERANKER_CONFIG = {  # Qwen/Qwen3-Reranker-0.6B's: a Qwen3ForCausalLM, its head tied to embed_tokens
    **QWEN3_EMBEDDING_CONFIG, "architectures": ["Qwen3ForCausalLM"], "vocab_size": 677,
}
MODELS = {  # name -> (config, seed, tokenizer folder)
    "qwen3-embedding-random": (QWEN3_EMBEDDING_CONFIG, 31, "bpe"),
    "embeddinggemma-random": (EMBEDDINGGEMMA_CONFIG, 32, "unigram"),
}
RERANKERS = {"qwen3-reranker-random": (QWEN3_RERANKER_CONFIG, 33, "bpe")}
GEMMA_DENSE = ((768, 3072), (3072, 768))  # EmbeddingGemma's two Dense modules: (in, out)


def random_weights(config: dict, seed: int) -> dict[str, np.ndarray]:
    """Float32 weights for a Qwen3Model or Gemma3TextModel of `config`, under transformers' names."""
    rng = np.random.RandomState(seed)
    H, F, D = config["hidden_size"], config["intermediate_size"], config["head_dim"]
    N, Nkv = config["num_attention_heads"], config["num_key_value_heads"]
    gemma = config["model_type"] == "gemma3_text"

    def linear(n_out, n_in, gain=1.0):  # gain / sqrt(n_in): outputs near `gain` times the inputs' scale
        return (rng.standard_normal((n_out, n_in)) * (gain / np.sqrt(n_in))).astype(np.float32)

    def norm(n):  # scales of either sign in [0.5, 2] (Gemma stores them as scale - 1)
        scale = np.where(rng.uniform(size=n) < 0.2, -1.0, 1.0) * rng.uniform(0.5, 2.0, n)
        return (scale - 1.0 if gemma else scale).astype(np.float32)

    # Small word vectors for Gemma (scaled up by sqrt(H)) and for a tied yes/no head (its logits are
    # final states times word vectors: small ones keep the scores off 0 and 1).
    tied_head = config["architectures"][0].endswith("ForCausalLM")
    embed_std = 0.05 if gemma or tied_head else 1.0
    w = {"embed_tokens.weight": (rng.standard_normal((config["vocab_size"], H)) * embed_std).astype(np.float32),
         "norm.weight": norm(H)}
    norms = ["input_layernorm", "post_attention_layernorm"]
    norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"] if gemma else []
    for i in range(config["num_hidden_layers"]):
        p = f"layers.{i}."
        w[p + "self_attn.q_proj.weight"] = linear(N * D, H)
        w[p + "self_attn.k_proj.weight"] = linear(Nkv * D, H)
        w[p + "self_attn.v_proj.weight"] = linear(Nkv * D, H)
        w[p + "self_attn.o_proj.weight"] = linear(H, N * D, 0.5)
        w[p + "self_attn.q_norm.weight"] = norm(D)
        w[p + "self_attn.k_norm.weight"] = norm(D)
        w[p + "mlp.gate_proj.weight"] = linear(F, H, 1.5)  # gates across the activation's curved region
        w[p + "mlp.up_proj.weight"] = linear(F, H)
        w[p + "mlp.down_proj.weight"] = linear(H, F, 0.5)
        for name in norms:
            w[p + name + ".weight"] = norm(H)
    return w


def dense_weights(seed: int) -> list[np.ndarray]:
    rng = np.random.RandomState(seed + 1000)
    return [(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32) for n_in, n_out in GEMMA_DENSE]


def weights_digest(weights: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, shapes and bytes, in name order: the same digest means the same weights."""
    h = hashlib.sha256()
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name], dtype="<f4")
        h.update(f"{name}{list(array.shape)}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def _json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def build_reranker(name: str, directory: str | Path) -> str:
    """Write the random yes/no reranker `name` of RERANKERS into `directory`; returns its digest."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer

    config, seed, tokenizer_folder = RERANKERS[name]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer.from_file(str(GOLDEN / tokenizer_folder / "tokenizer.json"))
    tokenizer.post_processor = None  # the reranker's tokenizer adds nothing: the prompt is the template
    tokenizer.add_tokens(["yes", "no"])
    assert tokenizer.get_vocab_size() == config["vocab_size"]
    tokenizer.save(str(directory / "tokenizer.json"))
    shutil.copyfile(GOLDEN / tokenizer_folder / "tokenizer_config.json", directory / "tokenizer_config.json")
    weights = {"model." + name: value for name, value in random_weights(config, seed).items()}
    _json(directory / "config.json", config)
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    return weights_digest(weights)


def build(name: str, directory: str | Path) -> str:
    """Write the random model `name` of MODELS into `directory` in Hugging Face and
    sentence-transformers layout; returns the weights' digest."""
    from safetensors.numpy import save_file

    if name in RERANKERS:
        return build_reranker(name, directory)
    config, seed, tokenizer = MODELS[name]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = random_weights(config, seed)
    _json(directory / "config.json", config)
    save_file(weights, str(directory / "model.safetensors"), metadata={"format": "pt"})
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(GOLDEN / tokenizer / file, directory / file)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if config["model_type"] == "qwen3":
        pooling = "lasttoken"
        prompts = {"query": QWEN_QUERY_PROMPT, "document": ""}
        max_seq_length = 8192
    else:
        pooling = "mean"
        prompts = {"query": "task: search result | query: ", "document": "title: none | text: "}
        max_seq_length = 2048
        for i, (n_in, n_out) in enumerate(GEMMA_DENSE):
            folder = f"{i + 2}_Dense"
            modules.append({"idx": i + 2, "name": str(i + 2), "path": folder,
                            "type": "sentence_transformers.models.Dense"})
            _json(directory / folder / "config.json", {"in_features": n_in, "out_features": n_out, "bias": False,
                                                       "activation_function": "torch.nn.modules.linear.Identity"})
            dense = dense_weights(seed)[i]
            save_file({"linear.weight": dense}, str(directory / folder / "model.safetensors"))
            weights[f"{folder}.linear.weight"] = dense
    modules.append({"idx": len(modules), "name": str(len(modules)), "path": f"{len(modules)}_Normalize",
                    "type": "sentence_transformers.models.Normalize"})
    (directory / modules[-1]["path"]).mkdir(exist_ok=True)
    _json(directory / "modules.json", modules)
    _json(directory / "1_Pooling" / "config.json", {
        "word_embedding_dimension": config["hidden_size"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": pooling == "lasttoken", "include_prompt": True})
    _json(directory / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False})
    _json(directory / "config_sentence_transformers.json", {"prompts": prompts, "default_prompt_name": None,
                                                            "similarity_fn_name": "cosine"})
    return weights_digest(weights)
