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
    # Tokens one engine pass takes from the queue at most (0: the engine's own budget, 16384): a
    # request larger than this runs in several passes, round robin with the others, so that a
    # single query waits for one small pass rather than a whole batch (docs/server-load.md).
    max_batch_tokens: int = 2048
    served_name: str = ""  # the model name echoed in responses (default: as the model was loaded)
    # Time limits. A request's deadline counts from its arrival: a body not received by then is a
    # 408; work still queued then is dropped and answered 503 with Retry-After (a pass already
    # running is finished). On SIGTERM the server stops accepting, answers what it holds for
    # drain_timeout_s, then 503s what is still queued and exits. pre_stop_s comes first: /ready
    # answers 503 and requests are still served, so that a load balancer sees it and stops sending.
    request_timeout_s: float = 30.0
    drain_timeout_s: float = 20.0
    pre_stop_s: float = 0.0
    header_timeout_s: float = 10.0  # a connection that has not sent a whole request head by then is closed
    # Requests in flight (being read, queued or computed) cost memory and engine time: past
    # max_requests a request gets 429 with Retry-After (text-embeddings-inference's
    # max_concurrent_requests, default 512). Open connections cost only memory: the cap is much
    # larger, and when it is reached the connection idle the longest is closed (connections.py).
    max_requests: int = 512
    max_connections: int = 4096
    max_header_bytes: int = 16384  # request line and headers; more is a 431 (a head unfinished past 4x this too)
    max_headers: int = 100  # header fields per request; more is a 431
    access_log: str = ""  # "text" or "json": one line per request on the minie5.access logger; "": none

    def __post_init__(self):
        check_choice("default_prefix", self.default_prefix, PREFIX_CHOICES)
        check_choice("access_log", self.access_log, ("", "text", "json"))
        if self.max_batch_tokens < 0:
            raise ValueError(f"max_batch_tokens must be 0 (the engine's) or a positive integer, got "
                             f"{self.max_batch_tokens}")
        for name in ("max_body_bytes", "max_inputs", "max_request_tokens", "max_queued_texts", "max_header_bytes",
                     "max_headers", "max_requests", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0 <= self.batch_wait_ms <= 1000:
            raise ValueError(f"batch_wait_ms must be from 0 to 1000, got {self.batch_wait_ms}")
        for name in ("request_timeout_s", "drain_timeout_s", "header_timeout_s"):
            if not 0 < getattr(self, name) <= 86400:
                raise ValueError(f"{name} must be above 0 and at most 86400 seconds, got {getattr(self, name)}")
        if not 0 <= self.pre_stop_s <= 3600:
            raise ValueError(f"pre_stop_s must be from 0 to 3600 seconds, got {self.pre_stop_s}")
