"""Cohere's rerank API (https://docs.cohere.com/reference/rerank), which Jina's, mteb's rerank
wrapper and litellm speak too:

    POST /v1/rerank, /v2/rerank
    {"model"?, "query", "documents": [str | {"text", ...}], "top_n"?, "return_documents"?,
     "max_tokens_per_doc"?}
    -> {"id", "results": [{"index", "relevance_score", "document"?: {"text"}}], "model",
        "meta": {"api_version", "billed_units"}, "usage": {"total_tokens"}}

Results are best first; `relevance_score` is the sigmoid of the model's logit, in [0, 1] as
Cohere's are. `documents` may be objects (Cohere v1's and Jina's form): their `text` is scored and
the object is returned as `document`. Fields Cohere's clients send that change nothing here are
accepted when they ask for what minie5 does anyway: `rank_fields` ["text"], `max_chunks_per_doc`
1 (a document is scored on the tokens that fit beside the query), `priority` (requests are
answered in arrival order), `relevant_spans` off. Errors are Cohere's {"message"}.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import TextError
from .protocol import ApiError, check_fields, json_type, optional
from .service import Service, in_worker, read_json, rerank_logits, text_error

FIELDS = {"model", "query", "documents", "top_n", "return_documents", "max_tokens_per_doc", "max_chunks_per_doc",
          "rank_fields", "priority", "relevant_spans"}


async def rerank_v1(service: Service, request: Request) -> Response:
    return await _rerank(service, request, "1")


async def rerank_v2(service: Service, request: Request) -> Response:
    return await _rerank(service, request, "2")


async def _rerank(service: Service, request: Request, version: str) -> Response:
    data = await read_json(service, request)
    check_fields(data, FIELDS)
    served = service.find("reranker", data.get("model"))
    query = data.get("query")
    if not isinstance(query, str) or not query:
        raise ApiError(400, f"'query' must be a non-empty string, got {json_type(query)}", param="query")
    documents, texts = _documents(data, service.settings.max_inputs)
    top_n = optional(data, "top_n", int)
    if top_n is not None and top_n < 1:
        raise ApiError(400, f"'top_n' must be at least 1, got {top_n}", param="top_n")
    return_documents = optional(data, "return_documents", bool, False)
    _accept_what_minie5_does(data)
    limit = optional(data, "max_tokens_per_doc", int)
    if limit is not None:
        if limit < 1:
            raise ApiError(400, f"'max_tokens_per_doc' must be at least 1, got {limit}", param="max_tokens_per_doc")
        try:
            texts = await in_worker(served.model.tokenizer.cut_to_tokens, texts, limit)
        except TextError as e:
            raise text_error(e, "documents") from None
    logits, tokens = await rerank_logits(service, request, served, query, texts, field="documents")
    scores = served.model.activate(logits, "sigmoid")
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))[:top_n]
    results = [{"index": i, "relevance_score": float(scores[i]),
                **({"document": documents[i]} if return_documents else {})} for i in order]
    return JSONResponse({"id": str(uuid.uuid4()), "results": results, "model": served.name,
                         "meta": {"api_version": {"version": version}, "billed_units": {"search_units": 1}},
                         "usage": {"total_tokens": tokens}})


def _documents(data: dict, max_inputs: int) -> tuple[list[dict], list[str]]:
    """`documents` as Cohere returns them ({"text": ...} objects) and as they are scored (their text)."""
    value = data.get("documents")
    if not isinstance(value, list) or not value:
        got = "an empty array" if value == [] else json_type(value)
        raise ApiError(400, f"'documents' must be a non-empty list of strings or {{\"text\": ...}} objects, got {got}",
                       param="documents")
    if len(value) > max_inputs:
        raise ApiError(400, f"'documents' has {len(value)} documents; at most {max_inputs} per request",
                       param="documents", code="too_many_inputs")
    documents, texts = [], []
    for i, document in enumerate(value):
        if isinstance(document, str):
            documents.append({"text": document})
        elif isinstance(document, dict) and isinstance(document.get("text"), str):
            documents.append(document)
        else:
            raise ApiError(400, f"documents[{i}] must be a string or an object with a string 'text', got "
                           f"{json_type(document)}", param=f"documents[{i}]")
        texts.append(documents[-1]["text"])
    return documents, texts


def _accept_what_minie5_does(data: dict) -> None:
    """Cohere's options that ask for nothing minie5 does differently pass; the rest are refused."""
    rank_fields = data.get("rank_fields")
    if rank_fields is not None and rank_fields != ["text"]:
        raise ApiError(400, "'rank_fields' may only be [\"text\"]: minie5 scores each document's text",
                       param="rank_fields")
    chunks = optional(data, "max_chunks_per_doc", int)
    if chunks is not None and chunks != 1:
        raise ApiError(400, "'max_chunks_per_doc' may only be 1: minie5 scores the part of a document that fits "
                       "beside the query", param="max_chunks_per_doc")
    optional(data, "priority", int)
    spans = data.get("relevant_spans")
    if spans is not None and spans is not False:
        raise ApiError(400, "'relevant_spans' is not supported", param="relevant_spans")
