"""minie5: the e5-small-v2 text-embedding model (Wang et al. 2022) from scratch, in NumPy and Numba.

    import minie5
    model = minie5.load("intfloat/e5-small-v2")  # or a folder
    queries = model.encode_queries(["how much protein should a female eat"])
    passages = model.encode_passages(["As a general guideline, ..."])
    scores = queries @ passages.T  # cosine similarities: embeddings have unit length
"""

from .config import BertConfig
from .errors import ConfigError, Minie5Error, TokenizerError, WeightsError
from .model import Model, load
from .quantize import calibration_ranges, hamming_distance, quantize

__version__ = "0.1.0"
__all__ = ["BertConfig", "ConfigError", "Minie5Error", "Model", "TokenizerError", "WeightsError",
           "calibration_ranges", "hamming_distance", "load", "quantize"]
