"""From token ids to the first hidden states (BERT paper, section 3, "Input/Output Representations").

A token's input vector is the sum of three learned vectors: its word piece, its segment ("token
type"; always 0 for a single text) and its position. Position is what tells the encoder word order:
attention itself is blind to it.
"""

import numpy as np

from .layer_norm import layer_norm


def position_ids(input_ids: np.ndarray, pad_token_id: int, offset: int) -> np.ndarray:  # [B, T] -> [B, T]
    """Each token's row of the position table.

    BERT (offset 0): 0, 1, ..., T-1 for every text. XLM-RoBERTa (offset pad_token_id + 1):
    real tokens count up from padding_idx + 1 and padding sits at padding_idx, exactly as
    transformers' create_position_ids_from_input_ids computes them from the ids."""
    if offset == 0:
        return np.broadcast_to(np.arange(input_ids.shape[1]), input_ids.shape)
    real = (input_ids != pad_token_id).astype(np.int64)
    return np.cumsum(real, axis=1) * real + pad_token_id


def token_type_ids(input_ids: np.ndarray) -> np.ndarray:  # [B, T] -> [B, T]
    """Segment 0 everywhere: an embedding model sees one text per sequence, never a pair (a
    cross-encoder's pairs bring segments 0 and 1 from the tokenizer's pair template)."""
    return np.zeros_like(input_ids)


def embedding_sum(input_ids: np.ndarray, position_ids: np.ndarray, token_type_ids: np.ndarray,
                  word_embeddings: dict, position_embeddings: dict,
                  token_type_embeddings: dict) -> np.ndarray:  # [B, T] ids -> [B, T, H]
    """Each token's input vector before normalisation: word piece + token type + position."""
    # Summed in transformers' order (BertEmbeddings.forward): word + token type, then + position.
    x = word_embeddings["weight"][input_ids] + token_type_embeddings["weight"][token_type_ids]
    return x + position_embeddings["weight"][position_ids]


def embeddings(input_ids: np.ndarray, position_ids: np.ndarray, token_type_ids: np.ndarray,
               word_embeddings: dict, position_embeddings: dict, token_type_embeddings: dict,
               LayerNorm: dict, eps: float) -> np.ndarray:  # [B, T] ids -> [B, T, H]
    """BertEmbeddings: the summed input vectors, LayerNorm-ed."""
    x = embedding_sum(input_ids, position_ids, token_type_ids, word_embeddings, position_embeddings,
                      token_type_embeddings)
    return layer_norm(x, **LayerNorm, eps=eps)
