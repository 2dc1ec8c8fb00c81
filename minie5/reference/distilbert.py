"""DistilBERT (Sanh et al. 2019), as transformers' DistilBertModel computes it: BERT distilled to
half the layers, without token types (and without the pooler). Each layer is BERT's post-LN layer
under other names, so every operation here is BERT's own (attention.py, feed_forward.py).

    embeddings           word + position (from 0), LayerNorm (eps 1e-12, fixed in the class)
    transformer.layer.i  attention.{q,k,v}_lin -> heads -> attention.out_lin, + x, sa_layer_norm
                         ffn.lin1 -> GELU -> ffn.lin2, + x, output_layer_norm

Legend as reference/__init__.py: B batch, T tokens, H hidden (dim), N heads (n_heads), F hidden_dim.
"""

import numpy as np

from ..loading.encoder_configs import DistilBertConfig
from .attention import attention_context, attention_probs, split_heads
from .feed_forward import gelu
from .layer_norm import layer_norm
from .linear import linear


def embeddings(input_ids: np.ndarray, word_embeddings: dict, position_embeddings: dict, LayerNorm: dict,
               eps: float) -> np.ndarray:  # [B, T] ids -> [B, T, H]
    """DistilBERT's Embeddings: word + position, LayerNorm-ed; positions 0..T-1, no token types."""
    positions = np.arange(input_ids.shape[1])
    return layer_norm(word_embeddings["weight"][input_ids] + position_embeddings["weight"][positions],
                      **LayerNorm, eps=eps)


def multi_head_self_attention(x: np.ndarray, attention_mask: np.ndarray, q_lin: dict, k_lin: dict, v_lin: dict,
                              out_lin: dict, num_heads: int) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """DistilBERT's MultiHeadSelfAttention: BertSelfAttention with the output projection inside."""
    q, k, v = (split_heads(linear(x, **p), num_heads) for p in (q_lin, k_lin, v_lin))  # [B, N, T, D]
    return linear(attention_context(attention_probs(q, k, attention_mask), v), **out_lin)


def transformer_block(x: np.ndarray, attention_mask: np.ndarray, params: dict,
                      config: DistilBertConfig) -> np.ndarray:  # [B, T, H], [B, T] -> [B, T, H]
    """TransformerBlock: attention, + x, sa_layer_norm; feed-forward, + x, output_layer_norm."""
    eps = config.layer_norm_eps
    x = layer_norm(multi_head_self_attention(x, attention_mask, **params["attention"], num_heads=config.n_heads) + x,
                   **params["sa_layer_norm"], eps=eps)
    ffn = params["ffn"]
    h = linear(gelu(linear(x, **ffn["lin1"])), **ffn["lin2"])  # [B, T, F] inside
    return layer_norm(h + x, **params["output_layer_norm"], eps=eps)


def distilbert(input_ids: np.ndarray, attention_mask: np.ndarray, params: dict, config: DistilBertConfig,
               types: np.ndarray | None = None) -> list[np.ndarray]:  # [B, T] ids, [B, T] -> L+1 x [B, T, H]
    """DistilBertModel: the embeddings' output and every layer's. `types` must be None: DistilBERT
    has no token types."""
    if types is not None:
        raise ValueError("DistilBERT has no token types: it reads one text per sequence")
    hidden_states = [embeddings(input_ids, **params["embeddings"], eps=config.layer_norm_eps)]
    for layer in params["transformer"]["layer"]:
        hidden_states.append(transformer_block(hidden_states[-1], attention_mask, layer, config))
    return hidden_states
