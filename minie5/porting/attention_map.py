"""Pictures of attention: which tokens each token looks at, in one layer, head by head.

Each map is a [T, T] matrix of softmax weights (a row per query token, a column per key token, each
row summing to 1), from `Model.trace`'s encoder.layer.{i}.attention.self.probs. As text, a weight
is one character of a ten-step ramp; as a PNG (with matplotlib), a grid of heat maps.
"""

from __future__ import annotations

import numpy as np

RAMP = " .:-=+*#%@"  # weight 0 .. 1 in ten steps


def text_heatmap(probs: np.ndarray, tokens: list[str], heads: list[int]) -> str:  # [N, T, T] -> text
    T = len(tokens)
    labels = [f"{i:>3} {tok[:12]:<12}" for i, tok in enumerate(tokens)]
    ruler = " " * 17 + "".join(str(j % 10) for j in range(T))
    lines = [f"weights as {RAMP!r} from 0 to 1; rows: query tokens, columns: key tokens (numbered)"]
    for h in heads:
        lines += ["", f"head {h}", ruler]
        for i in range(T):
            shades = "".join(RAMP[min(int(p * len(RAMP)), len(RAMP) - 1)] for p in probs[h, i, :T])
            lines.append(f"{labels[i]} |{shades}|")
    return "\n".join(lines)


def png(probs: np.ndarray, tokens: list[str], heads: list[int], path, title: str) -> None:
    """A grid of heat maps, one per head, tokens on both axes (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(heads))
    rows = -(-len(heads) // cols)
    size = max(2.5, 0.18 * len(tokens) + 1)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    image = None
    for ax, h in zip(axes.flat, heads):
        image = ax.imshow(probs[h], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=6)
        ax.set_xlabel("key token (attended to)", fontsize=7)
        ax.set_ylabel("query token (attending)", fontsize=7)
    for ax in list(axes.flat)[len(heads):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.colorbar(image, ax=list(axes.flat), shrink=0.8, label="attention probability")
    fig.savefig(path, dpi=110)
    plt.close(fig)
