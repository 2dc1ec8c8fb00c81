"""The Starlette application: a table of routes to small handlers.

    POST /v1/embeddings, /embeddings   OpenAI's embeddings (clients put /v1 in base_url, or not)
    GET  /v1/models, /models           the served model, in OpenAI's list shape
    POST /tokenize                     token ids and counts, for clients that budget tokens
    GET  /health                       liveness: 200 while the process serves at all
    GET  /ready                        readiness: 200 once the kernels are ready, 503 while warming up and draining
    GET  /metrics                      Prometheus text
    GET  /openapi.json                 this API as an OpenAPI 3.1 document

`_endpoint` wraps every handler: the phase (warming up, ready, draining), the API key, the
request's deadline, OpenAI's error shape for every failure, and the request metrics live there
and nowhere else. `_HeaderLimits` sits in front of it all and answers 431 for oversized heads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import TextError, TextTooLong
from .batcher import Batcher, ClientGone, QueueFull, Unavailable
from .metrics import CLIENT_CLOSED, Metrics
from .openapi import openapi_document
from .protocol import (
    ApiError,
    embeddings_response,
    parse_embeddings_request,
    parse_json,
    parse_prompt_name,
    parse_texts,
)
from .settings import ServerSettings

log = logging.getLogger("minie5.server")


def create_app(model, settings: ServerSettings = ServerSettings(),  # noqa: B008 (frozen)
               warm_up=None, on_ready=None) -> Starlette:
    """An ASGI application serving `model` (a loaded minie5.Model) under `settings`.

    The server answers at once; `warm_up()` (default: embed one text, which compiles or loads the
    engine's kernels) runs on a worker thread first, and until it is done /ready and every model
    route answer 503 with Retry-After. `on_ready()` is called once it is. The application's
    `state.minie5` is the `Service`: `drain(...)` starts a graceful shutdown."""
    service = Service(model, settings)
    warm_up = warm_up or (lambda: model.encode_tokens(model.tokenizer.tokenize(["warm up"])))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await service.batcher.start()
        warming = asyncio.create_task(service.warm_up(warm_up, on_ready))
        try:
            yield
        finally:
            warming.cancel()
            await service.batcher.stop()

    def endpoint(handler, route: str, needs_key: bool = True, needs_model: bool = True):
        return _endpoint(service, handler, route, needs_key, needs_model)

    routes = [
        Route("/v1/embeddings", endpoint(_embeddings, "/v1/embeddings"), methods=["POST"]),
        Route("/embeddings", endpoint(_embeddings, "/v1/embeddings"), methods=["POST"]),
        Route("/v1/models", endpoint(_models, "/v1/models"), methods=["GET"]),
        Route("/models", endpoint(_models, "/v1/models"), methods=["GET"]),
        Route("/tokenize", endpoint(_tokenize, "/tokenize"), methods=["POST"]),
        Route("/health", endpoint(_health, "/health", needs_key=False, needs_model=False), methods=["GET"]),
        Route("/ready", endpoint(_ready, "/ready", needs_key=False, needs_model=False), methods=["GET"]),
        Route("/metrics", endpoint(_metrics, "/metrics", needs_key=False, needs_model=False), methods=["GET"]),
        Route("/openapi.json", endpoint(_openapi, "/openapi.json", needs_key=False, needs_model=False),
              methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_exception})
    app.state.minie5 = service
    app.add_middleware(_HeaderLimits, max_bytes=settings.max_header_bytes, max_count=settings.max_headers,
                       metrics=service.metrics)
    return app


class Service:
    """What the handlers share: the model, the settings, the batcher, the metrics, and the phase
    of the server's life: "warming up" -> "ready" -> "draining" (or "failed" if warming up did)."""

    def __init__(self, model, settings: ServerSettings):
        self.model = model
        self.settings = settings
        self.name = settings.served_name or model.name
        self.metrics = Metrics()
        self.batcher = Batcher(model.embedder, max_batch_tokens=model.backend.max_batch_tokens,
                               max_queued=settings.max_queued_texts, wait_s=settings.batch_wait_ms / 1000,
                               metrics=self.metrics)
        self.phase = "warming up"
        self.failure = ""

    async def warm_up(self, warm_up, on_ready) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, warm_up)
        except Exception as e:  # the process lives on, unready, and says why in /health and the log
            log.exception("warming up the engine failed")
            self.phase, self.failure = "failed", f"{type(e).__name__}: {e}"
            return
        if self.phase == "warming up":
            self.phase = "ready"
            if on_ready is not None:
                on_ready()

    def drain(self, timeout_s: float | None = None) -> None:
        """Begin a graceful shutdown (call on the event loop's thread): /ready answers 503 at once,
        requests already accepted are answered, and after `timeout_s` (default: the settings')
        whatever is still queued is answered 503 with Retry-After. Stopping the listener and
        waiting for the connections is the HTTP server's part."""
        if self.phase == "draining":
            return
        self.phase = "draining"
        timeout_s = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        asyncio.get_running_loop().call_later(timeout_s, self.batcher.expire, "draining")

    def unavailable(self, message: str, code: str) -> ApiError:
        return ApiError(503, message, type="server_error", code=code,
                        headers={"Retry-After": str(self.batcher.retry_after())})


