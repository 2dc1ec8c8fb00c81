"""BERT's tokenizer, readable: text -> word pieces -> ids, as the tokenizers library runs the
pipeline a BERT `tokenizer.json` describes (BertNormalizer, BertPreTokenizer, WordPiece, and the
[CLS] ... [SEP] template). The engine keeps using the tokenizers library, which is fast; this is
the specification, tested equal to it (tests/reference/test_wordpiece.py).

    "Héllo, 世界!"
      normalise     drop control characters, spaces around CJK characters, accents off, lower case
                    -> "hello,  世  界 !"
      pre-tokenise  split at whitespace, and around every punctuation character
                    -> ["hello", ",", "世", "界", "!"]
      word pieces   each word, greedily, longest vocabulary entry first; pieces after the first
                    carry "##"; a word with no split into known pieces is [UNK]
                    -> ["hello", ",", "世", "界", "!"]  ("embeddings" -> ["em", "##bed", "##ding", "##s"])
      template      [CLS] pieces [SEP], cut to max_length tokens
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

# The CJK Unified Ideographs blocks BERT puts spaces around (Devlin et al.'s tokenization.py list):
# each such character becomes a word of its own.
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
              (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


class WordPiece:
    """A BERT tokenizer.json's vocabulary and normaliser options, and the steps above."""

    def __init__(self, path: str | Path, max_length: int = 512):
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
        model, normalizer = spec["model"], spec.get("normalizer") or {}
        if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer":
            raise ValueError(f"{path}: not a BERT WordPiece tokenizer (model {model.get('type')!r}, "
                             f"normalizer {normalizer.get('type')!r})")
        self.vocab: dict[str, int] = model["vocab"]
        self.unk, self.prefix = model["unk_token"], model["continuing_subword_prefix"]
        self.max_word_chars = model["max_input_chars_per_word"]
        self.lowercase = normalizer.get("lowercase", True)
        strip = normalizer.get("strip_accents")
        self.strip_accents = self.lowercase if strip is None else strip  # None: as lowercase is
        self.clean_text = normalizer.get("clean_text", True)
        self.chinese_chars = normalizer.get("handle_chinese_chars", True)
        self.max_length = max_length

    def normalize(self, text: str) -> str:
        if self.clean_text:  # control characters out, every whitespace a plain space
            text = "".join(" " if _is_whitespace(c) else c for c in text
                           if not (c in "\x00\ufffd" or _is_control(c)))
        if self.chinese_chars:
            text = "".join(f" {c} " if _is_cjk(c) else c for c in text)
        if self.strip_accents:  # decompose, then drop the combining marks: "é" -> "e" + U+0301 -> "e"
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        return text.lower() if self.lowercase else text

    @staticmethod
    def pre_tokenize(text: str) -> list[str]:
        """Words: runs of characters between whitespace, each punctuation character on its own."""
        words, word = [], ""
        for c in text:
            if c.isspace() or _is_punctuation(c):
                if word:
                    words.append(word)
                word = ""
                if not c.isspace():
                    words.append(c)
            else:
                word += c
        return words + [word] if word else words

    def word_pieces(self, word: str) -> list[str]:
        """Greedy longest-match-first: the longest known prefix, then the longest known "##" piece
        of what is left, and so on; [UNK] for the whole word if some rest matches nothing."""
        if len(word) > self.max_word_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    pieces.append(piece)
                    start = end
                    break
            else:
                return [self.unk]
        return pieces

    def tokens(self, text: str) -> list[str]:
        """[CLS], the text's word pieces (at most max_length - 2 of them), [SEP]."""
        pieces = [p for word in self.pre_tokenize(self.normalize(text)) for p in self.word_pieces(word)]
        return ["[CLS]", *pieces[:self.max_length - 2], "[SEP]"]

    def tokenize(self, text: str) -> list[int]:
        return [self.vocab[t] for t in self.tokens(text)]


def _is_whitespace(c: str) -> bool:
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def _is_punctuation(c: str) -> bool:
    """ASCII's punctuation and symbols ("$", "+", "^"... are punctuation to BERT), and Unicode's P*."""
    return (33 <= ord(c) <= 47 or 58 <= ord(c) <= 64 or 91 <= ord(c) <= 96 or 123 <= ord(c) <= 126
            or unicodedata.category(c).startswith("P"))


def _is_cjk(c: str) -> bool:
    return any(low <= ord(c) <= high for low, high in CJK_RANGES)
