"""The reading guide's and the engine guide's figures, drawn from a real trace of the reading
guide's text (minie5/porting/figures.py):

    python tools/figures.py [--model all-MiniLM-L6-v2] [--out docs/figures]

writes pipeline.svg, embedding_sum.svg, attention_steps.svg, query_token.svg, attention_head.svg,
padding_mask.svg, heads.svg, mean_pooling.svg, packing.svg, post_ln_block.svg and scores_layout.svg
(layer 0, head 0). `minie5 explain TEXT --html FILE --layer L --head H` draws the same for any
text, the engine's two (packing, scores_layout) left to the engine guide.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import minie5  # noqa: E402
from minie5.porting.figures import all_figures, write_svgs  # noqa: E402

TEXT = "query: how much protein should a female eat"  # docs/reading-guide.md's text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "figures")
    args = parser.parse_args()
    figures = all_figures(minie5.load(args.model, backend="numpy"), TEXT)
    write_svgs(figures, args.out)
    print(f"wrote {len(figures)} figures to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