def _endpoint(service: Service, handler, route: str, needs_key: bool, needs_model: bool):
    async def run(request: Request) -> Response:
        started = time.perf_counter()
        request.state.deadline = asyncio.get_running_loop().time() + service.settings.request_timeout_s
        service.metrics.in_flight += 1
        try:
            if needs_model and service.phase in ("warming up", "failed"):
                raise service.unavailable(f"the model is not ready ({service.phase}); retry shortly", "not_ready")
            if needs_key:
                _check_key(request, service.settings.api_key)
            response = await handler(service, request)
        except ApiError as e:
            response = JSONResponse(e.body(), status_code=e.status, headers=e.headers)
        except ClientGone:  # nobody to answer: counted as nginx's 499, one line in the log
            log.warning("%s %s: the client closed the connection before the answer (counted as %d)",
                        request.method, request.url.path, CLIENT_CLOSED)
            response = Response(status_code=CLIENT_CLOSED)
        except Exception:  # a bug, never the client's fault: logged, and a 500 in OpenAI's shape
            log.exception("error handling %s", route)
            response = JSONResponse(ApiError(500, "internal error (logged by the server)", type="server_error",
                                             code="internal_error").body(), status_code=500)
        finally:
            service.metrics.in_flight -= 1
        service.metrics.request(route, response.status_code, time.perf_counter() - started)
        return response

    return run


