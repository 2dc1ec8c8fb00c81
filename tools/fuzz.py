"""A long fuzz run: the property tests of tests/test_properties.py with many more examples.

    python tools/fuzz.py [--examples 2000]

Runs pytest on the property tests under hypothesis' "fuzz" profile and prints, per property, how
many examples ran and how many passed; the figures in docs/reliability.md come from here.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per property (default 2000)")
    args = parser.parse_args()
    env = dict(os.environ, MINIE5_HYPOTHESIS_PROFILE="fuzz", MINIE5_FUZZ_EXAMPLES=str(args.examples))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "--hypothesis-show-statistics", "tests/test_properties.py"],
                            cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print("| property | examples | outcome |")
    print("|---|---|---|")
    blocks = re.split(r"\n(?=tests/test_properties\.py::)", result.stdout)
    for block in blocks:
        name = re.match(r"tests/test_properties\.py::(\w+)", block)
        if not name:
            continue
        counts = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid", block)
        if counts:
            passing, failing, invalid = map(int, counts.groups())
            print(f"| {name.group(1)} | {passing + failing} | {failing} failing, {invalid} invalid |")
    print(f"\n{result.stdout.strip().splitlines()[-1]} ({seconds:.0f} s)")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
