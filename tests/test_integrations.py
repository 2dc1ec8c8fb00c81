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


def test_llama_index_embedding_in_a_vector_store_index(e5_dir):
    pytest.importorskip("llama_index.core")
    import asyncio

    from llama_index.core import Document, VectorStoreIndex

    from minie5.integrations.llama_index import Minie5Embedding

    embed_model = Minie5Embedding(e5_dir, embed_batch_size=2)
    model = embed_model._model
    np.testing.assert_allclose(embed_model.get_query_embedding("summit"), model.encode("query: summit"), atol=1e-6)
    np.testing.assert_allclose(embed_model.get_text_embedding_batch(DOCS), model.encode_passages(DOCS), atol=1e-6)
    np.testing.assert_allclose(asyncio.run(embed_model.aget_query_embedding("summit")),
                               model.encode_queries("summit"), atol=1e-6)
    index = VectorStoreIndex.from_documents([Document(text=d) for d in DOCS], embed_model=embed_model)
    hits = index.as_retriever(similarity_top_k=1).retrieve("how often do trains leave?")
    assert hits[0].node.get_content() == DOCS[1]


def test_haystack_components_retrieve_and_serialise(e5_dir):
    pytest.importorskip("haystack")
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from minie5.integrations.haystack import Minie5DocumentEmbedder, Minie5TextEmbedder

    embedder = Minie5DocumentEmbedder(str(e5_dir), meta_fields_to_embed=["title"])
    documents = [Document(content=d, meta={"title": t}) for d, t in zip(DOCS, ["Mountains", "Railways", "Diet"])]
    embedded = embedder.run(documents)["documents"]
    model = minie5.load(e5_dir)
    np.testing.assert_allclose(embedded[0].embedding, model.encode("passage: Mountains\n" + DOCS[0]), atol=1e-6)
    store = InMemoryDocumentStore()
    store.write_documents(embedded)
    pipeline = Pipeline()
    pipeline.add_component("embedder", Minie5TextEmbedder(str(e5_dir)))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(store, top_k=1))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    result = pipeline.run({"embedder": {"text": "how often do trains leave?"}})
    assert result["retriever"]["documents"][0].content == DOCS[1]
    # to_dict / from_dict, as Haystack serialises pipelines (minie5's module allowed, as Haystack asks)
    again = Pipeline.loads(pipeline.dumps(), allowed_modules=["minie5.integrations.haystack"])
    assert again.get_component("embedder").to_dict() == pipeline.get_component("embedder").to_dict()
    restored = Minie5DocumentEmbedder.from_dict(embedder.to_dict())
    assert restored.meta_fields_to_embed == ["title"] and restored.model == str(e5_dir)
