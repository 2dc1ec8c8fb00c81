"""Start-up costs of minie5 next to transformers + PyTorch: import, load, first encode, whole process.

Each figure comes from fresh processes (median of --repeat). "Cold" means an empty Numba cache
(NUMBA_CACHE_DIR pointed at a new folder): the kernels compile, as on the first run on a machine.
"Warm" means the compiled kernels are found in the cache. The model is e5-small-v2-shaped.

    python tools/startup.py [--model DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEXT = "query: how much protein should a female eat"

MINIE5 = """
import json, sys, time
t0 = time.perf_counter(); import minie5; t1 = time.perf_counter()
m = minie5.load(sys.argv[1]); t2 = time.perf_counter()
m.encode(sys.argv[2]); t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first_encode": t3 - t2}))
"""
TRANSFORMERS = """
import json, sys, time
t0 = time.perf_counter()
import torch, torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer
t1 = time.perf_counter()
tok = AutoTokenizer.from_pretrained(sys.argv[1]); model = AutoModel.from_pretrained(sys.argv[1]).eval()
t2 = time.perf_counter()
with torch.inference_mode():
    b = tok([sys.argv[2]], max_length=512, padding=True, truncation=True, return_tensors="pt")
    h = model(**b).last_hidden_state
    m = b["attention_mask"][..., None]
    v = F.normalize((h * m).sum(1) / m.sum(1), dim=1).numpy()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first_encode": t3 - t2}))
"""


def timed(cmd: list[str], env: dict) -> tuple[float, dict]:
    t = time.perf_counter()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if run.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed:\n{run.stderr[-2000:]}")
    last = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "{}"
    return wall, (json.loads(last) if last.startswith("{") else {})


def median_of(runs: list[tuple[float, dict]]) -> dict:
    keys = runs[0][1].keys()
    out = {k: statistics.median(r[1][k] for r in runs) for k in keys}
    out["process"] = statistics.median(r[0] for r in runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tools.bench import prepare_model

    model = args.model or prepare_model(Path.home() / ".cache" / "minie5-bench")
    py = sys.executable
    rows = {}
    cold = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(timed([py, "-c", MINIE5, str(model), TEXT], dict(os.environ, NUMBA_CACHE_DIR=cache)))
    rows["minie5, cold Numba cache"] = median_of(cold)
    env = dict(os.environ)
    timed([py, "-c", MINIE5, str(model), TEXT], env)  # fill the cache
    rows["minie5, warm cache"] = median_of([timed([py, "-c", MINIE5, str(model), TEXT], env)
                                            for _ in range(args.repeat)])
    cli = [str(Path(py).with_name("minie5")), "embed", "--model", str(model), TEXT]
    rows["`minie5 embed` process, warm cache"] = median_of([timed(cli, env) for _ in range(args.repeat)])
    rows["transformers + torch"] = median_of([timed([py, "-c", TRANSFORMERS, str(model), TEXT], env)
                                              for _ in range(args.repeat)])

    print("| | import s | load s | first encode s | whole process s |\n|---|---|---|---|---|")
    for name, r in rows.items():
        cells = [f"{r[k]:.2f}" if k in r else "-" for k in ("import", "load", "first_encode", "process")]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
