"""Last-token pooling: a text's vector is the hidden state of its final token (sentence-transformers'
Pooling with pooling_mode_lasttoken; Qwen3-Embedding).

Why the last token: in a causal model each token sees only the tokens before it, so the first
token (BERT's [CLS]) knows nothing of the text, and a mean would average states that each saw a
different prefix. Only the last token has attended to the whole text. Qwen3-Embedding's tokenizer
ends every text with <|endoftext|>, and its training made that token's state the embedding.

Padding side. Qwen3-Embedding's tokenizer pads on the left, so that in a padded batch every text's
last token sits in the last column; sentence-transformers and the model card take column T - 1.
With right padding the last real token is at column length - 1 instead. In a causal model padding
after a text cannot change it (no real token looks ahead), and padding before it is masked out and
only shifts its rotary positions, which attention does not see (reference/rotary.py): both sides
give the same vectors up to rounding. This function finds the last real token from the mask, so
it is right for either side.
"""

import numpy as np


def last_token_index(attention_mask: np.ndarray) -> np.ndarray:  # [B, T] -> [B]
    """Column of each row's last real token: T - 1 under left padding, length - 1 under right."""
    T = attention_mask.shape[1]
    return T - 1 - np.argmax(attention_mask[:, ::-1] > 0, axis=1)


def last_token_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:  # [B, T, H], [B, T] -> [B, H]
    return hidden[np.arange(hidden.shape[0]), last_token_index(attention_mask)]
