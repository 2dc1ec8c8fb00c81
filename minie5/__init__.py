"""minie5: the e5-small-v2 text-embedding model (Wang et al. 2022) from scratch, in NumPy and Numba.

    import minie5
    model = minie5.load("intfloat/e5-small-v2")  # or a folder
    queries = model.encode_queries(["how much protein should a female eat"])
    passages = model.encode_passages(["As a general guideline, ..."])
    scores = queries @ passages.T  # cosine similarities: embeddings have unit length

The package, layer by layer: a module imports only from its own layer and the layers above it
(tests/test_layers.py checks it):

    errors.py files.py jit_cache.py progress.py   what every layer uses
    loading/     model files: config.json, safetensors, tokenizer.json, the hub, sentence-transformers
    reference/   the NumPy specification of the encoder, and the backend that runs it
    engine/      the Numba engine: the same computation, fast
    encode/      the text pipeline: prompts, long texts, batches, pooled vectors, precisions
    porting/     traces, comparison with other implementations, attention pictures
    model.py     `load` and `Model`, the API; st_compat.py, sentence-transformers' keywords
    describe.py  `describe`; corpus.py, a corpus' cached vectors; evaluation/, retrieval metrics
    cross_encoder.py   CrossEncoder (load_reranker): rerankers, a query and a document scored together
    sparse/      SparseEncoder (load_sparse): SPLADE, a text as weights over the vocabulary
    multi_vector/  MultiVectorEncoder (load_multi_vector): ColBERT, a vector per token, MaxSim
    batch_embedder.py  BatchEmbedder, for Ray Data, Dask and Spark
    integrations/  LangChain, Chroma
    server/, distributed/   front ends: `minie5 serve`, `minie5 embed-corpus`
    cli/         the command, over all of the above; the library never imports a front end
"""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

from .batch_embedder import BatchEmbedder
from .cross_encoder import CrossEncoder, load_reranker
from .describe import ModelDescription, describe
from .encode.quantize import calibration_ranges, hamming_distance, quantize
from .errors import ConfigError, Minie5Error, TextError, TokenizerError, WeightsError
from .loading.config import BertConfig
from .model import Model, load
from .multi_vector import MultiVectorEncoder, load_multi_vector
from .sparse import SparseEncoder, load_sparse

__all__ = ["BatchEmbedder", "BertConfig", "ConfigError", "CrossEncoder", "Minie5Error", "Model", "ModelDescription",
           "TextError", "TokenizerError", "WeightsError", "calibration_ranges", "describe", "hamming_distance", "load",
           "load_multi_vector", "load_reranker", "load_sparse", "quantize", "MultiVectorEncoder", "SparseEncoder"]
