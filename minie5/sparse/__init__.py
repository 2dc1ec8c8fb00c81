"""Sparse encoders: SPLADE and inference-free SPLADE, a text as weights over the vocabulary.

    encoder = minie5.load_sparse("naver/splade-v3")   # a folder or a hub name
    docs = encoder.encode_document(["Everest is 8,849 m high."])   # SparseEmbeddings
    query = encoder.encode_query("how tall is everest")             # SparseVector
    encoder.similarity(query, docs)                                 # dot products
    encoder.decode(query, top_k=5)                                  # [(token, weight), ...]

    splade.py    the NumPy specification: masked-LM head, log(1 + ReLU), pooling, static weights
    kernels.py   its Numba twins on packed tokens
    head.py      the head's weights, and the head run on a backend's token vectors
    layout.py    the model's sentence-transformers files: SPLADE or a query/document Router
    vectors.py   sparse vectors as compressed rows (scipy's CSR layout)
    encoder.py   load_sparse and SparseEncoder
    index.py     an inverted index to search sparse vectors
"""

from .encoder import SparseEncoder, load_sparse
from .vectors import SparseEmbeddings, SparseVector

__all__ = ["SparseEmbeddings", "SparseEncoder", "SparseVector", "load_sparse"]
