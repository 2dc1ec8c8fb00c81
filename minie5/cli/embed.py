"""`minie5 embed` (texts to vectors) and `minie5 similarity` (the cosine of two texts)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..encode.embedder import CHUNK_TEXTS
from ..encode.quantize import MIN_SELF_CALIBRATION, PRECISIONS, calibration_ranges, quantize
from ..files import write_atomically
from ..progress import progress_bar
from .common import (
    Origin,
    UsageError,
    add_input_arguments,
    add_model_arguments,
    add_prefix_arguments,
    add_run_arguments,
    check_run_arguments,
    encode,
    load_model,
    note,
    prefix_kind,
    read_ranges,
    show_progress,
)
from .text_io import OUTPUT_FORMATS, read_records, write_vectors


def add_parsers(commands) -> None:
    embed = commands.add_parser(
        "embed", help="embed texts into vectors",
        description="Embed each TEXT (or each record of --input, or each line of standard input) "
                    "and write one vector per text, in input order: a JSON array per line on "
                    "standard output, or the file named by --out. Texts are embedded exactly as "
                    "given unless --query or --passage is set (the model's prompt for queries or documents: "
                    "e5 models expect every text to start with 'query: ' or 'passage: ').")
    embed.add_argument("texts", nargs="*", metavar="TEXT", help="texts to embed (default: --input, else stdin lines)")
    add_model_arguments(embed)
    add_input_arguments(embed, "--input", "-i", "read texts from FILE: .jsonl (one JSON object per line, "
                        "text in --field), .json (an array of objects, or JSON lines), .csv (a header row, text "
                        "in column --field), anything else one text per line (or as --format says); '-' is "
                        "standard input")
    embed.add_argument("--out", "-o", type=Path, metavar="FILE",
                       help="write the vectors to FILE instead: .npy ([n, dim] array), .jsonl (a JSON "
                            "array per line; with --input .jsonl each record plus an 'embedding' "
                            "field), or .csv (text, then one column per number); '-' is standard output")
    add_prefix_arguments(embed)
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
        description="Print the cosine similarity of the embeddings of two texts, embedded as given "
                    "unless --query or --passage is set (e5 models expect one of them on both).")
    similarity.add_argument("a", metavar="A")
    similarity.add_argument("b", metavar="B")
    add_prefix_arguments(similarity)
    add_model_arguments(similarity)
    similarity.add_argument("--json", action="store_true",
                            help='print {"a": A, "b": B, "cosine": C} instead of the number alone')
    add_run_arguments(similarity)
    similarity.set_defaults(run=run_similarity)


def run_embed(args) -> None:
    check_run_arguments(args)
    if args.out is not None and str(args.out) == "-":
        args.out = None  # standard output, as without --out
    if args.out is not None and args.out.suffix not in OUTPUT_FORMATS:
        raise UsageError(f"--out {args.out}: unknown format {args.out.suffix or '(no extension)'!r}; "
                         f"use {', '.join(OUTPUT_FORMATS)}, or - for standard output")
    if args.texts and args.input is not None:
        raise UsageError("give texts as arguments or with --input, not both")
    if args.ranges is not None and args.precision not in ("int8", "uint8"):
        raise UsageError("--ranges only applies with --precision int8 or uint8")
    records = None
    if args.texts:
        if args.field is not None or args.input_format is not None:
            flag = "--field" if args.field is not None else "--format"
            raise UsageError(f"{flag} applies to --input or standard input, not to TEXT arguments")
        texts, origin = args.texts, Origin("TEXT")
    else:  # --input FILE, else standard input
        texts, records, origin = read_records(args.input or Path("-"), args.field, "--input", args.input_format)
    ranges = read_ranges(args.ranges)

    if args.precision in ("int8", "uint8") and ranges is None and len(texts) < MIN_SELF_CALIBRATION:
        raise UsageError(f"--precision {args.precision} without --ranges takes each dimension's range from the texts "
                         f"themselves, and {len(texts)} are too few (at least {MIN_SELF_CALIBRATION}): embed the "
                         "corpus once with --out FILE (its ranges are saved beside it), then pass --ranges FILE")
    if args.out is not None and not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: no such folder {str(args.out.parent)!r}")

    model = load_model(args)
    kind = prefix_kind(args)
    # No vectors, in the output's dtype and width: what the headers of .npy and .csv files need.
    empty = quantize(np.zeros((0, model.dim), np.float32), args.precision, np.zeros((2, model.dim), np.float32))
    if args.precision in ("int8", "uint8") and ranges is None:
        # Ranges from these very texts: all their vectors are needed before the first can be quantised.
        vectors = encode(model, texts, args, origin, prompt_name=kind, normalize=args.normalize)
        ranges = calibration_ranges(vectors)
        chunks = [quantize(vectors, args.precision, ranges)]
        if args.out is not None:
            saved = args.out.with_name(args.out.stem + ".ranges.npy")
            write_atomically(saved, lambda f: np.save(f, ranges))
            note(args, f"{args.precision} ranges taken from these {len(vectors)} texts; saved to {saved} "
                       "(pass --ranges to quantise later texts the same way)")
    else:
        chunks = encode_chunks(model, texts, args, kind, origin, args.precision, ranges)
    write_vectors(args.out, chunks, texts, records, empty)
    if args.out is not None:
        note(args, f"wrote {len(texts)} vectors of {empty.shape[1]} {empty.dtype} to {args.out}")


# Texts embedded before their vectors are written to standard output: few enough that a reader
# that goes away (`| head`) stops the work at once, enough that texts of like length share batches.
STDOUT_CHUNK_TEXTS = 256


def encode_chunks(model, texts: list[str], args, kind: str | None, origin: Origin, precision: str, ranges):
    """The vectors of `texts` a chunk at a time (Model.encode_iter), with a progress bar that moves
    after every batch."""
    args.origin = origin
    chunk_size = STDOUT_CHUNK_TEXTS if args.out is None else CHUNK_TEXTS
    with progress_bar(show_progress(args), len(texts)) as report:
        progress = None if report is None else (lambda done, _total: report(done, len(texts)))
        yield from model.encode_iter(texts, batch_size=args.batch_size, normalize=args.normalize, long=args.long,
                                     overlap=args.overlap, precision=precision, ranges=ranges, prompt_name=kind,
                                     chunk_size=chunk_size, progress=progress)


def run_similarity(args) -> None:
    check_run_arguments(args)
    a, b = encode(load_model(args), [args.a, args.b], args, Origin("TEXT"), prompt_name=prefix_kind(args),
                  normalize=True)
    cosine = float(a @ b)  # unit vectors: the dot product is the cosine
    print(json.dumps({"a": args.a, "b": args.b, "cosine": round(cosine, 6)}, ensure_ascii=False) if args.json
          else f"{cosine:.6f}")
