"""What every command shares: the model and run options, their checks, where texts came from (for
errors in CLI words), informational notes that --quiet silences, and the exceptions that set the
exit status."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..encode.long_texts import LONG_MODES
from ..loading.model_files import DEFAULT_MODEL, MODEL_ENV
from ..loading.sentence_transformers import POOLING_MODES
from ..model import BACKENDS, DTYPES

INPUT_FORMAT_NAMES = ("text", "jsonl", "json", "csv")


class UsageError(Exception):
    """A problem with the command line itself: exit status 2."""


class InputError(Exception):
    """An input file that cannot be read or parsed (named, with its line): exit status 1."""


class SilentFailure(Exception):
    """The command said what went wrong on stdout (verify's verdict): exit status 1, nothing more."""


def add_model_arguments(parser: argparse.ArgumentParser, model_help: str | None = None,
                        repeatable: bool = False) -> None:
    """--model (repeatable: a list of them), --revision and --pooling."""
    parser.add_argument("--model", "-m", metavar="MODEL", action="append" if repeatable else "store",
                        help=(model_help or "a Hugging Face model name (from an installed package, the Hugging "
                              "Face cache, or downloaded; a short name such as all-MiniLM-L6-v2 as "
                              "sentence-transformers takes it) or a folder with config.json, "
                              "model.safetensors and tokenizer.json")
                        + f" (default: ${MODEL_ENV}, else {DEFAULT_MODEL})")
    parser.add_argument("--revision", metavar="REV", help="branch, tag or commit of a hub model (default: main)")
    parser.add_argument("--pooling", choices=POOLING_MODES,
                        help="pool token vectors this way instead of as the model's modules.json says")


def read_ranges(path: Path | None) -> np.ndarray | None:
    """int8/uint8 calibration ranges saved by an earlier run (--ranges FILE)."""
    if path is None:
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--ranges {path}: cannot read a .npy array ({e})") from None


ENGINE_DTYPES = tuple(d for d in DTYPES if d != "float64")  # float64: the porting commands' own --dtype
DTYPE_HELP = ("float32 (default); int8: the encoder's products in int8 (numba backend; AVX-512 VNNI where the CPU "
              "has it), fastest, vectors within cosine ~0.999 of float32's; bfloat16: in bfloat16 (AVX-512 BF16), "
              "fast, within ~0.99997")


def add_deterministic_argument(parser: argparse.ArgumentParser) -> None:
    """--deterministic and --dtype: how the numba engine computes."""
    parser.add_argument("--deterministic", action="store_true",
                        help="a text's vector is the same bits whatever its batch (numba backend; slower on "
                             "long batches where OpenBLAS is the faster product)")
    parser.add_argument("--dtype", choices=ENGINE_DTYPES, default="float32", help=DTYPE_HELP)


def add_prefix_arguments(parser: argparse.ArgumentParser) -> None:
    prefix = parser.add_mutually_exclusive_group()
    prefix.add_argument("--query", action="store_true",
                        help="the texts are search queries: the model's 'query' prompt before each (for e5, "
                             "'query: '; never twice)")
    prefix.add_argument("--passage", action="store_true",
                        help="the texts are documents: the model's 'passage' / 'document' prompt before each "
                             "(for e5, 'passage: '; never twice)")


def prefix_kind(args) -> str | None:
    """The prompt name --query or --passage asks for (resolved by the model's Prompts)."""
    return "query" if args.query else "passage" if args.passage else None


def add_input_arguments(parser: argparse.ArgumentParser, flag: str, short: str, help: str,
                        required: bool = False) -> None:
    parser.add_argument(flag, short, type=Path, metavar="FILE", required=required, help=help)
    parser.add_argument("--field", "-f", metavar="NAME",
                        help=f"with JSONL, JSON or CSV {flag}: the field holding the text (default 'text')")
    parser.add_argument("--format", choices=INPUT_FORMAT_NAMES, dest="input_format",
                        help=f"how to read {flag} (or standard input): text (one text per line), jsonl (a JSON "
                             "object per line), json (an array of objects, or JSON lines), csv (a header row); "
                             "default: by the file's extension (.jsonl/.ndjson, .json, .csv; anything else text), "
                             "and for standard input given --field, by its first line")


@dataclass
class Origin:
    """Where a command's texts came from, so that an error about texts[i] names what the user
    gave: "TEXT 3", "--input docs.txt line 14", "--corpus docs.csv row 2", "standard input line 5"."""

    label: str  # "TEXT", "QUERY", "--input docs.txt", "standard input"
    lines: list[int] | None = None  # the line of each text where it is not i + 1 (JSONL skips blank lines)
    unit: str = "line"  # "line", or "row" for CSV records

    def of(self, i: int) -> str:
        if self.label.isupper():  # command-line arguments
            return f"{self.label} {i + 1}"
        return f"{self.label} {self.unit} {self.lines[i] if self.lines else i + 1}"


def note(args, message: str) -> None:
    """An informational line on stderr (what was written, what was cached) for a person watching:
    stderr is a terminal and no --quiet. Piped or redirected, a command prints only its result,
    warnings and errors."""
    if not getattr(args, "quiet", False) and sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


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
    add_deterministic_argument(parser)
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar and no notes (what was written or cached): only the result, "
                             "warnings and errors")


def check_run_arguments(args) -> None:
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be a positive integer, got {args.threads}")
    if args.overlap and args.long != "chunk":
        raise UsageError("--overlap only applies with --long chunk")


def load_model(args):
    from ..model import load

    if getattr(args, "backend", "numba") == "numba" and show_progress(args):
        from .. import jit_cache

        if not jit_cache.kernels_cached():
            note(args, "minie5: compiling the engine's kernels, once per install (about 15 s)...")
    return load(args.model, backend=getattr(args, "backend", "numba"), threads=getattr(args, "threads", None),
                revision=args.revision, pooling=args.pooling, deterministic=getattr(args, "deterministic", False),
                dtype=getattr(args, "dtype", "float32"))


def encode(model, texts: list[str], args, origin: Origin, **kwargs) -> np.ndarray:
    """Embed with the run options of `args` and `kwargs` (prompt_name= for --query/--passage). An
    error about one of the texts names it as `origin` says."""
    args.origin = origin
    return model.encode(texts, batch_size=args.batch_size, long=args.long, overlap=args.overlap,
                        progress=show_progress(args), **kwargs)


def show_progress(args) -> bool:
    """A progress bar only for a person watching: stderr is a terminal, and no --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()

