"""One word, one meaning: "query" and "passage" give the same bits through every front end.

For three kinds of model (an e5 model, whose prompts are "query: " / "passage: "; a model with
prompts of its own in config_sentence_transformers.json; and one with none, whose texts are
embedded as given), the vectors of the same texts asked for as queries and as documents through
`Model.encode(prompt_name=...)`, `encode_query`/`encode_document`, the older `encode_queries` /
`encode_passages`, `minie5 embed --query/--passage`, `BatchEmbedder(prefix=...)`, `minie5 serve`
(`prefix`, and TEI's `prompt_name`), LangChain's and Chroma's adapters are compared bit for bit.

The engine computes every row of these short batches with kernels.linear, whose arithmetic does not
depend on the batch (docs/engine-guide.md, section 9), so equality is exact, not approximate.
"""

import base64
import json
import shutil
import warnings

import httpx
import numpy as np
import pytest

import minie5
from minie5.batch_embedder import BatchEmbedder
from tests.support.cli import run_cli
from tests.support.server import running_server

TEXTS = ["how tall is the summit", "query: already prefixed", "The summit is covered in snow."]
OWN_PROMPTS = {"query": "Represent this question for retrieval: ", "document": "Document: "}


@pytest.fixture(scope="module", params=["e5", "own-prompts", "no-prompts"])
def folder(request, minilm_dir, tmp_path_factory):
    name = "e5-small-v2" if request.param == "e5" else request.param
    folder = tmp_path_factory.mktemp("front-ends") / name
    shutil.copytree(minilm_dir, folder)
    if request.param == "own-prompts":
        (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": OWN_PROMPTS}))
    return folder


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():  # the no-prompts model says once that it has none: not the subject here
        warnings.simplefilter("ignore")
        yield


def expected_texts(folder, role):
    """What the texts become, written out by hand from the model card and the model's files."""
    prompt = {"e5-small-v2": {"query": "query: ", "passage": "passage: "},
              "own-prompts": {"query": OWN_PROMPTS["query"], "passage": OWN_PROMPTS["document"]},
              "no-prompts": {"query": "", "passage": ""}}[folder.name][role]
    return [t if t.startswith(prompt) else prompt + t for t in TEXTS]


def test_every_front_end_gives_the_same_bits(folder):
    model = minie5.load(folder)
    got = {}
    for role, st_name in (("query", "query"), ("passage", "document")):
        reference = model.encode(expected_texts(folder, role))
        got[f"{role}: encode(prompt_name)"] = model.encode(TEXTS, prompt_name=role)
        got[f"{role}: encode(prompt_name={st_name!r})"] = model.encode(TEXTS, prompt_name=st_name)
        got[f"{role}: encode_query/encode_document"] = (model.encode_query if role == "query"
                                                        else model.encode_document)(TEXTS)
        got[f"{role}: encode_queries/encode_passages"] = (model.encode_queries if role == "query"
                                                          else model.encode_passages)(TEXTS)
        cli = run_cli("embed", "-m", folder, f"--{role}", *TEXTS)
        assert cli.returncode == 0, cli.stderr
        got[f"{role}: minie5 embed --{role}"] = np.array([json.loads(line) for line in cli.stdout.splitlines()],
                                                         dtype=np.float32)
        table = BatchEmbedder(folder, prefix=role)({"text": TEXTS})
        got[f"{role}: BatchEmbedder(prefix={role!r})"] = table["embedding"]
        for name, vectors in got.items():
            if name.startswith(role):
                np.testing.assert_array_equal(vectors, reference, err_msg=name)

    from minie5.integrations.chroma import Minie5EmbeddingFunction
    from minie5.integrations.langchain import Minie5Embeddings

    langchain = Minie5Embeddings(model)
    np.testing.assert_array_equal(np.array(langchain.embed_documents(TEXTS), np.float32),
                                  model.encode(expected_texts(folder, "passage")))
    np.testing.assert_array_equal(np.array(langchain.embed_query(TEXTS[0]), np.float32),
                                  model.encode(expected_texts(folder, "query")[0]))
    chroma = Minie5EmbeddingFunction(folder)
    np.testing.assert_array_equal(np.array(chroma(TEXTS)), model.encode(expected_texts(folder, "passage")))
    np.testing.assert_array_equal(np.array(chroma.embed_query(TEXTS)), model.encode(expected_texts(folder, "query")))


def test_the_server_gives_the_same_bits(folder):
    model = minie5.load(folder)
    with running_server("--model", folder) as (_, url):
        for role, field in (("query", "prefix"), ("passage", "prefix"), ("query", "prompt_name"),
                            ("document", "prompt_name")):
            response = httpx.post(f"{url}/v1/embeddings", json={"input": TEXTS, field: role,
                                                                 "encoding_format": "base64"}, timeout=60)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            vectors = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in data])
            side = "query" if role == "query" else "passage"
            np.testing.assert_array_equal(vectors, model.encode(expected_texts(folder, side)),
                                          err_msg=f"{field}={role}")
