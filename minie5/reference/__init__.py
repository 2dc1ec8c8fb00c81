"""The NumPy reference: e5-small-v2 (a BERT encoder) written to be read.

This package is minie5's specification. Each file holds one idea, in the order a token meets them:

    embeddings.py    token ids -> vectors: word + token type + position, then LayerNorm
    attention.py     multi-head self-attention, the only step that mixes tokens
    feed_forward.py  the per-token GELU feed-forward
    layer_norm.py    LayerNorm, used after each of the above ("post-LN", as in BERT)
    linear.py        x @ W.T + b, the affine map everything above is built from
    encoder.py       one encoder layer, and the stack of them
    pooling.py       tokens -> one vector (mean, [CLS] or max), L2 normalisation (E5, 4.1)
    classifier.py    a cross-encoder's head: [CLS] -> dense, tanh -> one logit per label
    padding.py       a batch as one rectangle: right padding and the attention mask
    numpy_backend.py the above run as a minie5 backend: pad a batch, encode, pool
    wordpiece.py     BERT's tokenizer, readable (the engine runs the tokenizers library, tested equal)

docs/bert_one_page.py is the whole of it for one BERT text on one page, without the annotations.
`Model.parameters()` gives a loaded model's weights in the nested form these functions take.

Dimension legend used in the shape comments:
    B  batch: texts encoded together          T  tokens per text, padded to the longest
    H  hidden size (384)                      N  attention heads (12)
    D  head size, H / N (32)                  F  feed-forward size (1536)
    V  vocabulary size (30522)                P  position table size (512)
    L  encoder layers (12)

Every function computes in the dtype of its inputs: float32 normally, float64 for a ground truth.
Parameters arrive as the nested dicts of `minie5.loading.weights.load_weights`, keyed by transformers'
module names, so `linear(x, **params["intermediate"]["dense"])` reads like `BertIntermediate.dense`.
"""

from .attention import attention, attention_context, attention_probs, merge_heads, self_attention, softmax, split_heads
from .embeddings import embedding_sum, embeddings, position_ids, token_type_ids
from .encoder import bert, encoder, encoder_layer
from .feed_forward import feed_forward, gelu
from .layer_norm import layer_norm
from .linear import linear
from .padding import pad_batch
from .pooling import cls_pool, l2_normalize, max_pool, mean_pool, pool
from .wordpiece import WordPiece

__all__ = ["attention", "attention_context", "attention_probs", "bert", "cls_pool", "embedding_sum",
           "embeddings", "encoder", "encoder_layer", "feed_forward", "gelu", "l2_normalize", "layer_norm",
           "linear", "max_pool", "mean_pool", "merge_heads", "pad_batch", "pool", "position_ids", "self_attention",
           "softmax", "split_heads", "token_type_ids", "WordPiece"]
