"""config.json readers of the encoder families beside BERT's (config.py): each a dataclass under
its transformers config class's field names, exposing what every family's config exposes
(`hidden_size`, `num_hidden_layers`, ..., `max_tokens`; see minie5/families.py) where the family
names it otherwise.

    DistilBertConfig   DistilBERT (Sanh et al. 2019): BERT's post-LN layer, 6 layers, no token
                       types, `dim`/`n_layers`/`n_heads`/`hidden_dim` for BERT's sizes
    MPNetConfig        MPNet (Song et al. 2020; all-mpnet-base-v2): BERT's fields, RoBERTa's
                       positions, and a learned bias per head for 32 relative-position buckets
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError, check_int
from .config import EXACT_GELU, BertConfig


@dataclass(frozen=True)
class DistilBertConfig(BertConfig):
    """transformers' DistilBertConfig. Its LayerNorms' epsilon is not in config.json:
    DistilBertModel builds every one with eps=1e-12."""

    MODEL_TYPES: ClassVar[tuple[str, ...]] = ("distilbert",)

    vocab_size: int = 30522
    dim: int = 768  # hidden size
    n_layers: int = 6
    n_heads: int = 12
    hidden_dim: int = 3072  # feed-forward size
    max_position_embeddings: int = 512
    activation: str = EXACT_GELU
    sinusoidal_pos_embds: bool = False  # either way the table is stored in the weights, and read from there
    model_type: str = "distilbert"
    pad_token_id: int = 0
    # BertConfig's own names, filled from the above (never read from config.json)
    hidden_size: int = 0
    num_hidden_layers: int = 0
    num_attention_heads: int = 0
    intermediate_size: int = 0
    type_vocab_size: int = 1
    hidden_act: str = EXACT_GELU
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, values: dict, source: str = "config.json") -> DistilBertConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}")
        names = ("vocab_size", "dim", "n_layers", "n_heads", "hidden_dim", "max_position_embeddings", "activation",
                 "sinusoidal_pos_embds", "model_type", "pad_token_id")
        kwargs = {name: values[name] for name in names if values.get(name) is not None}
        for name in ("dim", "n_layers", "n_heads", "hidden_dim"):
            try:
                check_int(name, kwargs.get(name, getattr(cls, name)), 1)
            except ValueError as e:
                raise ConfigError(f"{source}: {e}") from None
        d = {**{name: getattr(cls, name) for name in names}, **kwargs}
        config = cls(**kwargs, hidden_size=d["dim"], num_hidden_layers=d["n_layers"], num_attention_heads=d["n_heads"],
                     intermediate_size=d["hidden_dim"], hidden_act=d["activation"])
        config._validate(source)
        return config


@dataclass(frozen=True)
class MPNetConfig(BertConfig):
    """transformers' MPNetConfig: BertConfig's fields with its defaults, plus the relative buckets."""

    MODEL_TYPES: ClassVar[tuple[str, ...]] = ("mpnet",)

    vocab_size: int = 30527
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 514
    model_type: str = "mpnet"
    pad_token_id: int = 1
    relative_attention_num_buckets: int = 32  # rows of each layer's shared relative-position bias table
    type_vocab_size: int = 1  # MPNet has no token types; the engine reads a zero row (families.py)

    @property
    def position_offset(self) -> int:
        """As RoBERTa's: positions count from padding_idx + 1 (MPNetEmbeddings)."""
        return self.pad_token_id + 1

    def _validate(self, source: str) -> None:
        super()._validate(source)
        try:
            check_int("relative_attention_num_buckets", self.relative_attention_num_buckets, 2)
        except ValueError as e:
            raise ConfigError(f"{source}: {e}") from None
