"""The Starlette application: a table of routes to small handlers.

    POST /v1/embeddings, /embeddings   OpenAI's embeddings (clients put /v1 in base_url, or not)
    GET  /v1/models, /models           the served model, in OpenAI's list shape
    POST /tokenize                     token ids and counts, for clients that budget tokens
    GET  /health                       200 once the model is loaded
    GET  /metrics                      Prometheus text

`_endpoint` wraps every handler: the API key, OpenAI's error shape for every failure, and the
request metrics live there and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import TextError, TextTooLong
from .batcher import Batcher, QueueFull
from .metrics import Metrics
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


def create_app(model, settings: ServerSettings = ServerSettings()) -> Starlette:  # noqa: B008 (frozen)
    """An ASGI application serving `model` (a loaded minie5.Model) under `settings`."""
    state = _State(model, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await state.batcher.start()
        try:
            yield
        finally:
            await state.batcher.stop()

    def endpoint(handler, route: str, needs_key: bool = True):
        return _endpoint(state, handler, route, needs_key)

    routes = [
        Route("/v1/embeddings", endpoint(_embeddings, "/v1/embeddings"), methods=["POST"]),
        Route("/embeddings", endpoint(_embeddings, "/v1/embeddings"), methods=["POST"]),
        Route("/v1/models", endpoint(_models, "/v1/models"), methods=["GET"]),
        Route("/models", endpoint(_models, "/v1/models"), methods=["GET"]),
        Route("/tokenize", endpoint(_tokenize, "/tokenize"), methods=["POST"]),
        Route("/health", endpoint(_health, "/health", needs_key=False), methods=["GET"]),
        Route("/metrics", endpoint(_metrics, "/metrics", needs_key=False), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: _http_exception})


class _State:
    """What the handlers share: the model, the settings, the batcher and the metrics."""

    def __init__(self, model, settings: ServerSettings):
        self.model = model
        self.settings = settings
        self.name = settings.served_name or model.name
        self.metrics = Metrics()
        self.batcher = Batcher(model.embedder, max_batch_tokens=model.backend.max_batch_tokens,
                               max_queued=settings.max_queued_texts, wait_s=settings.batch_wait_ms / 1000,
                               metrics=self.metrics)


def _endpoint(state: _State, handler, route: str, needs_key: bool):
    async def run(request: Request) -> Response:
        started = time.perf_counter()
        state.metrics.in_flight += 1
        try:
            if needs_key:
                _check_key(request, state.settings.api_key)
            response = await handler(state, request)
        except ApiError as e:
            response = JSONResponse(e.body(), status_code=e.status, headers=e.headers)
        except Exception:  # a bug, never the client's fault: logged, and a 500 in OpenAI's shape
            log.exception("error handling %s", route)
            response = JSONResponse(ApiError(500, "internal error (logged by the server)", type="server_error",
                                             code="internal_error").body(), status_code=500)
        finally:
            state.metrics.in_flight -= 1
        state.metrics.request(route, response.status_code, time.perf_counter() - started)
        return response

    return run


def _check_key(request: Request, key: str | None) -> None:
    if key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'" if given else
                       "an API key is required: send 'Authorization: Bearer KEY'",
                       type="invalid_request_error", code="invalid_api_key")


async def _read_json(request: Request, limit: int) -> dict:
    """The body, refused with a 413 as soon as it passes `limit` bytes (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"invalid Content-Length {declared!r}")
        if int(declared) > limit:
            raise ApiError(413, f"the request body has {int(declared)} bytes; the limit is {limit}",
                           code="request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is over the limit of {limit} bytes", code="request_too_large")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def _settings(state: _State, prompt_name: str | None, long: str = "truncate"):
    """The text pipeline's settings for a request: its prompt (or the server's default), resolved as
    every front end resolves it."""
    try:
        return state.model.settings(prompt_name=prompt_name or state.settings.default_prefix, long=long)
    except ValueError as e:  # a prompt name the model does not know
        raise ApiError(400, str(e), param="prompt_name") from None


async def _prepare(state: _State, texts: list[str], settings):
    """The request's texts made ready for the engine (tokenized, in a worker thread), or a 400
    naming the text at fault."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, state.model.embedder.prepare, texts, settings)
    except TextTooLong as e:
        raise ApiError(400, f"input[{e.index}] {e.problem}; send long='truncate' or 'chunk'",
                       param=f"input[{e.index}]", code="input_too_long") from None
    except TextError as e:
        raise ApiError(400, f"input[{e.index}] {e.problem}" + (f": {e.advice}" if e.advice else ""),
                       param=f"input[{e.index}]", code="invalid_input") from None


async def _embeddings(state: _State, request: Request) -> Response:
    model, settings = state.model, state.settings
    body = parse_embeddings_request(await _read_json(request, settings.max_body_bytes), model.dim,
                                    settings.max_inputs, model.max_length)
    encode_settings = _settings(state, body.prompt_name, body.long)
    prepared = await _prepare(state, body.texts, encode_settings)
    if prepared.tokens > settings.max_request_tokens:
        raise ApiError(400, f"the request holds {prepared.tokens} tokens; at most {settings.max_request_tokens} per "
                       "request", param="input", code="too_many_tokens")
    try:
        pooled = await state.batcher.pool(prepared.sequences)
    except QueueFull as e:
        raise ApiError(429, f"the server is busy: {e}; retry shortly", type="rate_limit_error",
                       code="queue_full", headers={"Retry-After": "1"}) from None
    vectors = model.embedder.finish(prepared, pooled, encode_settings)
    state.metrics.texts += len(body.texts)
    state.metrics.tokens += prepared.tokens
    return JSONResponse(embeddings_response(vectors, body.encoding_format, state.name, prepared.tokens))


async def _models(state: _State, request: Request) -> Response:
    model = state.model
    return JSONResponse({"object": "list", "data": [{
        "id": state.name, "object": "model", "created": 0, "owned_by": "minie5",
        "dimensions": model.dim, "max_input_tokens": model.max_length, "max_model_len": model.max_length,
        "pooling": model.pooling,
        "normalized": model.pipeline.normalize, "default_prefix": state.settings.default_prefix,
        "expects_prefixes": model.expects_prefixes}]})


async def _tokenize(state: _State, request: Request) -> Response:
    """{"input": str | [str], "prefix"? | "prompt_name"?} -> per text: the ids embedded (first
    window), whether the text was cut, and its whole length in tokens."""
    data = await _read_json(request, state.settings.max_body_bytes)
    texts = parse_texts(data, state.settings.max_inputs)
    prepared = await _prepare(state, texts, _settings(state, parse_prompt_name(data), long="chunk"))
    data, start = [], 0
    for i, lengths in enumerate(prepared.window_lengths):
        first = prepared.sequences[start]
        data.append({"index": i, "ids": first.tolist(), "tokens": len(first), "truncated": len(lengths) > 1,
                     "whole_tokens": sum(n - 2 for n in lengths) + 2})
        start += len(lengths)
    return JSONResponse({"object": "list", "data": data, "model": state.name,
                         "max_input_tokens": state.model.max_length})


async def _health(state: _State, request: Request) -> Response:
    return JSONResponse({"status": "ok", "model": state.name})


async def _metrics(state: _State, request: Request) -> Response:
    return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    """Unknown routes and methods, in OpenAI's error shape too."""
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    return JSONResponse(ApiError(exc.status_code, message.get(exc.status_code, str(exc.detail))).body(),
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))
