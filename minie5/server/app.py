"""The Starlette application: a table of routes to small handlers.

OpenAI's API (clients put /v1 in base_url, or not):
    POST /v1/embeddings, /embeddings   embeddings
    GET  /v1/models, /models           every served model, with its kind
text-embeddings-inference's (huggingface_hub, LangChain's HuggingFaceEndpointEmbeddings, LlamaIndex,
Haystack, Chroma), in tei.py:
    POST /embed                        embeddings as a list of vectors
    POST /                             /embed, or /rerank for a body with `query` and `texts`
    POST /rerank                       documents scored against a query
    GET  /info                         the default model and this server's limits
Cohere's and Jina's rerank API, in rerank_api.py:
    POST /v1/rerank, /v2/rerank        documents ordered by relevance
and minie5's:
    POST /tokenize                     token ids and counts (`input`), or TEI's tokens (`inputs`)
    GET  /health                       liveness: 200 while the process serves at all
    GET  /ready                        readiness: 200 once the kernels are ready, 503 while warming up and draining
    GET  /metrics                      Prometheus text
    GET  /openapi.json                 this API as an OpenAPI 3.0 document

`_endpoint` wraps every handler: the phase (warming up, ready, draining, stopping now), the API
key, the request's deadline, the error shape of the route's protocol for every failure, the
request metrics and the access log live there and nowhere else. `_Admission` sits in front of it
all: 431 for oversized heads, and 429 with Retry-After past --max-requests in flight (the probes
/health, /ready and /metrics are never refused). The connections under them are connections.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import rerank_api, tei, tei_sparse
from .batcher import ClientGone
from .metrics import CLIENT_CLOSED
from .openapi import openapi_document
from .protocol import ApiError, embeddings_response, parse_embeddings_request, parse_prompt_name, parse_texts
from .service import Service, check_key, embed_texts, encode_settings, prepare, read_json
from .settings import ServerSettings

log = logging.getLogger("minie5.server")


def create_app(models, settings: ServerSettings = ServerSettings(),  # noqa: B008 (frozen)
               warm_up=None, on_ready=None, names: list[str] | None = None) -> Starlette:
    """An ASGI application serving `models`: a loaded minie5.Model or minie5.CrossEncoder, or a
    list of them (the first of each kind answers requests that name no model), under `settings`,
    each under its name in `names` (default: `settings.served_name` for the first, else as loaded).

    The server answers at once; `warm_up()` (default: one tiny pass of each model, which compiles
    or loads the engine's kernels) runs on the engine's thread first, and until it is done /ready
    and every model route answer 503 with Retry-After. `on_ready()` is called once it is. The
    application's `state.minie5` is the `Service`: `drain(...)` starts a graceful shutdown."""
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    names = list(names or [])
    if len(names) > len(models):
        raise ValueError(f"{len(names)} names for {len(models)} models")
    defaults = [settings.served_name or models[0].name, *(m.name for m in models[1:])]
    names = [str(n) for n in names] + [str(d) for d in defaults[len(names):]]
    service = Service(models, names, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await service.start()
        warming = asyncio.create_task(service.warm_up(warm_up, on_ready))
        try:
            yield
        finally:
            warming.cancel()
            await service.stop()

    shapes: dict[str, str] = {}

    def route(path: str, handler, methods=("POST",), shape: str = "openai", needs_key: bool = True,
              needs_model: bool = True, name: str | None = None) -> Route:
        shapes[path] = shape
        return Route(path, _endpoint(service, handler, name or path, shape, needs_key, needs_model),
                     methods=list(methods))

    public = {"needs_key": False, "needs_model": False, "shape": "openai"}
    routes = [
        route("/v1/embeddings", _embeddings), route("/embeddings", _embeddings, name="/v1/embeddings"),
        route("/v1/models", _models, ["GET"]), route("/models", _models, ["GET"], name="/v1/models"),
        route("/tokenize", _tokenize),
        route("/embed", tei.embed, shape="tei"), route("/", tei.root, shape="tei"),
        route("/rerank", tei.rerank, shape="tei"), route("/info", tei.info, ["GET"], shape="tei"),
        route("/embed_sparse", tei_sparse.embed_sparse, shape="tei"),
        route("/embed_all", tei_sparse.embed_all, shape="tei"),
        route("/v1/rerank", rerank_api.rerank_v1, shape="cohere"),
        route("/v2/rerank", rerank_api.rerank_v2, shape="cohere"),
        route("/health", _health, ["GET"], **public), route("/ready", _ready, ["GET"], **public),
        route("/metrics", _metrics, ["GET"], **public), route("/openapi.json", _openapi, ["GET"], **public),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_exception})
    app.state.minie5 = service
    app.add_middleware(_Admission, service=service, shapes=shapes)
    return app


def _endpoint(service: Service, handler, route: str, shape: str, needs_key: bool, needs_model: bool):
    async def run(request: Request) -> Response:
        started = time.perf_counter()
        request.state.deadline = asyncio.get_running_loop().time() + service.settings.request_timeout_s
        service.metrics.in_flight += 1
        task = asyncio.current_task()
        service.handling.add(task)
        try:
            if service.stopping_now:
                raise asyncio.CancelledError
            if needs_model and service.phase in ("warming up", "failed"):
                raise service.unavailable(f"the model is not ready ({service.phase}); retry shortly", "not_ready")
            if needs_key:
                check_key(request, service.settings.api_key)
            response = await handler(service, request)
        except asyncio.CancelledError:
            if not service.stopping_now:
                raise
            task.uncancel()  # cancelled by stop_now(), to be answered: not the server's own cancellation
            error = service.unavailable("the server is stopping now; retry on another instance", "shutting_down")
            headers = {**error.headers, "Connection": "close"}
            response = JSONResponse(error.body(shape), status_code=503, headers=headers)
        except ApiError as e:
            response = JSONResponse(e.body(e.shape or shape), status_code=e.status, headers=e.headers)
        except ClientGone:  # nobody to answer: counted as nginx's 499, one line in the log
            log.warning("%s %s: the client closed the connection before the answer (counted as %d)",
                        request.method, request.url.path, CLIENT_CLOSED)
            response = Response(status_code=CLIENT_CLOSED)
        except Exception:  # a bug, never the client's fault: logged, and a 500 in the route's shape
            log.exception("error handling %s", route)
            error = ApiError(500, "internal error (logged by the server)", type="server_error", code="internal_error")
            response = JSONResponse(error.body(shape), status_code=500)
        finally:
            service.metrics.in_flight -= 1
            service.handling.discard(task)
        seconds = time.perf_counter() - started
        service.metrics.request(route, response.status_code, seconds)
        if service.phase == "draining":
            service.during_drain[response.status_code] = service.during_drain.get(response.status_code, 0) + 1
        service.access(request.url.path, response.status_code, request.client, request.method, seconds,
                       getattr(request.state, "work", None))
        return response

    return run


# Routes that answer whatever the load: a balancer's and a scraper's probes.
_PROBES = ("/health", "/ready", "/metrics")


class _Admission:
    """ASGI middleware in front of every route. A head with more than --max-headers fields or
    --max-header-bytes bytes gets a 431 (a head past the HTTP server's own buffer, 4x that, is
    answered by connections.py); past --max-requests requests in flight, a 429 with Retry-After,
    before the body is read. Both in the error shape of the route's protocol (`shapes`)."""

    def __init__(self, app, service: Service, shapes: dict[str, str]):
        self.app, self.service, self.shapes = app, service, shapes
        self.settings = service.settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service, settings, path = self.service, self.settings, scope["path"]
        headers = scope["headers"]
        size = len(scope.get("raw_path") or b"") + sum(len(k) + len(v) + 4 for k, v in headers)
        problem = (f"{len(headers)} header fields; at most {settings.max_headers}"
                   if len(headers) > settings.max_headers else
                   f"{size} bytes of headers; at most {settings.max_header_bytes}"
                   if size > settings.max_header_bytes else None)
        if problem:
            error = ApiError(431, f"the request has {problem}", code="request_header_fields_too_large")
            await self.refuse(error, {"Connection": "close"}, "headers", scope, receive, send)
            return
        if path in _PROBES:
            await self.app(scope, receive, send)
            return
        if service.requests_in_flight >= settings.max_requests:
            error = ApiError(429, f"the server is handling its limit of {settings.max_requests} requests; retry "
                             "shortly", type="rate_limit_error", code="too_many_requests")
            route = path if path in self.shapes else "other"  # a label per route, never per path sent
            await self.refuse(error, {"Retry-After": str(service.retry_after())}, route, scope, receive, send)
            return
        service.requests_in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            service.requests_in_flight -= 1

    async def refuse(self, error: ApiError, headers: dict, route: str, scope, receive, send) -> None:
        body = error.body(self.shapes.get(scope["path"], "openai"))
        await JSONResponse(body, status_code=error.status, headers=headers)(scope, receive, send)
        self.service.metrics.request(route, error.status, 0.0)
        self.service.access(scope["path"], error.status, scope.get("client"), scope["method"])


async def _embeddings(service: Service, request: Request) -> Response:
    data = await read_json(service, request)
    served = service.find("embedding", data.get("model"))
    model = served.model
    body = parse_embeddings_request(data, model.dim, service.settings.max_inputs, model.max_length)
    settings = encode_settings(served, body.prompt_name, service.settings.default_prefix, long=body.long,
                               truncate_dim=body.dimensions)
    vectors, tokens = await embed_texts(service, request, served, body.texts, settings)
    return JSONResponse(embeddings_response(vectors, body.encoding_format, served.name, tokens))


async def _models(service: Service, request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [_model_card(service, served) for served in service.models]})


