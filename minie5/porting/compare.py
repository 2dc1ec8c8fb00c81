"""Comparing two traces tensor by tensor, to find where a port first goes wrong.

One side is minie5's trace (the NumPy reference, float32 or float64), the reference for every
relative error; the other is a trace from elsewhere: transformers + PyTorch (recorded with forward
hooks on the modules the names come from), an ONNX model run by ONNX Runtime (only the outputs it
has), or a trace file written by any port. Tensors are compared at real tokens only, text by text,
so the two sides may pad differently.

For each tensor both sides have: the largest absolute difference, and that divided by the largest
magnitude of minie5's tensor (the "relative" error: scale-free, so one tolerance serves the
embeddings' sums and the attention probabilities alike). The first tensor, in forward order, whose
relative error exceeds `rtol` is the first divergence: everything after it inherits the error.

The first divergence is where an error became too large, which can be a step after the one that
made it: a port with the tanh approximation of GELU stays within tolerance at `intermediate`
and crosses it at the LayerNorm after. So each tensor's `growth` is also reported, its relative
error over the largest of its inputs' (`inputs_of`: the tensors the forward pass computes it
from), and the tensor whose error grows most is named beside the first divergence: a faithful
step passes its inputs' error on (growth about 1), a wrong one adds its own.

Where a tensor diverges, two more things tell mistakes apart that land on the same tensor (a
missing mask, a missing 1/sqrt(D) and a wrong split into heads all first show in layer 0's
attention probabilities): which texts differ (`Row.texts`: a mask mistake leaves every text
without padding exact, so "only the padded text differs"), and, for attention probabilities, how
the other side's relate to minie5's (`sharpening`: a port that forgot 1/sqrt(D) computes
softmax(sqrt(D) s) where minie5 computes softmax(s), so its log-probabilities are minie5's times
sqrt(D), row by row; a wrong split is no rescaling at all). `Row.note` says it in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .trace import tensor_names

DEFAULT_RTOL = 1e-4  # per tensor, relative to its largest magnitude: the golden tests' hidden-state bound
DEFAULT_EMBEDDING_ATOL = 1e-5  # on the final unit vectors: the golden tests' embedding bound
# An input's error is counted as at least float32's unit roundoff when a growth is computed, so
# that a step whose inputs agree exactly is not credited with an infinite growth for rounding.
ERROR_FLOOR = 2.0 ** -24


@dataclass
class Row:
    """One tensor's line of a comparison: its largest differences, and whether they are in tolerance."""

    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    ok: bool
    growth: float | None = None  # max_rel over the largest of its inputs' (None: no inputs in the comparison)
    texts: tuple[bool, ...] = ()  # per text of the batch: whether that text's values are beyond tolerance
    note: str = ""  # at the first divergence: what the pattern of the difference points to


def inputs_of(name: str, layers: int) -> list[str]:
    """The traced tensors the forward pass of a `layers`-layer encoder computes `name` from (the
    residual's included)."""
    last = "embeddings.LayerNorm" if layers == 0 else f"encoder.layer.{layers - 1}.output.LayerNorm"
    top = {"input_ids": [], "attention_mask": [], "embeddings.sum": ["input_ids"],
           "embeddings.LayerNorm": ["embeddings.sum"], "pooled": [last], "embedding": ["pooled"]}
    if name in top:
        return top[name]
    _, _, i, step = name.split(".", 3)
    here = f"encoder.layer.{i}."
    layer_input = "embeddings.LayerNorm" if i == "0" else f"encoder.layer.{int(i) - 1}.output.LayerNorm"
    return {
        "attention.self.query": [layer_input], "attention.self.key": [layer_input],
        "attention.self.value": [layer_input],
        "attention.self.probs": [here + "attention.self.query", here + "attention.self.key"],
        "attention.self": [here + "attention.self.probs", here + "attention.self.value"],
        "attention.output.dense": [here + "attention.self"],
        "attention.output.LayerNorm": [here + "attention.output.dense", layer_input],
        "intermediate": [here + "attention.output.LayerNorm"],
        "output.dense": [here + "intermediate"],
        "output.LayerNorm": [here + "output.dense", here + "attention.output.LayerNorm"],
    }[step]


