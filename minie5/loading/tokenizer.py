"""Text to token ids with the model's own `tokenizer.json`, through Hugging Face `tokenizers`.

For BERT models the file describes the whole pipeline: the BertNormalizer (clean control
characters, lowercase, split CJK characters), the BertPreTokenizer (whitespace and punctuation), the
WordPiece vocabulary, and the template that wraps a text as [CLS] ... [SEP].

Padding and truncation are taken out of the file's hands: a tokenizer.json may carry settings such
as a fixed padding to 128 tokens that would change the mean pool. Here every text is cut to at most
`max_length` tokens, special tokens included, exactly as transformers'
`tokenizer(texts, max_length=512, truncation=True)` does in the e5 model card, and never padded:
batching pads, with a mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tokenizers

from ..errors import TokenizerError


class Tokenizer:
    """A model's tokenizer.json, with padding and truncation under minie5's control: texts become
    id sequences of at most `max_length` tokens, special tokens included."""

    def __init__(self, path: str | Path, max_length: int):
        self.path = Path(path)
        self.max_length = max_length
        if not self.path.is_file():
            raise TokenizerError(f"{self.path}: no such file (a model directory needs tokenizer.json)")
        try:
            self._tokenizer = tokenizers.Tokenizer.from_file(str(self.path))
        except Exception as e:  # tokenizers raises a bare Exception for malformed files
            raise TokenizerError(f"{self.path}: cannot be read as a tokenizers file ({e})") from None
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self._with_stride: dict[int, tokenizers.Tokenizer] = {}

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids of each text, [CLS] and [SEP] included, at most max_length of them."""
        return [windows[0] for windows in self.encode_windows(texts)]

    def encode_windows(self, texts: list[str], overlap: int = 0) -> list[list[np.ndarray]]:
        """Each text as consecutive windows of at most max_length tokens, each wrapped in [CLS] ...
        [SEP], successive windows sharing `overlap` tokens. A text that fits is one window; the
        first window is always what `encode` gives."""
        tokenizer = self._tokenizer
        if overlap:
            if not 0 < overlap < self.max_length - 2:
                raise ValueError(f"overlap must be between 0 and {self.max_length - 3} tokens, got {overlap}")
            tokenizer = self._with_stride.get(overlap)
            if tokenizer is None:  # a copy, so that concurrent calls never see a changing stride
                tokenizer = tokenizers.Tokenizer.from_str(self._tokenizer.to_str())
                tokenizer.no_padding()
                tokenizer.enable_truncation(self.max_length, stride=overlap)
                self._with_stride[overlap] = tokenizer
        encodings = tokenizer.encode_batch(texts, add_special_tokens=True)
        return [[np.asarray(w.ids, dtype=np.int64) for w in (e, *e.overflowing)] for e in encodings]

    def tokens(self, text: str) -> list[str]:
        """The word pieces of one text, for reading and debugging."""
        return self._tokenizer.encode(text, add_special_tokens=True).tokens
