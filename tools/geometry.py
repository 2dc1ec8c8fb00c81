"""The numbers and pictures of docs/geometry.md ("Where the geometry comes from"), from real vectors:
the retrieval set of tools/make_retrieval_set.py (docstring summaries as queries, their bodies as
passages, the module each comes from as its topic) embedded by a real trained model.

    python tools/geometry.py [--model all-MiniLM-L6-v2] [--out docs/figures/geometry] [--pairs N]

Prints: the InfoNCE loss with in-batch negatives at two temperatures, for the true pairs and for
shuffled ones; the cosines of true and of random pairs; retrieval (MRR@10) with mean, [CLS] and
max pooling, and with and without e5's prefixes. Writes projection.svg (the vectors' first two
principal components, coloured by topic), similarity.svg (queries x passages of four topics) and
cosines.svg (how true and random pairs' cosines are spread).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5.porting.figures import Svg, write_svgs  # noqa: E402
from tools.make_retrieval_set import retrieval_set  # noqa: E402
from tools.quantization_loss import metrics, ranks  # noqa: E402

TOPICS = ["inspect", "asyncio", "typing", "statistics", "socket", "shutil", "base64", "codecs"]
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
BATCH = 32  # pairs per InfoNCE batch: each query's negatives are the other 31 passages


def info_nce(q: np.ndarray, p: np.ndarray, temperature: float) -> float:  # [B, H], [B, H] unit -> loss
    """InfoNCE with in-batch negatives, as E5 trains: query i's positive is passage i, every other
    passage of the batch a negative; cross-entropy of the softmax of cosines / temperature."""
    logits = q @ p.T / temperature
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.mean(np.diag(log_probs)))


def mean_loss(q, p, temperature) -> float:
    return float(np.mean([info_nce(q[i:i + BATCH], p[i:i + BATCH], temperature)
                          for i in range(0, len(q) - BATCH + 1, BATCH)]))


def mrr(q, p) -> float:
    scores = q @ p.T
    return metrics(ranks(scores), scores.argmax(axis=1), scores.argmax(axis=1))["MRR@10"]


def projection_figure(vectors, topics) -> Svg:
    centred = vectors - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    share = s[:2] ** 2 / np.sum(s ** 2)
    size, pad = 460, 40
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    svg = Svg(size + 220, size + 2 * pad + 20)
    svg.text(20, 20, f"{len(vectors)} vectors (queries and passages) on their first two principal components "
             f"({100 * share[0]:.0f}% and {100 * share[1]:.0f}% of the variance)", 12)
    svg.rect(pad, pad, size, size, "none", stroke="#999")
    for (x, y), topic in zip(xy, topics):
        cx = pad + (x - lo[0]) / (hi[0] - lo[0]) * size
        cy = pad + size - (y - lo[1]) / (hi[1] - lo[1]) * size
        svg.parts.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3.2' fill='{PALETTE[TOPICS.index(topic)]}' "
                         f"fill-opacity='0.75'><title>{topic}</title></circle>")
    for i, topic in enumerate(TOPICS):
        svg.rect(pad + size + 20, pad + 10 + 20 * i, 12, 12, PALETTE[i])
        svg.text(pad + size + 38, pad + 21 + 20 * i, f"{topic}", 12)
    svg.text(pad + size / 2, pad + size + 30, "first principal component", 12, anchor="middle")
    svg.text(pad - 14, pad + size / 2, "second principal component", 12, anchor="middle", rotate=-90)
    return svg


def similarity_figure(q, p, topics, shown=4, per_topic=6) -> Svg:
    rows = [i for t in TOPICS[:shown] for i in [j for j, x in enumerate(topics) if x == t][:per_topic]]
    sim = q[rows] @ p[rows].T
    n, cell = len(rows), 16
    vmin, vmax = float(sim.min()), float(sim.max())
    svg = Svg(max(n * cell + 260, 780), n * cell + 110)
    svg.text(20, 20, f"cosine of {n} queries (rows) with their {n} passages (columns), {per_topic} per topic; "
             "the diagonal holds the true pairs", 12)
    svg.heatmap(130, 50, sim, cell, vmin, vmax, titles=np.round(sim, 3))
    for k, topic in enumerate(TOPICS[:shown]):
        svg.text(122, 50 + (k + 0.5) * per_topic * cell + 4, topic, 11, anchor="end")
        svg.text(130 + (k + 0.5) * per_topic * cell, 50 + n * cell + 18, topic, 11, anchor="middle")
    svg.colour_bar(140 + n * cell, 50, n * cell, vmin, vmax, "cosine")
    return svg


def cosines_figure(true_cos, random_cos) -> Svg:
    bins = np.linspace(-0.2, 1.0, 49)
    width, height, pad = 600, 200, 50
    svg = Svg(width + 2 * pad + 160, height + 2 * pad + 20)
    svg.text(20, 20, "how the cosines are spread: true query-passage pairs against random pairs", 12)
    top = max(np.histogram(true_cos, bins)[0].max() / len(true_cos), np.histogram(random_cos, bins)[0].max()
              / len(random_cos))
    for values, fill, label, k in ((random_cos, "#9aa5b1", "random pairs", 0), (true_cos, "#1f77b4", "true pairs", 1)):
        counts = np.histogram(values, bins)[0] / len(values)
        for b, c in enumerate(counts):
            h = c / top * height
            svg.parts.append(f"<rect x='{pad + b * width / (len(bins) - 1):.1f}' y='{pad + height - h:.1f}' "
                             f"width='{width / (len(bins) - 1) - 1:.1f}' height='{h:.1f}' fill='{fill}' "
                             "fill-opacity='0.6'/>")
        svg.rect(pad + width + 20, pad + 20 * k, 12, 12, fill)
        svg.text(pad + width + 38, pad + 11 + 20 * k, f"{label} (median {np.median(values):.2f})", 11)
    svg.line(pad, pad + height, pad + width, pad + height, stroke="#666", width=1)
    for v in (-0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x = pad + (v - bins[0]) / (bins[-1] - bins[0]) * width
        svg.text(x, pad + height + 16, f"{v:.1f}", 10, anchor="middle")
    svg.text(pad + width / 2, pad + height + 34, "cosine", 12, anchor="middle")
    svg.text(pad - 12, pad + height / 2, "share of pairs", 11, anchor="middle", rotate=-90)
    return svg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "docs" / "figures" / "geometry")
    parser.add_argument("--pairs", type=int, help="only the first N pairs (a quick run; default all)")
    args = parser.parse_args()
    pairs = retrieval_set()[:args.pairs]
    queries, passages = [q for _, q, _ in pairs], [p for _, _, p in pairs]
    topics_all = [name.split(".")[0] for name, _, _ in pairs]
    model = minie5.load(args.model)
    q, p = model.encode(queries), model.encode(passages)
    print(f"model {args.model}; {len(pairs)} query/passage pairs")

    rng = np.random.default_rng(0)
    shuffled = p[rng.permutation(len(p))]
    print("InfoNCE loss, in-batch negatives (batches of 32 pairs), true pairs / shuffled pairs:")
    for temperature in (0.01, 0.05):
        print(f"  temperature {temperature}: {mean_loss(q, p, temperature):.3f} / "
              f"{mean_loss(q, shuffled, temperature):.3f} (log 32 = {np.log(BATCH):.3f} is a uniform guess)")
    true_cos = np.sum(q * p, axis=1)
    random_cos = np.sum(q * shuffled, axis=1)
    print(f"cosine of true pairs: median {np.median(true_cos):.3f}, 5-95% {np.percentile(true_cos, 5):.3f}.."
          f"{np.percentile(true_cos, 95):.3f}; random pairs: median {np.median(random_cos):.3f}, 5-95% "
          f"{np.percentile(random_cos, 5):.3f}..{np.percentile(random_cos, 95):.3f}")
    print(f"MRR@10 with the model's mean pooling: {mrr(q, p):.3f}")
    for pooling in ("cls", "max"):
        other = minie5.load(args.model, pooling=pooling)
        print(f"MRR@10 with {pooling} pooling instead: {mrr(other.encode(queries), other.encode(passages)):.3f}")
    qp = model.encode([f"query: {x}" for x in queries])
    pp = model.encode([f"passage: {x}" for x in passages])
    print(f"MRR@10 with e5's prefixes added (a model not trained with them): {mrr(qp, pp):.3f}")
    same = np.sum(qp * model.encode([f"passage: {x}" for x in queries]), axis=1)
    print(f"  a query's text embedded as 'query: ...' and as 'passage: ...': cosine median {np.median(same):.3f}, "
          f"min {same.min():.3f} (1 without prefixes)")

    keep = [i for i, t in enumerate(topics_all) if t in TOPICS]
    figures = {"projection": projection_figure(np.vstack([q[keep], p[keep]]), [topics_all[i] for i in keep] * 2),
               "similarity": similarity_figure(q[keep], p[keep], [topics_all[i] for i in keep]),
               "cosines": cosines_figure(true_cos, random_cos)}
    write_svgs(figures, args.out)
    print(f"wrote {len(figures)} figures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
