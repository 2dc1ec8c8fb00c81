"""What every route shares: the served models, the phase of the server's life, and the steps of a
request that do not depend on its protocol (the body read under a deadline, texts tokenized, work
pooled through a model's batcher).

One server may serve several models (`minie5 serve --model A --model B`): each is a `Served`,
with its own batcher and metrics, and a request names the one it wants in its `model` field. All
models' passes run on one engine thread, one pass at a time, so two models never fight over the
cores. Which model answers (`Service.find`):

    a served name              that model (a 400 if it is of the wrong kind for the route)
    no name                    the first served model of the route's kind
    any other name             the only model of that kind, if there is one (clients send fixed
                               names such as "text-embedding-3-small"); with several, a 404
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from starlette.requests import ClientDisconnect, Request

from ..errors import TextError, TextTooLong
from .batcher import Batcher, ClientGone, QueueFull, Timing, Unavailable
from .metrics import Metrics
from .protocol import ApiError, json_type, parse_json
from .settings import ServerSettings

log = logging.getLogger("minie5.server")
access_log = logging.getLogger("minie5.access")  # one line per request, with --access-log

KINDS = ("embedding", "reranker", "sparse")
_ROUTES = {"embedding": "POST /v1/embeddings or /embed", "reranker": "POST /rerank, /v1/rerank or /v2/rerank",
           "sparse": "POST /embed_sparse"}


def kind_of(model) -> str:
    """"reranker" for a minie5.CrossEncoder, "sparse" for a minie5.SparseEncoder, "embedding" for a minie5.Model."""
    return "sparse" if hasattr(model, "splade_head") else "reranker" if hasattr(model, "head") else "embedding"


class Served:
    """One served model: its name, its kind, and the batcher that merges its requests' work."""

    def __init__(self, model, name: str, settings: ServerSettings, metrics: Metrics, executor: ThreadPoolExecutor):
        self.model, self.name, self.kind = model, name, kind_of(model)
        self.metrics = metrics.model(name)
        if self.kind != "reranker":  # a sparse model's rows are SparseVectors (server/tei_sparse.py)
            forward, size = model.pool_sequences if self.kind == "sparse" else model.embedder.pool, len
        else:  # items are (ids, token types) pairs; the rows are the head's logits
            def forward(items):
                return model.logits_of_tokens([ids for ids, _ in items], [types for _, types in items])

            def size(item):
                return len(item[0])
        budget = min(settings.max_batch_tokens or model.backend.max_batch_tokens, model.backend.max_batch_tokens)
        self.batcher = Batcher(forward, size=size, max_batch_tokens=budget,
                               max_queued=settings.max_queued_texts, wait_s=settings.batch_wait_ms / 1000,
                               metrics=self.metrics, executor=executor)

    def warm_up(self) -> None:
        """One tiny pass, which compiles (or loads) the engine's kernels."""
        if self.kind != "reranker":
            self.model.encode_tokens(self.model.tokenizer.tokenize(["warm up"]))
        else:
            self.model.logits([("warm", "up")])


