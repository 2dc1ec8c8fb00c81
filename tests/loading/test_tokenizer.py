"""Tokenization: the model's own tokenizer.json, with padding and truncation under minie5's control."""

import json

import numpy as np
import pytest

import minie5
from minie5 import TokenizerError
from minie5.loading.tokenizer import Tokenizer

CLS, SEP = 101, 102


def test_the_files_fixed_padding_is_overridden(minilm_dir):
    """The packaged tokenizer.json pads every text to 128 tokens; minie5 must not."""
    assert json.loads((minilm_dir / "tokenizer.json").read_text())["padding"]["strategy"] == {"Fixed": 128}
    ids = Tokenizer(minilm_dir / "tokenizer.json", 512).tokenize(["query: summit define", ""])
    assert [len(x) for x in ids] == [6, 2] and ids[0].dtype == np.int64  # int64, as torch's LongTensor
    assert ids[1].tolist() == [CLS, SEP]


def test_truncation_keeps_cls_and_sep_within_max_length(minilm_dir):
    """The file says truncate at 128; minie5 truncates at the model's 512, like the model card."""
    tokenizer = Tokenizer(minilm_dir / "tokenizer.json", 512)
    (ids,) = tokenizer.tokenize(["word " * 1000])
    assert len(ids) == 512 and ids[0] == CLS and ids[-1] == SEP
    (short,) = Tokenizer(minilm_dir / "tokenizer.json", 10).tokenize(["word " * 1000])
    assert len(short) == 10 and short[-1] == SEP


def test_model_max_length_is_the_authors(minilm, minilm_dir):
    """all-MiniLM-L6-v2's sentence_bert_config.json says 256 tokens, as sentence-transformers
    truncates it; an override may go up to the position table's 512, not beyond."""
    import minie5

    assert minilm.max_length == 256
    assert minie5.load(minilm_dir, backend="numpy", max_length=512).max_length == 512
    with pytest.raises(ValueError, match="max_length must be an integer from 2 to 512"):
        minie5.load(minilm_dir, backend="numpy", max_length=513)
    tokens = minilm.tokenizer.tokens("Crème Brûlée")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert "".join(tokens[1:-1]).replace("##", "") == "cremebrulee"  # uncased: lowercased, accents stripped


def test_missing_or_broken_tokenizer_is_named(tmp_path):
    with pytest.raises(TokenizerError, match="tokenizer.json: no such file"):
        Tokenizer(tmp_path / "tokenizer.json", 512)
    (tmp_path / "tokenizer.json").write_text('{"model": 3}')
    with pytest.raises(TokenizerError, match="tokenizer.json: cannot be read"):
        Tokenizer(tmp_path / "tokenizer.json", 512)


def test_tokenizer_larger_than_the_embedding_table_is_refused(tmp_path, minilm_dir):
    from tests.support.model_files import TINY_CONFIG, copy_model
    from tests.support.random_bert import random_weights

    model = copy_model(minilm_dir, tmp_path / "m", random_weights(TINY_CONFIG, seed=1), config=TINY_CONFIG)
    with pytest.raises(TokenizerError, match="has 30522 tokens but config.json's vocab_size is 50"):
        minie5.load(model, backend="numpy")
