"""Counters, gauges and histograms, written in Prometheus' text exposition format
(https://prometheus.io/docs/instrumenting/exposition_formats/). Small enough not to need the
prometheus_client package; updated only from the event loop's thread, so no locks."""

from __future__ import annotations

import bisect
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_TEXT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BATCH_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)
DROP_REASONS = ("client_gone", "deadline", "draining", "cancelled")
# nginx's convention for a request whose client closed the connection before the answer: counted
# under this status in minie5_requests_total, never sent (there is nobody to send it to).
CLIENT_CLOSED = 499


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count."""

    def __init__(self, buckets: tuple):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last: above every bucket (+Inf only)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def lines(self, name: str, labels: str = "") -> list[str]:
        out, total = [], 0
        sep = "," if labels else ""
        for bound, count in zip((*self.buckets, "+Inf"), self.counts):
            total += count
            out.append(f'{name}_bucket{{{labels}{sep}le="{bound}"}} {total}')
        suffix = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{suffix} {self.sum:.6f}", f"{name}_count{suffix} {total}"]
        return out


class ModelMetrics:
    """What one served model counts."""

    def __init__(self):
        self.texts = 0  # texts embedded, or pairs scored
        self.tokens = 0  # their tokens (after truncation; every window with long="chunk")
        self.batch_texts = Histogram(BATCH_TEXT_BUCKETS)  # sequences per engine call
        self.batch_tokens = Histogram(BATCH_TOKEN_BUCKETS)  # tokens per engine call
        self.queued_texts = 0  # sequences waiting for, or in, the engine
        self.queue_seconds = Histogram(LATENCY_BUCKETS)  # per request: from the queue to its pass
        self.compute_seconds = Histogram(LATENCY_BUCKETS)  # per request: the engine pass its texts ran in
        self.dropped: dict[str, int] = defaultdict(int)  # reason -> sequences dropped before the engine


class Metrics:
    """What the server counts, by route and by model; `render()` is the /metrics page."""

    def __init__(self):
        self.requests: dict[tuple[str, int], int] = defaultdict(int)  # (route, status) -> count
        self.latency: dict[str, Histogram] = {}  # route -> request duration
        self.in_flight = 0  # requests being handled
        self.connections = 0  # open connections
        self.reclaimed = 0  # idle connections closed to make room for new ones (--max-connections)
        self.models: dict[str, ModelMetrics] = {}  # served name -> its counts

    def model(self, name: str) -> ModelMetrics:
        return self.models.setdefault(name, ModelMetrics())

    def request(self, route: str, status: int, seconds: float) -> None:
        self.requests[route, status] += 1
        self.latency.setdefault(route, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def render(self) -> str:
        lines = ["# HELP minie5_requests_total HTTP requests handled, by route and status.",
                 "# TYPE minie5_requests_total counter"]
        for (route, status), count in sorted(self.requests.items()):
            lines.append(f'minie5_requests_total{{route="{route}",status="{status}"}} {count}')
        lines += ["# HELP minie5_request_duration_seconds Time from request to response, by route.",
                  "# TYPE minie5_request_duration_seconds histogram"]
        for route, histogram in sorted(self.latency.items()):
            lines += histogram.lines("minie5_request_duration_seconds", f'route="{route}"')
        models = sorted(self.models.items())

        def family(name: str, kind: str, help: str, values) -> list[str]:
            return [f"# HELP {name} {help}", f"# TYPE {name} {kind}", *values]

        lines += family("minie5_texts_total", "counter", "Texts embedded, or pairs scored, by model.",
                        (f'minie5_texts_total{{model="{m}"}} {c.texts}' for m, c in models))
        lines += family("minie5_tokens_total", "counter", "Tokens run through the engine, special tokens included.",
                        (f'minie5_tokens_total{{model="{m}"}} {c.tokens}' for m, c in models))
        lines += family("minie5_batch_sequences", "histogram", "Sequences per engine call (requests merged).",
                        (line for m, c in models for line in c.batch_texts.lines("minie5_batch_sequences",
                                                                                 f'model="{m}"')))
        lines += family("minie5_batch_tokens", "histogram", "Tokens per engine call.",
                        (line for m, c in models for line in c.batch_tokens.lines("minie5_batch_tokens",
                                                                                  f'model="{m}"')))
        lines += family("minie5_request_queue_seconds", "histogram",
                        "Per request, its time waiting for the engine (the access log's queue_ms).",
                        (line for m, c in models for line in c.queue_seconds.lines("minie5_request_queue_seconds",
                                                                                   f'model="{m}"')))
        lines += family("minie5_request_compute_seconds", "histogram",
                        "Per request, the engine pass its texts ran in (the access log's compute_ms).",
                        (line for m, c in models
                         for line in c.compute_seconds.lines("minie5_request_compute_seconds", f'model="{m}"')))
        lines += family("minie5_queue_sequences", "gauge", "Sequences waiting for or in the engine.",
                        (f'minie5_queue_sequences{{model="{m}"}} {c.queued_texts}' for m, c in models))
        lines += family("minie5_dropped_sequences_total", "counter",
                        "Sequences dropped before they reached the engine: client_gone (the client closed its "
                        "connection), deadline (--request-timeout), draining, cancelled (stopped now).",
                        (f'minie5_dropped_sequences_total{{model="{m}",reason="{reason}"}} {c.dropped[reason]}'
                         for m, c in models for reason in DROP_REASONS))
        lines += family("minie5_requests_in_flight", "gauge", "Requests being handled.",
                        [f"minie5_requests_in_flight {self.in_flight}"])
        lines += family("minie5_connections", "gauge", "Open connections.", [f"minie5_connections {self.connections}"])
        lines += family("minie5_connections_reclaimed_total", "counter",
                        "Idle connections closed to make room for new ones (--max-connections).",
                        [f"minie5_connections_reclaimed_total {self.reclaimed}"])
        return "\n".join(lines) + "\n"
