"""`minie5 embed-corpus`: a corpus of Parquet or JSONL files into Parquet parts, on Ray
(minie5.distributed)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..batch_embedder import BAD_ROW_POLICIES
from ..encode.long_texts import LONG_MODES
from ..encode.quantize import PRECISIONS
from ..errors import install_hint
from .common import (
    DTYPE_HELP,
    ENGINE_DTYPES,
    UsageError,
    add_model_arguments,
    add_prefix_arguments,
    prefix_kind,
    read_ranges,
)


def add_parsers(commands) -> None:
    job = commands.add_parser(
        "embed-corpus", help="embed a Parquet or JSONL corpus on a Ray cluster, resumably",
        description="Embed one field of every row of INPUT (a .parquet, .jsonl, .csv or .txt file, a folder "
                    "of them, or a glob; a .txt file is one text per line) into OUTPUT, a folder of Parquet "
                    "parts holding the input's columns plus an "
                    "'embedding' column. Parts are cut by input file and row range; each appears only when "
                    "complete, so a re-run with the same arguments does only the parts not yet done. Runs on "
                    "Ray: a local instance, or the cluster at --address. Needs the ray extra: "
                    f"{install_hint('ray')}.")
    job.add_argument("input", metavar="INPUT")
    job.add_argument("output", metavar="OUTPUT", type=Path)
    add_model_arguments(job)
    add_prefix_arguments(job)
    job.add_argument("--field", "-f", "--column", dest="field", default="text", metavar="NAME",
                     help="the field (column) holding the text (default 'text'; a .txt file's lines are put in it)")
    job.add_argument("--long", choices=LONG_MODES, default="truncate",
                     help="texts over the model's limit: truncate (default, counted in a warning), chunk "
                          "(average all windows), or error")
    job.add_argument("--address", metavar="ADDRESS",
                     help="a Ray cluster to join ('auto', or ray://HOST:10001); default: start Ray on this machine")
    job.add_argument("--workers", type=int, metavar="N", help="model copies (default: the cluster's CPUs / "
                     "--threads-per-worker)")
    job.add_argument("--threads-per-worker", type=int, default=1, metavar="T", help="cores per worker (default 1)")
    job.add_argument("--rows-per-part", type=int, default=10_000, metavar="N", help="rows per part (default 10000)")
    job.add_argument("--on-bad-row", choices=BAD_ROW_POLICIES, default="error",
                     help="a null or non-string text: stop with its file and row (error, the default), drop the "
                          "row (skip), or keep it with a null embedding (empty)")
    job.add_argument("--precision", choices=PRECISIONS, default="float32",
                     help="float32 (default), float16, int8/uint8 (need --ranges), binary or ubinary")
    job.add_argument("--ranges", type=Path, metavar="FILE", help="int8/uint8 calibration ranges (.npy)")
    job.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per batch (default 32)")
    job.add_argument("--dtype", choices=ENGINE_DTYPES, default="float32", help=DTYPE_HELP)
    job.add_argument("--restart", action="store_true",
                     help="OUTPUT holds another job's parts (other model, options or input): delete them first")
    job.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary: only warnings "
                     "and errors")
    job.set_defaults(run=run_embed_corpus)


def run_embed_corpus(args) -> None:
    try:
        from ..distributed import embed_corpus
    except ImportError as e:
        raise UsageError(f"embed-corpus needs the ray extra ({e.name} is missing): {install_hint('ray')}") from None
    ranges = read_ranges(args.ranges)
    if args.precision in ("int8", "uint8") and ranges is None:
        raise UsageError(f"--precision {args.precision} needs --ranges (minie5 embed --precision {args.precision} "
                         "-o sample.npy over a sample saves them): every part must be quantised alike")
    try:
        summary = embed_corpus(
            args.input, args.output, model=args.model, column=args.field, prefix=prefix_kind(args), long=args.long,
            address=args.address, workers=args.workers, threads_per_worker=args.threads_per_worker,
            rows_per_part=args.rows_per_part, on_bad_row=args.on_bad_row, precision=args.precision,
            ranges=ranges, batch_size=args.batch_size, revision=args.revision, restart=args.restart, dtype=args.dtype,
            progress=not args.quiet and sys.stderr.isatty(), log=lambda line: report(args, line))
    except ValueError as e:
        raise UsageError(str(e)) from None
    if summary["rows"]:
        report(args, f"minie5 embed-corpus: {summary['parts'] - summary['skipped']} parts, {summary['rows']} rows in "
                   f"{summary['seconds']:.1f} s ({summary['rows_per_second']:.0f} rows/s)"
                   + (f"; {summary['skipped']} parts were done already" if summary["skipped"] else ""))
    if summary["truncated_rows"]:
        print(f"minie5 embed-corpus: warning: {summary['truncated_rows']} of {summary['rows']} texts were longer "
              f"than {summary['max_length']} tokens and were truncated (--long chunk embeds all of each)",
              file=sys.stderr)
    for part, row in summary["bad_rows"][:20]:
        print(f"minie5 embed-corpus: warning: {part}: input row {row} has no text "
              f"({'dropped' if args.on_bad_row == 'skip' else 'null embedding'})", file=sys.stderr)
    if len(summary["bad_rows"]) > 20:
        print(f"minie5 embed-corpus: warning: and {len(summary['bad_rows']) - 20} more rows without text",
              file=sys.stderr)


def report(args, line: str) -> None:
    """A line of the job's log on stderr, unless --quiet. Unlike the other commands' notes, a batch
    job's log is kept when stderr is a file: it is what a cluster job leaves to read afterwards."""
    if not args.quiet:
        print(line, file=sys.stderr, flush=True)
