"""ColBERT's late interaction (Khattab & Zaharia 2020, arXiv 2004.12832) in NumPy.

A text keeps one vector per token: the encoder's last hidden states, projected to a small width
(128 for ColBERT) by a bias-free linear layer and scaled to unit length. A query and a document are
scored by MaxSim: each query vector finds its most similar document vector, and those best
similarities are summed. Two details from the paper:

  query augmentation  queries are padded to a fixed length (32) with [MASK] tokens; the encoder
                      turns each into a soft expansion term, scored like a real query token
  punctuation         document tokens that are punctuation are dropped before indexing

    T  tokens of a text    H  hidden size    D  projected width    Q, N  query / document vectors
"""

from __future__ import annotations

import numpy as np

from ..reference.linear import linear
from ..reference.pooling import l2_normalize


def project(hidden: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, normalize: bool) -> np.ndarray:
    # [T, H] -> [T, D]
    out = linear(hidden, weight, 0 if bias is None else bias)
    return l2_normalize(out) if normalize else out


def maxsim(query: np.ndarray, document: np.ndarray) -> float:  # [Q, D], [N, D] -> score
    """Sum over the query's vectors of the best dot product with any of the document's."""
    if len(query) == 0 or len(document) == 0:
        return 0.0
    return float((query @ document.T).max(axis=1).sum())
