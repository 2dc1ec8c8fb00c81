"""The hyper-parameters of decoder-style embedders, read from config.json: Qwen3 (Qwen3-Embedding,
Qwen3-Reranker) and Gemma3 text (EmbeddingGemma). Field names are transformers' Qwen3Config and
Gemma3TextConfig's, so a reader can hold them side by side.

Both are Llama-shaped: RMSNorm before each block, rotary positions, a gated feed-forward, grouped-
query attention with RMSNorm on queries and keys, no biases. They differ where `DecoderConfig`
says: Gemma scales the word vectors by sqrt(H), stores its norms as 1 + weight, normalises each
block's output too, uses GeGLU, alternates sliding-window and global layers with two rotary bases,
and (EmbeddingGemma) attends in both directions.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields

from ..errors import ConfigError, check_int

MODEL_TYPES = ("qwen3", "gemma3_text")
ACTIVATIONS = ("silu", "gelu_pytorch_tanh")  # what reference/gated_feed_forward.py runs for these families
LAYER_TYPES = ("full_attention", "sliding_attention")


@dataclass(frozen=True)
class DecoderConfig:
    """A Qwen3 or Gemma3 text model's config.json, checked."""

    vocab_size: int  # rows of embed_tokens (151669 for Qwen3-Embedding's byte-level BPE)
    hidden_size: int  # H: width of every token vector between layers (1024 for Qwen3-Embedding-0.6B)
    num_hidden_layers: int  # L: decoder layers stacked (28)
    num_attention_heads: int  # N: query heads (16)
    num_key_value_heads: int  # Nkv: key/value heads, each shared by N / Nkv query heads (8)
    intermediate_size: int  # F: the gated feed-forward's inner width (3072)
    head_dim: int  # D: channels per head (128); not H / N in these models
    max_position_embeddings: int = 32768  # the longest input trained on, in tokens
    rms_norm_eps: float = 1e-6  # added to the mean square in every RMSNorm
    rope_theta: float = 10000.0  # the rotary base of global layers (reference/rotary.py)
    rope_local_base_freq: float = 10000.0  # Gemma3: the rotary base of sliding-window layers
    hidden_act: str = "silu"  # the feed-forward's gate activation (Gemma3: hidden_activation)
    attention_bias: bool = False  # biases on q/k/v/o: none in the checkpoints minie5 runs
    sliding_window: int | None = None  # window of sliding_attention layers, in tokens
    layer_types: tuple[str, ...] = ()  # per layer: "full_attention" or "sliding_attention"
    query_pre_attn_scalar: float | None = None  # Gemma3: scores scaled by its -1/2 instead of D^-1/2
    use_bidirectional_attention: bool = False  # EmbeddingGemma: no causal mask
    attn_logit_softcapping: float | None = None  # Gemma2's tanh cap on scores: refused (Gemma3 has none)
    model_type: str = "qwen3"
    pad_token_id: int = 0  # the padding id (any id: a causal model never reads padding)
    tie_word_embeddings: bool = True  # lm_head shares embed_tokens (read by the reranker)

    # What the text pipeline reads of every family, under BERT's names.
    @property
    def max_tokens(self) -> int:
        return self.max_position_embeddings

    @property
    def head_size(self) -> int:
        return self.head_dim

    @property
    def is_gemma(self) -> bool:
        return self.model_type == "gemma3_text"

    @property
    def causal(self) -> bool:
        return not self.use_bidirectional_attention

    @property
    def norm_offset(self) -> float:
        """1 for Gemma's RMSNorm, which stores its scale as 1 + weight (reference/rms_norm.py)."""
        return 1.0 if self.is_gemma else 0.0

    @property
    def scaling(self) -> float:
        """The attention scores' scale: D^-1/2, or Gemma3's query_pre_attn_scalar^-1/2."""
        return (self.query_pre_attn_scalar or self.head_dim) ** -0.5

    def rope_base(self, layer: int) -> float:
        sliding = self.layer_types[layer] == "sliding_attention"
        return self.rope_local_base_freq if sliding and self.is_gemma else self.rope_theta

    def window(self, layer: int) -> int | None:
        """How far a sliding_attention layer sees: keys fewer than this many positions away (None
        for a global layer). A causal window of W looks W - 1 tokens back. A bidirectional Gemma3
        window of W is centred, W // 2 tokens either side: transformers' Gemma3TextConfig turns
        config.json's W into W // 2 + 1 when use_bidirectional_attention is set."""
        if self.layer_types[layer] != "sliding_attention":
            return None
        return self.sliding_window // 2 + 1 if self.is_gemma and not self.causal else self.sliding_window

    @classmethod
    def from_dict(cls, values: dict, source: str = "config.json") -> DecoderConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected a JSON object, got {type(values).__name__}")
        values = dict(values)
        rope = values.get("rope_parameters") or values.get("rope_scaling")
        if isinstance(rope, dict):  # transformers 5 nests the bases (per layer type for Gemma3)
            if rope.get("rope_type", "default") not in ("default", None) and "full_attention" not in rope:
                raise ConfigError(f"{source}: rope type {rope.get('rope_type')!r} is not supported; minie5 "
                                  "implements the default rotary positions")
            full = rope.get("full_attention", rope)
            if values.get("rope_theta") is None:
                values["rope_theta"] = full.get("rope_theta", 10000.0)
            if "sliding_attention" in rope and values.get("rope_local_base_freq") is None:
                values["rope_local_base_freq"] = rope["sliding_attention"].get("rope_theta", 10000.0)
        if "hidden_activation" in values:  # Gemma's name for it
            values["hidden_act"] = values["hidden_activation"]
        kwargs = {}
        for field in fields(cls):
            if values.get(field.name) is not None:
                kwargs[field.name] = values[field.name]
            elif field.name == "head_dim" and values.get("hidden_size") and values.get("num_attention_heads"):
                kwargs["head_dim"] = values["hidden_size"] // values["num_attention_heads"]
            elif field.default is MISSING:
                raise ConfigError(f"{source}: required key {field.name!r} is missing")
        kwargs.setdefault("num_key_value_heads", values.get("num_attention_heads"))
        layers = kwargs.get("num_hidden_layers")
        if not kwargs.get("layer_types") and isinstance(layers, int):
            kwargs["layer_types"] = default_layer_types(values, layers)
        kwargs["layer_types"] = tuple(kwargs.get("layer_types", ()))
        config = cls(**kwargs)
        config._validate(source)
        return config

    def _validate(self, source: str) -> None:
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                     "intermediate_size", "head_dim", "max_position_embeddings"):
            try:
                check_int(name, getattr(self, name), 1)
            except ValueError as e:
                raise ConfigError(f"{source}: {e}") from None
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(f"{source}: model_type {self.model_type!r} is not a decoder family minie5 runs "
                              f"({', '.join(MODEL_TYPES)})")
        if self.hidden_act not in ACTIVATIONS:
            raise ConfigError(f"{source}: activation {self.hidden_act!r} is not supported for {self.model_type} "
                              f"(supported: {', '.join(ACTIVATIONS)})")
        if self.attention_bias:
            raise ConfigError(f"{source}: attention_bias=true is not supported: the {self.model_type} checkpoints "
                              "minie5 runs have no attention biases")
        if self.attn_logit_softcapping is not None:
            raise ConfigError(f"{source}: attn_logit_softcapping is not supported (Gemma3 checkpoints have none)")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(f"{source}: num_key_value_heads ({self.num_key_value_heads}) does not divide "
                              f"num_attention_heads ({self.num_attention_heads})")
        if len(self.layer_types) != self.num_hidden_layers or not set(self.layer_types) <= set(LAYER_TYPES):
            raise ConfigError(f"{source}: layer_types must list {self.num_hidden_layers} of "
                              f"{', '.join(LAYER_TYPES)}, got {list(self.layer_types)!r}")
        if "sliding_attention" in self.layer_types:
            try:
                check_int("sliding_window", self.sliding_window, 1)
            except ValueError as e:
                raise ConfigError(f"{source}: {e} (layer_types has sliding_attention layers)") from None
        eps = self.rms_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < 1:
            raise ConfigError(f"{source}: rms_norm_eps must be a number in (0, 1), got {eps!r}")
        pad = self.pad_token_id
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < self.vocab_size:
            raise ConfigError(f"{source}: pad_token_id must be a token id in [0, vocab_size), got {pad!r}")


def default_layer_types(values: dict, layers: int) -> list[str]:
    """transformers' layer_types where config.json predates them: Qwen3 slides from layer
    max_window_layers on when use_sliding_window is set; Gemma3 makes every
    sliding_window_pattern-th layer global."""
    if values.get("model_type") == "gemma3_text":
        pattern = values.get("sliding_window_pattern", 6)
        return ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(layers)]
    start = values.get("max_window_layers", layers) if values.get("use_sliding_window") else layers
    return ["sliding_attention" if i >= start else "full_attention" for i in range(layers)]
