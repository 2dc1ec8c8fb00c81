"""The readable WordPiece (minie5.reference.wordpiece) against the tokenizers library, which the
engine uses: the same ids for the golden texts and for the edges where tokenizers differ most."""

import json

import pytest

from minie5.loading.tokenizer import Tokenizer
from minie5.reference.wordpiece import WordPiece
from tests.support import golden

EDGE_CASES = [
    "", " ", "Hello, World!", "don't stop-believing...", "naïve café résumé Ångström", "İstanbul straße ÆØÅ",
    "中文字符和日本語のかな", "한국어 텍스트", "mixed中文and English", "emoji 👍🏽 and ☃ and 🇫🇷",
    "tab\there\nnew line\r\nand\u00a0nbsp\u2028line sep", "control\x00\x01\x1f\x7f\x85chars",
    "zero\u200bwidth\ufeffbom",
    "e\u0301 combining (e + U+0301) and \u212b angstrom sign", "a" * 99, "b" * 100, "c" * 101,
    "supercalifragilisticexpialidociousness antidisestablishmentarianism", "$100 + 20% = ~#@!&*^", "1,234.56e-7",
    "<html><b>tags</b></html>", "\\escaped\\ \"quotes\" 'single'", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "ﬁ ligature ﬀ",
    "Ελληνικά Кириллица עברית العربية हिन्दी ไทย", "\ufffdreplacement", "query: how much protein should a female eat",
    "word " * 600,
]


@pytest.fixture(scope="module")
def tokenizers(minilm_dir):
    return Tokenizer(minilm_dir / "tokenizer.json", 512), WordPiece(minilm_dir / "tokenizer.json", 512)


@pytest.mark.parametrize("text", EDGE_CASES)
def test_the_same_ids_as_the_tokenizers_library(tokenizers, text):
    library, readable = tokenizers
    assert readable.tokenize(text) == library.tokenize([text])[0].tolist()


def test_the_golden_texts(tokenizers):
    library, readable = tokenizers
    texts = [t for name in ("minilm", "e5-random") for t in golden.load_fixture(name).texts]
    assert len(texts) > 20
    for text in texts:
        assert readable.tokenize(text) == library.tokenize([text])[0].tolist(), text


def test_the_steps_read_as_documented(tokenizers):
    _, readable = tokenizers
    assert readable.normalize("Héllo, 世界!") == "hello,  世  界 !"
    assert readable.pre_tokenize("hello,  世  界 !") == ["hello", ",", "世", "界", "!"]
    assert readable.word_pieces("embeddings") == ["em", "##bed", "##ding", "##s"]
    assert readable.word_pieces("x" * 101) == ["[UNK]"]


def test_a_tokenizer_that_is_not_bert_wordpiece_is_refused(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "Unigram"}, "normalizer": None}))
    with pytest.raises(ValueError, match="not a BERT WordPiece"):
        WordPiece(path)
