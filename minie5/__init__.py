"""minie5: the e5-small-v2 text-embedding model (Wang et al. 2022) from scratch, in NumPy and Numba.

    import minie5
    model = minie5.load("intfloat/e5-small-v2")  # or a folder
    queries = model.encode_queries(["how much protein should a female eat"])
    passages = model.encode_passages(["As a general guideline, ..."])
    scores = queries @ passages.T  # cosine similarities: embeddings have unit length

The package, layer by layer (each layer uses only those above it):

    loading/     model files: config.json, safetensors, tokenizer.json, the hub, sentence-transformers
    reference/   the NumPy specification of the encoder, and the backend that runs it
    engine/      the Numba engine: the same computation, fast
    backend.py   what a backend provides; batching.py, long_texts.py, prefixes.py, quantize.py
    model.py     `Model`, the API; loader.py: `load`; describe.py, corpus.py
    batch.py     BatchEmbedder, for Ray Data, Dask and Spark; integrations/: LangChain, Chroma
    porting/     traces, comparison with other implementations, attention pictures
    server/, distributed/, cli/   front ends (`minie5 serve`, `minie5 embed-corpus`, the command)
                 over the library, which never imports them
"""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

from .batch import BatchEmbedder
from .describe import ModelDescription, describe
from .errors import ConfigError, Minie5Error, TokenizerError, WeightsError
from .loader import load
from .loading.config import BertConfig
from .model import Model
from .quantize import calibration_ranges, hamming_distance, quantize

__all__ = ["BatchEmbedder", "BertConfig", "ConfigError", "Minie5Error", "Model", "ModelDescription", "TokenizerError",
           "WeightsError", "calibration_ranges", "describe", "hamming_distance", "load", "quantize"]
