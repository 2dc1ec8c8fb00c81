"""`minie5 serve`: an embeddings and reranking server in OpenAI's, text-embeddings-inference's
and Cohere's APIs (the server extra: `pip install ".[server]"`).

    settings.py  the limits and defaults, each with its documented value
    protocol.py  OpenAI's request and error shapes: parsing, validation, responses
    service.py   the served models (embedders and cross-encoders), routing by `model`, and the
                 steps every route shares: the body read, texts tokenized, work pooled
    tei.py       text-embeddings-inference's routes: /embed, /rerank, /, /info, /tokenize's form
    rerank_api.py  Cohere's and Jina's /v1/rerank and /v2/rerank
    batcher.py   concurrent requests merged into engine passes under a token budget, a large request
                 split across passes round robin, one batcher per model; work dropped when its client
                 goes or its deadline passes
    metrics.py   counters and histograms in Prometheus' text format
    openapi.py   the API as an OpenAPI document, with this server's limits
    app.py       the Starlette application: a table of routes to small handlers, the limit on
                 requests in flight, the access log
    connections.py  uvicorn's h11 protocol with a cap on connections (idle ones closed first), the
                 header timeout, and the HTTP layer's refusals in JSON
    serving.py   the application on uvicorn, and a shutdown that says what it does (drain, stop now)

A front end over the library, as the CLI is: `minie5` itself never imports this package, and
`create_app(model)` serves any loaded `minie5.Model` or `minie5.CrossEncoder`, or a list of them.
"""

from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str):
    # Starlette is an optional dependency: import it when the app is asked for, not with the package.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
