"""Build a retrieval dataset in BEIR's format from the standard library's documentation, offline.

Each documented function, class and method of the standard-library modules of the running Python
gives one query/passage pair: its docstring's first paragraph (the summary) is the query, the rest
of the docstring is the passage that should be found. The corpus holds every passage, and the other
docstrings of 12 words or more as passages no query is after; qrels mark each query's own passage
relevant (1). It is real English prose under the Python Software
Foundation License, rebuilt identically by the same Python version (printed and written to the
folder's dataset.json).

    python tools/make_retrieval_set.py OUT [--limit N]      # OUT/corpus.jsonl, queries.jsonl, qrels/test.tsv
    minie5 evaluate OUT -m all-MiniLM-L6-v2

tools/quantization_loss.py scores output precisions on the smaller set of `MODULES` (no methods).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import platform
import sys
import warnings
from pathlib import Path

MODULES = """os os.path json re itertools functools collections pathlib subprocess shutil string textwrap
random statistics math datetime calendar csv zipfile tarfile gzip tempfile glob fnmatch socket
urllib.parse http.client email.message logging argparse threading queue heapq bisect copy pickle
base64 hashlib hmac secrets uuid decimal fractions difflib inspect ast dis typing contextlib abc enum
dataclasses operator unittest doctest sqlite3 xml.etree.ElementTree html html.parser mimetypes locale
gettext time sched asyncio concurrent.futures multiprocessing signal platform sys io codecs
unicodedata struct array weakref types traceback warnings pprint reprlib shlex configparser tomllib
zlib bz2 lzma filecmp stat fileinput selectors ssl ftplib smtplib imaplib poplib webbrowser wave
colorsys graphlib numbers cmath ipaddress optparse getpass pdb timeit cProfile pstats trace tokenize
keyword symtable""".split()
# Standard-library modules that do something when imported, or need a display or a build option.
SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "pydoc_data",
        "ensurepip", "venv", "msilib", "winreg", "winsound", "_msi", "nt", "msvcrt", "curses", "readline"}


def all_modules() -> list[str]:
    """Every public standard-library module and package, and their public submodules (tests aside)."""
    import pkgutil

    names = {n for n in sys.stdlib_module_names if not n.startswith("_") and n not in SKIP}
    for name in sorted(names):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for info in pkgutil.walk_packages(spec.submodule_search_locations, prefix=name + "."):
            parts = info.name.split(".")
            if not any(p.startswith("_") or p in ("test", "tests") or p.startswith("test_") for p in parts[1:]):
                names.add(info.name)
    return sorted(names | {m for m in MODULES if "." in m})


def retrieval_set(modules: list[str] = MODULES, methods: bool = False,
                  others: list | None = None) -> list[tuple[str, str, str]]:
    """(name, query, passage) for every docstring with a summary of 5+ words and a body of 15+.
    Docstrings that give no pair but hold 12+ words are appended to `others`, as (name, text)."""
    pairs, seen = [], set()

    def consider(name: str, obj) -> None:
        doc = inspect.getdoc(obj) or ""
        summary, _, body = doc.partition("\n\n")
        summary, body = " ".join(summary.split()), " ".join(body.split())
        # With methods, a body can repeat (an alias, an inherited method): the corpus holds it once.
        if len(summary.split()) >= 5 and len(body.split()) >= 15 and summary not in seen and \
                not (methods and body in seen):
            seen.update((summary, body) if methods else (summary,))
            pairs.append((name, summary, body))
        elif others is not None and len(doc.split()) >= 12 and " ".join(doc.split()) not in seen:
            seen.add(" ".join(doc.split()))
            others.append((name, " ".join(doc.split())))

    for module_name in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - a module this Python cannot import here is simply not used
            continue
        for name, obj in sorted(vars(module).items()):
            if name.startswith("_") or not (inspect.isroutine(obj) or inspect.isclass(obj)):
                continue
            home = getattr(obj, "__module__", None) or module_name
            if not isinstance(home, str) or home.split(".")[0].lstrip("_") != module_name.split(".")[0]:
                continue  # imported from elsewhere: counted where it is defined
            consider(f"{module_name}.{name}", obj)
            if methods and inspect.isclass(obj):
                for member, value in sorted(vars(obj).items()):
                    if not member.startswith("_") and inspect.isroutine(value):
                        consider(f"{module_name}.{name}.{member}", value)
    return pairs


def write_beir(out: Path, pairs: list[tuple[str, str, str]], others: list[tuple[str, str]] = ()) -> None:
    """The pairs as queries and their passages, and `others` as passages no query is after."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i, (name, _, body) in enumerate(pairs):
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": body, "name": name}, ensure_ascii=False) + "\n")
        for i, (name, text) in enumerate(others):
            f.write(json.dumps({"_id": f"x{i}", "title": "", "text": text, "name": name}, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for i, (_, summary, _) in enumerate(pairs):
            f.write(json.dumps({"_id": f"q{i}", "text": summary}, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"q{i}\td{i}\t1\n" for i in range(len(pairs)))
    (out / "dataset.json").write_text(json.dumps({
        "source": "docstrings of the Python standard library", "python": platform.python_version(),
        "license": "Python Software Foundation License", "pairs": len(pairs), "passages": len(pairs) + len(others)},
        indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--limit", type=int, help="keep the first N pairs (a small set for tests)")
    args = parser.parse_args()
    others: list[tuple[str, str]] = []
    pairs = retrieval_set(all_modules(), methods=True, others=others)
    if args.limit is not None:
        pairs, others = pairs[:args.limit], others[:args.limit]
    write_beir(args.out, pairs, others)
    print(f"wrote {len(pairs)} queries and {len(pairs) + len(others)} passages from Python "
          f"{platform.python_version()}'s standard library to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
