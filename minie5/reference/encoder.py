"""The encoder: L identical layers, each attention then feed-forward (BERT paper, section 3;
transformers' BertLayer and BertEncoder). Every layer keeps the shape [B, T, H]."""

import numpy as np

from ..loading.config import BertConfig
from .attention import attention
from .embeddings import embeddings, position_ids, token_type_ids
from .feed_forward import feed_forward


def encoder_layer(x: np.ndarray, attention_mask: np.ndarray, params: dict,
                  config: BertConfig) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    eps = config.layer_norm_eps
    x = attention(x, attention_mask, params["attention"], config.num_attention_heads, eps)
    return feed_forward(x, params["intermediate"], params["output"], eps)


def encoder(x: np.ndarray, attention_mask: np.ndarray, layers: list,
            config: BertConfig) -> list[np.ndarray]:  # [B, T, H] -> L+1 times [B, T, H]
    """Run the layers in turn; return the input followed by every layer's output, as transformers'
    `output_hidden_states=True` does."""
    hidden_states = [x]
    for params in layers:
        hidden_states.append(encoder_layer(hidden_states[-1], attention_mask, params, config))
    return hidden_states


def bert(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: BertConfig,
         types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] mask -> L+1 times [B, T, H]
    """BertModel (or XLMRobertaModel) without its pooler: the embeddings' output and every
    layer's hidden states. Padding in input_ids must be config.pad_token_id. `types`: each token's
    segment, for text pairs (a cross-encoder's query 0, document 1); default all 0."""
    positions = position_ids(input_ids, config.pad_token_id, config.position_offset)
    types = token_type_ids(input_ids) if types is None else types
    x = embeddings(input_ids, positions, types, **params["embeddings"],
                   eps=config.layer_norm_eps)
    return encoder(x, attention_mask, params["encoder"]["layer"], config)
