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


@dataclass(frozen=True)
class ModernBertConfig:
    """transformers' ModernBertConfig (answerdotai/ModernBERT-base's defaults), in config.json's
    names: rotary positions (a base per layer kind), GeGLU, pre-norm LayerNorms without biases,
    every `global_attn_every_n_layers`-th layer global and the others seeing `local_attention`
    tokens (half before, half after), and a final norm."""

    vocab_size: int = 50368
    hidden_size: int = 768
    intermediate_size: int = 1152  # the gated width: Wi projects to twice this
    num_hidden_layers: int = 22
    num_attention_heads: int = 12
    hidden_activation: str = EXACT_GELU
    max_position_embeddings: int = 8192
    norm_eps: float = 1e-5
    norm_bias: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    pad_token_id: int = 50283
    global_rope_theta: float = 160000.0
    local_rope_theta: float = 10000.0
    local_attention: int = 128  # a sliding layer's window: local_attention // 2 tokens either side
    global_attn_every_n_layers: int = 3  # layers 0, n, 2n, ... are global
    model_type: str = "modernbert"

    MODEL_TYPES: ClassVar[tuple[str, ...]] = ("modernbert",)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def max_tokens(self) -> int:
        return self.max_position_embeddings

    @property
    def hidden_act(self) -> str:
        return self.hidden_activation

    @property
    def layer_norm_eps(self) -> float:
        return self.norm_eps

    def is_global(self, layer: int) -> bool:
        """ModernBertConfig's layer_types: "full_attention" where layer % n == 0, else sliding."""
        return layer % self.global_attn_every_n_layers == 0

    def rope_theta(self, layer: int) -> float:
        return self.global_rope_theta if self.is_global(layer) else self.local_rope_theta

    def window(self, layer: int) -> int | None:
        """Keys a sliding layer's query sees: |i - j| <= local_attention // 2 (transformers'
        sliding_window_bidirectional_overlay), as "fewer than" this many positions; None if global."""
        return None if self.is_global(layer) else self.local_attention // 2 + 1

    @classmethod
    def from_dict(cls, values: dict, source: str = "config.json") -> ModernBertConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}")
        names = [f for f in cls.__dataclass_fields__]
        kwargs = {name: values[name] for name in names if values.get(name) is not None}
        rope = values.get("rope_parameters") or {}  # transformers 5's spelling of the two bases
        for kind, name in (("full_attention", "global_rope_theta"), ("sliding_attention", "local_rope_theta")):
            if isinstance(rope.get(kind), dict) and "rope_theta" in rope[kind]:
                kwargs.setdefault(name, rope[kind]["rope_theta"])
        config = cls(**kwargs)
        config._validate(source, values)
        return config

    def _validate(self, source: str, values: dict) -> None:
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                     "max_position_embeddings", "local_attention", "global_attn_every_n_layers"):
            try:
                check_int(name, getattr(self, name), 1)
            except ValueError as e:
                raise ConfigError(f"{source}: {e}") from None
        if self.model_type not in self.MODEL_TYPES:
            raise ConfigError(f"{source}: model_type {self.model_type!r} is not ModernBERT's")
        if self.hidden_activation != EXACT_GELU:
            raise ConfigError(f"{source}: hidden_activation {self.hidden_activation!r} is not supported; minie5's "
                              f"ModernBERT implements GeGLU with the exact GELU ({EXACT_GELU!r})")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(f"{source}: num_attention_heads ({self.num_attention_heads}) does not divide "
                              f"hidden_size ({self.hidden_size})")
        layer_types = values.get("layer_types")
        expected = ["full_attention" if self.is_global(i) else "sliding_attention"
                    for i in range(self.num_hidden_layers)]
        if layer_types is not None and list(layer_types) != expected:
            raise ConfigError(f"{source}: layer_types {layer_types!r} is not every "
                              f"{self.global_attn_every_n_layers}th layer global, the only pattern minie5 runs")
        pad = self.pad_token_id
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < self.vocab_size:
            raise ConfigError(f"{source}: pad_token_id must be a token id in [0, vocab_size), got {pad!r}")


# nomic-ai's own config.json (the remote code nomic-embed-text-v1/v1.5 were released with) names
# the sizes as GPT-2 does; transformers' NomicBertConfig uses BERT's names. Both are read.
NOMIC_HUB_NAMES = {"n_embd": "hidden_size", "n_layer": "num_hidden_layers", "n_head": "num_attention_heads",
                   "n_inner": "intermediate_size", "n_positions": "max_position_embeddings",
                   "layer_norm_epsilon": "layer_norm_eps", "rotary_emb_base": "rope_theta"}


@dataclass(frozen=True)
class NomicBertConfig:
    """transformers' NomicBertConfig (nomic-embed-text-v1.5's defaults): BERT's post-LN layer with
    rotary positions instead of a position table, SwiGLU, and no biases in the linear layers."""

    vocab_size: int = 30528
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "silu"  # the gate's activation: SwiGLU
    max_position_embeddings: int = 2048  # the length it was trained to; rotary has no table to run out of
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    rope_theta: float = 1000.0
    model_type: str = "nomic_bert"

    MODEL_TYPES: ClassVar[tuple[str, ...]] = ("nomic_bert",)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def max_tokens(self) -> int:
        return self.max_position_embeddings

    @property
    def position_offset(self) -> int:
        """Where the engine's packed positions start (each text from 0, as BERT's)."""
        return 0

    @classmethod
    def from_dict(cls, values: dict, source: str = "config.json") -> NomicBertConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}")
        values = {NOMIC_HUB_NAMES.get(k, k): v for k, v in values.items()}
        if values.get("activation_function") is not None:  # nomic's spelling: "swiglu" is SiLU-gated
            values.setdefault("hidden_act", {"swiglu": "silu"}.get(values["activation_function"],
                                                                   values["activation_function"]))
        rope = values.get("rope_parameters")
        if isinstance(rope, dict) and rope.get("rope_theta") is not None:
            values.setdefault("rope_theta", rope["rope_theta"])
        for name, allowed in (("rotary_emb_fraction", (1, 1.0)), ("rotary_emb_interleaved", (False,)),
                              ("qkv_proj_bias", (False,)), ("mlp_fc1_bias", (False,)), ("mlp_fc2_bias", (False,))):
            if name in values and values[name] not in allowed:
                raise ConfigError(f"{source}: {name}={values[name]!r} is not supported; minie5 runs NomicBERT as "
                                  f"nomic-embed-text-v1.5 is built ({name}={allowed[0]!r})")
        kwargs = {name: values[name] for name in cls.__dataclass_fields__ if values.get(name) is not None}
        config = cls(**kwargs)
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            try:
                check_int(name, getattr(config, name), 1)
            except ValueError as e:
                raise ConfigError(f"{source}: {e}") from None
        if config.model_type not in cls.MODEL_TYPES:
            raise ConfigError(f"{source}: model_type {config.model_type!r} is not NomicBERT's")
        if config.hidden_act != "silu":
            raise ConfigError(f"{source}: hidden_act {config.hidden_act!r} is not supported; minie5's NomicBERT "
                              "implements SwiGLU ('silu')")
        if config.hidden_size % config.num_attention_heads:
            raise ConfigError(f"{source}: num_attention_heads ({config.num_attention_heads}) does not divide "
                              f"hidden_size ({config.hidden_size})")
        return config
