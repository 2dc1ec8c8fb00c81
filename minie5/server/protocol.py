"""OpenAI's embeddings API, as its clients send and expect it (https://platform.openai.com/docs/api-reference/embeddings).

Requests are checked here, in one place, and every problem becomes an `ApiError` that the app turns
into OpenAI's error shape: {"error": {"message", "type", "param", "code"}}. Validation failures are
always 4xx: the openai client retries 429 and 5xx, so a bad request must never look like either.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np

from ..encode.dimensions import kept_dimensions
from ..encode.long_texts import LONG_MODES
from .settings import PREFIX_CHOICES

ENCODING_FORMATS = ("float", "base64")
# Fields of OpenAI's request, minie5's own (which the openai client sends through extra_body),
# text-embeddings-inference's `truncate` and `prompt_name`, and vLLM's `truncate_prompt_tokens`
# (which mteb's OpenAIAPIEncodeWrapper sends once /v1/models has told it the model's length).
KNOWN_FIELDS = {"input", "model", "encoding_format", "dimensions", "user", "prefix", "prompt_name", "long",
                "truncate", "truncate_prompt_tokens"}


class ApiError(Exception):
    """A request the server refuses: HTTP status, and OpenAI's error fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error", headers: dict | None = None, shape: str | None = None):
        message, param = _writable(message), _writable(param)  # a lone surrogate from the request, escaped
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type
        self.headers = headers or {}
        self.shape = shape  # the protocol whose error shape to answer in; None: the route's

    def body(self, shape: str = "openai") -> dict:
        """The error in a protocol's shape: OpenAI's {"error": {message, type, param, code}},
        text-embeddings-inference's {"error": message, "error_type"}, or Cohere's {"message"}."""
        if shape == "tei":
            return {"error": self.message, "error_type": TEI_ERROR_TYPES.get(self.status, "Validation")}
        if shape == "cohere":
            return {"message": self.message}
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


# text-embeddings-inference's error_type for each status it answers with.
TEI_ERROR_TYPES = {408: "Unhealthy", 429: "Overloaded", 499: "Unhealthy", 500: "Backend", 503: "Unhealthy"}


def _writable(text: str | None) -> str | None:
    """`text` as UTF-8 can carry it: a lone surrogate (which JSON's \\ud800 escape can put in any
    field name or value the message quotes) is written as its escape."""
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class EmbeddingsRequest:
    texts: list[str]
    encoding_format: str  # "float" or "base64"
    prompt_name: str | None  # `prefix` ("query", "passage", "document", "none") or TEI's `prompt_name`
    long: str  # "truncate", "chunk" or "error"
    dimensions: int | None = None  # the first N dimensions kept (encode.dimensions' rule); None: all


