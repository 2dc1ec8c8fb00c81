"""Break it: the classic mistakes of a BERT port, each made on purpose, and what they cost.

A small port of the forward pass (plain NumPy, float32, batched with right padding) with a switch
for each mistake. For every mistake it reports what `minie5 verify` says about the port's trace
(the first tensor past the tolerance, and the tensor whose error grew most over its inputs': the
bug's real place, and which texts differ and how: verify's note), and what the mistake costs in
retrieval quality on tools/make_retrieval_set.py's query/passage pairs (recall@1, MRR@10, against
the same port without the mistake, with a 95% paired bootstrap interval over the queries: a change
whose interval holds 0 is noise, not a gain or a loss).

    no-mask        attention looks at the padding tokens too
    no-scale       attention scores not divided by sqrt(head size)
    head-split     q, k and v reshaped straight to [B, N, T, D] instead of [B, T, N, D] and transposed
    tanh-gelu      GELU's tanh approximation instead of the exact erf form
    eps-1e-5       LayerNorm's epsilon 1e-5 (PyTorch's default) instead of BERT's 1e-12
    pre-ln         LayerNorm before each sublayer (GPT-2's order) instead of after (BERT's)
    cls-pooling    the [CLS] token's state instead of the mean over the tokens
    no-prefix      "query: " / "passage: " left out (e5's training put them on every text)
    padding-trap   tokenizer.json used as it is: all-MiniLM-L6-v2's pads every text to 128 tokens,
                   and a mean over every position averages the pads in

    python tools/break_it.py [--model all-MiniLM-L6-v2] [--pairs 300] [--bugs ...] [--markdown]

--pairs 0 prints only what verify says (seconds); the retrieval columns take minutes (plain NumPy).

Answers (what each prints, and why) are in docs/break-it.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5.errors import Minie5Error  # noqa: E402
from minie5.porting import compare  # noqa: E402
from minie5.reference.erf import erf  # noqa: E402
from tools.make_retrieval_set import retrieval_set  # noqa: E402

BUGS = ["none", "no-mask", "no-scale", "head-split", "tanh-gelu", "eps-1e-5", "pre-ln", "cls-pooling", "no-prefix",
        "padding-trap"]
VERIFY_TEXTS = ["query: how much protein should a female eat", "passage: summit"]  # two lengths: padding


class Port:
    """The forward pass with one mistake (`bug`), keeping every tensor under its trace name."""

    def __init__(self, model: minie5.Model, bug: str):
        self.model, self.bug, self.config = model, bug, model.config
        self.W = model.parameters("float32")

    def ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.bug == "padding-trap":  # the file's own padding and truncation, as from_file gives them
            import tokenizers

            tokenizer = tokenizers.Tokenizer.from_file(str(self.model.path / "tokenizer.json"))
            encodings = tokenizer.encode_batch(texts)
            return (np.array([e.ids for e in encodings]), np.ones((len(texts), len(encodings[0].ids)), np.int64))
        if self.bug == "no-prefix":
            texts = [t.removeprefix("query: ").removeprefix("passage: ") for t in texts]
        return minie5.reference.pad_batch(self.model.tokenizer.tokenize(texts), self.config.pad_token_id)

    def trace(self, texts: list[str]) -> dict[str, np.ndarray]:
        W, c, bug = self.W, self.config, self.bug
        ids, mask = self.ids(texts)
        eps = 1e-5 if bug == "eps-1e-5" else c.layer_norm_eps
        B, T = ids.shape
        N, D = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        out = {"input_ids": ids, "attention_mask": mask}

        def norm(x, p):
            mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
            return ((x - mean) / np.sqrt(var + eps) * p["weight"] + p["bias"]).astype(np.float32)

        def linear(x, p):
            return x @ p["weight"].T + p["bias"]

        e = W["embeddings"]
        x = out["embeddings.sum"] = (e["word_embeddings"]["weight"][ids] + e["position_embeddings"]["weight"][:T]
                                     + e["token_type_embeddings"]["weight"][0])
        x = out["embeddings.LayerNorm"] = norm(x, e["LayerNorm"])
        for i, p in enumerate(W["encoder"]["layer"]):
            name, a = f"encoder.layer.{i}.", p["attention"]
            h = norm(x, a["output"]["LayerNorm"]) if bug == "pre-ln" else x
            q, k, v = (linear(h, a["self"][n]) for n in ("query", "key", "value"))
            out.update({name + "attention.self.query": q, name + "attention.self.key": k,
                        name + "attention.self.value": v})
            if bug == "head-split":  # the same numbers, cut the wrong way: token rows and channels mixed
                q, k, v = (t.reshape(B, N, T, D) for t in (q, k, v))
            else:
                q, k, v = (t.reshape(B, T, N, D).transpose(0, 2, 1, 3) for t in (q, k, v))
            scores = q @ k.transpose(0, 1, 3, 2) / (1.0 if bug == "no-scale" else math.sqrt(D))
            if bug != "no-mask":
                scores = scores + np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs = out[name + "attention.self.probs"] = (probs / probs.sum(-1, keepdims=True)).astype(np.float32)
            context = out[name + "attention.self"] = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, N * D)
            h = out[name + "attention.output.dense"] = linear(context, a["output"]["dense"])
            if bug == "pre-ln":
                x = out[name + "attention.output.LayerNorm"] = x + h
                f = linear(norm(x, p["output"]["LayerNorm"]), p["intermediate"]["dense"])
            else:
                x = out[name + "attention.output.LayerNorm"] = norm(h + x, a["output"]["LayerNorm"])
                f = linear(x, p["intermediate"]["dense"])
            if bug == "tanh-gelu":
                f = 0.5 * f * (1 + np.tanh(np.sqrt(2 / np.pi) * (f + 0.044715 * f ** 3)))
            else:
                f = 0.5 * f * (1 + erf(f / np.float32(math.sqrt(2))))
            h = out[name + "intermediate"] = f.astype(np.float32)
            h = out[name + "output.dense"] = linear(h, p["output"]["dense"])
            x = out[name + "output.LayerNorm"] = x + h if bug == "pre-ln" else norm(h + x, p["output"]["LayerNorm"])
        weights = mask[:, :, None].astype(np.float32)
        pooled = x[:, 0] if bug == "cls-pooling" else (x * weights).sum(1) / weights.sum(1)
        out["pooled"] = pooled
        out["embedding"] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    def embed(self, texts: list[str], batch: int = 16) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.config.hidden_size), dtype=np.float32)
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            out[rows] = self.trace([texts[i] for i in rows])["embedding"]
        return out


def verify_says(model: minie5.Model, port: Port) -> tuple[str, str, str, str]:
    """(first divergence, largest growth, verdict, note) of the port's trace against minie5's."""
    try:
        rows, _ = compare.compare(model.trace(VERIFY_TEXTS), port.trace(VERIFY_TEXTS))
    except Minie5Error as e:
        return f"refused: {e}", "", "DIFFER", ""
    first = next((r for r in rows if not r.ok), None)
    grown = compare.suspect(rows)
    embedding = next(r for r in rows if r.name == "embedding")
    return (first.name if first else "none", f"{grown.name} ({grown.growth:.0f}x)" if grown else "",
            "AGREE" if embedding.ok else "DIFFER", first.note if first else "")


def retrieval(port: Port, pairs) -> dict[str, np.ndarray]:
    """Per query: recall@1 and reciprocal rank within 10 (0 or 1 / rank) of its own passage."""
    queries = port.embed(["query: " + q for _, q, _ in pairs])
    passages = port.embed(["passage: " + p for _, _, p in pairs])
    scores = queries @ passages.T
    rank = (scores > scores[np.arange(len(pairs)), np.arange(len(pairs))][:, None]).sum(axis=1)
    return {"recall@1": (rank < 1).astype(float), "MRR@10": np.where(rank < 10, 1 / (rank + 1), 0.0)}


def paired_interval(ours: np.ndarray, base: np.ndarray, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of mean(ours - base), the queries resampled with replacement."""
    rng = np.random.default_rng(seed)
    diff = ours - base
    means = diff[rng.integers(0, len(diff), (draws, len(diff)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def change(ours: np.ndarray, base: np.ndarray) -> str:
    """'0.387 (-0.070, 95% -0.10 .. -0.04)', with 'noise' where the interval holds 0."""
    lo, hi = paired_interval(ours, base)
    delta = ours.mean() - base.mean()
    verdict = "" if delta == 0 and lo == hi else " noise" if lo <= 0 <= hi else ""
    return f"{ours.mean():.3f} ({delta:+.3f}, 95% {lo:+.3f} .. {hi:+.3f}{verdict})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--pairs", type=int, default=300, help="query/passage pairs to rank (default 300)")
    parser.add_argument("--bugs", nargs="+", default=BUGS, choices=BUGS)
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    model = minie5.load(args.model, backend="numpy")
    pairs = retrieval_set()[:args.pairs]
    started = time.perf_counter()
    print(f"{args.model}; verify on {VERIFY_TEXTS}" + (f"; {len(pairs)} query/passage pairs of "
          f"tools/make_retrieval_set.py (Python {sys.version.split()[0]}), 'query: ' / 'passage: ' on every text"
          if pairs else "") + f"; {time.strftime('%Y-%m-%d')}")
    rows = []
    for bug in ["none", *[b for b in args.bugs if b != "none"]]:
        port = Port(model, bug)
        rows.append((bug, *verify_says(model, port), retrieval(port, pairs) if pairs else None))
        print(f"  {bug} done", file=sys.stderr, flush=True)
    base = rows[0][5]
    header = ["mistake", "verify: first divergence", "verify: largest growth", "embeddings", "verify: which texts, how"]
    header += ["recall@1", "MRR@10"] if pairs else []
    lines = []
    for bug, first, grown, verdict, note, r in rows:
        line = [bug, first, grown, verdict, note]
        if pairs:
            line += [change(r["recall@1"], base["recall@1"]), change(r["MRR@10"], base["MRR@10"])]
        lines.append(line)
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        print("\n".join("| " + " | ".join(f"`{c}`" if i in (1, 2) and c and " " not in c.split(" (")[0]
                                           else c for i, c in enumerate(line)) + " |" for line in lines))
    else:
        for line in lines:
            print("\n".join(f"{h:>26}: {c}" for h, c in zip(header, line) if c) + "\n")
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
