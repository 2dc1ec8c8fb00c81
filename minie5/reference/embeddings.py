"""From token ids to the first hidden states (BERT paper, section 3, "Input/Output Representations").

A token's input vector is the sum of three learned vectors: its word piece, its segment ("token
type"; always 0 for a single text) and its position. Position is what tells the encoder word order:
attention itself is blind to it.
"""

import numpy as np

from .layer_norm import layer_norm


def embeddings(input_ids: np.ndarray, token_type_ids: np.ndarray, word_embeddings: dict,
               position_embeddings: dict, token_type_embeddings: dict, LayerNorm: dict,
               eps: float) -> np.ndarray:  # [B, T] ids -> [B, T, H]
    T = input_ids.shape[1]
    position_ids = np.arange(T)  # absolute positions 0..T-1, the same for every text
    # Summed in transformers' order (BertEmbeddings.forward): word + token type, then + position.
    x = word_embeddings["weight"][input_ids] + token_type_embeddings["weight"][token_type_ids]
    x = x + position_embeddings["weight"][position_ids]
    return layer_norm(x, **LayerNorm, eps=eps)
