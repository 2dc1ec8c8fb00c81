"""The model's hyper-parameters, read from a Hugging Face `config.json`.

Every number the forward pass needs (sizes, LayerNorm epsilon, activation) comes from here; nothing
else in minie5 hard-codes a value that `config.json` states. Field names are those of transformers'
`BertConfig`, so a reader can hold the two side by side.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import ClassVar

from ..errors import ConfigError, check_int

# transformers' name for the exact, erf-based GELU of the BERT paper (Hendrycks & Gimpel 2016).
# "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are tanh approximations of it: a model trained
# with one of those would embed differently, so they are refused rather than silently replaced.
EXACT_GELU = "gelu"
# XLM-RoBERTa (multilingual-e5-base/large), RoBERTa and CamemBERT are BERT's architecture with
# another tokenizer, one token type, and position ids that start after the padding id (see
# reference.embeddings.position_ids). minie5/families.py maps each model_type to its reader.
ROBERTA_MODEL_TYPES = ("xlm-roberta", "roberta", "camembert")
SUPPORTED_MODEL_TYPES = ("bert", *ROBERTA_MODEL_TYPES)


MAX_CONFIG_BYTES = 1 << 20  # config.json files are a few hundred bytes; never read a huge one whole

@dataclass(frozen=True)
class BertConfig:
    """The hyper-parameters of a BERT-family encoder, read from config.json and checked."""

    MODEL_TYPES: ClassVar[tuple[str, ...]] = SUPPORTED_MODEL_TYPES  # the model_types this reader reads

    vocab_size: int  # rows of the word-embedding table (30522 for uncased BERT WordPiece)
    hidden_size: int  # width of every token vector between layers (384 for e5-small-v2)
    num_hidden_layers: int  # encoder layers stacked (12)
    num_attention_heads: int  # heads per attention layer (12); each sees hidden_size / heads dims
    intermediate_size: int  # width of the feed-forward's inner layer (1536 = 4 x hidden)
    max_position_embeddings: int  # rows of the position table: the longest input, in tokens (512)
    type_vocab_size: int = 2  # segment ("token type") embeddings; sentence embedding uses type 0
    hidden_act: str = EXACT_GELU  # feed-forward activation; only exact GELU is implemented
    layer_norm_eps: float = 1e-12  # added to the variance in every LayerNorm
    position_embedding_type: str = "absolute"  # learned table indexed 0..T-1 (BERT paper, 3.2)
    model_type: str = "bert"  # "bert", or one of ROBERTA_MODEL_TYPES ("xlm-roberta": multilingual-e5-base)
    pad_token_id: int = 0  # the padding id: [PAD] = 0 for BERT vocabularies, <pad> = 1 for XLM-R's

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def position_offset(self) -> int:
        """Position id of a text's first token. RoBERTa numbers positions from padding_idx + 1,
        reserving the ids up to padding_idx (transformers' create_position_ids_from_input_ids), so
        XLM-R's table has 514 rows for 512 tokens; BERT numbers them from 0."""
        return self.pad_token_id + 1 if self.model_type in ROBERTA_MODEL_TYPES else 0

    @property
    def max_tokens(self) -> int:
        """The longest input the position table allows, special tokens included."""
        return self.max_position_embeddings - self.position_offset

    @classmethod
    def from_dict(cls, values: dict, source: str = "config.json") -> BertConfig:
        """Build and validate a config. Sizes are required; the other fields default as in
        transformers' BertConfig, so a config.json that transformers accepts is read the same way."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}")
        kwargs = {}
        for field in fields(cls):
            if field.name == "pad_token_id" and values.get(field.name) is None:
                continue  # some configs write null: transformers then pads with 0
            if field.name in values:
                kwargs[field.name] = values[field.name]
            elif field.default is MISSING:
                raise ConfigError(f"{source}: required key {field.name!r} is missing")
        config = cls(**kwargs)
        config._validate(source)
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> BertConfig:
        return cls.from_dict(read_json(path), source=str(path))

    def _validate(self, source: str) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            try:
                check_int(name, getattr(self, name), 1)
            except ValueError as e:
                raise ConfigError(f"{source}: {e}") from None
        if self.model_type not in self.MODEL_TYPES:
            raise ConfigError(f"{source}: model_type {self.model_type!r} is not supported by {type(self).__name__} "
                              f"(it reads {', '.join(self.MODEL_TYPES)}; minie5/families.py maps the others)")
        if self.hidden_act != EXACT_GELU:
            raise ConfigError(f"{source}: hidden_act {self.hidden_act!r} is not supported; minie5 "
                              f"implements the exact erf GELU ({EXACT_GELU!r}) of BERT and e5")
        if self.position_embedding_type != "absolute":
            raise ConfigError(f"{source}: position_embedding_type {self.position_embedding_type!r} "
                              "is not supported; minie5 implements 'absolute' position embeddings")
        pad = self.pad_token_id
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < self.vocab_size:
            raise ConfigError(f"{source}: pad_token_id must be a token id in [0, vocab_size), got {pad!r}")
        if self.max_tokens < 2:
            raise ConfigError(f"{source}: max_position_embeddings ({self.max_position_embeddings}) leaves "
                              f"room for {self.max_tokens} tokens after the position offset; need >= 2")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"{source}: num_attention_heads ({self.num_attention_heads}) does not "
                              f"divide hidden_size ({self.hidden_size})")
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
            raise ConfigError(f"{source}: layer_norm_eps must be a number in (0, 1), got {eps!r}")


def read_json(path: str | Path):
    """config.json's JSON value, or a ConfigError naming the file and what is wrong with it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {path.stat().st_size} bytes; a config.json is a few hundred")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (a model directory needs config.json)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a JSON file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid JSON (nested too deeply)") from None