class Service:
    """The served models, the settings, the metrics, and the phase of the server's life:
    "warming up" -> "ready" -> "draining" (or "failed" if warming up did). `stop_now()` ends a
    drain early: every request still being handled is answered 503 at once."""

    def __init__(self, models: list, names: list[str], settings: ServerSettings):
        if not models:
            raise ValueError("a server needs at least one model")
        if len(set(names)) != len(names):
            raise ValueError(f"served model names must differ, got {names}")
        self.settings = settings
        self.metrics = Metrics()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minie5-forward")
        self.models = [Served(m, name, settings, self.metrics, self.executor) for m, name in zip(models, names)]
        self.by_name = {served.name: served for served in self.models}
        self.phase = "warming up"
        self.failure = ""
        self.requests_in_flight = 0  # model and API requests being handled (not probes): --max-requests
        self.handling: set[asyncio.Task] = set()  # their tasks, while a handler runs
        self.stopping_now = False
        self.during_drain: dict[int, int] = {}  # status -> requests answered since draining began

    @property
    def name(self) -> str:
        """The default model's name (the first served)."""
        return self.models[0].name

    def find(self, kind: str, requested, param: str = "model") -> Served:
        """The model a request for `kind` work names (see the module's docstring)."""
        if requested is not None and not isinstance(requested, str):
            raise ApiError(400, f"'{param}' must be a string, got {json_type(requested)}", param=param)
        named = self.by_name.get(requested)
        if named is not None:
            if named.kind != kind:
                raise ApiError(400, f"model {requested!r} is a {named.kind} model: {_ROUTES[named.kind]}",
                               param=param, code="wrong_model_kind")
            return named
        candidates = [served for served in self.models if served.kind == kind]
        if not candidates:
            raise ApiError(400, f"this server serves no {kind} model (it serves {self.listing()})", param=param,
                           code="model_not_found")
        if requested is None or len(candidates) == 1:
            return candidates[0]
        raise ApiError(404, f"the model {requested!r} is not served here; {kind} models: "
                       f"{', '.join(repr(c.name) for c in candidates)}", param=param, code="model_not_found")

    def listing(self) -> str:
        return ", ".join(f"{served.name!r} ({served.kind})" for served in self.models)

    async def start(self) -> None:
        for served in self.models:
            await served.batcher.start()

    async def stop(self) -> None:
        """Finish what is queued (after `stop_now()`: abandon the pass running), then stop."""
        for served in self.models:
            await served.batcher.stop(now=self.stopping_now)
        self.executor.shutdown(wait=not self.stopping_now, cancel_futures=True)

    async def warm_up(self, warm_up, on_ready) -> None:
        """`warm_up()` (default: a tiny pass of each model) on a worker thread, then "ready"."""
        def every_model():
            for served in self.models:
                served.warm_up()

        try:
            await asyncio.get_running_loop().run_in_executor(self.executor, warm_up or every_model)
        except Exception as e:  # the process lives on, unready, and says why in /health and the log
            log.exception("warming up the engine failed")
            self.phase, self.failure = "failed", f"{type(e).__name__}: {e}"
            return
        if self.phase == "warming up":
            self.phase = "ready"
            if on_ready is not None:
                on_ready()

    def drain(self, timeout_s: float | None = None, pre_stop_s: float = 0.0) -> None:
        """Begin a graceful shutdown (call on the event loop's thread): /ready answers 503 at once,
        requests go on being answered, and `pre_stop_s + timeout_s` (default: the settings'
        drain_timeout_s) later whatever is still queued is answered 503 with Retry-After.
        Stopping the listener and waiting for the connections is the HTTP server's part."""
        if self.phase == "draining":
            return
        self.phase = "draining"
        timeout_s = self.settings.drain_timeout_s if timeout_s is None else timeout_s

        def expire():
            for served in self.models:
                served.batcher.expire("draining")

        asyncio.get_running_loop().call_later(pre_stop_s + timeout_s, expire)

    def stop_now(self) -> int:
        """End the drain now (call on the event loop's thread): no pass starts again, and every
        request being handled is answered 503 with Retry-After. Returns how many."""
        self.phase, self.stopping_now = "draining", True
        for served in self.models:
            served.batcher.halt()
        waiting = list(self.handling)
        for task in waiting:
            task.cancel()
        return len(waiting)

    def shutdown_summary(self) -> str:
        answered = sum(self.during_drain.values())
        unavailable = self.during_drain.get(503, 0)
        return f"{answered} requests answered while draining, {unavailable} of them 503"

    def access(self, route: str, status: int, client=None, method: str = "-", seconds: float = 0.0,
               work: Work | None = None) -> None:
        """One access-log line (--access-log text or json), when the log is on."""
        style = self.settings.access_log
        if not style:
            return
        work = work or Work()
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        fields = {"time": now, "client": f"{client[0]}:{client[1]}" if client else "-", "method": method,
                  "route": route, "status": status, "model": work.model or "-", "texts": work.texts,
                  "tokens": work.tokens, "queue_ms": round(1000 * work.queue_s, 2),
                  "compute_ms": round(1000 * work.compute_s, 2), "total_ms": round(1000 * seconds, 2)}
        if style == "json":
            access_log.info(json.dumps(fields))
        else:
            access_log.info(" ".join([fields["time"], fields["client"], f'"{method} {route}"', str(status)]
                                     + [f"{k}={v}" for k, v in list(fields.items())[5:]]))

    def retry_after(self) -> int:
        return max(served.batcher.retry_after() for served in self.models)

    def unavailable(self, message: str, code: str) -> ApiError:
        return ApiError(503, message, type="server_error", code=code, headers={"Retry-After": str(self.retry_after())})


