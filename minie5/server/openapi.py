"""The server's API as an OpenAPI 3.0 document (served at /openapi.json), written out by hand so it
says exactly what protocol.py accepts: the limits come from the server's settings and the served
model, so the document describes this server, not servers in general. The tests fuzz a running
server from it (schemathesis) and hold every response to it."""

from __future__ import annotations

from ..encode.long_texts import LONG_MODES
from . import tei_sparse
from .protocol import ENCODING_FORMATS
from .service import KINDS
from .settings import PREFIX_CHOICES

ERROR_STATUSES = {
    "400": "a field is wrong or missing; the message names it (`input[3]`, `dimensions`...)",
    "401": "the API key is missing or wrong",
    "404": "the request names a model this server does not serve (several of its kind are served)",
    "408": "the request body did not arrive within the request timeout",
    "413": "the request body is over the server's limit",
    "429": "the queue is full, or the server's limit of requests in flight is reached; Retry-After says when "
           "capacity frees up",
    "431": "too many header fields, or too many bytes of them",
    "503": "not ready (warming up), draining or stopping now, or the request waited past the request timeout; "
           "see Retry-After",
}
_ROUTE_ERRORS = ("400", "401", "404", "408", "413", "429", "431", "503")


def openapi_document(service) -> dict:
    settings = service.settings
    embedders = [s.model for s in service.models if s.kind == "embedding"]
    rerankers = [s.model for s in service.models if s.kind == "reranker"]
    max_inputs = settings.max_inputs
    text = {"type": "string", "minLength": 1}
    texts = {"oneOf": [text, {"type": "array", "items": text, "minItems": 1, "maxItems": max_inputs}],
             "description": f"a text or 1 to {max_inputs} texts (token ids are refused)"}
    prompt_names = sorted({*PREFIX_CHOICES, *(name for m in embedders for name in m.prompts.names())})
    dims = sorted({m.dim for m in embedders})
    # The first N dimensions, kept by the library's rule for truncate_dim (minie5.encode.dimensions).
    dimensions = {"type": "integer", "minimum": 1, **({"maximum": max(dims)} if dims else {})}
    longest = max((m.max_length for m in embedders), default=512)
    model_field = {"type": "string", "nullable": True,
                   "description": f"a served model (default: the first of the route's kind): {service.listing()}"}
    choose_prompt = {
        "prefix": {"type": "string", "enum": list(PREFIX_CHOICES), "nullable": True,
                   "description": "minie5's prompt choice (default: the server's --default-prefix)"},
        "prompt_name": {"type": "string", "enum": prompt_names, "nullable": True,
                        "description": "text-embeddings-inference's name for the same choice; not with `prefix`"},
    }
    embeddings_request = {
        "type": "object", "required": ["input"], "additionalProperties": False,
        "not": {"required": ["prefix", "prompt_name"]},  # two ways of choosing the prompt: one at most
        "properties": {
            "input": texts,
            "model": model_field,
            "encoding_format": {"type": "string", "enum": list(ENCODING_FORMATS)},
            "dimensions": dict(dimensions),
            "user": {"type": "string"},
            **choose_prompt,
            "long": {"type": "string", "enum": list(LONG_MODES),
                     "description": "texts over the model's limit: cut, mean of windows, or 400 "
                                    "(must agree with `truncate` when both are sent)"},
            "truncate": {"type": "boolean", "description": "text-embeddings-inference's: true is long=truncate"},
            "truncate_prompt_tokens": {"type": "integer", "oneOf": [{"enum": [-1]}, {"minimum": longest}],
                                       "description": "vLLM's: -1 or at least the model's limit (minie5 "
                                                      "truncates at the limit only)"},
        },
    }
    _nullable(embeddings_request, "input")
    dim_range = {"minItems": 1, "maxItems": max(dims)} if dims else {}  # `dimensions` may ask for fewer
    embedding = {"type": "object", "required": ["object", "index", "embedding"], "properties": {
        "object": {"type": "string", "enum": ["embedding"]},
        "index": {"type": "integer", "minimum": 0},
        "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}, **dim_range},
                                {"type": "string", "description": "base64 of little-endian float32"}]}}}
    usage = {"type": "object", "required": ["prompt_tokens", "total_tokens"],
             "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}
    embeddings_response = {"type": "object", "required": ["object", "data", "model", "usage"], "properties": {
        "object": {"type": "string", "enum": ["list"]}, "data": {"type": "array", "items": embedding},
        "model": {"type": "string"}, "usage": usage}}
    tokenize_request = {"type": "object", "required": ["input"], "properties": {"input": texts, **choose_prompt,
                                                                              "model": model_field},
                        "not": {"required": ["prefix", "prompt_name"]}}
    tei_tokenize_request = {"type": "object", "required": ["inputs"], "additionalProperties": False, "properties": {
        "inputs": texts, "add_special_tokens": {"type": "boolean"}, "prompt_name": choose_prompt["prompt_name"],
        "model": model_field}}
    _nullable(tei_tokenize_request, "inputs")
    tokenized = {"type": "object", "required": ["index", "ids", "tokens", "truncated", "whole_tokens"],
                 "properties": {"index": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "integer"}},
                                "tokens": {"type": "integer"}, "truncated": {"type": "boolean"},
                                "whole_tokens": {"type": "integer"}}}
    tokenize_response = {"type": "object", "required": ["object", "data", "model", "max_input_tokens"],
                         "properties": {"object": {"type": "string"}, "data": {"type": "array", "items": tokenized},
                                        "model": {"type": "string"}, "max_input_tokens": {"type": "integer"}}}
    simple_token = {"type": "object", "required": ["id", "text", "special", "start", "stop"], "properties": {
        "id": {"type": "integer"}, "text": {"type": "string"}, "special": {"type": "boolean"},
        "start": {"type": "integer", "nullable": True}, "stop": {"type": "integer", "nullable": True}}}
    tei_tokenize_response = {"type": "array", "items": {"type": "array", "items": simple_token}}
    models_response = {"type": "object", "required": ["object", "data"], "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": {"type": "object", "required": ["id", "object", "kind"],
                                            "properties": {"id": {"type": "string"}, "object": {"type": "string"},
                                                           "kind": {"type": "string", "enum": list(KINDS)},
                                                           "dimensions": {"type": "integer"},
                                                           "labels": {"type": "array", "items": {"type": "string"}},
                                                           "max_input_tokens": {"type": "integer"},
                                                           "max_model_len": {"type": "integer"}}}}}}
    truncation = {"truncate": {"type": "boolean", "description": "cut texts over the limit (default: true, TEI's "
                                                                 "--auto-truncate); false: a 400"},
                  "truncation_direction": {"type": "string", "enum": ["Right", "Left", "right", "left"],
                                           "description": "the end a cut text loses (default Right)"}}
    tei_embed_request = {"type": "object", "required": ["inputs"], "additionalProperties": False, "properties": {
        "inputs": texts, "normalize": {"type": "boolean"}, **truncation, "prompt_name": choose_prompt["prompt_name"],
        "dimensions": dict(dimensions), "model": model_field}}
    _nullable(tei_embed_request, "inputs")
    tei_embed_response = {"type": "array", "items": {"type": "array", "items": {"type": "number"}, **dim_range}}
    any_text = {"type": "string"}
    tei_rerank_request = {"type": "object", "required": ["query", "texts"], "additionalProperties": False,
                          "properties": {"query": text, "texts": {"type": "array", "items": any_text, "minItems": 1,
                                                                  "maxItems": max_inputs},
                                         **truncation, "raw_scores": {"type": "boolean"},
                                         "return_text": {"type": "boolean"}, "model": model_field}}
    _nullable(tei_rerank_request, "query", "texts")
    tei_rerank_response = {"type": "array", "items": {"type": "object", "required": ["index", "score"], "properties": {
        "index": {"type": "integer", "minimum": 0}, "score": {"type": "number"}, "text": {"type": "string"}}}}
    document = {"oneOf": [any_text, {"type": "object", "required": ["text"], "properties": {"text": any_text}}]}
    rerank_request = {"type": "object", "required": ["query", "documents"], "additionalProperties": False,
                      "properties": {
                          "model": model_field, "query": text,
                          "documents": {"type": "array", "items": document, "minItems": 1, "maxItems": max_inputs},
                          "top_n": {"type": "integer", "minimum": 1}, "return_documents": {"type": "boolean"},
                          "max_tokens_per_doc": {"type": "integer", "minimum": 1},
                          "max_chunks_per_doc": {"type": "integer", "enum": [1]},
                          "rank_fields": {"type": "array", "items": {"type": "string", "enum": ["text"]},
                                          "minItems": 1, "maxItems": 1},
                          "priority": {"type": "integer"},
                          "relevant_spans": {"type": "boolean", "enum": [False]}}}
    _nullable(rerank_request, "query", "documents")
    rerank_response = {"type": "object", "required": ["id", "results", "model", "meta", "usage"], "properties": {
        "id": {"type": "string"}, "model": {"type": "string"},
        "results": {"type": "array", "items": {"type": "object", "required": ["index", "relevance_score"],
                                               "properties": {"index": {"type": "integer", "minimum": 0},
                                                              "relevance_score": {"type": "number", "minimum": 0,
                                                                                  "maximum": 1},
                                                              "document": {"type": "object",
                                                                           "required": ["text"]}}}},
        "meta": {"type": "object"},
        "usage": {"type": "object", "required": ["total_tokens"], "properties": {"total_tokens": {"type": "integer"}}}}}
    tei_info = {"type": "object", "required": ["model_id", "model_dtype", "model_type", "max_input_length",
                                               "max_batch_tokens", "max_client_batch_size", "auto_truncate",
                                               "version"],
                "properties": {"model_id": {"type": "string"}, "model_dtype": {"type": "string"},
                               "model_type": {"type": "object"}, "max_input_length": {"type": "integer"},
                               "max_batch_tokens": {"type": "integer"}, "max_client_batch_size": {"type": "integer"},
                               "auto_truncate": {"type": "boolean"}, "version": {"type": "string"}}}
    status = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"},
                                                                      "model": {"type": "string"}}}
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type", "param", "code"], "properties": {
            "message": {"type": "string"}, "type": {"type": "string"},
            "param": {"type": "string", "nullable": True}, "code": {"type": "string", "nullable": True}}}}}
    tei_error = {"type": "object", "required": ["error", "error_type"], "properties": {
        "error": {"type": "string"}, "error_type": {"type": "string"}}}
    cohere_error = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}

    def json_body(schema: str) -> dict:
        return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}

    def errors(statuses, shape: str = "Error") -> dict:
        return {s: {"description": ERROR_STATUSES[s], **json_body(shape),
                    **({"headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}}
                       if s in ("429", "503") else {})} for s in statuses}

    secured = [{"bearer": []}] if settings.api_key else []

    def post(summary: str, request: str, response: str, shape: str = "Error") -> dict:
        return {"post": {"summary": summary, "security": secured, "requestBody": {"required": True,
                                                                                    **json_body(request)},
                         "responses": {"200": {"description": "OK", **json_body(response)},
                                       **errors(_ROUTE_ERRORS, shape)}}}

    def get(summary: str, response: dict, statuses=("431",), secure: bool = False) -> dict:
        return {"get": {"summary": summary, "security": secured if secure else [],
                        "responses": {"200": {"description": "OK", **response}, **errors(statuses)}}}

    paths = {
        "/v1/models": get("The served models (OpenAI's list shape)", json_body("ModelsResponse"),
                          ("401", "429", "431", "503"), secure=True),
        "/health": get("Liveness", json_body("Status"), ("431", "503")),
        "/ready": get("Readiness: 503 while warming up and while draining", json_body("Status"), ("431", "503")),
        "/metrics": get("Prometheus text", {"content": {"text/plain": {"schema": {"type": "string"}}}}),
        "/openapi.json": get("This document", {"content": {"application/json": {"schema": {"type": "object"}}}},
                             ("429", "431")),
        "/info": get("text-embeddings-inference's description of the default model", json_body("TeiInfo"),
                     ("401", "429", "431", "503"), secure=True),
    }
    paths["/models"] = paths["/v1/models"]
    if embedders:
        embeddings = post("Embed texts (OpenAI's embeddings API)", "EmbeddingsRequest", "EmbeddingsResponse")
        tei_embed = post("Embed texts (text-embeddings-inference's /embed)", "TeiEmbedRequest", "TeiEmbedResponse",
                         "TeiError")
        paths.update({"/v1/embeddings": embeddings, "/embeddings": embeddings, "/embed": tei_embed,
                      "/tokenize": post("Token ids and counts", "TokenizeRequest", "TokenizeResponse")})
        # TEI's form of /tokenize is the same path with `inputs`: OpenAPI 3.0 has one schema per path,
        # so it is documented in the components only (TeiTokenizeRequest / TeiTokenizeResponse).
    if rerankers:
        rerank = post("Rerank documents (Cohere's and Jina's API)", "RerankRequest", "RerankResponse", "CohereError")
        paths.update({"/v1/rerank": rerank, "/v2/rerank": rerank,
                      "/rerank": post("Rerank texts (text-embeddings-inference's /rerank)", "TeiRerankRequest",
                                      "TeiRerankResponse", "TeiError")})
    sparse = any(s.kind == "sparse" for s in service.models)
    more_paths, more_schemas = tei_sparse.openapi(texts, model_field, truncation, choose_prompt["prompt_name"], sparse,
                                                  bool(embedders), post)
    paths.update(more_paths)
    # TEI's root route embeds, or reranks a body with `query` and `texts`.
    root = [("TeiEmbedRequest", "TeiEmbedResponse")] * bool(embedders) + \
        [("TeiRerankRequest", "TeiRerankResponse")] * bool(rerankers)
    paths["/"] = {"post": {"summary": "text-embeddings-inference's root route: /embed or /rerank by the body",
                           "security": secured, "requestBody": {"required": True, "content": {"application/json": {
                               "schema": {"oneOf": [{"$ref": f"#/components/schemas/{q}"} for q, _ in root]}}}},
                           "responses": {"200": {"description": "OK", "content": {"application/json": {
                               "schema": {"oneOf": [{"$ref": f"#/components/schemas/{r}"} for _, r in root]}}}},
                               **errors(_ROUTE_ERRORS, "TeiError")}}}
    kinds = " and ".join(f"{len(ms)} {kind}(s)" for kind, ms in (("embedder", embedders), ("reranker", rerankers))
                         if ms)
    return {
        "openapi": "3.0.3",
        "info": {"title": "minie5 serve", "version": _version(),
                 "description": f"{kinds}: {service.listing()}, in OpenAI's, text-embeddings-inference's and "
                                "Cohere's APIs. Every error has the shape of its protocol's: `Error`, `TeiError`, "
                                "`CohereError`."},
        "paths": paths,
        "components": {
            "schemas": {"EmbeddingsRequest": embeddings_request, "EmbeddingsResponse": embeddings_response,
                        "TokenizeRequest": tokenize_request, "TokenizeResponse": tokenize_response,
                        "TeiTokenizeRequest": tei_tokenize_request, "TeiTokenizeResponse": tei_tokenize_response,
                        "TeiEmbedRequest": tei_embed_request, "TeiEmbedResponse": tei_embed_response,
                        "TeiRerankRequest": tei_rerank_request, "TeiRerankResponse": tei_rerank_response,
                        "RerankRequest": rerank_request, "RerankResponse": rerank_response, "TeiInfo": tei_info,
                        "ModelsResponse": models_response, "Status": status, "Error": error, "TeiError": tei_error,
                        "CohereError": cohere_error, **more_schemas},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _nullable(schema: dict, *required: str) -> None:
    """Every optional field may also be null, which means "not sent" (clients write unset fields so)."""
    for name, field in schema["properties"].items():
        if name not in required:
            field["nullable"] = True


def _version() -> str:
    from .. import __version__

    return __version__
