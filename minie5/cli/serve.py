"""`minie5 serve`: the embeddings and reranking server (minie5.server) on uvicorn."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import install_hint
from ..server.settings import PREFIX_CHOICES, ServerSettings
from .common import UsageError, add_deterministic_argument, add_model_arguments

DEFAULTS = ServerSettings()
API_KEY_ENV = "MINIE5_API_KEY"


def add_parsers(commands) -> None:
    serve = commands.add_parser(
        "serve", help="serve embeddings and reranking over HTTP (OpenAI's, TEI's and Cohere's APIs)",
        description="Serve models over HTTP with OpenAI's embeddings API (point the openai client, "
                    "LangChain's OpenAIEmbeddings, LlamaIndex or litellm at base_url http://HOST:PORT/v1), "
                    "text-embeddings-inference's (/embed, /rerank, /info; huggingface_hub's InferenceClient) and "
                    "Cohere's rerank API (/v1/rerank, /v2/rerank). Concurrent requests are batched together. "
                    "Needs the server extra: "
                    f"{install_hint('server')}. On Ctrl-C or SIGTERM it drains and says so: /ready answers 503 "
                    "(for --pre-stop-delay seconds the listener stays open), the listener closes, accepted "
                    "requests are answered (queued ones past --drain-timeout get 503), then it exits; a second "
                    "Ctrl-C answers every waiting request 503 and stops now. The API is described at "
                    "/openapi.json.")
    add_model_arguments(serve, repeatable=True,
                        model_help="a model to serve: a Hugging Face name or a folder, an embedder or a "
                                   "cross-encoder (a ...ForSequenceClassification reranker; told apart by its "
                                   "config.json). Repeat it to serve several: requests choose by their 'model' "
                                   "field, the first of each kind by default")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                       "machine only; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--api-key", metavar="KEY", default=os.environ.get(API_KEY_ENV),
                       help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}; none: open)")
    serve.add_argument("--default-prefix", choices=PREFIX_CHOICES, default=DEFAULTS.default_prefix,
                       help="the prompt for texts of requests that send no 'prefix' or 'prompt_name' field "
                            "(default: none, texts as sent; e5 models want 'query: '/'passage: ' on every text)")
    serve.add_argument("--served-name", metavar="NAME", action="append",
                       help="the name requests and responses use for a model, one per --model in order "
                            "(default: as --model names it)")
    serve.add_argument("--max-body-bytes", type=int, default=DEFAULTS.max_body_bytes, metavar="N",
                       help=f"largest request body; larger gets 413 (default {DEFAULTS.max_body_bytes})")
    serve.add_argument("--max-inputs", type=int, default=DEFAULTS.max_inputs, metavar="N",
                       help=f"texts per request; more gets 400 (default {DEFAULTS.max_inputs}, as OpenAI)")
    serve.add_argument("--max-request-tokens", type=int, default=DEFAULTS.max_request_tokens, metavar="N",
                       help=f"tokens per request after truncation; more gets 400 "
                            f"(default {DEFAULTS.max_request_tokens})")
    serve.add_argument("--max-queue", type=int, default=DEFAULTS.max_queued_texts, metavar="N",
                       help=f"texts waiting for the engine; more gets 429 with Retry-After "
                            f"(default {DEFAULTS.max_queued_texts})")
    serve.add_argument("--batch-wait-ms", type=float, default=DEFAULTS.batch_wait_ms, metavar="MS",
                       help=f"how long a batch waits for other requests to join (default {DEFAULTS.batch_wait_ms:g})")
    serve.add_argument("--max-batch-tokens", type=int, default=DEFAULTS.max_batch_tokens, metavar="N",
                       help="tokens one engine pass takes from the queue at most; a larger request runs in several "
                            "passes, round robin with the others, so a short query overtakes big batches; 0: the "
                            f"engine's own budget (default {DEFAULTS.max_batch_tokens})")
    serve.add_argument("--request-timeout", type=float, default=DEFAULTS.request_timeout_s, metavar="S",
                       help="seconds a request may take to arrive and wait in the queue; its body late: 408, "
                            "its work still queued: dropped, 503 with Retry-After "
                            f"(default {DEFAULTS.request_timeout_s:g})")
    serve.add_argument("--drain-timeout", type=float, default=DEFAULTS.drain_timeout_s, metavar="S",
                       help="on SIGTERM, seconds to go on answering accepted requests before what is still queued "
                            f"gets 503 with Retry-After (default {DEFAULTS.drain_timeout_s:g})")
    serve.add_argument("--pre-stop-delay", type=float, default=DEFAULTS.pre_stop_s, metavar="S",
                       help="on SIGTERM, seconds /ready answers 503 while requests are still served, before the "
                            "listener closes, so that a load balancer sees it (default "
                            f"{DEFAULTS.pre_stop_s:g})")
    serve.add_argument("--header-timeout", type=float, default=DEFAULTS.header_timeout_s, metavar="S",
                       help="a connection that sends no whole request head within S seconds is closed "
                            f"(default {DEFAULTS.header_timeout_s:g})")
    serve.add_argument("--max-header-bytes", type=int, default=DEFAULTS.max_header_bytes, metavar="N",
                       help=f"request line and headers; more gets 431 (default {DEFAULTS.max_header_bytes})")
    serve.add_argument("--max-headers", type=int, default=DEFAULTS.max_headers, metavar="N",
                       help=f"header fields per request; more gets 431 (default {DEFAULTS.max_headers})")
    serve.add_argument("--max-requests", type=int, default=DEFAULTS.max_requests, metavar="N",
                       help="requests in flight (being read, queued or computed); more get 429 with Retry-After "
                            f"(default {DEFAULTS.max_requests}, as text-embeddings-inference)")
    serve.add_argument("--max-connections", type=int, default=DEFAULTS.max_connections, metavar="N",
                       help="open connections, idle ones included; at the cap the connection idle the longest is "
                            f"closed for a new one (default {DEFAULTS.max_connections})")
    serve.add_argument("--access-log", nargs="?", const="text", choices=("text", "json"), metavar="FORMAT",
                       help="one line per request on standard output: time, client, route, status, model, texts, "
                            "tokens, queue, compute and total milliseconds; FORMAT text (the default) or json "
                            "(JSON lines). Off unless given")
    serve.add_argument("--threads", type=int, metavar="N", help="cores to use (default: $MINIE5_NUM_THREADS, else all)")
    serve.add_argument("--backend", choices=("numba", "numpy"), default="numba", help="numba (default) or numpy")
    add_deterministic_argument(serve)
    serve.set_defaults(run=run_serve)


def run_serve(args) -> None:
    try:
        import uvicorn  # noqa: F401 (the server extra: asked for here, to say so clearly)

        from ..server import create_app
    except ImportError as e:
        raise UsageError(f"serve needs the server extra ({e.name} is missing): {install_hint('server')}") from None
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, got {args.port}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be a positive integer, got {args.threads}")
    try:
        settings = ServerSettings(api_key=args.api_key or None, default_prefix=args.default_prefix,
                                  max_body_bytes=args.max_body_bytes, max_inputs=args.max_inputs,
                                  max_request_tokens=args.max_request_tokens, max_queued_texts=args.max_queue,
                                  batch_wait_ms=args.batch_wait_ms, max_batch_tokens=args.max_batch_tokens,
                                  request_timeout_s=args.request_timeout, drain_timeout_s=args.drain_timeout,
                                  header_timeout_s=args.header_timeout, max_header_bytes=args.max_header_bytes,
                                  max_headers=args.max_headers, max_requests=args.max_requests,
                                  max_connections=args.max_connections, pre_stop_s=args.pre_stop_delay,
                                  access_log=args.access_log or "")
    except ValueError as e:
        field = str(e).split()[0]
        flag = ({"max_queued_texts": "max-queue", "pre_stop_s": "pre-stop-delay"}.get(field)
                or field.removesuffix("_s").replace("_", "-"))
        raise UsageError(f"--{flag}{str(e)[len(field):]}") from None
    names = args.served_name or []
    if len(names) > len(args.model or [None]):
        raise UsageError(f"{len(names)} --served-name for {len(args.model or [None])} --model")
    if len(set(names)) != len(names):
        raise UsageError(f"--served-name: each model needs its own name, got {names}")
    models = load_models(args)
    names += [model.name for model in models[len(names):]]
    if len(set(names)) != len(names):
        raise UsageError(f"two models would be served as the same name ({names}): give --served-name for each")
    for model, name in zip(models, names):
        if getattr(model, "expects_prefixes", False) and settings.default_prefix == "none":
            print(f"minie5 serve: warning: {name} is an e5 model, trained with 'query: ' / 'passage: ' before every "
                  "text, and no --default-prefix is set: requests must send 'prefix' or 'prompt_name', or texts that "
                  "start with their prefix, or they embed worse", file=sys.stderr, flush=True)
    import socket

    from ..server.serving import serve

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # IPPROTO_TCP named outright: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # whose proto says TCP, and with it on, each response waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        raise OSError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e})") from None
    host, port = sock.getsockname()[:2]
    url = f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{port}"
    ready = (f"minie5 serve: {', '.join(describe(m, n, settings) for m, n in zip(models, names))} ready at {url}/v1"
             + ("" if settings.api_key else " (no API key)"))

    def listening():
        print(f"minie5 serve: listening on {url}; /health answers, /ready says 503 until the kernels are "
              "compiled or loaded", flush=True)

    # The kernels compile (or load from Numba's cache) on a worker thread once the server listens:
    # meanwhile /ready and the model routes answer 503, so a load balancer waits.
    if settings.access_log:
        import logging

        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access = logging.getLogger("minie5.access")
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    app = create_app(models, settings, on_ready=lambda: print(ready, flush=True), names=names)
    serve(app, settings, sock, on_listening=listening)


def load_models(args) -> list:
    """Each --model loaded as what its config.json says it is: a cross-encoder or an embedder."""
    from ..cross_encoder import load_reranker
    from ..families import open_model
    from ..loading.heads import is_cross_encoder
    from .common import load_model

    models = []
    for name in args.model or [None]:
        if is_cross_encoder(open_model(name, args.revision).path / "config.json"):
            models.append(load_reranker(name, backend=args.backend, threads=args.threads, revision=args.revision,
                                        deterministic=args.deterministic, dtype=args.dtype))
        else:
            models.append(load_model(argparse.Namespace(**{**vars(args), "model": name})))
    return models


def describe(model, name: str, settings: ServerSettings) -> str:
    """One model as the ready line names it."""
    if hasattr(model, "head"):
        return f"{name} (reranker, {len(model.labels)} label(s), {model.max_length} tokens)"
    default_prompt = model.prompts.resolve(settings.default_prefix)
    prefix_note = "texts as sent" if default_prompt is None else f"{default_prompt!r} added"
    return (f"{name} ({model.dim} dimensions, {model.pooling} pooling, {model.max_length} tokens; default prefix "
            f"{settings.default_prefix}: {prefix_note})")