class Work:
    """What a request asked of a model: its name, texts and tokens, and its time in the queue
    and in the engine (the pass its texts ran in), for the access log and /metrics."""

    __slots__ = ("model", "texts", "tokens", "queue_s", "compute_s")

    def __init__(self):
        self.model, self.texts, self.tokens, self.queue_s, self.compute_s = "", 0, 0, 0.0, 0.0


def work_of(request: Request) -> Work:
    work = getattr(request.state, "work", None)
    if work is None:
        work = request.state.work = Work()
    return work


def check_key(request: Request, key: str | None) -> None:
    if key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'" if given else
                       "an API key is required: send 'Authorization: Bearer KEY'",
                       type="invalid_request_error", code="invalid_api_key")


def _remaining(request: Request) -> float:
    return max(0.0, request.state.deadline - asyncio.get_running_loop().time())


async def read_json(service: Service, request: Request) -> dict:
    """The body as a JSON object, refused with a 413 as soon as it passes the body limit (never
    read whole first), with a 408 when it has not all arrived by the request's deadline."""
    limit, timeout_s = service.settings.max_body_bytes, service.settings.request_timeout_s
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise ApiError(413, f"the request body has {int(declared)} bytes; the limit is {limit}",
                           code="request_too_large")

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the request body is over the limit of {limit} bytes", code="request_too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        body = await asyncio.wait_for(read(), _remaining(request))
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body did not arrive within the server's request timeout of {timeout_s:g} s",
                       code="request_timeout", headers={"Connection": "close"}) from None
    except ClientDisconnect:
        raise ClientGone() from None
    return parse_json(body)


async def _client_gone(request: Request) -> None:
    """Returns when the client closes its connection (once the body is read, the next message the
    HTTP server sends the application is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def pool(service: Service, served: Served, request: Request, items: list) -> np.ndarray:
    """The model's rows for `items` through its batcher, dropped from the queue if the client goes
    away or the deadline passes first."""
    watcher = asyncio.ensure_future(_client_gone(request))
    timing = Timing()
    try:
        rows = await served.batcher.pool(items, client_gone=watcher, deadline=request.state.deadline, timing=timing)
    except QueueFull as e:
        raise ApiError(429, f"the server is busy: {e}; retry shortly", type="rate_limit_error", code="queue_full",
                       headers={"Retry-After": str(served.batcher.retry_after())}) from None
    except Unavailable as e:
        raise service.unavailable(f"the server is busy: {e}; retry shortly", "timeout") from None
    finally:
        watcher.cancel()
        work = work_of(request)
        work.model, work.queue_s, work.compute_s = served.name, timing.queue_s, timing.compute_s
    served.metrics.queue_seconds.observe(timing.queue_s)
    served.metrics.compute_seconds.observe(timing.compute_s)
    return rows


def check_tokens(service: Service, tokens: int) -> None:
    if tokens > service.settings.max_request_tokens:
        raise ApiError(400, f"the request holds {tokens} tokens; at most {service.settings.max_request_tokens} per "
                       "request", param="input", code="too_many_tokens")


async def in_worker(function, *args):
    """`function(*args)` on the default thread pool (tokenizing never blocks the event loop)."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def text_error(e: TextError, field: str) -> ApiError:
    """A text's problem as a 400 naming it: `field[i]`."""
    if isinstance(e, TextTooLong):
        return ApiError(400, f"{field}[{e.index}] {e.problem}; send truncate: true (or long='truncate' or 'chunk')",
                        param=f"{field}[{e.index}]", code="input_too_long")
    return ApiError(400, f"{field}[{e.index}] {e.problem}" + (f": {e.advice}" if e.advice else ""),
                    param=f"{field}[{e.index}]", code="invalid_input")


