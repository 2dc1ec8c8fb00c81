"""Peak memory of loading a Qwen3-Embedding-0.6B-sized model for int8, from a bfloat16 checkpoint as the
real one ships: whether minie5 holds a float32 copy of every weight while it loads.

Writes a checkpoint of Qwen3-Embedding-0.6B's exact shapes (28 layers, hidden 1024, vocabulary
151,669; random bfloat16 values: memory does not depend on them) to a temporary folder, then loads
it in a fresh process with minie5.load(folder, dtype=...) and reports that process's resident
memory before loading and its peak during and after it (VmHWM, reset first through
/proc/self/clear_refs), and the load time. For scale: the weights are 1.19 GB in
bfloat16 and would be 2.38 GB in float32. Resident memory counts the pages of the memory-mapped file
that packing has read (the file's, shared and reclaimable) as well as the packed weights.

Run:  python tools/decoder_memory.py [--dtype int8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import random_decoder  # noqa: E402

CONFIG = {**random_decoder.QWEN3_EMBEDDING_CONFIG, "num_hidden_layers": 28, "vocab_size": 151669}
CHILD = """
import sys, time, warnings
import numpy as np
import minie5

def peak():  # VmHWM: this process's peak resident memory, in GB
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
    return int(line.split()[1]) / 1e6

open("/proc/self/clear_refs", "w").write("5")  # reset the peak: count from here
before = peak()
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = minie5.load(sys.argv[1], dtype=sys.argv[2])
seconds = time.perf_counter() - start
after = peak()
assert np.isfinite(model.encode(["a text"])).all()
print(f"{sys.argv[2]} (ran {model.backend.weights}): resident {before:.2f} GB before load, peak {after:.2f} GB "
      f"during and after it; load {seconds:.0f} s")
"""


def write_checkpoint(folder: Path) -> int:
    """Qwen3-Embedding-0.6B's tensors, random, in bfloat16, written tensor by tensor; returns values."""
    shapes = {}
    H, F, D, N, Nkv = 1024, 3072, 128, 16, 8
    shapes["embed_tokens.weight"] = (CONFIG["vocab_size"], H)
    shapes["norm.weight"] = (H,)
    for i in range(CONFIG["num_hidden_layers"]):
        p = f"layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (N * D, H), p + "self_attn.k_proj.weight": (Nkv * D, H),
                       p + "self_attn.v_proj.weight": (Nkv * D, H), p + "self_attn.o_proj.weight": (H, N * D),
                       p + "self_attn.q_norm.weight": (D,), p + "self_attn.k_norm.weight": (D,),
                       p + "mlp.gate_proj.weight": (F, H), p + "mlp.up_proj.weight": (F, H),
                       p + "mlp.down_proj.weight": (H, F), p + "input_layernorm.weight": (H,),
                       p + "post_attention_layernorm.weight": (H,)})
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(0)
    with open(folder / "model.safetensors", "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for shape in shapes.values():
            matrix = len(shape) == 2  # matrices near 0, norms near 1
            values = rng.standard_normal(shape, dtype=np.float32) * (0.02 if matrix else 1.0) + (0.0 if matrix else 1.0)
            f.write((values.view(np.uint32) >> 16).astype(np.uint16).tobytes())  # truncated to bfloat16
    return offset // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", nargs="*", default=["int8"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "qwen3-0.6b-shape"
        folder.mkdir()
        values = write_checkpoint(folder)
        (folder / "config.json").write_text(json.dumps(CONFIG))
        shutil.copyfile(random_decoder.GOLDEN / "bpe" / "tokenizer.json", folder / "tokenizer.json")
        print(f"{values / 1e6:.0f}M weights: {2 * values / 1e9:.2f} GB in bfloat16, "
              f"{4 * values / 1e9:.2f} GB in float32")
        for dtype in args.dtype:
            subprocess.run([sys.executable, "-c", CHILD, str(folder), dtype], check=True, cwd=REPO)


if __name__ == "__main__":
    main()
