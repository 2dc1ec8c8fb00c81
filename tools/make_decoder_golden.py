"""Golden outputs of the decoder-family embedders from transformers and sentence-transformers, written to
tests/decoders/golden/<name>.npz and <name>.json, for the random models of
tests/support/random_decoder.py (Qwen3-Embedding's and EmbeddingGemma's layer shapes).

    <name>.npz   input_ids, lengths     HIDDEN_TEXTS' token ids (the model's tokenizer), concatenated
                 hidden_states          [L+1, n_tokens, H]: the word vectors and every layer's output
                                        (the last after the final norm), from transformers' model class
                                        (Qwen3Model, Gemma3TextModel; eager attention) on one
                                        right-padded batch, at real tokens only
                 embeddings             [n_texts, dim]: sentence-transformers' SentenceTransformer
                                        loading the same folder, encode(TEXTS) (its batching and
                                        padding side, its pooling, Dense and Normalize modules)
                 query_embeddings       [n_queries, dim]: encode(QUERIES, prompt_name="query")
    <name>.json  the texts, the library versions, the seed and the weights' digest

For the yes/no reranker (qwen3-reranker-random), <name>.npz holds `scores` and `yes_minus_no` of
PAIRS, computed as the Qwen3-Reranker model card does with Qwen3ForCausalLM: prefix + the pair's
instruction/query/document text + suffix, left-padded, the last position's "yes" and "no" logits,
log_softmax, exp.

Run (needs torch, transformers, sentence-transformers):  python tools/make_decoder_golden.py [names...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# transformers 5 asks the `kernels` package for hub kernels on every from_pretrained; none are wanted here.
os.environ.setdefault("USE_HUB_KERNELS", "0")

from tests.support import random_decoder  # noqa: E402

OUT = REPO / "tests" / "decoders" / "golden"
HIDDEN_TEXTS = ["The river rises in the hills north of the town.",
                "How much protein should a woman eat every day, and does it change during pregnancy?",
                "Paris", "Rotary positions turn each query and key by an angle."]
TEXTS = HIDDEN_TEXTS + ["Le fleuve prend sa source dans les collines au nord de la ville et rejoint la mer.",
                        "A decoder model reads the text left to right.", "Река берёт начало в холмах."]
QUERIES = ["what is the capital of France?", "how much protein per day"]


def hidden_states(folder: Path, ids: list[list[int]], pad_id: int) -> np.ndarray:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
    T = max(map(len, ids))
    input_ids = torch.full((len(ids), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), T), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = 1
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
    real = mask.bool()
    return np.stack([state[real].numpy() for state in out.hidden_states])


def make(name: str) -> None:
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    config, seed, _ = random_decoder.MODELS[name]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        digest = random_decoder.build(name, folder)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        ids = [tokenizer.encode(text).ids for text in HIDDEN_TEXTS]
        states = hidden_states(folder, ids, config["pad_token_id"])
        st = SentenceTransformer(str(folder), device="cpu", model_kwargs={"attn_implementation": "eager"})
        embeddings = st.encode(TEXTS, batch_size=4, convert_to_numpy=True)
        queries = st.encode(QUERIES, prompt_name="query", batch_size=4, convert_to_numpy=True)
    np.savez_compressed(OUT / f"{name}.npz", input_ids=np.concatenate(ids), lengths=np.array(list(map(len, ids))),
                        hidden_states=states.astype(np.float32), embeddings=embeddings.astype(np.float32),
                        query_embeddings=queries.astype(np.float32))
    (OUT / f"{name}.json").write_text(json.dumps({
        "model": name, "seed": seed, "weights_digest": digest, "hidden_texts": HIDDEN_TEXTS, "texts": TEXTS,
        "queries": QUERIES, "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                         "sentence_transformers": sentence_transformers.__version__},
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{name}: {states.shape[0]} hidden states of {states.shape[1]} tokens, embeddings {embeddings.shape}")


PAIRS = [("what is the capital of France?", "Paris is the capital and largest city of France."),
         ("what is the capital of France?", "The river rises in the hills north of the town."),
         ("how much protein per day", "How much protein should a woman eat every day?"),
         ("rotary positions", "Rotary positions turn each query and key by an angle.")]


def make_reranker(name: str) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from minie5.causal_reranker import PREFIX, SUFFIX, pair_text

    config, seed, _ = random_decoder.RERANKERS[name]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        digest = random_decoder.build(name, folder)
        tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32).eval()
        prefix = tokenizer.encode(PREFIX, add_special_tokens=False)
        suffix = tokenizer.encode(SUFFIX, add_special_tokens=False)
        inputs = tokenizer([pair_text(q, d) for q, d in PAIRS], padding=False, truncation="longest_first",
                           return_attention_mask=False, add_special_tokens=False,
                           max_length=8192 - len(prefix) - len(suffix))
        inputs["input_ids"] = [prefix + ids + suffix for ids in inputs["input_ids"]]
        inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt")
        yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
        with torch.no_grad():
            logits = model(**inputs).logits[:, -1, :]
        both = torch.stack([logits[:, no], logits[:, yes]], dim=1)
        scores = torch.nn.functional.log_softmax(both, dim=1)[:, 1].exp().numpy()
    np.savez_compressed(OUT / f"{name}.npz", scores=scores.astype(np.float64),
                        yes_minus_no=(logits[:, yes] - logits[:, no]).numpy().astype(np.float64))
    (OUT / f"{name}.json").write_text(json.dumps({
        "model": name, "seed": seed, "weights_digest": digest, "pairs": PAIRS,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{name}: scores {np.round(scores, 4)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [*random_decoder.MODELS, *random_decoder.RERANKERS]
    parser.add_argument("names", nargs="*", default=names, choices=names)
    for name in parser.parse_args().names:
        (make_reranker if name in random_decoder.RERANKERS else make)(name)


if __name__ == "__main__":
    main()