def encode_settings(served, prompt_name: str | None, default_prefix: str, **settings):
    """The text pipeline's settings for a request: its prompt (or the server's default), resolved as
    every front end resolves it, and `settings` (long=, normalize=, truncation_side=)."""
    try:
        prompt_name = default_prefix if prompt_name is None else prompt_name
        return served.model.settings(prompt_name=prompt_name, **settings)
    except ValueError as e:  # a prompt name the model does not know
        raise ApiError(400, str(e), param="prompt_name") from None


async def prepare(served, texts: list[str], settings, field: str = "input"):
    """The request's texts made ready for the engine (tokenized, in a worker thread), or a 400
    naming the text at fault as `field[i]`."""
    try:
        return await in_worker(served.model.embedder.prepare, texts, settings)
    except TextError as e:
        raise text_error(e, field) from None


async def embed_texts(service: Service, request: Request, served, texts: list[str], settings,
                      field: str = "input"):
    """The vectors of `texts` by `served` (an embedder), and how many tokens they took."""
    await check_client(request)
    prepared = await prepare(served, texts, settings, field)
    check_tokens(service, prepared.tokens)
    pooled = await pool(service, served, request, prepared.sequences)
    vectors = served.model.embedder.finish(prepared, pooled, settings)
    served.metrics.texts += len(texts)
    served.metrics.tokens += prepared.tokens
    work = work_of(request)
    work.texts, work.tokens = len(texts), prepared.tokens
    return vectors, prepared.tokens


async def check_client(request: Request) -> None:
    """ClientGone if the client already closed its connection: a retry storm's requests are not
    even tokenized."""
    if await request.is_disconnected():
        raise ClientGone()


async def rerank_logits(service: Service, request: Request, served, query: str, documents: list[str], *,
                        truncate: bool = True, side: str = "right", field: str = "documents") -> tuple[np.ndarray, int]:
    """Each document's one logit against `query` by `served` (a one-label cross-encoder), and the
    tokens scored. A pair over the model's limit is cut (`truncate`) or refused as `field[i]`."""
    if served.model.head.num_labels != 1:
        raise ApiError(400, f"model {served.name!r} has {served.model.head.num_labels} labels "
                       f"({', '.join(served.model.labels)}); reranking needs a one-label relevance model",
                       param="model", code="wrong_model_kind")
    await check_client(request)
    try:
        ids, types, cut = await in_worker(served.model.tokenizer.tokenize_pairs, [query] * len(documents),
                                          documents, side)
    except TextError as e:  # a lone surrogate in the query or a document: the pair's index names the document
        raise text_error(e, field) from None
    if not truncate and cut.any():
        i = int(np.argmax(cut))
        raise ApiError(400, f"{field}[{i}] together with the query is longer than the model's limit of "
                       f"{served.model.max_length} tokens ({int(cut.sum())} such document(s)); send truncate: true",
                       param=f"{field}[{i}]", code="input_too_long")
    tokens = sum(len(s) for s in ids)
    check_tokens(service, tokens)
    logits = await pool(service, served, request, list(zip(ids, types)))
    served.metrics.texts += len(documents)
    served.metrics.tokens += tokens
    work = work_of(request)
    work.texts, work.tokens = len(documents), tokens
    return np.asarray(logits, dtype=np.float64)[:, 0], tokens
