"""What a server allows and assumes, with the defaults `minie5 serve` documents in --help."""

from __future__ import annotations

from dataclasses import dataclass

from ..encode.prompts import NO_PROMPT, ROLES
from ..errors import check_choice

PREFIX_CHOICES = (*ROLES, NO_PROMPT)


@dataclass(frozen=True)
class ServerSettings:
    """Limits and defaults of one server. Every limit answers with a 4xx in OpenAI's error shape."""

    api_key: str | None = None  # when set, every /v1 route and /tokenize need "Authorization: Bearer KEY"
    default_prefix: str = "none"  # "query", "passage", "document" or "none": the prompt of requests that name none
    max_body_bytes: int = 4 * 1024 * 1024  # a larger request body: 413
    max_inputs: int = 2048  # texts in one request, as OpenAI allows: more is a 400
    max_request_tokens: int = 131072  # tokens one request may embed (after truncation): more is a 400
    max_queued_texts: int = 8192  # texts waiting for the engine across requests: more is a 429
    batch_wait_ms: float = 1.0  # how long a batch waits for company once the engine is free
    served_name: str = ""  # the model name echoed in responses (default: as the model was loaded)

    def __post_init__(self):
        check_choice("default_prefix", self.default_prefix, PREFIX_CHOICES)
        for name in ("max_body_bytes", "max_inputs", "max_request_tokens", "max_queued_texts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0 <= self.batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be from 0 to 1000, got {self.batch_wait_ms}")
