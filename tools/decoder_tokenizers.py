"""Build the small tokenizers of the decoder-family golden tests, of the kinds the real models use,
with the `tokenizers` library, and write them to tests/decoders/golden/:

    bpe/        Qwen3-Embedding's kind: byte-level BPE (GPT-2's byte-to-unicode alphabet, so every
                byte sequence has a spelling and nothing is unknown), trained here on CORPUS, with
                Qwen's special tokens after the merges and "$A <|endoftext|>" as the template:
                Qwen3-Embedding's tokenizer ends every text with <|endoftext|>, whose final state
                is the embedding (last-token pooling). tokenizer_config.json pads on the left, as
                the model's does.
    unigram/    EmbeddingGemma's kind: a SentencePiece Unigram model (spaces as "▁", no
                pre-tokenizer splitting, byte fallback), with Gemma's ids <pad>=0, <eos>=1,
                <bos>=2, <unk>=3, and "<bos> $A <eos>" as the template. Its pieces and scores are
                tests/golden/unigram's (tools/unigram_tokenizer.py, trained with sentencepiece).

The files are committed, so the tests never depend on a trainer giving the same pieces twice.

Run:  python tools/decoder_tokenizers.py
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "decoders" / "golden"
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
BPE_VOCAB = 700
GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]

CORPUS = """\
The river rises in the hills north of the town and reaches the sea after forty miles.
How much protein should a woman eat every day, and does it change during pregnancy?
Instruct: Given a web search query, retrieve relevant passages that answer the query
Query: what is the capital of France? Paris is the capital and largest city of France.
Rotary position embeddings turn each query and key by an angle proportional to its position.
A decoder model reads the text left to right; its last token has seen every other token.
Le fleuve prend sa source dans les collines au nord de la ville et rejoint la mer.
Der Fluss entspringt in den Hügeln nördlich der Stadt und erreicht das Meer.
El río nace en las colinas al norte del pueblo y llega al mar.
Река берёт начало в холмах к северу от города. 河流发源于城镇北部的丘陵。 def main(): return 42
"""


def bpe_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(CORPUS.splitlines() * 4, trainer)
    tokenizer.add_special_tokens(QWEN_SPECIALS)  # after the merges, as Qwen's vocabulary has them
    eos = tokenizer.token_to_id("<|endoftext|>")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>",
                                                             pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
                                                             special_tokens=[("<|endoftext|>", eos)])
    return tokenizer


def unigram_tokenizer() -> Tokenizer:
    source = json.loads((REPO / "tests" / "golden" / "unigram" / "tokenizer.json").read_text(encoding="utf-8"))
    pieces = [(p, s) for p, s in source["model"]["vocab"] if p not in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")]
    vocab = [(token, 0.0) for token in GEMMA_SPECIALS] + pieces
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=GEMMA_SPECIALS.index("<unk>"), byte_fallback=False))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")  # Gemma: no NFKC, spaces kept as "▁"
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse()])
    tokenizer.add_special_tokens(GEMMA_SPECIALS)
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>", pair="<bos> $A <eos> $B <eos>",
                                                             special_tokens=[("<bos>", 2), ("<eos>", 1)])
    return tokenizer


def write(tokenizer: Tokenizer, folder: Path, config: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    write(bpe_tokenizer(), OUT / "bpe", {
        "tokenizer_class": "PreTrainedTokenizerFast", "padding_side": "left", "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>", "model_max_length": 32768})
    write(unigram_tokenizer(), OUT / "unigram", {
        "tokenizer_class": "PreTrainedTokenizerFast", "padding_side": "right", "bos_token": "<bos>",
        "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>", "model_max_length": 2048})
    for kind in ("bpe", "unigram"):
        size = Tokenizer.from_file(str(OUT / kind / "tokenizer.json")).get_vocab_size()
        print(f"{OUT / kind}: {size} tokens")


if __name__ == "__main__":
    main()
