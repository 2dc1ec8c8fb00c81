"""The `minie5` command.

    minie5 embed "query: how much protein should a female eat"
    printf 'first text\nsecond text\n' | minie5 embed --model DIR --out vectors.npy
    minie5 similarity "query: summit define" "passage: the highest point of a mountain"
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

OUTPUT_FORMATS = (".npy", ".jsonl")


class UsageError(Exception):
    """A problem with the command line itself: exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minie5",
        description="Text embeddings with e5-small-v2 and other BERT encoders, on the CPU, without PyTorch.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    embed = commands.add_parser(
        "embed", help="embed texts into vectors",
        description="Embed each TEXT (or, with none given, each line of standard input) and write one "
                    "vector per text, in input order: a JSON array per line on standard output, or "
                    "the file named by --out. Texts are embedded exactly as given unless --query or "
                    "--passage is set: e5 models expect them to start with 'query: ' or 'passage: '.")
    embed.add_argument("texts", nargs="*", metavar="TEXT", help="texts to embed (default: read lines from stdin)")
    add_model_arguments(embed)
    embed.add_argument("--out", "-o", type=Path, metavar="FILE",
                       help="write the vectors to FILE instead: .npy (float32 [n, dim]) or .jsonl")
    prefix = embed.add_mutually_exclusive_group()
    prefix.add_argument("--query", action="store_true",
                        help="the texts are search queries: prefix each with 'query: ' (if not already)")
    prefix.add_argument("--passage", action="store_true",
                        help="the texts are documents: prefix each with 'passage: ' (if not already)")
    embed.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per batch (default 32)")
    embed.add_argument("--long", choices=("truncate", "chunk", "error"), default="truncate",
                       help="texts over 512 tokens: truncate (default, with a warning), chunk (average "
                            "all 512-token windows), or error")
    embed.add_argument("--overlap", type=int, default=0, metavar="N",
                       help="with --long chunk: tokens shared by successive windows (default 0)")
    embed.add_argument("--no-normalize", dest="normalize", action="store_false",
                       help="return the mean-pooled vectors without scaling them to unit length")
    embed.add_argument("--threads", type=int, metavar="N",
                       help="cores to use (default: $MINIE5_NUM_THREADS, else all)")
    embed.add_argument("--backend", choices=("numba", "numpy"), default="numba",
                       help="numba: the fast engine (default); numpy: the readable reference")
    embed.set_defaults(run=run_embed)

    similarity = commands.add_parser(
        "similarity", help="cosine similarity of two texts",
        description="Print the cosine similarity of the embeddings of two texts, embedded as given.")
    similarity.add_argument("a", metavar="A")
    similarity.add_argument("b", metavar="B")
    add_model_arguments(similarity)
    similarity.set_defaults(run=run_similarity)

    info = commands.add_parser(
        "info", help="describe a model without running it",
        description="Print a model's architecture, sizes, parameter count, stored dtypes, files, and "
                    "where it was found. Reads config.json and the safetensors header only.")
    info.add_argument("model", metavar="MODEL", nargs="?", default="intfloat/e5-small-v2")
    info.add_argument("--revision", metavar="REV")
    info.set_defaults(run=run_info)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default="intfloat/e5-small-v2", metavar="MODEL",
                        help="a Hugging Face model name (from an installed package, the Hugging Face "
                             "cache, or downloaded) or a folder with config.json, model.safetensors "
                             "and tokenizer.json (default: intfloat/e5-small-v2)")
    parser.add_argument("--revision", metavar="REV", help="branch, tag or commit of a hub model (default: main)")


def read_stdin_lines() -> list[str]:
    """One text per line. Empty lines are texts too, so output row i is always input line i."""
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("no TEXT given and standard input is a terminal: pass texts as arguments "
                         "or pipe them in, one per line")
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UsageError(f"standard input is not valid UTF-8 (line {line}, byte {e.start})") from None
    text = text.removesuffix("\n")
    return [line.removesuffix("\r") for line in text.split("\n")] if text or data else []


def format_jsonl(vectors: np.ndarray) -> str:
    # Nine significant digits are enough to give back every float32 exactly.
    return "".join("[" + ",".join(f"{v:.9g}" for v in row.tolist()) + "]\n" for row in vectors)


def write_output(vectors: np.ndarray, out: Path) -> None:
    """Write through a temporary file, so an existing file is only replaced by a complete one."""
    tmp = out.with_name(out.name + ".partial")
    try:
        if out.suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, vectors)
        else:
            tmp.write_text(format_jsonl(vectors), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(f"--out {out}: cannot write ({e.strerror or e})") from None


def run_embed(args) -> None:
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be a positive integer, got {args.threads}")
    if args.out is not None and args.out.suffix not in OUTPUT_FORMATS:
        raise UsageError(f"--out {args.out}: unknown format {args.out.suffix or '(no extension)'!r}; "
                         f"use {' or '.join(OUTPUT_FORMATS)}")
    texts = args.texts or read_stdin_lines()

    import minie5  # after the cheap checks: importing compiles or loads the kernels

    model = minie5.load(args.model, backend=args.backend, threads=args.threads, revision=args.revision)
    encode = model.encode_queries if args.query else model.encode_passages if args.passage else model.encode
    vectors = encode(texts, batch_size=args.batch_size, normalize=args.normalize, long=args.long,
                     overlap=args.overlap)
    if args.out is None:
        sys.stdout.write(format_jsonl(vectors))
        sys.stdout.flush()
    else:
        write_output(vectors, args.out)
        print(f"wrote {len(vectors)} vectors of {model.dim} floats to {args.out}", file=sys.stderr)


def run_similarity(args) -> None:
    import minie5

    a, b = minie5.load(args.model, revision=args.revision).encode([args.a, args.b])
    print(f"{float(a @ b):.6f}")  # embeddings have unit length: the dot product is the cosine


def run_info(args) -> None:
    from collections import Counter

    from .config import BertConfig
    from .hub import resolve
    from .safetensors_file import SafetensorsFile
    from .weights import expected_shapes

    path, source = resolve(args.model, args.revision)
    config = BertConfig.from_file(path / "config.json")
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
