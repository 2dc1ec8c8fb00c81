"""minie5 inside LangChain and Chroma, against the real packages: a LangChain vector store round
trip and a Chroma collection queried end to end."""

import shutil

import numpy as np
import pytest

import minie5

DOCS = ["The summit is covered in snow all year.", "Trains leave the central station every fifteen minutes.",
        "Protein needs depend on body weight and activity."]


@pytest.fixture(scope="module")
def e5_dir(minilm_dir, tmp_path_factory):
    """MiniLM's files under an e5 name, so that documents and queries get e5's prefixes."""
    folder = tmp_path_factory.mktemp("models") / "e5-small-v2"
    shutil.copytree(minilm_dir, folder)
    return folder


def test_langchain_embeddings_and_vector_store(e5_dir):
    pytest.importorskip("langchain_core")
    from langchain_core.vectorstores import InMemoryVectorStore

    from minie5.integrations.langchain import Minie5Embeddings

    embeddings = Minie5Embeddings(model=e5_dir)
    model = embeddings.model
    np.testing.assert_allclose(embeddings.embed_documents(DOCS), model.encode_passages(DOCS), atol=1e-6)
    np.testing.assert_allclose(embeddings.embed_query("next train"), model.encode_queries("next train"), atol=1e-6)

    store = InMemoryVectorStore(embedding=embeddings)
    store.add_texts(DOCS, metadatas=[{"n": i} for i in range(3)])
    (hit,) = store.similarity_search("when does the next train leave", k=1)
    assert hit.page_content == DOCS[1] and hit.metadata == {"n": 1}


def test_langchain_async_defaults(e5_dir):
    pytest.importorskip("langchain_core")
    import asyncio

    from minie5.integrations.langchain import Minie5Embeddings

    embeddings = Minie5Embeddings(model=minie5.load(e5_dir, backend="numpy"))
    vector = asyncio.run(embeddings.aembed_query("summit"))
    np.testing.assert_allclose(vector, embeddings.model.encode_queries("summit"), atol=1e-6)


def test_chroma_collection_end_to_end(e5_dir, tmp_path):
    chromadb = pytest.importorskip("chromadb")
    from minie5.integrations.chroma import Minie5EmbeddingFunction

    function = Minie5EmbeddingFunction(e5_dir)
    assert function.name() == "minie5" and function.default_space() == "cosine"
    np.testing.assert_allclose(function(DOCS), function.model.encode_passages(DOCS), atol=1e-6)
    np.testing.assert_allclose(function.embed_query(["summit"]), function.model.encode_queries(["summit"]), atol=1e-6)

    client = chromadb.PersistentClient(path=str(tmp_path / "db"))
    collection = client.create_collection("docs", embedding_function=function)
    collection.add(ids=["a", "b", "c"], documents=DOCS)
    result = collection.query(query_texts=["when does the next train leave"], n_results=1)
    assert result["ids"] == [["b"]]

    # A new client finds the embedding function again from the collection's stored configuration.
    reopened = chromadb.PersistentClient(path=str(tmp_path / "db")).get_collection("docs")
    assert reopened.query(query_texts=["snow on the mountain"], n_results=1)["ids"] == [["a"]]
    rebuilt = Minie5EmbeddingFunction.build_from_config(function.get_config())
    np.testing.assert_allclose(rebuilt(DOCS), function(DOCS), atol=1e-6)
