"""text-embeddings-inference's two routes beyond one vector a text
(https://huggingface.github.io/text-embeddings-inference/):

    POST /embed_sparse  {"inputs": str | [str], "truncate"?, "truncation_direction"?, "prompt_name"?,
                         "model"?}  -> [[{"index": int, "value": float}, ...], ...]
                        a SPLADE model's sparse vectors (minie5.load_sparse), active entries only,
                        by vocabulary id
    POST /embed_all     {"inputs", "truncate"?, "truncation_direction"?, "prompt_name"?, "model"?}
                        -> [[[float, ...] per token] per text]
                        an embedding model's last hidden state of every token, [CLS] and [SEP]
                        included, before pooling and normalisation

Both go through the same steps as /embed (the model's `settings`, `prepare`, the token budget);
sparse vectors are pooled through the sparse model's batcher, token vectors by one pass per
batch on the engine's thread. Errors are TEI's {"error", "error_type"}.
"""

from __future__ import annotations

import asyncio
import copy

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..encode.batching import check_ids, plan_batches
from .protocol import check_fields, optional, parse_texts
from .service import Service, check_tokens, encode_settings, pool, prepare, read_json
from .tei import _side

FIELDS = {"inputs", "truncate", "truncation_direction", "prompt_name", "model"}


async def _prepared(service: Service, request: Request, kind: str):
    data = await read_json(service, request)
    check_fields(data, FIELDS)
    served = service.find(kind, data.get("model"))
    texts = parse_texts(data, service.settings.max_inputs, field="inputs")
    settings = encode_settings(served, optional(data, "prompt_name", str), service.settings.default_prefix,
                               long="truncate" if optional(data, "truncate", bool, True) else "error",
                               truncation_side=_side(data))
    prepared = await prepare(served, texts, settings, field="inputs")
    check_tokens(service, prepared.tokens)
    return served, prepared


async def embed_sparse(service: Service, request: Request) -> Response:
    served, prepared = await _prepared(service, request, "sparse")
    vectors = await pool(service, served, request, prepared.sequences)
    served.metrics.texts += len(vectors)
    served.metrics.tokens += prepared.tokens
    return JSONResponse([[{"index": int(i), "value": float(v)} for i, v in zip(row.indices, row.values)]
                         for row in vectors], headers={"x-compute-tokens": str(prepared.tokens)})


async def embed_all(service: Service, request: Request) -> Response:
    served, prepared = await _prepared(service, request, "embedding")
    model = served.model
    loop = asyncio.get_running_loop()
    states = await loop.run_in_executor(service.executor, token_vectors, model, prepared.sequences)
    served.metrics.texts += len(states)
    served.metrics.tokens += prepared.tokens
    return JSONResponse([s.astype("<f4").tolist() for s in states], headers={"x-compute-tokens": str(prepared.tokens)})


def token_vectors(model, sequences: list[np.ndarray]) -> list[np.ndarray]:  # n ragged -> n x [T, H] float32
    """Every token's last hidden state, text by text, in batches as the pipeline plans them."""
    out: list = [None] * len(sequences)
    backend = model.backend
    for rows in plan_batches([len(s) for s in sequences], 32, backend.max_batch_tokens, backend.pads_batches):
        batch = [sequences[i] for i in rows]
        check_ids(batch, model.config.vocab_size, model.config.max_tokens, rows)
        states = backend.token_states(batch, lambda x, offsets: [x[a:b].astype(np.float32) for a, b in
                                                                 zip(offsets[:-1], offsets[1:])])
        for i, state in zip(rows, states):
            out[i] = state
    return out


def openapi(texts: dict, model_field: dict, truncation: dict, prompt_name: dict, sparse: bool,
            embedders: bool, post) -> tuple[dict, dict]:
    """The two routes' paths (those this server answers) and schemas, for openapi.py."""
    request = {"type": "object", "required": ["inputs"], "additionalProperties": False, "properties": copy.deepcopy({
        "inputs": texts, **truncation, "prompt_name": prompt_name, "model": model_field})}
    for name, field in request["properties"].items():
        if name != "inputs":
            field["nullable"] = True
    schemas = {
        "TeiSparseRequest": request,
        "TeiSparseResponse": {"type": "array", "items": {"type": "array", "items": {
            "type": "object", "required": ["index", "value"], "properties": {
                "index": {"type": "integer", "minimum": 0}, "value": {"type": "number", "minimum": 0}}}}},
        "TeiEmbedAllResponse": {"type": "array", "items": {"type": "array", "items": {
            "type": "array", "items": {"type": "number"}}}},
    }
    paths = {}
    if sparse:
        paths["/embed_sparse"] = post("Sparse vectors of texts (text-embeddings-inference's /embed_sparse)",
                                      "TeiSparseRequest", "TeiSparseResponse", "TeiError")
    if embedders:
        paths["/embed_all"] = post("Every token's vector (text-embeddings-inference's /embed_all)",
                                   "TeiSparseRequest", "TeiEmbedAllResponse", "TeiError")
    return paths, schemas
