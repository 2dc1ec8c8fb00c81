"""Print how far minie5 is from transformers on every golden fixture: the figures quoted in notes
and the README (the golden tests assert the tolerances; this shows the measured values).

    python tools/golden.py numpy numba
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.golden import (  # noqa: E402
    E5_ENV,
    GOLDEN,
    RANDOM,
    build_random,
    find_e5_small_v2,
    load_fixture,
    measure,
    minilm_dir,
)


def main() -> int:
    import tempfile

    import minie5

    backends = sys.argv[1:] or ["numpy"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("minilm", *RANDOM, "e5-small-v2"):
            if not (GOLDEN / f"{name}.npz").exists():
                print(f"{name}: no fixture")
                continue
            fixture = load_fixture(name)
            if name == "minilm":
                path = minilm_dir()
            elif name in RANDOM:
                path = build_random(Path(tmp) / name, fixture)
            else:
                path = find_e5_small_v2()
                if path is None:
                    print(f"{name}: model not found locally (set {E5_ENV})")
                    continue
            for backend in backends:
                d = measure(minie5.load(path, backend=backend), fixture)
                print(f"{name:12s} {backend:6s} ids equal: {d.ids_equal}  "
                      f"embedding max|diff| {d.embedding_max_abs:.2e}  min cos {d.embedding_min_cos:.9f}  "
                      f"unnormalised max rel {d.mean_pooled_max_rel:.2e}  "
                      f"cls {d.pooled_max_rel['cls']:.2e} max {d.pooled_max_rel['max']:.2e}  "
                      f"hidden states max rel {max(d.hidden_max_rel):.2e} "
                      f"(per state: {' '.join(f'{x:.1e}' for x in d.hidden_max_rel)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
