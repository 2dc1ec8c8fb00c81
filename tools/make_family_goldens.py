"""Golden outputs of the encoder families beside BERT, from transformers' own classes, into
tests/golden/families/ (as tools/make_golden.py does for BERT and XLM-R, whose `compute` runs here).

    --tokenizers   first (re)build the small tokenizers of each family's kind with `tokenizers`,
                   trained on the fixture texts, into tests/golden/families/tokenizers/:
                     byte-bpe         RoBERTa's byte-level BPE (<s> </s>, RobertaProcessing)
                     byte-bpe-bert    ModernBERT's: byte-level BPE with [CLS] [SEP]
                     wordpiece-bert   BERT's uncased WordPiece ([CLS] [SEP]), as DistilBERT's
                     wordpiece-mpnet  MPNet's: the same WordPiece with <s> ... </s>
    models         tests/support/random_families.FAMILY_MODELS: each built with seeded random
                   weights, loaded by transformers' AutoModel, every tensor it holds checked to be
                   the one minie5 reads under that name (and no other), and run on the fixture texts;
                   where the model has sentence-transformers files, SentenceTransformer's vectors too

The WordPiece trainer of `tokenizers` is not deterministic from run to run: the committed
tokenizers are the reference, and rebuilding them means rerunning every golden.

Run (needs the `reference` extra): python tools/make_family_goldens.py [--tokenizers] [--models ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

# transformers 5 swaps in kernels from the Hugging Face hub by default; the goldens must be its own
# PyTorch modules (and nothing downloads here).
os.environ.setdefault("USE_HUB_KERNELS", "NO")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support import random_families  # noqa: E402
from tools import make_golden  # noqa: E402

VOCAB = 600  # pieces per trained tokenizer: enough for whole words of the fixture texts to appear


def corpus() -> list[str]:
    return make_golden.TEXTS + [t for pair in make_golden.PAIRS for t in pair]


def write_tokenizer(tokenizer, folder: Path, specials: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, **specials}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def build_tokenizers() -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    roberta_specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus(), trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=roberta_specials,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=False)
    named = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
             "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    write_tokenizer(bpe, random_families.TOKENIZERS / "byte-bpe", named)

    # ModernBERT's kind: byte-level BPE (OLMo's) wrapped as [CLS] ... [SEP].
    bert_specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus(), trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=bert_specials,
                                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    write_tokenizer(bpe, random_families.TOKENIZERS / "byte-bpe-bert",
                    {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                     "mask_token": "[MASK]"})

    for folder, specials, cls, sep, pad, unk, mask in (
            ("wordpiece-bert", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "[CLS]", "[SEP]", "[PAD]", "[UNK]",
             "[MASK]"),
            ("wordpiece-mpnet", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], "<s>", "</s>", "<pad>", "<unk>",
             "<mask>")):
        wordpiece = Tokenizer(models.WordPiece(unk_token=unk))
        wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
        wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        wordpiece.decoder = decoders.WordPiece()
        wordpiece.train_from_iterator(corpus(), trainers.WordPieceTrainer(vocab_size=VOCAB, special_tokens=specials))
        ids = {token: wordpiece.token_to_id(token) for token in (cls, sep)}
        wordpiece.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1" if cls == "[CLS]" else
            f"{cls} $A {sep} {sep} $B {sep}", special_tokens=list(ids.items()))
        write_tokenizer(wordpiece, random_families.TOKENIZERS / folder,
                        {"cls_token": cls, "sep_token": sep, "pad_token": pad, "unk_token": unk, "mask_token": mask,
                         **({"bos_token": cls, "eos_token": sep} if cls == "<s>" else {})})
    print(f"wrote tokenizers under {random_families.TOKENIZERS}")


def check_same_weights(model_dir: Path) -> None:
    """Every tensor transformers' model holds is, under its name, the array minie5's reader gives
    (after the family's renames), and minie5 reads nothing more: the two read the same model."""
    import numpy as np
    from transformers import AutoModel

    from minie5 import families

    config = families.read_config(model_dir / "config.json")
    params = families.family_of(config).weights(model_dir / "model.safetensors", config, np.float32)
    matched = 0
    for name, tensor in AutoModel.from_pretrained(str(model_dir)).state_dict().items():
        if name.startswith("pooler.") or name.endswith("position_ids"):
            continue
        node = params
        for part in name.split("."):
            node = node[int(part)] if isinstance(node, list) else node.get(part) if node is not None else None
        if node is None or not np.array_equal(node, tensor.numpy()):
            raise SystemExit(f"{model_dir}: transformers' {name} is not what minie5 reads under that name")
        matched += 1
    leaves = sum(1 for _ in _leaves(params))
    if matched != leaves:
        raise SystemExit(f"{model_dir}: minie5 reads {leaves} tensors, transformers holds {matched} of them")


def _leaves(node):
    if isinstance(node, dict):
        for child in node.values():
            yield from _leaves(child)
    elif isinstance(node, list):
        for child in node:
            yield from _leaves(child)
    else:
        yield node


def sentence_transformers_vectors(model_dir: Path) -> dict:
    """What sentence-transformers' SentenceTransformer gives for the fixture texts from the model's
    own modules.json, sentence_bert_config.json and prompts: plainly, and with its "query" prompt
    where the model declares one."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    out = {"st_embeddings": np.asarray(model.encode(make_golden.TEXTS, batch_size=4), dtype=np.float32)}
    if "query" in model.prompts:
        out["st_query_embeddings"] = np.asarray(model.encode(make_golden.TEXTS, prompt_name="query", batch_size=4),
                                                dtype=np.float32)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = list(random_families.FAMILY_MODELS)
    parser.add_argument("--models", nargs="+", default=names, choices=names)
    parser.add_argument("--tokenizers", action="store_true", help="rebuild the small tokenizers first")
    args = parser.parse_args()
    if args.tokenizers:
        build_tokenizers()
    make_golden.GOLDEN = random_families.FAMILY_GOLDEN
    for name in args.models:
        config, seed, _, _ = random_families.FAMILY_MODELS[name]
        with tempfile.TemporaryDirectory() as tmp:
            digest = random_families.build(name, tmp)
            check_same_weights(Path(tmp))
            result = make_golden.compute(Path(tmp))
            if (Path(tmp) / "modules.json").is_file():
                result.update(sentence_transformers_vectors(Path(tmp)))
            make_golden.write(name, result,
                              {"name": f"{name}: {config['architectures'][0]}, {random_families.LAYERS} layers, "
                                       "random weights", "seed": seed, "weights_sha256": digest})
    return 0


if __name__ == "__main__":
    sys.exit(main())
