"""The server's API as an OpenAPI 3.0 document (served at /openapi.json), written out by hand so it
says exactly what protocol.py accepts: the limits come from the server's settings and the served
model, so the document describes this server, not servers in general. The tests fuzz a running
server from it (schemathesis) and hold every response to it."""

from __future__ import annotations

from ..encode.long_texts import LONG_MODES
from .protocol import ENCODING_FORMATS
from .settings import PREFIX_CHOICES

ERROR_STATUSES = {
    "400": "a field is wrong or missing; `param` names it (`input[3]`, `dimensions`...)",
    "401": "the API key is missing or wrong",
    "408": "the request body did not arrive within the request timeout",
    "413": "the request body is over the server's limit",
    "429": "the queue is full; Retry-After says when capacity frees up",
    "431": "too many header fields, or too many bytes of them",
    "503": "not ready (warming up), draining, or the request waited past the request timeout; see Retry-After",
}
_ROUTE_ERRORS = ("400", "401", "408", "413", "429", "431", "503")


def openapi_document(model, settings, name: str) -> dict:
    text = {"type": "string", "minLength": 1}
    texts = {"oneOf": [text, {"type": "array", "items": text, "minItems": 1, "maxItems": settings.max_inputs}],
             "description": f"a text or 1 to {settings.max_inputs} texts (token ids are refused)"}
    prompt_names = sorted({*PREFIX_CHOICES, *model.prompts.names()})
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
            "model": {"type": "string", "description": "echoed back as the served model's name"},
            "encoding_format": {"type": "string", "enum": list(ENCODING_FORMATS)},
            "dimensions": {"type": "integer", "enum": [model.dim]},
            "user": {"type": "string"},
            **choose_prompt,
            "long": {"type": "string", "enum": list(LONG_MODES),
                     "description": f"texts over {model.max_length} tokens: cut, mean of windows, or 400 "
                                    "(must agree with `truncate` when both are sent)"},
            "truncate": {"type": "boolean", "description": "text-embeddings-inference's: true is long=truncate"},
            "truncate_prompt_tokens": {"type": "integer", "oneOf": [{"enum": [-1]}, {"minimum": model.max_length}],
                                       "description": "vLLM's: -1 or at least the model's limit (minie5 "
                                                      "truncates at the limit only)"},
        },
    }
    # Every optional field may also be null, which means "not sent" (clients write unset fields so).
    for name, field in embeddings_request["properties"].items():
        if name != "input":
            field["nullable"] = True
    embedding = {"type": "object", "required": ["object", "index", "embedding"], "properties": {
        "object": {"type": "string", "enum": ["embedding"]},
        "index": {"type": "integer", "minimum": 0},
        "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}, "minItems": model.dim,
                                 "maxItems": model.dim},
                                {"type": "string", "description": "base64 of little-endian float32"}]}}}
    usage = {"type": "object", "required": ["prompt_tokens", "total_tokens"],
             "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}
    embeddings_response = {"type": "object", "required": ["object", "data", "model", "usage"], "properties": {
        "object": {"type": "string", "enum": ["list"]}, "data": {"type": "array", "items": embedding},
        "model": {"type": "string"}, "usage": usage}}
    tokenize_request = {"type": "object", "required": ["input"], "properties": {"input": texts, **choose_prompt},
                        "not": {"required": ["prefix", "prompt_name"]}}
    tokenized = {"type": "object", "required": ["index", "ids", "tokens", "truncated", "whole_tokens"],
                 "properties": {"index": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "integer"}},
                                "tokens": {"type": "integer"}, "truncated": {"type": "boolean"},
                                "whole_tokens": {"type": "integer"}}}
    tokenize_response = {"type": "object", "required": ["object", "data", "model", "max_input_tokens"],
                         "properties": {"object": {"type": "string"}, "data": {"type": "array", "items": tokenized},
                                        "model": {"type": "string"}, "max_input_tokens": {"type": "integer"}}}
    models_response = {"type": "object", "required": ["object", "data"], "properties": {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": {"type": "object", "required": ["id", "object", "dimensions"],
                                            "properties": {"id": {"type": "string"}, "object": {"type": "string"},
                                                           "dimensions": {"type": "integer"},
                                                           "max_input_tokens": {"type": "integer"},
                                                           "max_model_len": {"type": "integer"}}}}}}
    status = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"},
                                                                      "model": {"type": "string"}}}
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type", "param", "code"], "properties": {
            "message": {"type": "string"}, "type": {"type": "string"},
            "param": {"type": "string", "nullable": True}, "code": {"type": "string", "nullable": True}}}}}

    def json_body(schema: str) -> dict:
        return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}

    def errors(*statuses: str) -> dict:
        return {s: {"description": ERROR_STATUSES[s], **json_body("Error"),
                    **({"headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}}
                       if s in ("429", "503") else {})} for s in statuses}

    secured = [{"bearer": []}] if settings.api_key else []

    def post(summary: str, request: str, response: str) -> dict:
        return {"post": {"summary": summary, "security": secured, "requestBody": {"required": True,
                                                                                    **json_body(request)},
                         "responses": {"200": {"description": "OK", **json_body(response)}, **errors(*_ROUTE_ERRORS)}}}

    def get(summary: str, response: dict, statuses=("431",), secure: bool = False) -> dict:
        return {"get": {"summary": summary, "security": secured if secure else [],
                        "responses": {"200": {"description": "OK", **response}, **errors(*statuses)}}}

    embeddings = post("Embed texts (OpenAI's embeddings API)", "EmbeddingsRequest", "EmbeddingsResponse")
    models = get("The served model (OpenAI's list shape)", json_body("ModelsResponse"), ("401", "431", "503"),
                 secure=True)
    health = get("Liveness", json_body("Status"), ("431", "503"))
    return {
        "openapi": "3.0.3",
        "info": {"title": "minie5 serve", "version": _version(),
                 "description": f"Embeddings of {name} ({model.dim} dimensions, at most {model.max_length} tokens "
                                "per text) in OpenAI's API. Every error has the shape of `Error`."},
        "paths": {
            "/v1/embeddings": embeddings, "/embeddings": embeddings, "/v1/models": models, "/models": models,
            "/tokenize": post("Token ids and counts", "TokenizeRequest", "TokenizeResponse"),
            "/health": health,
            "/ready": get("Readiness: 503 while warming up and while draining", json_body("Status"), ("431", "503")),
            "/metrics": get("Prometheus text", {"content": {"text/plain": {"schema": {"type": "string"}}}}),
            "/openapi.json": get("This document", {"content": {"application/json": {"schema": {"type": "object"}}}}),
        },
        "components": {
            "schemas": {"EmbeddingsRequest": embeddings_request, "EmbeddingsResponse": embeddings_response,
                        "TokenizeRequest": tokenize_request, "TokenizeResponse": tokenize_response,
                        "ModelsResponse": models_response, "Status": status, "Error": error},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _version() -> str:
    from .. import __version__

    return __version__
