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

import re
import warnings
from pathlib import Path

import numpy as np
import tokenizers

from ..errors import TextError, TokenizerError, check_choice


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
        specials = self._tokenizer.num_special_tokens_to_add(False)
        if max_length <= specials:
            raise TokenizerError(f"{self.path}: max_length {max_length} leaves no room for text: the "
                                 f"tokenizer adds {specials} special tokens to every text; need at least "
                                 f"{specials + 1}")
        self._tokenizer.enable_truncation(max_length)
        self._variants: dict[tuple, tokenizers.Tokenizer] = {}
        vocab = self._tokenizer.get_vocab(with_added_tokens=True)
        self.max_id, self.max_id_token = max((i, token) for token, i in vocab.items()) if vocab else (-1, "")

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def tokenize(self, texts: list[str]) -> list[np.ndarray]:
        """Token ids of each text, [CLS] and [SEP] included, at most max_length of them."""
        return [windows[0] for windows in self.tokenize_windows(texts)]

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """The old name of `tokenize` (Model.encode embeds; this only tokenizes)."""
        warnings.warn("Tokenizer.encode is now Tokenizer.tokenize", DeprecationWarning, stacklevel=2)
        return self.tokenize(texts)

    def tokenize_windows(self, texts: list[str], overlap: int = 0) -> list[list[np.ndarray]]:
        """Each text as consecutive windows of at most max_length tokens, each wrapped in [CLS] ...
        [SEP], successive windows sharing `overlap` tokens. A text that fits is one window; the
        first window is always what `tokenize` gives."""
        if overlap and not 0 < overlap < self.max_length - 2:
            raise ValueError(f"overlap must be between 0 and {self.max_length - 3} tokens, got {overlap}")
        tokenizer = self._variant(stride=overlap)
        try:
            encodings = tokenizer.encode_batch(texts, add_special_tokens=True)
        except Exception as e:  # tokenizers raises bare Exceptions: name the text at fault
            raise _text_error(texts, e) from None
        windows = [[np.asarray(w.ids, dtype=np.int64) for w in (e, *e.overflowing)] for e in encodings]
        # Whatever the tokenizers library does at the edges (a limit no larger than its special
        # tokens returns the whole text as one window), no window may pass the limit: the
        # position table, and every kernel's indexing, end there.
        for i, text_windows in enumerate(windows):
            for w in text_windows:
                if not 0 < len(w) <= self.max_length:
                    raise TokenizerError(f"{self.path}: texts[{i}] gave a window of {len(w)} tokens; the "
                                         f"limit is {self.max_length}")
        return windows

    def tokenize_pairs(self, first: list[str], second: list[str],
                       side: str = "right") -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Token ids and token types of text pairs, joined by the file's own pair template ([CLS] a
        [SEP] b [SEP] with types 0 and 1 for BERT; <s> a </s></s> b </s> for XLM-R), at most
        max_length tokens, and whether each pair was cut: a pair over the limit loses tokens from
        its longer side first, as transformers' truncation=True ("longest_first") does for
        cross-encoders, from that side's end (side="right") or its start ("left")."""
        if len(first) != len(second):
            raise ValueError(f"{len(first)} first texts but {len(second)} second texts")
        try:
            encodings = self._variant(side=side).encode_batch(list(zip(first, second)), add_special_tokens=True)
        except Exception as e:  # name the pair at fault
            error = _text_error([a + b for a, b in zip(first, second)], e)
            raise error from None
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        types = [np.asarray(e.type_ids, dtype=np.int64) for e in encodings]
        for i, seq in enumerate(ids):
            if not 0 < len(seq) <= self.max_length:
                raise TokenizerError(f"{self.path}: pair {i} gave {len(seq)} tokens; the limit is {self.max_length}")
        return ids, types, np.array([bool(e.overflowing) for e in encodings], dtype=bool)

    def tokenize_last(self, texts: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """Each text's last max_length tokens, wrapped in [CLS] ... [SEP] (truncation from the
        left, text-embeddings-inference's truncation_direction "left"), and whether it was cut.
        Reads the whole of every text."""
        try:
            encodings = self._variant(side="left").encode_batch(texts, add_special_tokens=True)
        except Exception as e:
            raise _text_error(texts, e) from None
        return ([np.asarray(e.ids, dtype=np.int64) for e in encodings],
                np.array([bool(e.overflowing) for e in encodings], dtype=bool))

    def token_spans(self, texts: list[str], add_special_tokens: bool = True) -> list[list[tuple]]:
        """Every token of each text, untruncated, as (id, text, special, start, stop): `text` is
        the characters texts[i][start:stop] for a word piece and the token itself for a special
        token (whose start and stop are None)."""
        try:
            encodings = self._variant(truncate=False).encode_batch(texts, add_special_tokens=add_special_tokens)
        except Exception as e:
            raise _text_error(texts, e) from None
        return [[(i, token, True, None, None) if special else (i, text[start:stop], False, start, stop)
                 for i, token, special, (start, stop) in zip(e.ids, e.tokens, e.special_tokens_mask, e.offsets)]
                for text, e in zip(texts, encodings)]

    def cut_to_tokens(self, texts: list[str], limit: int) -> list[str]:
        """Each text cut after its first `limit` word pieces (special tokens not counted), at the
        end of the last one kept; a text with no more than `limit` is returned as it is."""
        try:
            encodings = self._variant(truncate=False).encode_batch(texts, add_special_tokens=False)
        except Exception as e:
            raise _text_error(texts, e) from None
        return [text if len(e.ids) <= limit else text[:e.offsets[limit - 1][1]] for text, e in zip(texts, encodings)]

    def _variant(self, stride: int = 0, side: str = "right", truncate: bool = True) -> tokenizers.Tokenizer:
        """The file's tokenizer cutting at max_length with this stride and side (or not cutting at
        all), each variant a copy made once, so that concurrent calls never see settings change."""
        check_choice("side", side, ("right", "left"))
        key = (stride, side, truncate)
        if key == (0, "right", True):
            return self._tokenizer
        tokenizer = self._variants.get(key)
        if tokenizer is None:
            tokenizer = tokenizers.Tokenizer.from_str(self._tokenizer.to_str())
            tokenizer.no_padding()
            if not truncate:
                tokenizer.no_truncation()
            else:
                tokenizer.enable_truncation(self.max_length, stride=stride, direction=side)
            self._variants[key] = tokenizer
        return tokenizer

    def tokenize_first(self, texts: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """Each text's first window (what truncation keeps) and whether the text is longer, as
        `tokenize_windows` gives them, but reading no more of a long text than the window can use:
        a 10 MB string costs what its first few thousand characters cost.

        A text over the character budget is cut just before a whitespace past the budget. Both
        WordPiece and sentencepiece tokenizers split words at whitespace, so the cut text's tokens
        are the whole text's first tokens; when they already overflow the window, its first window
        is the whole text's. When they do not (long runs of characters the tokenizer drops), the
        whole text is tokenized after all."""
        budget = max(self.max_length * CHARS_PER_TOKEN_BUDGET, MIN_CHAR_BUDGET)
        cut_texts = [_cut_before_space(t, budget) for t in texts]
        windows = self.tokenize_windows(cut_texts)
        redo = [i for i, (text, cut) in enumerate(zip(texts, cut_texts)) if cut is not text and len(windows[i]) == 1]
        if redo:
            for i, w in zip(redo, self.tokenize_windows([texts[i] for i in redo])):
                windows[i] = w
        return [w[0] for w in windows], np.array([len(w) > 1 for w in windows], dtype=bool)

    def tokens(self, text: str) -> list[str]:
        """The word pieces of one text, for reading and debugging."""
        return self._tokenizer.encode(text, add_special_tokens=True).tokens


CHARS_PER_TOKEN_BUDGET = 32  # characters read per token of the window before a long text is cut
MIN_CHAR_BUDGET = 8192
_SPACE = re.compile(r"\s")


def _cut_before_space(text: str, budget: int) -> str:
    """`text` up to the first whitespace at or past `budget` characters (the text itself if it is
    shorter, or has no whitespace there to cut at)."""
    if len(text) <= budget:
        return text
    space = _SPACE.search(text, budget)
    return text[:space.start()] if space else text


def _text_error(texts: list[str], error: Exception) -> ValueError:
    """The tokenizers library's failure, with the index of the text that caused it."""
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            return TextError(i, f"holds a lone surrogate (U+{ord(text[e.start]):04X}) at character {e.start}",
                             "it is not valid Unicode text; decode your input with errors='replace' or remove it")
    return ValueError(f"the tokenizer failed on these texts: {error}")