def with_growth(rows: list[Row]) -> list[Row]:
    """`rows` with each tensor's growth: its relative error over the largest of its inputs'."""
    rel = {r.name: r.max_rel for r in rows}
    layers = len(layer_curve(rows)) - ("embeddings.LayerNorm" in rel)
    for r in rows:
        known = [rel[n] for n in inputs_of(r.name, layers) if n in rel]
        if known:
            r.growth = r.max_rel / max(max(known), ERROR_FLOOR)
    return rows


def largest_growth(rows: list[Row], at_least: float = 2.0) -> Row | None:
    """The tensor whose error grows most over its inputs', if that growth is over `at_least`."""
    grown = [r for r in rows if r.growth is not None and r.name != "embedding"]
    best = max(grown, key=lambda r: r.growth, default=None)
    return best if best is not None and best.growth > at_least else None


GROWTH_NOTE = 100  # a growth named even when every tensor is within tolerance


def suspect(rows: list[Row]) -> Row | None:
    """The tensor to name as the likely bug: the largest growth, once some tensor is beyond its
    tolerance, or any growth over GROWTH_NOTE (rounding alone grows an error a few times at most)."""
    return largest_growth(rows, 2.0 if any(not r.ok for r in rows) else GROWTH_NOTE)


def real_tokens(name: str, tensor: np.ndarray, lengths: list[int]) -> np.ndarray:
    """The values of `tensor` at real tokens, text after text, whatever the padding."""
    if tensor.ndim >= 1 and name in ("pooled", "embedding"):
        return tensor
    if name.endswith("attention.self.probs"):  # [B, N, T, T]: real query rows and key columns
        return np.concatenate([tensor[b, :, :n, :n].ravel() for b, n in enumerate(lengths)])
    return np.concatenate([tensor[b, :n].reshape(-1) for b, n in enumerate(lengths)])  # [B, T, ...]


def text_values(name: str, tensor: np.ndarray, b: int, n: int) -> np.ndarray:
    """Text b's values at its n real tokens."""
    if name in ("pooled", "embedding"):
        return tensor[b]
    return tensor[b, :, :n, :n] if name.endswith("attention.self.probs") else tensor[b, :n]


def sharpening(ours: np.ndarray, theirs: np.ndarray, lengths: list[int]) -> float:  # [B, N, T, T] x 2 -> scale
    """c such that the other side's attention looks most like softmax(c s) where minie5's is
    softmax(s): the least-squares slope of their log-probabilities on minie5's, each row centred,
    over the real keys where both are above float32's underflow. 1: the same sharpness; sqrt(D):
    scores not divided by sqrt(D)."""
    xs, ys = [], []
    for b, n in enumerate(lengths):
        a, t = ours[b, :, :n, :n].astype(np.float64), theirs[b, :, :n, :n].astype(np.float64)
        keep = (a > 1e-30) & (t > 1e-30)
        la, lt = (np.where(keep, np.log(np.maximum(p, 1e-300)), 0.0) for p in (a, t))  # [N, n, n] each
        count = np.maximum(keep.sum(-1, keepdims=True), 1)
        xs.append(np.where(keep, la - la.sum(-1, keepdims=True) / count, 0.0).ravel())
        ys.append(np.where(keep, lt - lt.sum(-1, keepdims=True) / count, 0.0).ravel())
    x, y = np.concatenate(xs), np.concatenate(ys)
    return float(x @ y / (x @ x)) if x @ x > 0 else 1.0


