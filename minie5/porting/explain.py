"""`minie5 explain`: the reading guide made live for any text. The text goes through the model's
NumPy reference once (`Model.trace`), and every step is shown with its tensor's name, shape, a few
values and its statistics; then which tokens each attention head of one layer looks at, and the
pooled and final vectors. `page` writes the same as one self-contained HTML page, with the
figures of minie5/porting/figures.py drawn for the text (inline SVG: no script, no network).
"""

from __future__ import annotations

import html
from pathlib import Path

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


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "reading-guide.md"


def guide_link(step: str, anchor: str) -> str:
    """A link to the reading guide's step, where the guide is beside the package (a checkout), else its name."""
    e = html.escape
    if GUIDE.is_file():
        return f"<a href='{e(GUIDE.as_uri())}#{e(anchor)}'>reading guide, {e(step)}</a>"
    return f"docs/reading-guide.md, {e(step)}"


def page(model, text: str, layer: int | None = None, trace: dict | None = None, head: int = 0,
         token: int | None = None) -> str:
    """The explanation as one self-contained HTML page for a learner: a line of prose, the figure
    and a link to the reading guide's step, in the order of the forward pass; the attention
    figures for `layer` (default: the last) and `head`, one query `token` (default: the last word)
    followed through the head; every tensor's statistics folded at the end. The engine's layouts
    (packing, the transposed scores) are on the engine guide's page, not here."""
    trace = model.trace([text]) if trace is None else trace
    tokens = model.tokenizer.tokens(text)[:model.max_length]
    layer = model.config.num_hidden_layers - 1 if layer is None else layer
    figures = all_figures(model, text, trace, layer=layer, head=head, token=token, engine=False)
    T, N = len(tokens), model.config.num_attention_heads
    D = model.config.hidden_size // N
    followed = tokens[T - 2 if token is None else token]
    prose = {
        "pipeline": ("The whole path first: the string becomes word pieces, ids, one vector per token, "
                     f"{model.config.num_hidden_layers} layers of attention and feed-forward, and one mean vector "
                     "scaled to length 1.", "steps 0-7", "from-a-string-to-a-unit-vector-a-reading-guide"),
        "embedding_sum": ("Each token starts as the sum of three learned vectors: what it is (its word piece), "
                          "where it is (its position) and which segment it belongs to; LayerNorm then puts every "
                          "token on the same scale.", "step 2", "2-ids-to-vectors--minie5referenceembeddingspy"),
        "attention_steps": (f"Attention, one head at a time: layer {layer}'s queries, keys and values are cut into "
                            f"{N} heads of {D} columns; head {head}'s columns make its scores, its softmax, and its "
                            "weighted values.", "step 4", "4-self-attention--minie5referenceattentionpy"),
        "query_token": (f"The same head from one token's point of view: the query of {followed!r} is compared with "
                        "every key, the softmax turns the scores into weights, and its new vector is the "
                        "weighted sum of the values.", "step 4", "4-self-attention--minie5referenceattentionpy"),
        "attention_head": (f"All the rows of that softmax at once: how much each token (row) reads each token "
                           f"(column) in layer {layer}, head {head}.", "step 4",
                           "4-self-attention--minie5referenceattentionpy"),
        "heads": (f"Every head of layer {layer} side by side, on one scale: heads specialise, and a head that puts "
                  "most of its weight on one pattern (the previous token, [CLS], [SEP]) is named.", "step 4",
                  "4-self-attention--minie5referenceattentionpy"),
        "padding_mask": ("In a batch, a shorter text is padded; the mask keeps every real token from reading a pad, so "
                         "the text's vector is the same as when it is alone.", "step 4",
                         "4-self-attention--minie5referenceattentionpy"),
        "post_ln_block": (f"Layer {layer} as a whole: attention, then the feed-forward, each added to its input (the "
                          "residuals) and normalised (post-LN).", "step 6", "6-l-layers--minie5referenceencoderpy"),
        "mean_pooling": ("The sentence vector: the mean of the last layer's token vectors, divided by its length.",
                         "step 7", "7-pooling-and-normalisation--minie5referencepoolingpy"),
    }
    e = html.escape
    rows = "\n".join(f"<tr><td>{e(title)}</td><td><code>{e(name)}</code></td><td>{list(x.shape)}</td>"
                     f"<td><code>{e(_values(x))}</code></td><td>{e(_stats(x))}</td></tr>"
                     for title, name, x in steps(model, trace, tokens))
    probs = trace[f"encoder.layer.{layer}.attention.self.probs"][0]
    heads = "\n".join(f"<li>head {h}: " + ", ".join(f"<b>{e(tok)}</b> {share:.2f}" for tok, share in top) + "</li>"
                      for h, top in enumerate(attended(probs, tokens)))
    sections = "\n".join(
        f"<section id='{name}'><p>{e(prose[name][0])} <span class='guide'>({guide_link(*prose[name][1:])})</span></p>"
        f"<figure>{svg.render()}</figure></section>" for name, svg in figures.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>minie5 explain: {e(text[:60])}</title>
<style>
body {{ font-family: DejaVu Sans, Arial, sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 1100px;
        color: #222; line-height: 1.45; }}
figure {{ margin: 0.5em 0 2em 0; }}
figure svg {{ max-width: 100%; height: auto; display: block; }}
.guide {{ font-size: 0.9em; color: #555; }}
table {{ border-collapse: collapse; font-size: 0.8em; display: block; overflow-x: auto; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 2px 8px; }}
code {{ font-size: 0.95em; overflow-wrap: anywhere; }}
</style></head><body>
<h1>How minie5 embeds this text</h1>
<p><code>{e(text)}</code> through <b>{e(str(model.name))}</b>, its NumPy reference in float32. Every number on
this page was computed for this text (open a figure on its own to hover over a cell for its value).
Attention figures: layer {layer}, head {head} (<code>--layer</code>, <code>--head</code>).</p>
<p>Word pieces ({len(tokens)}): <code>{e(" ".join(tokens))}</code></p>
{sections}
<h2>Layer {layer}: the tokens each head attends to most</h2>
<ul>{heads}</ul>
<details><summary>Every tensor of the forward pass: its name in the trace, shape, first values and statistics
</summary>
<table><tr><th>step</th><th>tensor</th><th>shape</th><th>first values</th><th>statistics</th></tr>
{rows}
</table></details>
<p>How the fast engine lays these tensors out (packing instead of padding, the transposed scores):
docs/engine-guide.md.</p>
</body></html>
"""
