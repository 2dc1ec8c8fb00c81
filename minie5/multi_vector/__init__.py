"""Multi-vector (ColBERT-style, late-interaction) encoders: a text as one vector per token.

    encoder = minie5.load_multi_vector("path/to/colbert")   # sentence-transformers' MultiVectorEncoder layout
    queries = encoder.encode_query(["how tall is everest"])            # list of [32, 128] arrays
    documents = encoder.encode_document(["Everest is 8,849 m high."])  # list of [tokens, 128]
    encoder.similarity(queries, documents)                              # MaxSim scores

    colbert.py   the NumPy specification: the projection and MaxSim
    layout.py    the model's sentence-transformers files
    encoder.py   load_multi_vector and MultiVectorEncoder
"""

from .colbert import maxsim
from .encoder import MultiVectorEncoder, load_multi_vector

__all__ = ["MultiVectorEncoder", "load_multi_vector", "maxsim"]