def diagnose(row: Row, lengths: list[int], ours: dict, theirs: dict, by_name: dict[str, Row]) -> str:
    """What the first divergence's pattern points to, in a sentence or two."""
    bad = [b for b, wrong in enumerate(row.texts) if wrong]
    longest, words = max(lengths), []
    padded = [b for b in range(len(lengths)) if lengths[b] < longest]
    if len(lengths) > 1 and bad:
        listed = ", ".join(f"text {b} ({lengths[b]} tokens{', padded to ' + str(longest) if b in padded else ''})"
                           for b in bad)
        if len(bad) < len(lengths) and set(bad) <= set(padded):
            words.append(f"only the padded text{'s' if len(bad) > 1 else ''} differ{'' if len(bad) > 1 else 's'}: "
                         f"{listed}; the texts without padding agree, so look at the attention mask (padding keys "
                         "must get probability 0) or at what is averaged over padding")
        elif len(bad) < len(lengths):
            words.append(f"{len(bad)} of {len(lengths)} texts differ: {listed}")
        else:
            words.append(f"every text differs ({len(bad)} of {len(bad)}), padded or not: not a mask mistake")
    if row.name.endswith("attention.self.probs") and not (bad and set(bad) <= set(padded) and len(bad) < len(lengths)):
        prefix = row.name.removesuffix("probs")
        q = by_name.get(prefix + "query")
        head_size = ours[prefix + "query"].shape[-1] // ours[row.name].shape[1]
        c, root = sharpening(ours[row.name], np.asarray(theirs[row.name]), lengths), np.sqrt(head_size)
        if abs(c / root - 1) < 0.05:
            words.append(f"the other side's attention is minie5's sharpened {c:.2f} times, and sqrt(D) = "
                         f"sqrt({head_size}) = {root:.2f}: its scores were not divided by sqrt(D)")
        elif abs(c * root - 1) < 0.05:
            words.append(f"the other side's attention is minie5's softened {1 / c:.2f} times, about sqrt(D) = "
                         f"{root:.2f}: its scores were divided by sqrt(D) twice (or by D)")
        elif q is not None and q.ok and abs(c - 1) > 0.1:
            words.append(f"the queries agree, and the probabilities are no rescaling of minie5's (the best fitting "
                         f"scale of the scores is {c:.2f}, not 1 or sqrt(D) = {root:.2f}): look at how q, k and v are "
                         f"cut into heads ([B, T, H] -> [B, T, N, D], then N moved before T)")
    return "; ".join(words)


def compare(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], rtol: float = DEFAULT_RTOL,
            embedding_atol: float = DEFAULT_EMBEDDING_ATOL) -> tuple[list[Row], list[str]]:
    """Rows for the tensors both traces hold, in forward order; and the names only minie5's has."""
    from ..errors import Minie5Error

    lengths = [int(n) for n in ours["attention_mask"].sum(axis=1)]
    their_lengths = [int(n) for n in np.asarray(theirs["attention_mask"]).sum(axis=1)]
    if their_lengths != lengths:
        raise Minie5Error(f"the traces hold different texts: tokens per text {lengths} against {their_lengths}")
    layers = sum(1 for name in ours if name.endswith(".output.LayerNorm") and ".attention." not in name)
    rows, missing = [], []
    for name in tensor_names(layers):
        if name == "attention_mask":
            continue
        if name not in theirs:
            missing.append(name)
            continue
        a = real_tokens(name, np.asarray(ours[name]), lengths).astype(np.float64)
        b = real_tokens(name, np.asarray(theirs[name]), lengths).astype(np.float64)
        if a.shape != b.shape:
            raise Minie5Error(f"tensor {name!r}: {b.size} values at real tokens, expected {a.size} "
                              f"(shape {list(np.shape(theirs[name]))} against {list(ours[name].shape)})")
        diff = float(np.abs(a - b).max()) if a.size else 0.0
        scale = float(np.abs(a).max()) if a.size else 0.0
        rel = diff / scale if scale else diff
        if name == "input_ids":
            ok = diff == 0
        elif name == "embedding":
            ok = diff <= embedding_atol
        else:
            ok = rel <= rtol
        texts = []
        for b, n in enumerate(lengths):
            d = text_values(name, np.asarray(ours[name]), b, n).astype(np.float64) - \
                text_values(name, np.asarray(theirs[name]), b, n)
            worst = float(np.abs(d).max()) if d.size else 0.0
            texts.append(worst > 0 if name == "input_ids" else worst > embedding_atol if name == "embedding"
                         else (worst / scale if scale else worst) > rtol)
        rows.append(Row(name, tuple(np.shape(ours[name])), diff, rel, ok, texts=tuple(texts)))
    first = next((r for r in rows if not r.ok), None)
    if first is not None:
        first.note = diagnose(first, lengths, ours, theirs, {r.name: r for r in rows})
    return with_growth(rows), missing


