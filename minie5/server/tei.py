"""text-embeddings-inference's API (https://huggingface.github.io/text-embeddings-inference/), as
huggingface_hub's InferenceClient, LangChain's HuggingFaceEndpointEmbeddings, LlamaIndex's
TextEmbeddingsInference, Haystack's and Chroma's TEI clients call it:

    POST /embed      {"inputs": str | [str], "normalize"?, "truncate"?, "truncation_direction"?,
                      "prompt_name"?, "dimensions"?}                      -> [[float, ...], ...]
    POST /rerank     {"query", "texts": [str], "raw_scores"?, "return_text"?, "truncate"?,
                      "truncation_direction"?}                            -> [{"index", "score", "text"?}]
    POST /           /rerank for a body with `query` or `texts`, else /embed
    GET  /info       the default model (id, dtype, type, limits), as TEI describes itself
    POST /tokenize   {"inputs", "add_special_tokens"?, "prompt_name"?}   -> [[{"id", "text", "special",
                                                                             "start", "stop"}]]

Errors are TEI's {"error": message, "error_type"}. Where TEI and minie5 differ: `truncate` absent
means truncate (TEI's --auto-truncate, reported in /info), and an optional `model` field (minie5's)
picks one of several served models. Rerank scores are the sigmoid of the logit, as TEI gives them,
unless raw_scores; the list is best first.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..encode import prompts
from ..errors import TextError
from .protocol import ApiError, check_fields, optional, parse_dimensions, parse_texts
from .service import Service, embed_texts, encode_settings, in_worker, read_json, rerank_logits, text_error

EMBED_FIELDS = {"inputs", "normalize", "truncate", "truncation_direction", "prompt_name", "dimensions", "model"}
RERANK_FIELDS = {"query", "texts", "truncate", "truncation_direction", "raw_scores", "return_text", "model"}
TOKENIZE_FIELDS = {"inputs", "add_special_tokens", "prompt_name", "model"}


async def embed(service: Service, request: Request) -> Response:
    return await _embed(service, request, await read_json(service, request))


async def rerank(service: Service, request: Request) -> Response:
    return await _rerank(service, request, await read_json(service, request))


async def root(service: Service, request: Request) -> Response:
    """TEI's root route: what the body asks for (huggingface_hub posts feature extraction here)."""
    data = await read_json(service, request)
    if "query" in data or "texts" in data:
        return await _rerank(service, request, data)
    return await _embed(service, request, data)


async def _embed(service: Service, request: Request, data: dict) -> Response:
    check_fields(data, EMBED_FIELDS)
    served = service.find("embedding", data.get("model"))
    model = served.model
    texts = parse_texts(data, service.settings.max_inputs, field="inputs")
    dimensions = parse_dimensions(optional(data, "dimensions", int), model.dim)
    prompt_name = optional(data, "prompt_name", str)
    settings = encode_settings(served, prompt_name, service.settings.default_prefix,
                               long="truncate" if optional(data, "truncate", bool, True) else "error",
                               normalize=optional(data, "normalize", bool, True),
                               truncation_side=_side(data), truncate_dim=dimensions)
    vectors, tokens = await embed_texts(service, request, served, texts, settings, field="inputs")
    return JSONResponse(vectors.astype("<f4").tolist(), headers={"x-compute-tokens": str(tokens)})


async def _rerank(service: Service, request: Request, data: dict) -> Response:
    check_fields(data, RERANK_FIELDS)
    served = service.find("reranker", data.get("model"))
    query = data.get("query")
    if not isinstance(query, str) or not query:
        raise ApiError(400, "'query' must be a non-empty string", param="query")
    texts = data.get("texts")
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, "'texts' must be a non-empty list of strings", param="texts")
    if len(texts) > service.settings.max_inputs:
        raise ApiError(400, f"'texts' has {len(texts)} texts; at most {service.settings.max_inputs} per request",
                       param="texts", code="too_many_inputs")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f"texts[{i}] must be a string", param=f"texts[{i}]")
    raw, return_text = optional(data, "raw_scores", bool, False), optional(data, "return_text", bool, False)
    logits, tokens = await rerank_logits(service, request, served, query, texts, side=_side(data), field="texts",
                                         truncate=optional(data, "truncate", bool, True))
    scores = logits if raw else served.model.activate(logits, "sigmoid")
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))
    return JSONResponse([{"index": i, "score": float(scores[i]), **({"text": texts[i]} if return_text else {})}
                         for i in order], headers={"x-compute-tokens": str(tokens)})


async def info(service: Service, request: Request) -> Response:
    """TEI's /info for the default model (the first served); /v1/models lists them all."""
    from .. import __version__

    served = service.models[0]
    model = served.model
    if served.kind == "embedding":
        model_type = {"embedding": {"pooling": model.pooling}}
    else:
        id2label = {str(i): label for i, label in enumerate(model.labels)}
        kind = "reranker" if len(model.labels) == 1 else "classifier"
        model_type = {kind: {"id2label": id2label, "label2id": {label: i for i, label in enumerate(model.labels)}}}
    return JSONResponse({
        "model_id": served.name, "model_sha": None,
        "model_dtype": getattr(model.backend, "weights", str(model.backend.dtype)), "model_type": model_type,
        "max_concurrent_requests": service.settings.max_requests, "max_input_length": model.max_length,
        "max_batch_tokens": model.backend.max_batch_tokens, "max_batch_requests": None,
        "max_client_batch_size": service.settings.max_inputs, "auto_truncate": True,
        "tokenization_workers": min(32, (os.cpu_count() or 1) + 4), "version": __version__, "sha": None,
        "docker_label": None})


async def tokenize(service: Service, data: dict) -> Response:
    """TEI's /tokenize: every token of each text (untruncated), with its characters' span; the
    prompt, when one is asked for, is tokenized with the text and its span counts from the
    prompt's start."""
    try:
        check_fields(data, TOKENIZE_FIELDS)
        served = service.find("embedding", data.get("model"))
        texts = parse_texts(data, service.settings.max_inputs, field="inputs")
        add_special_tokens = optional(data, "add_special_tokens", bool, True)
        settings = encode_settings(served, optional(data, "prompt_name", str), service.settings.default_prefix)
        try:
            spans = await in_worker(served.model.tokenizer.token_spans, prompts.with_prompt(texts, settings.prompt),
                                    add_special_tokens)
        except TextError as e:
            raise text_error(e, "inputs") from None
    except ApiError as e:
        e.shape = "tei"
        raise
    return JSONResponse([[{"id": i, "text": text, "special": special, "start": start, "stop": stop}
                          for i, text, special, start, stop in tokens] for tokens in spans])


def _side(data: dict) -> str:
    """TEI's truncation_direction ("Right" or "Left"; huggingface_hub sends them in lower case) as
    the side a cut text loses."""
    value = optional(data, "truncation_direction", str, "right", what="'Right' or 'Left'")
    if value not in ("Right", "Left", "right", "left"):
        raise ApiError(400, f"'truncation_direction' must be 'Right' or 'Left', got {value!r}",
                       param="truncation_direction")
    return value.lower()
