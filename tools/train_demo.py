"""Training, the way e5 was trained, small enough for a CPU in about a minute (docs/training.md).

A text's vector here: its word pieces looked up in all-MiniLM-L6-v2's real word-embedding table
(frozen: no encoder, so that training is cheap), averaged with learned weights (attention pooling:
token t gets softmax_t(x_t . a)), mapped by a learned K x H matrix and scaled to length 1. The
pooling vector a and the head W are trained with InfoNCE over in-batch negatives (E5, section
4.1: query i's positive is passage i, the other passages of its batch are negatives) on the
query/passage pairs of tools/make_retrieval_set.py, at temperature 0.05 and at 0.01 (e5's), from
the same start. The backward pass (InfoNCE, the normalisation, the head, the pooling) is written
by hand and checked against finite differences (`gradient_check`, tests/reference/test_train_demo.py).

Then, on the real weights of the whole model: how alike the vectors of unrelated texts are at
every layer (anisotropy), and the few huge values of the feed-forward's output (massive
activations).

    python tools/train_demo.py [--model all-MiniLM-L6-v2] [--out docs/figures/training] [--epochs 8]

Prints every number docs/training.md quotes; writes cosines.svg, loss.svg, anisotropy.svg and
massive_activations.svg, byte for byte the same on every run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5 import reference  # noqa: E402
from minie5.porting.figures import Svg, write_svgs  # noqa: E402
from tools.make_retrieval_set import retrieval_set  # noqa: E402

# Shapes: B pairs in a batch, T word pieces per text (padded), H the model's hidden size (384),
# K the head's output size.
TEMPERATURES = (0.05, 0.01)
TRAIN = 400  # pairs trained on; the rest (115 of 515) are held out to measure
BATCH = 32
K = 128
LEARNING_RATE = 2e-3
MAX_TOKENS = 96  # passages cut here: their first sentences carry most of what a query asks
MEASURED_TEXTS = 48  # texts traced through the whole model for anisotropy and massive activations


def pool(X, mask, a):  # [B, T, H], [B, T], [H] -> [B, H], and the token weights [B, T]
    """Attention pooling: a weighted mean of the token vectors, weights softmax_t(x_t . a) over the
    real tokens. a = 0 gives the plain mean."""
    s = np.where(mask > 0, X @ a, -np.inf)  # [B, T]: each token's score, padding out
    w = np.exp(s - s.max(axis=1, keepdims=True))  # [B, T]
    w /= w.sum(axis=1, keepdims=True)  # [B, T], each row sums to 1
    return np.einsum("bt,bth->bh", w, X), w  # [B, H]


def encode(X, mask, a, W):  # [B, T, H], [B, T] -> [B, K] unit vectors, and what backward needs
    p, w = pool(X, mask, a)  # [B, H]
    y = p @ W.T  # [B, K]: the head
    n = np.linalg.norm(y, axis=1, keepdims=True)  # [B, 1]
    return y / n, (w, p, y, n)


def info_nce(zq, zp, temperature):  # [B, K] x 2 unit vectors -> loss, d loss / d zq [B, K], d loss / d zp
    """InfoNCE with in-batch negatives and its gradient: the mean over queries of
    -log softmax(zq_i . zp / temperature)_i."""
    logits = zq @ zp.T / temperature  # [B, B]: every query against every passage
    logits -= logits.max(axis=1, keepdims=True)  # (exp's range only)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)  # [B, B], rows sum to 1
    B = len(zq)
    loss = -np.mean(np.log(probs[np.arange(B), np.arange(B)]))
    g = (probs - np.eye(B)) / (B * temperature)  # [B, B]: d loss / d (zq zp^T), softmax minus the target
    return loss, g @ zp, g.T @ zq


def encode_backward(X, cache, dz, W):  # [B, T, H], ..., [B, K] -> d a [H], d W [K, H]
    """The gradient of encode's output, dz, taken back through the normalisation, the head and the
    attention pooling."""
    w, p, y, n = cache
    z = y / n  # [B, K]
    dy = (dz - z * np.sum(z * dz, axis=1, keepdims=True)) / n  # [B, K]: a unit vector's length does not move
    dW = dy.T @ p  # [K, B] @ [B, H] -> [K, H]
    dp = dy @ W  # [B, H]
    dw = np.einsum("bth,bh->bt", X, dp)  # [B, T]: d loss / d token weight
    ds = w * (dw - np.sum(w * dw, axis=1, keepdims=True))  # [B, T]: back through the softmax (0 at padding)
    da = np.einsum("bt,bth->h", ds, X)  # [H]
    return da, dW


def loss_and_gradient(params, batch, temperature):  # -> loss, (d a [H], d W [K, H])
    a, W = params
    Xq, mq, Xp, mp = batch
    zq, cache_q = encode(Xq, mq, a, W)
    zp, cache_p = encode(Xp, mp, a, W)
    loss, dzq, dzp = info_nce(zq, zp, temperature)
    (daq, dWq), (dap, dWp) = encode_backward(Xq, cache_q, dzq, W), encode_backward(Xp, cache_p, dzp, W)
    return loss, (daq + dap, dWq + dWp)  # one encoder for both sides: their gradients add


def gradient_check(params, batch, temperature, rng, probes=6, h=1e-6) -> float:
    """The largest relative difference between the hand-written gradient and central finite
    differences, at `probes` random coordinates of each parameter."""
    _, grads = loss_and_gradient(params, batch, temperature)
    worst = 0.0
    for param, grad in zip(params, grads):
        for _ in range(probes):
            i = tuple(rng.integers(0, s) for s in param.shape)
            keep = param[i]
            param[i] = keep + h
            up = loss_and_gradient(params, batch, temperature)[0]
            param[i] = keep - h
            down = loss_and_gradient(params, batch, temperature)[0]
            param[i] = keep
            numeric = (up - down) / (2 * h)
            worst = max(worst, abs(numeric - grad[i]) / max(abs(numeric), abs(grad[i]), 1e-8))
    return worst


def start(H, seed=0):  # -> a [H] zeros (the plain mean), W [K, H] random
    rng = np.random.default_rng(seed)
    return np.zeros(H), rng.standard_normal((K, H)) / np.sqrt(H)


def train(data, temperature, epochs, seed=0) -> tuple[tuple[np.ndarray, np.ndarray], list[float]]:
    """Adam (Kingma & Ba 2015) on InfoNCE over batches of BATCH training pairs; the mean loss of
    each epoch."""
    params = start(data[0].shape[-1], seed)
    rng = np.random.default_rng(seed + 1)
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    curve, step = [], 0
    for _ in range(epochs):
        order, losses = rng.permutation(TRAIN), []
        for s in range(0, TRAIN - BATCH + 1, BATCH):
            rows = order[s:s + BATCH]
            loss, grads = loss_and_gradient(params, [d[rows] for d in data], temperature)
            losses.append(loss)
            step += 1
            for p, g, (m, v) in zip(params, grads, moments):
                m[...] = 0.9 * m + 0.1 * g
                v[...] = 0.999 * v + 0.001 * g * g
                p -= LEARNING_RATE * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        curve.append(float(np.mean(losses)))
    return params, curve


def held_out(params, data) -> dict:
    """Cosines of the held-out true pairs and of every other held-out query-passage pair, and MRR@10."""
    Xq, mq, Xp, mp = (d[TRAIN:] for d in data)
    zq, _ = encode(Xq, mq, *params)
    zp, _ = encode(Xp, mp, *params)
    scores = zq @ zp.T
    true = np.diag(scores)
    rank = (scores > true[:, None]).sum(axis=1)
    return {"true": true, "random": scores[~np.eye(len(true), dtype=bool)],
            "MRR@10": float(np.mean(np.where(rank < 10, 1 / (rank + 1), 0.0)))}


def features(model, texts):  # -> [B, T, H] word-piece vectors (float64), [B, T] mask
    table = model.parameters("float64")["embeddings"]["word_embeddings"]["weight"]  # [V, H]
    ids, mask = reference.pad_batch([i[:MAX_TOKENS] for i in model.tokenizer.tokenize(texts)], 0)
    return table[ids], mask.astype(np.float64)


def anisotropy(trace, layers) -> list[tuple[float, float]]:
    """Per hidden state (0: the embeddings), the mean cosine of the mean-pooled vectors of two
    different texts, and of two tokens of different texts."""
    mask = trace["attention_mask"]
    out = []
    for i in range(layers + 1):
        h = trace["embeddings.LayerNorm" if i == 0 else f"encoder.layer.{i - 1}.output.LayerNorm"]
        v = reference.l2_normalize(reference.mean_pool(h, mask))
        texts = (v @ v.T)[~np.eye(len(v), dtype=bool)]
        tokens = reference.l2_normalize(h[mask > 0])
        owner = np.repeat(np.arange(len(mask)), mask.sum(1))
        cos = (tokens @ tokens.T)[owner[:, None] != owner[None, :]]
        out.append((float(texts.mean()), float(cos.mean())))
    return out


def massive(trace, layers) -> list[dict]:
    """Per layer: the largest |value| of the feed-forward's output (output.dense, before the residual
    and LayerNorm), its channel, and the median |value| of that tensor at real tokens."""
    mask = trace["attention_mask"] > 0
    position = np.broadcast_to(np.arange(mask.shape[1]), mask.shape)[mask]  # [real tokens]
    last = np.repeat(mask.sum(axis=1) - 1, mask.sum(axis=1))  # [real tokens]: the [SEP]'s position
    out = []
    for i in range(layers):
        x = np.abs(trace[f"encoder.layer.{i}.output.dense"][mask])  # [real tokens, H]
        top = np.unravel_index(np.argmax(x), x.shape)
        over = x.max(axis=1) > 20
        where = {"[CLS]": int((over & (position == 0)).sum()), "[SEP]": int((over & (position == last)).sum())}
        where["other"] = int(over.sum()) - where["[CLS]"] - where["[SEP]"]
        out.append({"max": float(x.max()), "channel": int(top[1]), "median": float(np.median(x)),
                    "tokens_over_20": int(over.sum()), "tokens": len(x), "where": where,
                    "hidden_max": float(np.abs(trace[f"encoder.layer.{i}.output.LayerNorm"][mask]).max())})
    return out


def histogram_panel(svg, x0, y0, width, height, true, random, title, top, bins):
    svg.text(x0, y0 - 10, title, 12, weight="bold")
    for values, fill in ((random, "#9aa5b1"), (true, "#1f77b4")):
        counts = np.histogram(values, bins)[0] / len(values)
        for b, c in enumerate(counts):
            h = c / top * height
            svg.parts.append(f"<rect x='{x0 + b * width / (len(bins) - 1):.1f}' y='{y0 + height - h:.1f}' "
                             f"width='{width / (len(bins) - 1) - 0.5:.1f}' height='{h:.1f}' fill='{fill}' "
                             "fill-opacity='0.6'/>")
    svg.line(x0, y0 + height, x0 + width, y0 + height, stroke="#666", width=1)
    for v in (-0.4, 0.0, 0.4, 0.8):
        svg.text(x0 + (v - bins[0]) / (bins[-1] - bins[0]) * width, y0 + height + 14, f"{v:.1f}", 10, anchor="middle")
    for k, (values, label) in enumerate(((true, "true pairs"), (random, "other pairs"))):
        lo, mid, hi = np.percentile(values, [5, 50, 95])
        svg.text(x0, y0 + height + 32 + 14 * k, f"{label}: median {mid:.2f}, 5-95% {lo:.2f} .. {hi:.2f}", 10)


def cosines_figure(results) -> Svg:
    """The held-out cosines at the start and after training at each temperature."""
    bins = np.linspace(-0.5, 1.0, 46)
    top = max(np.histogram(r[k], bins)[0].max() / len(r[k]) for r in results.values() for k in ("true", "random"))
    width, height, gap = 250, 130, 40
    svg = Svg(len(results) * (width + gap) + 20, height + 120)
    for i, (title, r) in enumerate(results.items()):
        histogram_panel(svg, 20 + i * (width + gap), 40, width, height, r["true"], r["random"], title, top, bins)
    svg.text(20, 16, "held-out cosines: true query-passage pairs (blue) and every other pair (grey)", 12)
    return svg


def loss_figure(curves) -> Svg:
    width, height, pad = 420, 180, 50
    svg = Svg(width + 2 * pad + 150, height + 2 * pad)
    top = max(max(c) for c in curves.values())
    svg.text(20, 20, "InfoNCE loss per epoch (training pairs)", 12)
    colours = ["#1f77b4", "#d62728"]
    for k, (label, curve) in enumerate(curves.items()):
        points = [(pad + e / max(1, len(curve) - 1) * width, pad + height - c / top * height)
                  for e, c in enumerate(curve)]
        svg.parts.append(f"<polyline fill='none' stroke='{colours[k]}' stroke-width='2' points='"
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + "'/>")
        svg.rect(pad + width + 16, pad + 20 * k, 12, 12, colours[k])
        svg.text(pad + width + 34, pad + 11 + 20 * k, label, 11)
    svg.line(pad, pad + height, pad + width, pad + height, stroke="#666", width=1)
    svg.line(pad, pad, pad, pad + height, stroke="#666", width=1)
    svg.text(pad - 6, pad + 4, f"{top:.2f}", 10, anchor="end")
    svg.text(pad - 6, pad + height, "0", 10, anchor="end")
    svg.text(pad + width / 2, pad + height + 20, "epoch", 11, anchor="middle")
    return svg


def bars_figure(title, labels, series, names, fmt, log=False) -> Svg:
    """Grouped bars: one group per label, one bar per series."""
    width, height, pad = 560, 180, 50
    svg = Svg(width + 2 * pad + 200, height + 2 * pad + 10)
    svg.text(20, 20, title, 12)
    values = np.array(series, dtype=float)  # [series, labels]
    scale = np.log10 if log else (lambda v: v)
    lo = float(np.floor(np.log10(values.min()))) if log else min(0.0, float(values.min()))
    hi = float(scale(values.max()))
    group = width / len(labels)
    colours = ["#1f77b4", "#e38b2c", "#9aa5b1"]
    for j, label in enumerate(labels):
        for s, row in enumerate(values):
            h = (scale(row[j]) - lo) / (hi - lo) * height
            x = pad + j * group + 6 + s * (group - 12) / len(values)
            svg.rect(x, pad + height - h, (group - 12) / len(values) - 2, h, colours[s], title=fmt(row[j]))
            svg.text(x + (group - 12) / len(values) / 2 - 1, pad + height - h - 3, fmt(row[j]), 9, anchor="middle")
        svg.text(pad + (j + 0.5) * group, pad + height + 16, label, 10, anchor="middle")
    svg.line(pad, pad + height, pad + width, pad + height, stroke="#666", width=1)
    for s, name in enumerate(names):
        svg.rect(pad + width + 16, pad + 20 * s, 12, 12, colours[s])
        svg.text(pad + width + 34, pad + 11 + 20 * s, name, 11)
    if log:
        svg.text(pad, pad + height + 34, "bar heights on a log scale", 10)
    return svg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "docs" / "figures" / "training")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    began, cpu = time.perf_counter(), time.process_time()
    model = minie5.load(args.model, backend="numpy")
    pairs = retrieval_set()
    data = [*features(model, ["query: " + q for _, q, _ in pairs]),
            *features(model, ["passage: " + p for _, _, p in pairs])]
    print(f"{args.model}'s word-piece table, frozen; {TRAIN} training pairs, {len(pairs) - TRAIN} held out; "
          f"batches of {BATCH}; head {K} x {data[0].shape[-1]}; Adam, learning rate {LEARNING_RATE}, "
          f"{args.epochs} epochs")
    check = gradient_check(list(start(data[0].shape[-1])), [d[:8] for d in data], 0.05, np.random.default_rng(2))
    print(f"hand-written gradient against finite differences: largest relative difference {check:.1e}")

    def summary(r):
        lo, mid, hi = np.percentile(r["true"], [5, 50, 95])
        rlo, rmid, rhi = np.percentile(r["random"], [5, 50, 95])
        return (f"true pairs median {mid:.2f} (5-95% {lo:.2f} .. {hi:.2f}), other pairs median {rmid:.2f} "
                f"(5-95% {rlo:.2f} .. {rhi:.2f}), gap {mid - rmid:.2f}, MRR@10 {r['MRR@10']:.3f}")

    results = {"before training": held_out(start(data[0].shape[-1]), data)}
    print(f"before training: {summary(results['before training'])}")
    curves = {}
    for temperature in TEMPERATURES:
        params, curve = train(data, temperature, args.epochs)
        label = f"temperature {temperature}"
        results[label], curves[label] = held_out(params, data), curve
        print(f"{label}: loss {curve[0]:.3f} -> {curve[-1]:.3f}; {summary(results[label])}")
    trained, trained_cpu = time.perf_counter() - began, time.process_time() - cpu

    texts = [q for _, q, _ in pairs[TRAIN:TRAIN + MEASURED_TEXTS]]
    trace = model.trace(texts)
    layers = model.config.num_hidden_layers
    iso = anisotropy(trace, layers)
    big = massive(trace, layers)
    print(f"anisotropy over {len(texts)} held-out queries (mean cosine of different texts / of tokens of "
          "different texts), by hidden state:")
    for i, (t, k) in enumerate(iso):
        print(f"  {'embeddings' if i == 0 else f'layer {i - 1}':>10}: texts {t:.2f}  tokens {k:.2f}")
    print("massive activations, output.dense (the feed-forward's output before the residual and LayerNorm):")
    for i, b in enumerate(big):
        print(f"  layer {i}: max |value| {b['max']:.1f} on channel {b['channel']}, median |value| {b['median']:.3f}; "
              f"{b['tokens_over_20']} of {b['tokens']} tokens have a value over 20 ("
              + ", ".join(f"{n} {k}" for k, n in b["where"].items()) + f"); after LayerNorm the largest "
              f"|value| is {b['hidden_max']:.1f}")

    labels = ["emb", *[str(i) for i in range(layers)]]
    figures = {
        "cosines": cosines_figure(results),
        "loss": loss_figure(curves),
        "anisotropy": bars_figure(f"mean cosine between different texts (mean-pooled) and between tokens of "
                                  f"different texts, {len(texts)} texts, by hidden state", labels,
                                  [[t for t, _ in iso], [k for _, k in iso]], ["texts", "tokens"],
                                  lambda v: f"{v:.2f}"),
        "massive_activations": bars_figure("the largest and the median |value| of each layer's output.dense, and "
                                           "the largest after its LayerNorm", labels[1:],
                                           [[b["max"] for b in big], [b["median"] for b in big],
                                            [b["hidden_max"] for b in big]],
                                           ["largest |output.dense|", "median |output.dense|",
                                            "largest after LayerNorm"], lambda v: f"{v:.3g}", log=True),
    }
    write_svgs(figures, args.out)
    print(f"wrote {len(figures)} figures to {args.out}; training {trained:.0f} s ({trained_cpu:.0f} s of CPU), in "
          f"all {time.perf_counter() - began:.0f} s ({time.process_time() - cpu:.0f} s of CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