def _model_card(service: Service, served) -> dict:
    model = served.model
    card = {"id": served.name, "object": "model", "created": 0, "owned_by": "minie5", "kind": served.kind,
            "max_input_tokens": model.max_length, "max_model_len": model.max_length}
    if served.kind == "embedding":
        card.update({"dimensions": model.dim, "pooling": model.pooling, "normalized": model.pipeline.normalize,
                     "default_prefix": service.settings.default_prefix, "expects_prefixes": model.expects_prefixes})
    elif served.kind == "reranker":
        card.update({"labels": list(model.labels), "activation": model.head.activation})
    return card


async def _tokenize(service: Service, request: Request) -> Response:
    """{"input": str | [str], "prefix"? | "prompt_name"?, "model"?} -> per text: the ids embedded
    (first window), whether the text was cut, and its whole length in tokens. A body with TEI's
    `inputs` instead gets TEI's answer (tei.tokenize)."""
    data = await read_json(service, request)
    if "inputs" in data and "input" not in data:
        return await tei.tokenize(service, data)
    served = service.find("embedding", data.get("model"))
    texts = parse_texts(data, service.settings.max_inputs)
    settings = encode_settings(served, parse_prompt_name(data), service.settings.default_prefix, long="chunk")
    prepared = await prepare(served, texts, settings)
    data, start = [], 0
    for i, lengths in enumerate(prepared.window_lengths):
        first = prepared.sequences[start]
        data.append({"index": i, "ids": first.tolist(), "tokens": len(first), "truncated": len(lengths) > 1,
                     "whole_tokens": sum(n - 2 for n in lengths) + 2})
        start += len(lengths)
    return JSONResponse({"object": "list", "data": data, "model": served.name,
                         "max_input_tokens": served.model.max_length})


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
                        headers={"Retry-After": str(service.retry_after())})


async def _metrics(service: Service, request: Request) -> Response:
    return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4")


async def _openapi(service: Service, request: Request) -> Response:
    document = openapi_document(service)
    return Response(json.dumps(document), media_type="application/json")


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    """Unknown routes and methods, in OpenAI's error shape too."""
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    return JSONResponse(ApiError(exc.status_code, message.get(exc.status_code, str(exc.detail))).body(),
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))
