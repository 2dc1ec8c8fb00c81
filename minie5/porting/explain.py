"""`minie5 explain`: the reading guide made live for any text. The text goes through the model's
NumPy reference once (`Model.trace`), and every step is shown with its tensor's name, shape, a few
values and its statistics; then which tokens each attention head of one layer looks at, and the
pooled and final vectors. `page` writes the same as one self-contained HTML page, with the
figures of minie5/porting/figures.py drawn for the text (inline SVG: no script, no network).
"""

from __future__ import annotations

import html

import numpy as np

from .figures import all_figures
from .trace import LAYER_STEPS

SHOWN = 4  # values shown of each tensor (of its first token)
TOP = 3  # most attended tokens shown per head


def steps(model, trace: dict, tokens: list[str]) -> list[tuple[str, str, np.ndarray]]:
    """(title, tensor name, tensor) for each step, in forward order."""
    layers = model.config.num_hidden_layers
    out = [("embeddings: word + position + type", "embeddings.sum", trace["embeddings.sum"]),
           ("embeddings: LayerNorm", "embeddings.LayerNorm", trace["embeddings.LayerNorm"])]
    for i in range(layers):
        for step in LAYER_STEPS:
            name = f"encoder.layer.{i}.{step}"
            out.append((f"layer {i}: {step}", name, trace[name]))
    return out + [("mean pooling", "pooled", trace["pooled"]), ("unit vector", "embedding", trace["embedding"])]


def attended(probs: np.ndarray, tokens: list[str]) -> list[list[tuple[str, float]]]:  # [N, T, T] -> per head
    """Per head, the TOP tokens that receive the most attention, with their average share."""
    received = probs.mean(axis=1)  # [N, T]: the attention each key gets, averaged over the queries
    return [[(tokens[j], float(head[j])) for j in np.argsort(-head, kind="stable")[:TOP]] for head in received]


def _values(x: np.ndarray) -> str:
    first = x.reshape(-1, x.shape[-1])[0][:SHOWN]
    return "[" + ", ".join(f"{v:+.4f}" for v in first) + ", ...]"


def _stats(x: np.ndarray) -> str:
    return f"mean {x.mean():+.3f}  std {x.std():.3f}  min {x.min():+.3f}  max {x.max():+.3f}"


def report(model, text: str, layer: int | None = None, trace: dict | None = None) -> str:
    """The text explanation of `text`: every step, the attention of `layer` (default: the last).
    `trace`: `model.trace([text])`, when the caller has it already."""
    trace = model.trace([text]) if trace is None else trace
    tokens = model.tokenizer.tokens(text)[:model.max_length]
    layer = model.config.num_hidden_layers - 1 if layer is None else layer
    lines = [f"minie5 explain: {text!r} through {model.name} (its NumPy reference, float32)", "",
             f"word pieces ({len(tokens)}): {' '.join(tokens)}",
             f"input_ids {list(trace['input_ids'].shape)}: {' '.join(map(str, trace['input_ids'][0]))}", "",
             f"{'tensor (the trace name of each step)':<44} {'shape':<16} {'first values (of the first token)':<43} "
             "statistics"]
    for _, name, x in steps(model, trace, tokens):
        lines.append(f"{name:<44} {str(list(x.shape)):<16} {_values(x):<43} {_stats(x)}")
    lines += ["", f"layer {layer}: the tokens each head attends to most (the attention they receive, averaged over "
              "the text's tokens)"]
    probs = trace[f"encoder.layer.{layer}.attention.self.probs"][0]
    for h, top in enumerate(attended(probs, tokens)):
        lines.append(f"  head {h:>2}: " + ", ".join(f"{tok} {share:.2f}" for tok, share in top))
    pooled = trace["pooled"][0]
    lines += ["", f"pooled: the mean of the {len(tokens)} tokens' last states, length {np.linalg.norm(pooled):.4f}",
              f"embedding: divided by that length, length {np.linalg.norm(trace['embedding'][0]):.4f}: "
              + " ".join(f"{v:+.4f}" for v in trace["embedding"][0][:8]) + " ..."]
    return "\n".join(lines)


def page(model, text: str, layer: int | None = None, trace: dict | None = None) -> str:
    """The explanation as one self-contained HTML page: the figures for `text`, then every step."""
    trace = model.trace([text]) if trace is None else trace
    tokens = model.tokenizer.tokens(text)[:model.max_length]
    layer = model.config.num_hidden_layers - 1 if layer is None else layer
    figures = all_figures(model, text, trace)
    captions = {
        "pipeline": "From the string to the unit vector, with this text's shapes.",
        "embedding_sum": "The embeddings: three look-ups summed, then LayerNorm (the first tokens and dimensions).",
        "attention_steps": "Layer 0, head 0 step by step: its slice of query, key and value, the scores, the "
                           "softmax and the weighted values.",
        "attention_head": "Layer 0, head 0: how much each token (row) attends to each token (column).",
        "heads": "Every head of layer 0: each looks at the tokens its own way.",
        "padding_mask": "In a batch with a shorter text, the mask keeps every real token from reading a pad.",
        "mean_pooling": "The last hidden states, their mean over the tokens, and the unit vector.",
        "packing": "Padding against packing, for this text and four others: the positions padding wastes.",
        "post_ln_block": "Encoder layer 0 as the trace names its tensors, with this text's values and both residuals.",
        "scores_layout": "Layer 0, head 0 as the reference holds it (rows sum to 1), transposed as the engine does.",
    }
    e = html.escape
    rows = "\n".join(f"<tr><td>{e(title)}</td><td><code>{e(name)}</code></td><td>{list(x.shape)}</td>"
                     f"<td><code>{e(_values(x))}</code></td><td>{e(_stats(x))}</td></tr>"
                     for title, name, x in steps(model, trace, tokens))
    probs = trace[f"encoder.layer.{layer}.attention.self.probs"][0]
    heads = "\n".join(f"<li>head {h}: " + ", ".join(f"<b>{e(tok)}</b> {share:.2f}" for tok, share in top) + "</li>"
                      for h, top in enumerate(attended(probs, tokens)))
    sections = "\n".join(f"<figure id='{name}'>{svg.render()}<figcaption>{e(captions[name])}</figcaption></figure>"
                         for name, svg in figures.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>minie5 explain: {e(text[:60])}</title>
<style>
body {{ font-family: DejaVu Sans, Arial, sans-serif; margin: 2em; max-width: 1500px; color: #222; }}
figure {{ margin: 1.5em 0; }} figcaption {{ font-size: 0.9em; color: #555; }}
table {{ border-collapse: collapse; font-size: 0.8em; }} td, th {{ border-bottom: 1px solid #ddd; padding: 2px 8px; }}
code {{ font-size: 0.95em; }}
</style></head><body>
<h1>How minie5 embeds this text</h1>
<p><code>{e(text)}</code> through <b>{e(str(model.name))}</b>, its NumPy reference in float32.
Every number on this page was computed for this text; hover over a cell for its value.</p>
<p>Word pieces ({len(tokens)}): <code>{e(" ".join(tokens))}</code></p>
{sections}
<h2>Layer {layer}: the tokens each head attends to most</h2>
<ul>{heads}</ul>
<h2>Every step</h2>
<table><tr><th>step</th><th>tensor</th><th>shape</th><th>first values</th><th>statistics</th></tr>
{rows}
</table>
</body></html>
"""
