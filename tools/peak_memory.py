"""Peak memory of embedding 10^4, 10^5 and 10^6 texts: flat in the number of texts.

    python tools/peak_memory.py [--sizes 10000 100000 1000000] [--words 24]

Each measurement is a fresh process (peak RSS from /proc/self/status VmHWM, which covers NumPy's
and the tokenizer's memory alike) embedding n generated texts of about `--words` words:

    encode_iter   Model.encode_iter over a generator: nothing grows with n
    encode        Model.encode of a list: the texts and the [n, dim] output array grow with n,
                  the working memory does not
    cli           `minie5 embed -i texts.txt -o vectors.npy`: the input lines are read whole,
                  the vectors stream to the file

The model is a 1-layer, 32-wide BERT with all-MiniLM-L6-v2's tokenizer and random weights
(tests/support/model_files.small_model), so that 10^6 texts take minutes, not hours: peak memory
is set by tokenization and batch buffers, which this keeps, not by the weights' size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS = ("the river rises in the hills north of town and reaches the sea after forty miles trains leave "
         "every fifteen minutes from the central station protein needs depend on body weight").split()

CHILD = """
import sys, time, warnings
warnings.simplefilter("ignore")
import minie5
mode, model, n, words = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
WORDS = {words!r}
def texts():
    for i in range(n):
        yield " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words)) + f" {{i}}"
m = minie5.load(model)
start = time.perf_counter()
if mode == "encode_iter":
    rows = sum(len(v) for v in m.encode_iter(texts()))
else:
    rows = len(m.encode(list(texts())))
seconds = time.perf_counter() - start
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(rows, peak, seconds)
"""


def measure(mode: str, model: Path, n: int, words: int, tmp: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one fresh process."""
    if mode == "cli":
        texts = tmp / f"texts-{n}.txt"
        with open(texts, "w") as f:
            for i in range(n):
                f.write(" ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words)) + f" {i}\n")
        start = time.perf_counter()
        code = ("import resource, sys; from minie5.cli import main; status = main(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(status)")
        result = subprocess.run([sys.executable, "-c", code, "embed", "-q", "-m", str(model), "-i", str(texts),
                                 "-o", str(tmp / "v.npy")], capture_output=True, text=True, check=True)
        return int(result.stdout.split()[-1]) / 1024, time.perf_counter() - start
    result = subprocess.run([sys.executable, "-c", CHILD.format(words=WORDS), mode, str(model), str(n), str(words)],
                            capture_output=True, text=True, check=True)
    rows, peak_kb, seconds = result.stdout.split()
    assert int(rows) == n
    return int(peak_kb) / 1024, float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--words", type=int, default=24)
    parser.add_argument("--modes", nargs="+", default=["encode_iter", "encode", "cli"])
    args = parser.parse_args()
    from tests.support.golden import minilm_dir
    from tests.support.model_files import small_model

    with tempfile.TemporaryDirectory() as tmp:
        model = small_model(minilm_dir(), Path(tmp) / "model")
        print("| texts | " + " | ".join(f"{m} peak MB (s)" for m in args.modes) + " |")
        print("|---|" + "---|" * len(args.modes))
        for n in args.sizes:
            cells = [measure(mode, model, n, args.words, Path(tmp)) for mode in args.modes]
            print(f"| {n:,} | " + " | ".join(f"{mb:,.0f} ({s:.0f} s)" for mb, s in cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
