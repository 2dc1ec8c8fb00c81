"""Figures of the forward pass, drawn from a real trace as self-contained SVG (no plotting library,
no network): every number in a figure is one minie5 computed. `tools/figures.py` draws them for
the reading guide's text into docs/figures/; `minie5 explain --html` draws them for any text.

    pipeline        string -> word pieces -> ids -> vectors -> layers -> pooled -> unit vector, real shapes
    embedding_sum   the three look-ups (word, position, token type) summed, then LayerNorm
    attention_steps one head step by step: its slice of q, k, v (the split into heads), scores, softmax, probs v
    query_token     one query token followed through one head: q.k / sqrt(D) per key, the softmax, the weighted v
    attention_head  one head: its softmax(QK^T / sqrt(D)) over the text's tokens, with a colour bar
    padding_mask    a padded batch: the mask, and the shorter text's probabilities at its pads
    heads           the heads of one layer side by side
    mean_pooling    the last hidden states, the masked mean over the real tokens, the unit vector
    packing         padding against packing for a batch of real lengths: the wasted positions
    post_ln_block   one encoder layer as the trace names its tensors: shapes, values, the residuals
    scores_layout   one head's probabilities as the reference holds them and, transposed, as the engine does
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

SHORT = "passage: summit"  # the second, shorter text of a padded batch
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


class Svg:
    """A few shapes and texts, written out as one SVG document."""

    def __init__(self, width: int, height: int):
        self.width, self.height, self.parts = width, height, []

    def rect(self, x, y, w, h, fill, stroke="none", title: str | None = None):
        tip = f"<title>{html.escape(title)}</title>" if title else ""
        self.parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{h:.1f}' fill='{fill}' "
                          f"stroke='{stroke}'>{tip}</rect>")

    def text(self, x, y, s, size=12, anchor="start", rotate: float | None = None, weight="normal"):
        turn = f" transform='rotate({rotate} {x:.1f} {y:.1f})'" if rotate is not None else ""
        self.parts.append(f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' "
                          f"font-weight='{weight}' {FONT}{turn}>{html.escape(str(s))}</text>")

    def line(self, x1, y1, x2, y2, stroke="#444", width=1.5, arrow=False):
        end = " marker-end='url(#arrow)'" if arrow else ""
        self.parts.append(f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' stroke='{stroke}' "
                          f"stroke-width='{width}'{end}/>")

    def heatmap(self, x, y, values: np.ndarray, cell: float, vmin: float, vmax: float, cmap="blues",
                titles: np.ndarray | None = None, grid: bool = False, numbers: bool = False):
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                self.rect(x + j * cell, y + i * cell, cell, cell, colour(v, vmin, vmax, cmap),
                          stroke="#d0d0d0" if grid else "none", title=None if titles is None else str(titles[i][j]))
                if numbers:
                    dark = (v - vmin) > 0.6 * (vmax - vmin)
                    self.parts.append(f"<text x='{x + (j + 0.5) * cell:.1f}' y='{y + (i + 0.7) * cell:.1f}' "
                                      f"font-size='{cell * 0.5:.0f}' text-anchor='middle' {FONT} "
                                      f"fill='{'white' if dark else '#333'}'>{v:g}</text>")

    def colour_bar(self, x, y, height, vmin, vmax, label, cmap="blues"):
        steps = 40
        for k in range(steps):
            v = vmax - (vmax - vmin) * k / (steps - 1)
            self.rect(x, y + k * height / steps, 14, height / steps + 0.5, colour(v, vmin, vmax, cmap))
        self.rect(x, y, 14, height, "none", stroke="#666")
        self.text(x + 18, y + 10, f"{vmax:.2g}", 10)
        self.text(x + 18, y + height, f"{vmin:.2g}", 10)
        self.text(x + 44, y + height / 2, label, 11, anchor="middle", rotate=90)

    def hbar(self, x, y, width, vmin, vmax, label, cmap="blues"):
        """A horizontal colour bar, vmin on the left, vmax on the right, `label` above it."""
        steps = 30
        for k in range(steps):
            v = vmin + (vmax - vmin) * k / (steps - 1)
            self.rect(x + k * width / steps, y, width / steps + 0.5, 8, colour(v, vmin, vmax, cmap))
        self.rect(x, y, width, 8, "none", stroke="#666")
        self.text(x, y + 19, f"{vmin:.2g}", 9)
        self.text(x + width, y + 19, f"{vmax:.2g}", 9, anchor="end")
        self.text(x, y - 3, label, 9)

    def render(self) -> str:
        marker = ("<defs><marker id='arrow' markerWidth='8' markerHeight='8' refX='7' refY='4' orient='auto'>"
                  "<path d='M0,0 L8,4 L0,8 z' fill='#444'/></marker></defs>")
        body = "\n".join(self.parts)
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width}' height='{self.height}' "
                f"viewBox='0 0 {self.width} {self.height}'>\n<rect width='100%' height='100%' fill='white'/>"
                f"\n{marker}\n{body}\n</svg>\n")


def colour(v: float, vmin: float, vmax: float, cmap: str) -> str:
    """White to dark blue ("blues"), or blue - white - red around zero ("diverging")."""
    t = 0.0 if vmax == vmin else min(1.0, max(0.0, (v - vmin) / (vmax - vmin)))
    if cmap == "diverging":
        s = 2 * t - 1  # -1 .. 1
        r, g, b = (255, int(255 * (1 - s)), int(255 * (1 - s))) if s > 0 else (int(255 * (1 + s)), int(255 * (1 + s)),
                                                                              255)
        return f"#{r:02x}{g:02x}{b:02x}"
    r, g, b = (int(255 - t * (255 - 8)), int(255 - t * (255 - 48)), int(255 - t * (255 - 107)))
    return f"#{r:02x}{g:02x}{b:02x}"


def token_labels(svg: Svg, tokens, x, y, cell, vertical=False, size=11, below=False):
    for i, token in enumerate(tokens):
        if below:
            svg.text(x + i * cell + cell / 2 - 2, y + 4, token, size, anchor="start", rotate=60)
        elif vertical:
            svg.text(x + i * cell + cell / 2 + 4, y, token, size, anchor="end", rotate=-60)
        else:
            svg.text(x, y + i * cell + cell * 0.7, token, size, anchor="end")


def pipeline(model, trace, tokens, text: str) -> Svg:
    B, T = trace["input_ids"].shape
    H = trace["embeddings.LayerNorm"].shape[-1]
    layers = sum(1 for k in trace if k.endswith(".output.LayerNorm") and ".attention." not in k)
    shown = text if len(text) <= 90 else text[:87] + "..."
    steps = [("text", f'"{shown}"', "a string"), ("word pieces", " ".join(tokens[:6]) + " ...", f"{T} tokens"),
             ("input_ids", " ".join(map(str, trace["input_ids"][0][:5])) + " ...", f"[B, T] = [{B}, {T}]"),
             ("embeddings", "word + position + type, LayerNorm", f"[B, T, H] = [{B}, {T}, {H}]"),
             (f"{layers} encoder layers", "attention, feed-forward, each + residual, LayerNorm",
              f"[{B}, {T}, {H}] in, the same out"),
             ("mean pooling", "the average over the real tokens", f"[B, H] = [{B}, {H}]"),
             ("unit vector", "divided by its length: " + f"{np.linalg.norm(trace['pooled'][0]):.2f}", f"[{B}, {H}]")]
    svg = Svg(900, 70 * len(steps) + 20)
    for i, (name, detail, shape) in enumerate(steps):
        y = 15 + 70 * i
        svg.rect(20, y, 860, 46, "#eef3fb", stroke="#6b8cc7")
        svg.text(35, y + 20, name, 14, weight="bold")
        svg.text(35, y + 38, detail, 12)
        svg.text(865, y + 29, shape, 13, anchor="end")
        if i + 1 < len(steps):
            svg.line(450, y + 46, 450, y + 68, arrow=True)
    return svg


def embedding_sum(model, trace, tokens) -> Svg:
    params = model.parameters()["embeddings"]
    ids = trace["input_ids"][0]
    dims, shown = 24, min(len(ids), 8)
    parts = [("word_embeddings[id]", params["word_embeddings"]["weight"][ids[:shown], :dims]),
             ("position_embeddings[i]", params["position_embeddings"]["weight"][:shown, :dims]),
             ("token_type_embeddings[0]", np.repeat(params["token_type_embeddings"]["weight"][:1, :dims], shown, 0)),
             ("sum (embeddings.sum)", trace["embeddings.sum"][0, :shown, :dims]),
             ("LayerNorm (embeddings.LayerNorm)", trace["embeddings.LayerNorm"][0, :shown, :dims])]
    cell, gap, per_row = 10, 44, 3
    panel_h = shown * cell + 70
    svg = Svg(130 + per_row * (dims * cell + gap), 2 * panel_h + 60)
    summed = float(max(np.abs(v).max() for _, v in parts[:4]))  # one scale for the three look-ups and their sum
    normed = float(np.abs(parts[4][1]).max())
    for k, (name, values) in enumerate(parts):
        x, y = 130 + (k % per_row) * (dims * cell + gap), 50 + (k // per_row) * panel_h
        limit = normed if k == 4 else summed
        if k % per_row == 0:
            token_labels(svg, tokens[:shown], 122, y, cell, size=10)
        svg.heatmap(x, y, values, cell, -limit, limit, "diverging", titles=np.round(values, 4))
        svg.text(x + dims * cell / 2, y - 8, name, 11, anchor="middle")
        if k < len(parts) - 1 and k % per_row < per_row - 1:
            svg.text(x + dims * cell + gap / 2, y + shown * cell / 2, ["+", "+", "", "->"][k], 16, anchor="middle")
    svg.hbar(130, 50 + shown * cell + 22, 200, -summed, summed, "the look-ups and their sum", "diverging")
    svg.hbar(130 + (dims * cell + gap), 50 + panel_h + shown * cell + 22, 200, -normed, normed, "after LayerNorm",
             "diverging")
    hidden = trace["embeddings.sum"].shape[-1]
    svg.text(20, 2 * panel_h + 50, f"the first {shown} tokens, the first {dims} of {hidden} dimensions; red positive, "
             "blue negative; LayerNorm rescales every token to mean 0, variance 1", 11)
    return svg


def attention_steps(trace, tokens, layer=0, head=0) -> Svg:
    """One head from its input to its output, every panel the trace's numbers: the layer's query,
    key and value split into heads (head `head`'s D columns of each), the scaled scores q k^T /
    sqrt(D) (computed here from the traced q and k), the softmax (traced), and the weighted values
    (the head's D columns of the traced context)."""
    prefix = f"encoder.layer.{layer}.attention.self"
    H = trace[prefix + ".query"].shape[-1]
    N = trace[prefix + ".probs"].shape[1]
    D, T = H // N, len(tokens)
    cols = slice(head * D, (head + 1) * D)
    q, k, v = (trace[f"{prefix}.{name}"][0][:, cols] for name in ("query", "key", "value"))
    scores = q @ k.T / np.sqrt(D)
    probs = trace[prefix + ".probs"][0, head]
    context = trace[prefix][0][:, cols]
    row, narrow = 14, 5  # every panel's rows are the tokens, row pixels tall; D columns are narrow
    panels = [(f"q [{T}, {D}]", q, narrow, "diverging"), (f"k [{T}, {D}]", k, narrow, "diverging"),
              (f"v [{T}, {D}]", v, narrow, "diverging"), (f"q k^T / sqrt({D}) [{T}, {T}]", scores, row, "diverging"),
              (f"softmax [{T}, {T}]", probs, row, "blues"), (f"probs v [{T}, {D}]", context, narrow,
                                                                           "diverging")]
    width = 110 + sum(values.shape[1] * w + 34 for _, values, w, _ in panels)
    svg = Svg(width, T * row + 170)
    svg.text(20, 20, f"layer {layer}, head {head} of {N}: this head's {D} of the {H} columns of query, key and value, "
             f"then softmax(q k^T / sqrt({D})) v", 12)
    for n in range(N):  # the split into heads: H columns as N blocks of D
        svg.rect(20 + n * 24, 32, 22, 10, "#e38b2c" if n == head else "#c8d3e6")
    svg.text(28 + N * 24, 41, f"the {H} columns as {N} heads of {D}; head {head} in orange", 11)
    x, y = 100, 84
    token_labels(svg, tokens, x - 6, y, row, size=10)
    for title, values, w, cmap in panels:
        hi = float(values.max()) if cmap == "blues" else float(np.abs(values).max())
        lo = 0.0 if cmap == "blues" else -hi
        svg.text(x, y - 8, title, 11, weight="bold")
        for i, line in enumerate(values):
            for j, value in enumerate(line):
                svg.rect(x + j * w, y + i * row, w, row, colour(value, lo, hi, cmap), title=f"{value:.3f}")
        x += values.shape[1] * w + 34
    svg.text(20, y + T * row + 30, "rows: the text's tokens; red positive, blue negative; each panel has its own "
             "scale (the bars below); the softmax's rows sum to 1", 11)
    for k, (title, values, _, cmap) in enumerate(panels):
        hi = float(values.max()) if cmap == "blues" else float(np.abs(values).max())
        svg.hbar(20 + k * 150, y + T * row + 58, 120, 0.0 if cmap == "blues" else -hi, hi, title.split(" [")[0], cmap)
    return svg


def query_token(trace, tokens, layer=0, head=0, token: int | None = None) -> Svg:
    """One query token followed through one head (Alammar's "The Illustrated Transformer" walk,
    drawn from the trace): its score with every key, q_i . k_j / sqrt(D); the softmax of those
    scores (the trace's probabilities); each value vector weighted by its probability; and their
    sum, the token's context vector (the trace's). `token`: the query's index (default: the last
    word before [SEP])."""
    prefix = f"encoder.layer.{layer}.attention.self"
    H = trace[prefix + ".query"].shape[-1]
    N = trace[prefix + ".probs"].shape[1]
    D, T = H // N, len(tokens)
    i = T - 2 if token is None else token
    cols = slice(head * D, (head + 1) * D)
    q, k, v = (trace[f"{prefix}.{name}"][0][:, cols] for name in ("query", "key", "value"))
    scores = k @ q[i] / np.sqrt(D)  # [T]
    probs = trace[prefix + ".probs"][0, head, i]  # [T]
    weighted = probs[:, None] * v  # [T, D]
    context = trace[prefix][0][i, cols]  # [D]
    row, bar, cell = 20, 150, 6
    x0 = 120
    svg = Svg(x0 + 2 * (bar + 50) + max(D * cell, 160) + 40, 130 + (T + 2) * row)
    svg.text(20, 20, f"layer {layer}, head {head}: the query token {tokens[i]!r} (row {i}) reads the other tokens", 13,
             weight="bold")
    svg.text(20, 38, "1. its query meets every key: q . k / sqrt(D);  2. softmax makes the scores weights that sum "
             "to 1;", 11)
    svg.text(20, 54, "3. each value vector is scaled by its weight, and the scaled values are summed", 11)
    y = 80
    token_labels(svg, tokens, x0 - 8, y, row, size=11)
    limit = float(np.abs(scores).max())
    columns = [("1. q . k / sqrt(D)", scores, limit, -limit), ("2. softmax", probs, 1.0, 0.0)]
    for c, (title, values, hi, lo) in enumerate(columns):
        x = x0 + c * (bar + 50)
        svg.text(x, y - 10, title, 11, weight="bold")
        zero = x + (0 - lo) / (hi - lo) * bar
        svg.line(zero, y - 2, zero, y + T * row, stroke="#999", width=1)
        for j, value in enumerate(values):
            left, right = sorted((zero, x + (value - lo) / (hi - lo) * bar))
            svg.rect(left, y + j * row + 3, max(right - left, 0.5), row - 6,
                     "#e38b2c" if j == int(np.argmax(probs)) else "#6b8cc7", title=f"{value:.3f}")
            svg.text(x + bar + 4, y + j * row + row * 0.7, f"{value:.2f}", 9)
    x = x0 + 2 * (bar + 50)
    svg.text(x, y - 10, f"3. weight x v [{T}, {D}], summed down", 11, weight="bold")
    limit = float(max(np.abs(weighted).max(), np.abs(context).max()))
    for j, line in enumerate([*weighted, context]):  # the token rows, then their sum a row further down
        top = y + j * row + (row if j == T else 0)
        for d, value in enumerate(line):
            svg.rect(x + d * cell, top + 2, cell, row - 4, colour(value, -limit, limit, "diverging"),
                     title=f"{value:.3f}")
    svg.line(x, y + T * row + 10, x + D * cell, y + T * row + 10, stroke="#444", width=1)
    svg.text(x - 6, y + (T + 1) * row + 14, "sum = context", 10, anchor="end")
    svg.hbar(x, y + (T + 2) * row + 14, 150, -limit, limit, "weighted values and their sum", "diverging")
    svg.text(20, y + (T + 2) * row + 14, f"the sum is the trace's {prefix}", 10)
    svg.text(20, y + (T + 2) * row + 28, f"(head {head}'s {D} columns)", 10)
    return svg


def attention_head(trace, tokens, layer=0, head=0) -> Svg:
    probs = trace[f"encoder.layer.{layer}.attention.self.probs"][0, head]
    T, cell = len(tokens), 28
    svg = Svg(170 + T * cell + 90, 150 + T * cell + 40)
    svg.heatmap(140, 110, probs, cell, 0.0, float(probs.max()), titles=np.round(probs, 3), grid=True)
    token_labels(svg, tokens, 132, 110, cell)
    token_labels(svg, tokens, 140, 104, cell, vertical=True)
    svg.text(140 + T * cell / 2, 20, f"layer {layer}, head {head}: softmax(q k^T / sqrt(32)), each row sums to 1", 13,
             anchor="middle")
    svg.text(140 + T * cell / 2, 110 + T * cell + 28, "key token (attended to)", 12, anchor="middle")
    svg.text(20, 110 + T * cell / 2, "query token (attending)", 12, anchor="middle", rotate=-90)
    svg.colour_bar(150 + T * cell, 110, T * cell, 0.0, float(probs.max()), "attention probability")
    return svg


def padding_mask(model, text: str, short: str = SHORT, layer=0, head=0) -> Svg:
    batch = model.trace([text, short])
    mask = batch["attention_mask"]
    lengths = mask.sum(1)
    T, cell = mask.shape[1], 22
    short_tokens = model.tokenizer.tokens(short) + ["[PAD]"] * (T - int(lengths[1]))
    probs = batch[f"encoder.layer.{layer}.attention.self.probs"][1, head]
    svg = Svg(T * cell + 620, T * cell + 240)
    svg.text(20, 20, f"a batch of two texts, padded to T = {T} tokens: the attention mask (1: real token, 0: padding)",
             13)
    svg.heatmap(110, 34, mask, cell, 0, 1, grid=True, numbers=True)
    for b in range(2):
        svg.text(102, 34 + b * cell + cell * 0.7, f"text {b} ({int(lengths[b])})", 11, anchor="end")
    y = 130
    svg.text(20, y - 24, f"text 1, layer {layer}, head {head}: the keys past token {int(lengths[1])} are padding "
             "and get probability 0 (white), so no real token reads a pad;", 12)
    svg.text(20, y - 8, "the pads' own rows are computed too, and thrown away by the masked mean at the end", 12)
    svg.heatmap(110, y + 70, probs, cell, 0.0, float(probs.max()), titles=np.round(probs, 3), grid=True)
    token_labels(svg, short_tokens, 104, y + 70, cell, size=10)
    token_labels(svg, short_tokens, 110, y + 62, cell, vertical=True, size=10)
    svg.text(110 + T * cell / 2, y + 70 + T * cell + 20, "key token", 11, anchor="middle")
    svg.colour_bar(120 + T * cell, y + 70, T * cell, 0.0, float(probs.max()), "probability")
    return svg


def head_pattern(probs: np.ndarray) -> str:  # [T, T] -> a few words, or ""
    """What a head mostly does, where one pattern takes most of its weight: the previous or the next
    token, the token itself, [CLS] or [SEP] (with the pattern's mean weight)."""
    T = len(probs)
    shares = {"previous": np.mean([probs[i, i - 1] for i in range(1, T)]),
              "next": np.mean([probs[i, i + 1] for i in range(T - 1)]),
              "itself": np.mean(np.diag(probs)), "[CLS]": probs[:, 0].mean(), "[SEP]": probs[:, -1].mean()}
    name, share = max(shares.items(), key=lambda kv: kv[1])
    return f"{name} {share:.2f}" if share >= 0.5 else ""


def heads(trace, tokens, layer=0) -> Svg:
    probs = trace[f"encoder.layer.{layer}.attention.self.probs"][0]
    N, T = probs.shape[:2]
    cell, cols, label = 11, 4, 70
    panel = T * cell + 40
    rows = -(-N // cols)
    svg = Svg(cols * panel + label + 90, rows * (panel + 30) + 80)
    svg.text(20, 20, f"the {N} heads of layer {layer} on this text (rows: query tokens, columns: keys; one scale, "
             "0 to 1, for every head)", 12)
    for h in range(N):
        x, y = label + (h % cols) * panel, 60 + (h // cols) * (panel + 30)
        svg.heatmap(x, y, probs[h], cell, 0.0, 1.0, titles=np.round(probs[h], 3))
        pattern = head_pattern(probs[h])
        svg.text(x, y - 6, f"head {h}" + (f": {pattern}" if pattern else ""), 10,
                 weight="bold" if pattern else "normal")
        if h % cols == 0:
            token_labels(svg, tokens, x - 4, y, cell, size=8)
        if h // cols == rows - 1 or h + cols >= N:
            token_labels(svg, tokens, x, y + T * cell + 2, cell, size=8, below=True)
    svg.colour_bar(label + cols * panel, 60, rows * (panel + 30) - 40, 0.0, 1.0, "attention probability")
    return svg


def mean_pooling(trace, tokens) -> Svg:
    layers = sum(1 for k in trace if k.endswith(".output.LayerNorm") and ".attention." not in k)
    last = trace[f"encoder.layer.{layers - 1}.output.LayerNorm"][0]
    dims, cell = 32, 16
    rows = np.vstack([last[:, :dims], trace["pooled"][:, :dims], trace["embedding"][:, :dims] * 10])
    labels = [*tokens, "mean (pooled)", "unit vector x 10"]
    limit = float(np.abs(rows).max())
    svg = Svg(170 + dims * cell + 90, len(labels) * cell + 120)
    svg.text(20, 20, f"the last hidden states (the first {dims} of {last.shape[-1]} dimensions),", 12)
    svg.text(20, 36, f"their mean over the {len(tokens)} real tokens, and that divided by its length", 12)
    svg.heatmap(150, 48, rows[:len(tokens)], cell, -limit, limit, "diverging", titles=np.round(rows, 4))
    svg.heatmap(150, 60 + len(tokens) * cell, rows[len(tokens):], cell, -limit, limit, "diverging",
                titles=np.round(rows[len(tokens):], 4))
    token_labels(svg, labels[:len(tokens)], 142, 48, cell, size=11)
    token_labels(svg, labels[len(tokens):], 142, 60 + len(tokens) * cell, cell, size=11)
    svg.colour_bar(160 + dims * cell, 48, len(labels) * cell + 12, -limit, limit, "value", "diverging")
    return svg


def packing(model, text: str) -> Svg:
    texts = [text, SHORT, "passage: The Rhine flows from the Alps through six countries to the North Sea.",
             "query: capital of france", "passage: Photosynthesis turns light into chemical energy in plants."]
    lengths = [len(ids) for ids in model.tokenizer.tokenize(texts)]
    longest, total, unit = max(lengths), sum(lengths), 14
    svg = Svg(int(max(760, 40 + longest * unit, 40 + total * unit / 2)), 90 + len(texts) * unit + 30)
    svg.text(20, 20, f"padding: {len(texts)} texts x {longest} tokens = {len(texts) * longest} positions, "
             f"{len(texts) * longest - total} of them pads", 12)
    for b, n in enumerate(lengths):
        for t in range(longest):
            svg.rect(20 + t * unit, 30 + b * unit, unit - 1, unit - 1, "#6b8cc7" if t < n else "#e6e6e6")
    y = 50 + len(texts) * unit
    svg.text(20, y, f"packing (minie5's engine): the {total} real tokens in one row, attention kept within each text",
             12)
    x = 20
    for b, n in enumerate(lengths):
        for _ in range(n):
            svg.rect(x, y + 10, unit / 2 - 0.5, unit, ["#6b8cc7", "#8fb0e0"][b % 2])
            x += unit / 2
    return svg


def post_ln_block(trace, layer=0) -> Svg:
    """Layer `layer` of the trace, top to bottom, each box a traced tensor: its name, shape, the first
    values of the first token and its root mean square. The two residual additions come before
    their LayerNorms (post-LN, as BERT): the input skips past attention, then past the feed-forward."""
    prefix = f"encoder.layer.{layer}."
    before = "embeddings.LayerNorm" if layer == 0 else f"encoder.layer.{layer - 1}.output.LayerNorm"
    steps = [(before, "the layer's input x"),
             (prefix + "attention.self.query", "x Wq + bq (key and value alike)"),
             (prefix + "attention.self.probs", "softmax(q k^T / sqrt(D)) per head"),
             (prefix + "attention.self", "probs v, the heads side by side"),
             (prefix + "attention.output.dense", "a linear map back to H"),
             (prefix + "attention.output.LayerNorm", "LayerNorm(dense + x): residual 1"),
             (prefix + "intermediate", "GELU(x Wi + bi)"),
             (prefix + "output.dense", "a linear map back to H"),
             (prefix + "output.LayerNorm", "LayerNorm(dense + its input): residual 2, the layer's output")]
    box, gap = 46, 18
    svg = Svg(900, 30 + len(steps) * (box + gap))
    svg.text(20, 18, f"encoder layer {layer} as the trace names its tensors (first token's first values, RMS "
             "over the whole tensor)", 12)
    for i, (name, what) in enumerate(steps):
        y = 30 + i * (box + gap)
        value = trace[name]
        first = value[0, 0, 0] if value.ndim == 4 else value[0, 0]
        residual = name.endswith("LayerNorm") and i > 0
        svg.rect(120, y, 700, box, "#fdf1e6" if residual else "#eef3fb", stroke="#c98a4b" if residual else "#6b8cc7")
        svg.text(132, y + 18, name, 13, weight="bold")
        svg.text(132, y + 36, what, 11)
        svg.text(808, y + 18, "[" + ", ".join(map(str, value.shape)) + "]", 12, anchor="end")
        rms = np.sqrt(np.mean(value ** 2))
        svg.text(808, y + 36, " ".join(f"{v:+.3f}" for v in first[:4]) + f" ...  rms {rms:.3f}", 11, anchor="end")
        if i + 1 < len(steps):
            svg.line(470, y + box, 470, y + box + gap - 2, arrow=True)
    for source, target in ((0, 5), (5, 8)):  # the residuals: the input of each sub-block, added before its LayerNorm
        y0, y1 = 30 + source * (box + gap) + box / 2, 30 + target * (box + gap) + box / 2
        svg.line(120, y0, 60, y0, stroke="#c98a4b", width=2)
        svg.line(60, y0, 60, y1, stroke="#c98a4b", width=2)
        svg.line(60, y1, 118, y1, stroke="#c98a4b", width=2, arrow=True)
    svg.text(52, 30 + 2.5 * (box + gap), "residual", 11, anchor="middle", rotate=-90)
    svg.text(52, 30 + 6.5 * (box + gap), "residual", 11, anchor="middle", rotate=-90)
    return svg


def scores_layout(trace, tokens, layer=0, head=0) -> Svg:
    """One head's probabilities twice: [query, key] as the reference computes them (each row sums
    to 1), and transposed, [key, query], as kernels.self_attention keeps them (each column sums to
    1), so that every inner loop runs along tokens over contiguous memory."""
    probs = trace[f"encoder.layer.{layer}.attention.self.probs"][0, head]
    T, cell = len(tokens), 20
    side = 130 + T * cell
    svg = Svg(2 * side + 120, T * cell + 206)
    svg.text(20, 20, f"layer {layer}, head {head}: the same probabilities in the reference's layout and in the "
             "engine's", 13)
    panels = ((probs, "reference: probs[query, key]", "rows sum to 1 (softmax along a row)", "query", "key"),
              (probs.T, "engine: scores_t[key, query]", "columns sum to 1 (softmax down a column)", "key", "query"))
    for p, (values, title, sums, rows, cols) in enumerate(panels):
        x = 110 + p * (side + 40)
        svg.text(x, 50, title, 12, weight="bold")
        svg.text(x, 66, sums, 11)
        svg.heatmap(x, 150, values, cell, 0.0, float(probs.max()), titles=np.round(values, 3), grid=True)
        token_labels(svg, tokens, x - 6, 150, cell, size=9)
        token_labels(svg, tokens, x, 144, cell, vertical=True, size=9)
        svg.text(x + T * cell / 2, 150 + T * cell + 18, f"{cols} token", 11, anchor="middle")
        svg.text(x - 96, 150 + T * cell / 2, f"{rows} token", 11, anchor="middle", rotate=-90)
    svg.text(20, 150 + T * cell + 40, "In the engine, one key's row is contiguous: adding it, scaled, to every "
             "query's score is one vector loop,", 11)
    svg.text(20, 150 + T * cell + 56, "and so are the softmax's column maxima and sums.", 11)
    return svg


def write_svgs(figures: dict[str, Svg], folder: str | Path) -> None:
    """Each figure to folder/<name>.svg (the folder made if need be)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, svg in figures.items():
        (folder / f"{name}.svg").write_text(svg.render())

def all_figures(model, text: str, trace: dict | None = None, layer: int = 0, head: int = 0,
                token: int | None = None, engine: bool = True) -> dict[str, Svg]:
    """Every figure for `text` (through `model`'s NumPy reference; `trace`: its trace, if at hand), by
    name, the attention figures for `layer` and `head` (`token`: the query token followed, default
    the last word); `engine`: with the engine guide's figures (packing, scores_layout)."""
    trace = model.trace([text]) if trace is None else trace
    tokens = model.tokenizer.tokens(text)[:model.max_length]
    figures = {"pipeline": pipeline(model, trace, tokens, text), "embedding_sum": embedding_sum(model, trace, tokens),
               "attention_steps": attention_steps(trace, tokens, layer, head),
               "query_token": query_token(trace, tokens, layer, head, token),
               "attention_head": attention_head(trace, tokens, layer, head),
               "padding_mask": padding_mask(model, text, layer=layer, head=head),
               "heads": heads(trace, tokens, layer), "post_ln_block": post_ln_block(trace, layer),
               "mean_pooling": mean_pooling(trace, tokens)}
    if engine:
        figures.update({"packing": packing(model, text), "scores_layout": scores_layout(trace, tokens, layer, head)})
    return figures