def report(rows: list[Row], missing: list[str], rtol: float, embedding_atol: float, label: str) -> str:
    """The table `minie5 verify` prints, with the first divergence marked, and an error curve."""
    first = next((r.name for r in rows if not r.ok), None)
    grown = suspect(rows)
    width = max(len(r.name) for r in rows) if rows else 10
    lines = [f"minie5 against {label}: max |difference| per tensor at real tokens; relative = "
             f"that / the largest |value| (tolerance {rtol:g}; embedding: absolute {embedding_atol:g}); "
             "growth = relative / its inputs' relative",
             f"{'tensor':<{width}}  {'shape':<18} {'max abs':>10} {'relative':>10} {'growth':>9}"]
    for r in rows:
        marks = ["<-- first divergence" if r.name == first else "" if r.ok else "beyond tolerance"]
        if grown is not None and r.name == grown.name:
            marks.append("<-- largest growth: the likely bug")
        growth = "" if r.growth is None else f"{r.growth:.1f}x"
        lines.append(f"{r.name:<{width}}  {str(list(r.shape)):<18} {r.max_abs:>10.3e} {r.max_rel:>10.3e} "
                     f"{growth:>9}  {'  '.join(m for m in marks if m)}".rstrip())
    if missing:
        lines.append(f"not in the other trace ({len(missing)}): " + ", ".join(missing[:6]) +
                     (" ..." if len(missing) > 6 else ""))
    noted = next((r for r in rows if r.note), None)
    if noted is not None:
        lines += ["", f"at {noted.name}: {noted.note}"]
    curve = layer_curve(rows)
    if curve:
        lines += ["", "relative error of each layer's output (log scale, 1e-9 .. 1):"]
        for name, rel in curve:
            bars = 0 if rel <= 0 else max(0, min(45, int(round((np.log10(rel) + 9) * 5))))
            lines.append(f"  {name:<14} {'#' * bars:<45} {rel:.1e}")
    embedding = next((r for r in rows if r.name == "embedding"), None)
    if embedding is None:
        lines.append("\nRESULT: no embedding in the other trace to judge")
    else:
        verdict = "AGREE" if embedding.ok else "DIFFER"
        lines.append(f"\nRESULT: embeddings {verdict} (max |difference| {embedding.max_abs:.2e}, tolerance "
                     f"{embedding_atol:g})" + (f"; first divergence: {first}" if first else "")
                     + (f"; largest growth: {grown.name} ({grown.growth:.0f}x its inputs' error)" if grown else ""))
    return "\n".join(lines)


def layer_curve(rows: list[Row]) -> list[tuple[str, float]]:
    """(label, relative error) of the embeddings' output and each layer's output, in order."""
    curve = []
    for r in rows:
        if r.name == "embeddings.LayerNorm":
            curve.append(("embeddings", r.max_rel))
        elif r.name.endswith(".output.LayerNorm") and ".attention." not in r.name:
            curve.append((f"layer {r.name.split('.')[2]}", r.max_rel))
    return curve


def plot(rows: list[Row], path, label: str) -> None:
    """The per-layer error curve as a PNG (needs matplotlib: the plot extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = layer_curve(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.semilogy([c[0] for c in curve], [max(c[1], 1e-12) for c in curve], marker="o")
    ax.set_ylabel("max |diff| / max |value|")
    grown = suspect(rows)
    title = f"minie5 against {label}: error by layer"
    if grown is not None:
        layer = "embeddings" if not grown.name.startswith("encoder.") else f"layer {grown.name.split('.')[2]}"
        where = [c[0] for c in curve].index(layer) if layer in [c[0] for c in curve] else None
        if where is not None:
            ax.axvline(where, color="tab:red", linestyle="--", linewidth=1)
        title += f"\nlargest growth: {grown.name} ({grown.growth:.0f}x)"
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