class _HeaderLimits:
    """ASGI middleware: a request whose head has more than `max_count` fields or `max_bytes` bytes
    gets a 431 in OpenAI's error shape before any route sees it. (A head past the HTTP server's own
    buffer, 4x max_bytes, is refused by uvicorn with a 400 before it reaches the application.)"""

    def __init__(self, app, max_bytes: int, max_count: int, metrics: Metrics):
        self.app, self.max_bytes, self.max_count, self.metrics = app, max_bytes, max_count, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = scope["headers"]
            size = len(scope.get("raw_path") or b"") + sum(len(k) + len(v) + 4 for k, v in headers)
            problem = (f"{len(headers)} header fields; at most {self.max_count}" if len(headers) > self.max_count
                       else f"{size} bytes of headers; at most {self.max_bytes}" if size > self.max_bytes else None)
            if problem:
                error = ApiError(431, f"the request has {problem}", code="request_header_fields_too_large")
                self.metrics.request("headers", 431, 0.0)
                await JSONResponse(error.body(), status_code=431, headers={"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _check_key(request: Request, key: str | None) -> None:
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


async def _read_json(request: Request, limit: int, timeout_s: float) -> dict:
    """The body, refused with a 413 as soon as it passes `limit` bytes (never read whole first),
    with a 408 when it has not all arrived by the request's deadline."""
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


async def _pool(service: Service, request: Request, sequences) -> list:
    """The batcher's vectors for `sequences`, dropped from the queue if the client goes away or
    the deadline passes first."""
    watcher = asyncio.ensure_future(_client_gone(request))
    try:
        return await service.batcher.pool(sequences, client_gone=watcher, deadline=request.state.deadline)
    except QueueFull as e:
        raise ApiError(429, f"the server is busy: {e}; retry shortly", type="rate_limit_error", code="queue_full",
                       headers={"Retry-After": str(service.batcher.retry_after())}) from None
    except Unavailable as e:
        raise service.unavailable(f"the server is busy: {e}; retry shortly", "timeout") from None
    finally:
        watcher.cancel()


def _settings(service: Service, prompt_name: str | None, long: str = "truncate"):
    """The text pipeline's settings for a request: its prompt (or the server's default), resolved as
    every front end resolves it."""
    try:
        prompt_name = service.settings.default_prefix if prompt_name is None else prompt_name
        return service.model.settings(prompt_name=prompt_name, long=long)
    except ValueError as e:  # a prompt name the model does not know
        raise ApiError(400, str(e), param="prompt_name") from None


async def _prepare(service: Service, texts: list[str], settings):
    """The request's texts made ready for the engine (tokenized, in a worker thread), or a 400
    naming the text at fault."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, service.model.embedder.prepare, texts,
                                                                settings)
    except TextTooLong as e:
        raise ApiError(400, f"input[{e.index}] {e.problem}; send long='truncate' or 'chunk'",
                       param=f"input[{e.index}]", code="input_too_long") from None
    except TextError as e:
        raise ApiError(400, f"input[{e.index}] {e.problem}" + (f": {e.advice}" if e.advice else ""),
                       param=f"input[{e.index}]", code="invalid_input") from None


async def _embeddings(service: Service, request: Request) -> Response:
    model, settings = service.model, service.settings
    body = parse_embeddings_request(await _read_json(request, settings.max_body_bytes, settings.request_timeout_s),
                                    model.dim, settings.max_inputs, model.max_length)
    encode_settings = _settings(service, body.prompt_name, body.long)
    prepared = await _prepare(service, body.texts, encode_settings)
    if prepared.tokens > settings.max_request_tokens:
        raise ApiError(400, f"the request holds {prepared.tokens} tokens; at most {settings.max_request_tokens} per "
                       "request", param="input", code="too_many_tokens")
    pooled = await _pool(service, request, prepared.sequences)
    vectors = model.embedder.finish(prepared, pooled, encode_settings)
    service.metrics.texts += len(body.texts)
    service.metrics.tokens += prepared.tokens
    return JSONResponse(embeddings_response(vectors, body.encoding_format, service.name, prepared.tokens))


async def _models(service: Service, request: Request) -> Response:
    model = service.model
    return JSONResponse({"object": "list", "data": [{
        "id": service.name, "object": "model", "created": 0, "owned_by": "minie5",
        "dimensions": model.dim, "max_input_tokens": model.max_length, "max_model_len": model.max_length,
        "pooling": model.pooling,
        "normalized": model.pipeline.normalize, "default_prefix": service.settings.default_prefix,
        "expects_prefixes": model.expects_prefixes}]})


async def _tokenize(service: Service, request: Request) -> Response:
    """{"input": str | [str], "prefix"? | "prompt_name"?} -> per text: the ids embedded (first
    window), whether the text was cut, and its whole length in tokens."""
    settings = service.settings
    data = await _read_json(request, settings.max_body_bytes, settings.request_timeout_s)
    texts = parse_texts(data, settings.max_inputs)
    prepared = await _prepare(service, texts, _settings(service, parse_prompt_name(data), long="chunk"))
    data, start = [], 0
    for i, lengths in enumerate(prepared.window_lengths):
        first = prepared.sequences[start]
        data.append({"index": i, "ids": first.tolist(), "tokens": len(first), "truncated": len(lengths) > 1,
                     "whole_tokens": sum(n - 2 for n in lengths) + 2})
        start += len(lengths)
    return JSONResponse({"object": "list", "data": data, "model": service.name,
                         "max_input_tokens": service.model.max_length})


async def _health(service: Service, request: Request) -> Response:
    """Liveness: the process answers. 503 only when warming up failed (a restart is the cure)."""
    body = {"status": "failed" if service.phase == "failed" else "ok", "phase": service.phase, "model": service.name}
    if service.failure:
        body["error"] = service.failure
    return JSONResponse(body, status_code=503 if service.phase == "failed" else 200)


async def _ready(service: Service, request: Request) -> Response:
    """Readiness, for load balancers: 200 only while new work is welcome."""
    if service.phase == "ready":
        return JSONResponse({"status": "ready", "model": service.name})
    return JSONResponse({"status": service.phase, "model": service.name}, status_code=503,
                        headers={"Retry-After": str(service.batcher.retry_after())})


async def _metrics(service: Service, request: Request) -> Response:
    return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4")


async def _openapi(service: Service, request: Request) -> Response:
    document = openapi_document(service.model, service.settings, service.name)
    return Response(json.dumps(document), media_type="application/json")


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    """Unknown routes and methods, in OpenAI's error shape too."""
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    return JSONResponse(ApiError(exc.status_code, message.get(exc.status_code, str(exc.detail))).body(),
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))
