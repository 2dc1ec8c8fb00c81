"""The `minie5` command.

    minie5 embed --query "how much protein should a female eat"
    printf 'first text\nsecond text\n' | minie5 embed --model DIR --out vectors.npy
    minie5 embed --input docs.jsonl --field body --passage --out embedded.jsonl
    minie5 similarity "query: summit define" "passage: the highest point of a mountain"
    minie5 search --corpus passages.txt "how tall is the summit"
    minie5 info sentence-transformers/all-MiniLM-L6-v2

Exit status: 0 on success, 2 for a usage error, 1 for any other error. Errors go to stderr as one
line naming the file or argument at fault; set MINIE5_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .model import BACKENDS, DEFAULT_MODEL, LONG_MODES
from .quantize import PRECISIONS

OUTPUT_FORMATS = (".npy", ".jsonl", ".csv")
INPUT_FORMATS = {".jsonl": "jsonl", ".csv": "csv"}  # anything else: plain text, one per line


class UsageError(Exception):
    """A problem with the command line itself: exit status 2."""


class SilentFailure(Exception):
    """The command said what went wrong on stdout (verify's verdict): exit status 1, nothing more."""


EPILOG = """\
examples:
  minie5 embed --query "how much protein should a female eat"
  minie5 embed --passage --input docs.txt --out docs.npy        one text per line
  minie5 embed --input docs.jsonl --field body --out out.jsonl  records keep their fields
  minie5 similarity "query: summit define" "passage: the top of a mountain"
  minie5 search --corpus docs.txt "how tall is the summit"      vectors cached beside docs.txt
  minie5 info intfloat/e5-small-v2
  minie5 trace --out trace.npz "query: summit define"           every intermediate tensor
  minie5 verify --against transformers                          where two implementations part
  minie5 attention --layer 3 "query: summit define"             who attends to whom

models:
  MODEL is a folder (config.json, model.safetensors, tokenizer.json) or a Hugging Face name,
  looked up in an installed package, then the Hugging Face cache, then downloaded (the files
  minie5 reads, nothing else). Pooling, normalisation and the length limit come from the
  model's own sentence-transformers files. The default is intfloat/e5-small-v2, which expects
  every text to start with "query: " or "passage: " (see --query / --passage).

environment:
  MINIE5_NUM_THREADS  cores to use (default: all)
  HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE  where the Hugging Face cache is; never download
  MINIE5_DEBUG=1      show Python tracebacks instead of one-line errors

exit status:
  0 success, 1 an error (model, file, input), 2 a usage error; messages go to stderr.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minie5", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Text embeddings with e5-small-v2 and other BERT encoders, on the CPU, without PyTorch.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    embed = commands.add_parser(
        "embed", help="embed texts into vectors",
        description="Embed each TEXT (or each record of --input, or each line of standard input) "
                    "and write one vector per text, in input order: a JSON array per line on "
                    "standard output, or the file named by --out. Texts are embedded exactly as "
                    "given unless --query or --passage is set: e5 models expect them to start with "
                    "'query: ' or 'passage: '.")
    embed.add_argument("texts", nargs="*", metavar="TEXT", help="texts to embed (default: --input, else stdin lines)")
    add_model_arguments(embed)
    add_input_arguments(embed, "--input", "-i", "read texts from FILE: .jsonl (one JSON object per line, "
                        "text in --field), .csv (a header row, text in column --field), anything else "
                        "one text per line; '-' is standard input")
    embed.add_argument("--out", "-o", type=Path, metavar="FILE",
                       help="write the vectors to FILE instead: .npy ([n, dim] array), .jsonl (a JSON "
                            "array per line; with --input .jsonl each record plus an 'embedding' "
                            "field), or .csv (text, then one column per number)")
    prefix = embed.add_mutually_exclusive_group()
    prefix.add_argument("--query", action="store_true",
                        help="the texts are search queries: prefix each with 'query: ' (if not already)")
    prefix.add_argument("--passage", action="store_true",
                        help="the texts are documents: prefix each with 'passage: ' (if not already)")
    embed.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                       help="scale vectors to unit length (default: as the model's modules.json says; "
                            "yes where it has none)")
    embed.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="float32 (default), float16, int8/uint8 (ranges from --ranges, else "
                            "from these texts, saved beside --out), or binary/ubinary sign bits")
    embed.add_argument("--ranges", type=Path, metavar="FILE",
                       help="int8/uint8 calibration ranges, a [2, dim] .npy written by an earlier run")
    add_run_arguments(embed)
    embed.set_defaults(run=run_embed)

    similarity = commands.add_parser(
        "similarity", help="cosine similarity of two texts",
        description="Print the cosine similarity of the embeddings of two texts, embedded as given.")
    similarity.add_argument("a", metavar="A")
    similarity.add_argument("b", metavar="B")
    add_model_arguments(similarity)
    similarity.set_defaults(run=run_similarity)

    search = commands.add_parser(
        "search", help="find the passages of a corpus closest to a query",
        description="Embed the corpus (once: its vectors are cached beside it, in "
                    "CORPUS.minie5-<model>.npz, and reused while the corpus and the model are "
                    "unchanged), embed each QUERY, and print the top-k passages by cosine "
                    "similarity. With an e5 model, 'query: ' and 'passage: ' are added.")
    search.add_argument("queries", nargs="+", metavar="QUERY")
    add_input_arguments(search, "--corpus", "-c", "the passages: a text file (one per line), .jsonl "
                        "or .csv (text in --field)", required=True)
    search.add_argument("--top-k", "-k", type=int, default=5, metavar="K", help="passages to show (default 5)")
    search.add_argument("--json", action="store_true",
                        help="print JSON lines (query, rank, score, index, text) instead of a table")
    search.add_argument("--no-cache", dest="cache", action="store_false",
                        help="neither read nor write the cached corpus vectors")
    add_model_arguments(search)
    add_run_arguments(search)
    search.set_defaults(run=run_search)

    trace = commands.add_parser(
        "trace", help="record every intermediate tensor of the forward pass",
        description="Run the NumPy reference on the TEXTs (one padded batch, embedded as given) and "
                    "write every intermediate tensor, named after transformers' modules, to an .npz "
                    "file (format: docs/trace-format.md).")
    trace.add_argument("texts", nargs="+", metavar="TEXT")
    trace.add_argument("--out", "-o", type=Path, required=True, metavar="FILE.npz")
    trace.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="compute in float32 (default) or float64 (a ground truth)")
    add_model_arguments(trace)
    trace.set_defaults(run=run_trace)

    verify = commands.add_parser(
        "verify", help="compare minie5 with another implementation, layer by layer",
        description="Trace the TEXTs with minie5's reference and with another implementation, and "
                    "print the largest difference of every tensor at real tokens, absolute and "
                    "relative to the tensor's largest magnitude, marking the first tensor beyond "
                    "tolerance. Exit status 1 when the final embeddings differ beyond tolerance.")
    verify.add_argument("texts", nargs="*", metavar="TEXT",
                        help="texts to compare on (default: the e5 model card's four examples; "
                             "with a trace file, the texts it records)")
    verify.add_argument("--against", default="transformers", metavar="SOURCE",
                        help="'transformers' (PyTorch, with hooks on its modules; the default), an "
                             "ONNX model (FILE.onnx), or a trace file another port wrote (FILE.npz)")
    verify.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="minie5's side in float32 (default) or float64")
    verify.add_argument("--rtol", type=float, default=1e-4,
                        help="per tensor: max |difference| / max |value| allowed (default 1e-4)")
    verify.add_argument("--embedding-atol", type=float, default=1e-5,
                        help="final embeddings: max |difference| allowed (default 1e-5)")
    verify.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="also draw the per-layer error curve (needs matplotlib: minie5[plot])")
    add_model_arguments(verify)
    verify.set_defaults(run=run_verify)

    attention = commands.add_parser(
        "attention", help="show a layer's attention maps",
        description="Show how the tokens of TEXT attend to each other in one layer, every head "
                    "(or --head): as a text heat map, or a PNG with --out (needs matplotlib).")
    attention.add_argument("text", metavar="TEXT")
    attention.add_argument("--layer", "-l", type=int, default=0, metavar="L", help="layer, from 0 (default 0)")
    attention.add_argument("--head", type=int, action="append", metavar="H",
                           help="only this head (repeatable; default: all)")
    attention.add_argument("--out", "-o", type=Path, metavar="FILE.png", help="draw a PNG instead")
    add_model_arguments(attention)
    attention.set_defaults(run=run_attention)

    info = commands.add_parser(
        "info", help="describe a model without running it",
        description="Print a model's architecture, sizes, parameter count, stored dtypes, pooling, "
                    "files, and where it was found. Reads config.json and the safetensors header only.")
    info.add_argument("model", metavar="MODEL", nargs="?", default=DEFAULT_MODEL)
    info.add_argument("--revision", metavar="REV")
    info.set_defaults(run=run_info)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default=DEFAULT_MODEL, metavar="MODEL",
                        help="a Hugging Face model name (from an installed package, the Hugging Face "
                             "cache, or downloaded) or a folder with config.json, model.safetensors "
                             "and tokenizer.json (default: intfloat/e5-small-v2)")
    parser.add_argument("--revision", metavar="REV", help="branch, tag or commit of a hub model (default: main)")


def add_input_arguments(parser: argparse.ArgumentParser, flag: str, short: str, help: str,
                        required: bool = False) -> None:
    parser.add_argument(flag, short, type=Path, metavar="FILE", required=required, help=help)
    parser.add_argument("--field", "-f", default="text", metavar="NAME",
                        help=f"with a .jsonl or .csv {flag}: the field holding the text (default 'text')")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per batch (default 32)")
    parser.add_argument("--long", choices=LONG_MODES, default="truncate",
                        help="texts over the model's limit (512 tokens for e5): truncate (default, with "
                             "a warning), chunk (average all windows), or error")
    parser.add_argument("--overlap", type=int, default=0, metavar="N",
                        help="with --long chunk: tokens shared by successive windows (default 0)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="cores to use (default: $MINIE5_NUM_THREADS, else all)")
    parser.add_argument("--backend", choices=BACKENDS, default="numba",
                        help="numba: the fast engine (default); numpy: the readable reference")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar (it is shown only when stderr is a terminal anyway)")


# ---- input

def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UsageError(f"{source} is not valid UTF-8 (line {line}, byte {e.start})") from None


def split_lines(text: str) -> list[str]:
    """One text per line. Empty lines are texts too, so output row i is always input line i."""
    if not text:
        return []
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def read_stdin_lines() -> list[str]:
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("no TEXT given and standard input is a terminal: pass texts as arguments, "
                         "--input FILE, or pipe them in, one per line")
    return split_lines(decode_utf8(sys.stdin.buffer.read(), "standard input"))


def read_records(path: Path, field: str, option: str) -> tuple[list[str], list | None]:
    """The texts of an input file and, for .jsonl/.csv, the records they came from."""
    if str(path) == "-":
        return read_stdin_lines(), None
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot read ({e.strerror or e})") from None
    text = decode_utf8(data, f"{option} {path}")
    kind = INPUT_FORMATS.get(path.suffix.lower())
    if kind is None:
        return split_lines(text), None
    if kind == "csv":
        import csv
        import io

        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        if rows and field not in rows[0]:
            raise UsageError(f"{option} {path}: no column {field!r} (columns: {', '.join(rows[0])}); "
                             "choose one with --field")
        return [row[field] or "" for row in rows], rows
    import json

    records, texts = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{option} {path} line {number}: not valid JSON ({e.msg})") from None
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            what = "not a JSON object" if not isinstance(record, dict) else (
                f"no field {field!r}" if field not in record else f"field {field!r} is not a string")
            raise UsageError(f"{option} {path} line {number}: {what} (choose the text's field with --field)")
        records.append(record)
        texts.append(value)
    return texts, records


# ---- output

def format_number(v) -> str:
    # Nine significant digits give back every float32 exactly; integers (quantised) as they are.
    return f"{v:.9g}" if isinstance(v, float) else str(v)


def format_jsonl(vectors: np.ndarray, records: list | None = None) -> str:
    import json

    rows = ["[" + ",".join(map(format_number, row)) + "]" for row in vectors.tolist()]
    if records is not None and all(isinstance(r, dict) for r in records):
        return "".join(json.dumps(r, ensure_ascii=False)[:-1] + (", " if r else "") +
                       f'"embedding": {row}}}\n' for r, row in zip(records, rows))
    return "".join(row + "\n" for row in rows)


def format_csv(vectors: np.ndarray, texts: list[str]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", *(f"e{i}" for i in range(vectors.shape[1]))])
    for text, row in zip(texts, vectors.tolist()):
        writer.writerow([text, *map(format_number, row)])
    return buffer.getvalue()


def write_atomically(out: Path, write) -> None:
    """Write through a temporary file, so an existing file is only replaced by a complete one."""
    tmp = out.with_name(out.name + ".partial")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(f"{out}: cannot write ({e.strerror or e})") from None


def write_output(vectors: np.ndarray, out: Path, texts: list[str], records: list | None = None) -> None:
    if out.suffix == ".npy":
        write_atomically(out, lambda f: np.save(f, vectors))
    elif out.suffix == ".csv":
        write_atomically(out, lambda f: f.write(format_csv(vectors, texts).encode("utf-8")))
    else:
        write_atomically(out, lambda f: f.write(format_jsonl(vectors, records).encode("utf-8")))


class Progress:
    """A one-line progress bar on stderr, with rate and time left, only on a terminal."""

    def __init__(self, unit: str, enabled: bool):
        import time

        self.unit, self.enabled, self.clock = unit, enabled and sys.stderr.isatty(), time.monotonic
        self.start = self.last = self.clock()

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if not self.enabled or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (total - done) / rate if rate else 0
        width = 24
        bar = "#" * (width * done // max(total, 1))
        line = (f"\r[{bar:<{width}}] {done:,}/{total:,} {self.unit}  {rate:,.1f}/s  "
                f"{'ETA ' + format_seconds(eta) if done < total else format_seconds(now - self.start)}")
        sys.stderr.write(line + ("\n" if done >= total else ""))
        sys.stderr.flush()


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


# ---- commands

def check_run_arguments(args) -> None:
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be a positive integer, got {args.threads}")
    if args.overlap and args.long != "chunk":
        raise UsageError("--overlap only applies with --long chunk")


def load_model(args):
    import minie5

    return minie5.load(args.model, backend=getattr(args, "backend", "numba"),
                       threads=getattr(args, "threads", None), revision=args.revision)


def encode(model, texts: list[str], args, kind: str | None, **kwargs) -> np.ndarray:
    """Embed with the run options of `args`; kind "query"/"passage" adds that prefix."""
    method = {"query": model.encode_queries, "passage": model.encode_passages}.get(kind, model.encode)
    unit = "windows" if args.long == "chunk" else "texts"
    return method(texts, batch_size=args.batch_size, long=args.long, overlap=args.overlap,
                  progress=Progress(unit, not args.quiet), **kwargs)


def run_embed(args) -> None:
    check_run_arguments(args)
    if args.out is not None and args.out.suffix not in OUTPUT_FORMATS:
        raise UsageError(f"--out {args.out}: unknown format {args.out.suffix or '(no extension)'!r}; "
                         f"use {', '.join(OUTPUT_FORMATS)}")
    if args.texts and args.input is not None:
        raise UsageError("give texts as arguments or with --input, not both")
    if args.ranges is not None and args.precision not in ("int8", "uint8"):
        raise UsageError("--ranges only applies with --precision int8 or uint8")
    records = None
    if args.texts:
        texts = args.texts
    elif args.input is not None:
        texts, records = read_records(args.input, args.field, "--input")
    else:
        texts = read_stdin_lines()
    ranges = None
    if args.ranges is not None:
        try:
            ranges = np.load(args.ranges)
        except (OSError, ValueError) as e:
            raise UsageError(f"--ranges {args.ranges}: cannot read a .npy array ({e})") from None

    model = load_model(args)
    kind = "query" if args.query else "passage" if args.passage else None
    vectors = encode(model, texts, args, kind, normalize=args.normalize)
    if args.precision in ("int8", "uint8") and ranges is None and len(vectors):
        from .quantize import calibration_ranges

        ranges = calibration_ranges(vectors)
        if args.out is not None:
            saved = args.out.with_name(args.out.stem + ".ranges.npy")
            write_atomically(saved, lambda f: np.save(f, ranges))
            print(f"{args.precision} ranges taken from these {len(vectors)} texts; saved to {saved} "
                  "(pass --ranges to quantise later texts the same way)", file=sys.stderr)
    if args.precision != "float32":
        from .quantize import quantize

        vectors = quantize(vectors, args.precision, ranges)
    if args.out is None:
        sys.stdout.write(format_jsonl(vectors, records))
        sys.stdout.flush()
    else:
        write_output(vectors, args.out, texts, records)
        print(f"wrote {len(vectors)} vectors of {vectors.shape[1]} {vectors.dtype} to {args.out}", file=sys.stderr)


def run_similarity(args) -> None:
    import minie5

    a, b = minie5.load(args.model, revision=args.revision).encode([args.a, args.b], normalize=True)
    print(f"{float(a @ b):.6f}")  # unit vectors: the dot product is the cosine


def corpus_vectors(model, texts: list[str], corpus: Path, args, kind: str | None) -> np.ndarray:
    """The corpus' unit vectors, from the cache beside it when the corpus and model are unchanged.

    The cache file is named after the model and its settings; inside, the corpus' SHA-256 says
    whether the texts are still the ones embedded."""
    import hashlib
    import json

    model_key = json.dumps({
        "model": str(model.path.resolve()), "config": (model.path / "config.json").read_text(),
        "weights": [(model.path / "model.safetensors").stat().st_size,
                    (model.path / "model.safetensors").stat().st_mtime_ns],
        "pooling": model.pooling, "max_length": model.max_length, "field": args.field, "prefix": kind,
        "long": args.long, "overlap": args.overlap}, sort_keys=True)
    cache = corpus.with_name(f"{corpus.name}.minie5-{hashlib.sha256(model_key.encode()).hexdigest()[:12]}.npz")
    digest = hashlib.sha256("\n".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
    if args.cache and cache.is_file():
        try:
            with np.load(cache) as saved:
                if str(saved["corpus_sha256"]) == digest and saved["vectors"].shape == (len(texts), model.dim):
                    return saved["vectors"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable: embed again and replace it
    vectors = encode(model, texts, args, kind, normalize=True)
    if args.cache:
        try:
            write_atomically(cache, lambda f: np.savez(f, vectors=vectors, corpus_sha256=digest, model=model_key))
            print(f"cached the corpus vectors in {cache}", file=sys.stderr)
        except OSError as e:
            warnings.warn(f"could not cache the corpus vectors ({e})", stacklevel=1)
    return vectors


def run_search(args) -> None:
    check_run_arguments(args)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be a positive integer, got {args.top_k}")
    texts, _ = read_records(args.corpus, args.field, "--corpus")
    if not texts:
        raise UsageError(f"--corpus {args.corpus}: holds no texts")
    model = load_model(args)
    prefixed = model.expects_prefixes  # e5: "query: " and "passage: ", as it was trained
    passages = corpus_vectors(model, texts, args.corpus, args, "passage" if prefixed else None)
    queries = model.encode_queries(args.queries, normalize=True) if prefixed else \
        model.encode(args.queries, normalize=True)
    scores = queries @ passages.T
    k = min(args.top_k, len(texts))
    for q, query in enumerate(args.queries):
        top = np.argsort(-scores[q], kind="stable")[:k]
        if args.json:
            import json

            for rank, i in enumerate(top, start=1):
                print(json.dumps({"query": query, "rank": rank, "score": round(float(scores[q, i]), 6),
                                  "index": int(i), "text": texts[i]}, ensure_ascii=False))
            continue
        if len(args.queries) > 1:
            print(f"{'' if q == 0 else chr(10)}query: {query}")
        for rank, i in enumerate(top, start=1):
            shown = " ".join(texts[i].split())
            shown = shown if len(shown) <= 100 else shown[:99] + "…"
            print(f"{rank:>3}  {scores[q, i]:.4f}  #{i + 1:<6} {shown}")  # the n-th text, from 1


# The e5-small-v2 model card's example, word for word (also the golden texts of tools/make_golden.py).
MODEL_CARD_TEXTS = [
    "query: how much protein should a female eat",
    "query: summit define",
    "passage: As a general guideline, the CDC's average requirement of protein for women ages 19 to 70 is "
    "46 grams per day. But, as you can see from this chart, you'll need to increase that if you're training "
    "for a marathon. Check out the chart below to see how much protein you should be eating each day.",
    "passage: Definition of summit for English Language Learners. : 1  the highest point of a mountain : "
    "the top of a mountain. : 2  the highest level. : 3  a meeting or series of meetings between the "
    "leaders of two or more governments.",
]


def run_trace(args) -> None:
    import minie5
    from . import trace

    model = minie5.load(args.model, backend="numpy", revision=args.revision)
    tensors = model.trace(args.texts, dtype=args.dtype)
    out = args.out if args.out.suffix == ".npz" else args.out.with_name(args.out.name + ".npz")
    write_atomically(out, lambda f: trace.save(f, tensors, {**model.trace_meta(args.texts), "dtype": args.dtype}))
    print(f"wrote {len(tensors)} tensors for {len(args.texts)} texts to {out}", file=sys.stderr)


def run_verify(args) -> None:
    import minie5
    from . import peers, trace, verify

    if args.rtol <= 0 or args.embedding_atol <= 0:
        raise UsageError("--rtol and --embedding-atol must be positive")
    against = args.against
    texts = args.texts
    theirs = None
    if against.endswith(".npz"):
        theirs, meta = trace.load(against)
        if not texts:
            texts = meta.get("texts") or []
            if not texts:
                raise UsageError(f"--against {against}: the trace records no texts; pass them as TEXT")
    texts = texts or MODEL_CARD_TEXTS
    model = minie5.load(args.model, backend="numpy", revision=args.revision)
    ours = model.trace(texts, dtype=args.dtype)
    if theirs is not None:
        label = against
    elif against == "transformers":
        theirs, label = peers.transformers_trace(model, texts), "transformers"
    elif against.endswith(".onnx"):
        theirs, label = peers.onnx_trace(model, texts, Path(against)), against
    else:
        raise UsageError(f"--against {against}: expected 'transformers', a .onnx file or a .npz trace")
    rows, missing = verify.compare(ours, theirs, args.rtol, args.embedding_atol)
    print(verify.report(rows, missing, args.rtol, args.embedding_atol, f"{label} ({args.dtype} minie5)"))
    if args.plot is not None:
        try:
            verify.plot(rows, args.plot, label)
        except ImportError:
            raise UsageError('--plot needs matplotlib: pip install "minie5[plot]"') from None
        print(f"wrote {args.plot}", file=sys.stderr)
    embedding = next((r for r in rows if r.name == "embedding"), None)
    if embedding is None or not embedding.ok:
        raise SilentFailure


def run_attention(args) -> None:
    import minie5
    from . import attention_map

    model = minie5.load(args.model, backend="numpy", revision=args.revision)
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    if not 0 <= args.layer < layers:
        raise UsageError(f"--layer must be from 0 to {layers - 1}, got {args.layer}")
    chosen = args.head or list(range(heads))
    if any(not 0 <= h < heads for h in chosen):
        raise UsageError(f"--head must be from 0 to {heads - 1}")
    probs = model.trace([args.text])[f"encoder.layer.{args.layer}.attention.self.probs"][0]
    tokens = model.tokenizer.tokens(args.text)[:model.max_length]
    if args.out is None:
        print(attention_map.text_heatmap(probs, tokens, chosen))
        return
    try:
        attention_map.png(probs, tokens, chosen, args.out, f"{model.name}: layer {args.layer}")
    except ImportError:
        raise UsageError('--out needs matplotlib: pip install "minie5[plot]" (without --out: a text heat map)') from None
    print(f"wrote {args.out}", file=sys.stderr)


def run_info(args) -> None:
    from collections import Counter

    from .config import BertConfig
    from .hub import resolve
    from .model import max_length_for
    from .pipeline import read_pipeline
    from .safetensors_file import SafetensorsFile
    from .weights import expected_shapes

    path, source = resolve(args.model, args.revision)
    config = BertConfig.from_file(path / "config.json")
    pipeline = read_pipeline(path)
    max_length = max_length_for(config, pipeline)
    weights = SafetensorsFile(path / "model.safetensors")
    used = expected_shapes(config)
    parameters = sum(int(np.prod(shape)) for shape in used.values())
    dtypes = Counter(info.dtype for info in weights.tensors.values())
    files = sorted(p for p in path.rglob("*") if p.is_file())
    lines = [
        f"model       {args.model}",
        f"found       {source}: {path}",
        f"type        {config.model_type}, {config.num_hidden_layers} layers, hidden {config.hidden_size}, "
        f"{config.num_attention_heads} heads, feed-forward {config.intermediate_size} ({config.hidden_act})",
        f"vocabulary  {config.vocab_size} tokens, {config.max_position_embeddings} positions",
        f"parameters  {parameters:,} used by the encoder ({len(used)} tensors)",
        f"pooling     {pipeline.pooling}, {'normalised' if pipeline.normalize else 'not normalised'} "
        f"(from {pipeline.source}); texts cut at {max_length} tokens",
        "stored as   " + ", ".join(f"{dtype} x{count}" for dtype, count in sorted(dtypes.items())),
        "files       " + ", ".join(f"{p.relative_to(path)} ({p.stat().st_size / 1e6:.1f} MB)" for p in files),
    ]
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Warnings as one line each, like errors, rather than Python's file:line form.
    warnings.showwarning = lambda message, *_: print(f"minie5 {args.command}: warning: {message}",
                                                     file=sys.stderr)
    try:
        args.run(args)
        return 0
    except UsageError as e:
        parser.exit(2, f"minie5 {args.command}: error: {e}\n")
    except SilentFailure:
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); silence the second error at interpreter exit.
        sys.stdout = open(os.devnull, "w")
        return 1
    except Exception as e:
        if os.environ.get("MINIE5_DEBUG"):
            raise
        from .errors import Minie5Error

        detail = str(e) if isinstance(e, (Minie5Error, OSError, ValueError)) else f"{type(e).__name__}: {e}"
        print(f"minie5 {args.command}: error: {detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