def parse_json(body: bytes) -> dict:
    """The request body as a JSON object, or a 400 saying why not."""
    try:
        data = json.loads(body, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _DuplicateKey as e:
        raise ApiError(400, f"the request body names {e} twice in one object; send each field once",
                       code="invalid_json") from None
    except ValueError as e:  # not JSON, not UTF-8/16/32, NaN or Infinity, an integer of over 4,300 digits
        raise ApiError(400, f"the request body is not valid JSON ({e})", code="invalid_json") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the request body must be a JSON object, got {type(data).__name__}",
                       code="invalid_json")
    return data


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list) -> dict:
    """A JSON object whose keys are all different: with a repeated key, parsers disagree on which
    value counts (Python's keeps the last), so a proxy and this server could read different requests."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(json.dumps(key))
            seen.add(key)
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def parse_texts(data: dict, max_inputs: int, field: str = "input") -> list[str]:
    """`input` (or text-embeddings-inference's `inputs`: `field`): a string, or a list of 1 to
    max_inputs non-empty strings. Token ids (int[] or int[][]) are refused: they are some other
    tokenizer's ids, and minie5's vocabulary differs."""
    if field not in data:
        raise ApiError(400, f"'{field}' is required: a string or a list of strings", param=field)
    value = data[field]
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list):
        raise ApiError(400, f"'{field}' must be a string or a list of strings, got {type(value).__name__}",
                       param=field)
    if not texts:
        raise ApiError(400, f"'{field}' is an empty list: send at least one text", param=field)
    if any(_is_token_ids(item) for item in (texts, *texts)):
        raise ApiError(400, f"'{field}' holds token ids; minie5 embeds text only, with its own tokenizer "
                       "(ids from another tokenizer would be misread). Send strings; LangChain's "
                       "OpenAIEmbeddings does so with check_embedding_ctx_length=False.",
                       param=field, code="token_ids_not_supported")
    if len(texts) > max_inputs:
        raise ApiError(400, f"'{field}' has {len(texts)} texts; at most {max_inputs} per request",
                       param=field, code="too_many_inputs")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f"{field}[{i}] is {json_type(text)}, expected a string", param=f"{field}[{i}]")
        if not text:
            raise ApiError(400, f"{field}[{i}] is an empty string; OpenAI's API refuses those too",
                           param=f"{field}[{i}]", code="empty_input")
    return texts


def check_fields(data: dict, known: set[str]) -> None:
    """A 400 naming the first field of `data` that is not in `known`: a misspelt option must not be
    silently ignored."""
    unknown = sorted(set(data) - known)
    if unknown:
        raise ApiError(400, f"unrecognized request argument: {', '.join(map(repr, unknown))} (minie5 takes "
                       f"{', '.join(sorted(known))})", param=unknown[0])


def optional(data: dict, name: str, kind: type, default=None, what: str = ""):
    """Field `name` of type `kind` (exactly: a boolean is not an integer), or `default` when it
    is absent or null; anything else is a 400 naming it."""
    value = data.get(name)
    if value is None:
        return default
    if type(value) is not kind:
        raise ApiError(400, f"'{name}' must be {what or _KIND_NAMES[kind]}, got {json_type(value)}", param=name)
    return value


_KIND_NAMES = {bool: "true or false", int: "an integer", str: "a string", list: "an array"}


def parse_embeddings_request(data: dict, dim: int, max_inputs: int, max_length: int = 512) -> EmbeddingsRequest:
    check_fields(data, KNOWN_FIELDS)
    texts = parse_texts(data, max_inputs)
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, f"'model' must be a string, got {json_type(model)}", param="model")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise ApiError(400, f"'user' must be a string, got {json_type(user)}", param="user")
    encoding_format = data.get("encoding_format")
    encoding_format = "float" if encoding_format is None else encoding_format
    if encoding_format not in ENCODING_FORMATS:
        raise ApiError(400, f"'encoding_format' must be 'float' or 'base64', got {encoding_format!r}",
                       param="encoding_format")
    dimensions = data.get("dimensions")
    if dimensions is not None:
        if type(dimensions) is not int:
            raise ApiError(400, f"'dimensions' must be an integer, got {json_type(dimensions)}",
                           param="dimensions")
    return EmbeddingsRequest(texts, encoding_format, parse_prompt_name(data), _long_mode(data, max_length),
                             parse_dimensions(dimensions, dim))


def parse_dimensions(dimensions, dim: int) -> int | None:
    """`dimensions` by the library's one rule for truncate_dim (minie5.encode.dimensions)."""
    try:
        return kept_dimensions(dimensions, dim, "'dimensions'")
    except ValueError as e:
        raise ApiError(400, str(e), param="dimensions", code="dimensions_not_supported") from None


def parse_prompt_name(data: dict) -> str | None:
    """minie5's `prefix` (one of PREFIX_CHOICES) or TEI's `prompt_name` (any name the model knows:
    the server resolves it), not both; None when neither is sent."""
    prefix, prompt_name = data.get("prefix"), data.get("prompt_name")
    if prefix is not None and prefix not in PREFIX_CHOICES:
        raise ApiError(400, f"'prefix' must be one of {', '.join(map(repr, PREFIX_CHOICES))}, got {prefix!r}",
                       param="prefix")
    if prompt_name is not None and not isinstance(prompt_name, str):
        raise ApiError(400, f"'prompt_name' must be a string, got {json_type(prompt_name)}", param="prompt_name")
    if prefix is not None and prompt_name is not None:
        raise ApiError(400, "send 'prefix' or 'prompt_name', not both", param="prompt_name")
    return prefix if prefix is not None else prompt_name


def _long_mode(data: dict, max_length: int) -> str:
    """`long` ("truncate", "chunk", "error"), or TEI's `truncate` (true: "truncate", false: "error"),
    or vLLM's `truncate_prompt_tokens`: -1 or at least the model's limit is "truncate" at the limit
    (keeping a text's first tokens, as the e5 model card does, where vLLM keeps its last); fewer
    tokens than the limit is refused, as minie5 truncates at the model's limit only."""
    tokens = data.get("truncate_prompt_tokens")
    if tokens is not None:
        if type(tokens) is not int or (tokens < max_length and tokens != -1):
            raise ApiError(400, f"'truncate_prompt_tokens' must be -1 or at least this model's limit of {max_length} "
                           f"tokens (minie5 truncates at the model's limit only), got {json_type(tokens)} "
                           f"{json.dumps(tokens)}", param="truncate_prompt_tokens")
        if data.get("long") not in (None, "truncate"):
            raise ApiError(400, f"'truncate_prompt_tokens' contradicts 'long' {data['long']!r}",
                           param="truncate_prompt_tokens")
    long, truncate = data.get("long"), data.get("truncate")
    if long is not None and long not in LONG_MODES:
        raise ApiError(400, f"'long' must be one of {', '.join(map(repr, LONG_MODES))}, got {long!r}", param="long")
    if truncate is not None and not isinstance(truncate, bool):
        raise ApiError(400, f"'truncate' must be true or false, got {json_type(truncate)}", param="truncate")
    from_truncate = None if truncate is None else ("truncate" if truncate else "error")
    if long is not None and from_truncate is not None and long != from_truncate and not (long == "chunk" and truncate):
        raise ApiError(400, f"'long' {long!r} contradicts 'truncate' {json.dumps(truncate)}", param="truncate")
    return long or from_truncate or "truncate"


def embeddings_response(vectors: np.ndarray, encoding_format: str, model: str, tokens: int) -> dict:
    """OpenAI's response: base64 is the little-endian float32 bytes of each vector, which is what
    the openai client decodes (and asks for whenever its caller does not choose)."""
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    if encoding_format == "base64":
        encoded = [base64.b64encode(row.tobytes()).decode("ascii") for row in vectors]
    else:
        encoded = vectors.tolist()  # float32 -> Python floats: each prints back to the same float32
    return {"object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)],
            "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _is_token_ids(value) -> bool:
    """int[] (one text's ids), or a list whose items are all int[] (several texts')."""
    if not isinstance(value, list) or not value:
        return False
    if all(type(x) is int for x in value):
        return True
    return all(isinstance(x, list) and x and all(type(y) is int for y in x) for x in value)


def json_type(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
