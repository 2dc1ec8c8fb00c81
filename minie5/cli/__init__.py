"""The `minie5` command: a thin front end over the library, a module per command or group.

    minie5 embed --query "how much protein should a female eat"
    printf 'first text\nsecond text\n' | minie5 embed --model DIR --out vectors.npy
    minie5 embed --input docs.jsonl --field body --passage --out embedded.jsonl
    minie5 similarity "query: summit define" "passage: the highest point of a mountain"
    minie5 search --corpus passages.txt "how tall is the summit"
    minie5 info sentence-transformers/all-MiniLM-L6-v2

    embed.py       embed, similarity          search.py   search (corpus vectors cached)
    porting.py     trace, verify, attention   info.py     info
    serve.py       serve (minie5.server)      embed_corpus.py  embed-corpus (minie5.distributed)
    common.py      shared options and checks   text_io.py  input and output files
    models.py      models (what minie5 runs, what is here)

Exit status: 0 on success, 2 for a usage error, 1 for any other error. Errors go to stderr as one
line naming the file or argument at fault; set MINIE5_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import difflib
import os
import signal
import sys
import warnings

from .. import __version__
from ..errors import TextError, TextTooLong, TruncationWarning
from . import embed, embed_corpus, evaluate, info, models, porting, rerank, search, serve
from .common import InputError, SilentFailure, UsageError

# Each adds its subcommands, in this order, to --help.
COMMAND_MODULES = (embed, search, rerank, evaluate, serve, embed_corpus, porting, info, models)

EPILOG = """\
examples:
  minie5 embed --query "how much protein should a female eat"
  minie5 embed --passage --input docs.txt --out docs.npy        one text per line
  minie5 embed --input docs.jsonl --field body --out out.jsonl  records keep their fields
  minie5 similarity "query: summit define" "passage: the top of a mountain"
  minie5 search --corpus docs.txt "how tall is the summit"      vectors cached beside docs.txt
  minie5 evaluate beir/scifact -m all-MiniLM-L6-v2               nDCG@10, MRR@10, recall, MAP on BEIR data
  minie5 info intfloat/e5-small-v2
  minie5 models BAAI/bge-small-en-v1.5                          can minie5 run it? (before downloading)
  minie5 serve --port 8080                                      OpenAI's /v1/embeddings over HTTP
  minie5 embed-corpus --passage docs/ vectors/                  Parquet/JSONL in, Parquet parts out, on Ray
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
  MINIE5_MODEL        the model of every command that names none (default: intfloat/e5-small-v2)
  MINIE5_NUM_THREADS  cores to use (default: all)
  MINIE5_API_KEY      the key `minie5 serve` requires (Authorization: Bearer KEY)
  HF_HOME, HF_HUB_CACHE, XDG_CACHE_HOME, HF_HUB_OFFLINE  where the Hugging Face cache is (as
                      huggingface_hub finds it); never download
  MINIE5_DEBUG=1      show Python tracebacks instead of one-line errors

exit status:
  0 success; 1 an error in a model, an input file or a text; 2 a usage error (the command line
  itself); 130 interrupted; 141 the reader of standard output went away (`| head`), as for any
  Unix command stopped by SIGPIPE. Messages go to stderr, one line each.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minie5", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Text embeddings with e5-small-v2 and other BERT encoders, on the CPU, without PyTorch.")
    parser.add_argument("--version", action="version", version=f"minie5 {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(commands)
    parser.set_defaults(commands=commands.choices)
    return parser


def unknown_arguments(parser: argparse.ArgumentParser, args, extras: list[str]) -> int:
    """What argparse would only call "unrecognized arguments", with the command's own usage line
    and, for a misspelt flag, the flag meant."""
    command = args.commands[args.command]
    flags = [flag for action in command._actions for flag in action.option_strings]
    for extra in extras:
        if extra.startswith("-"):
            close = difflib.get_close_matches(extra.split("=", 1)[0], flags, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else f" (see minie5 {args.command} --help)"
            message = f"unrecognized argument {extra}{hint}"
            break
    else:
        message = f"unrecognized arguments: {' '.join(extras)}"
    print(command.format_usage().rstrip(), file=sys.stderr)
    print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
    return 2


def cli_words(message: Warning) -> str:
    """A library warning, in the command's own words."""
    if isinstance(message, TruncationWarning):
        return (f"{message.count} of {message.total} texts were longer than {message.max_length} tokens and were "
                "truncated (--long chunk embeds all of each)")
    return str(message)


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); return the exit status."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        return unknown_arguments(parser, args, extras)
    # Warnings as one line each, like errors, rather than Python's file:line form.
    show_warning = warnings.showwarning
    warnings.showwarning = lambda message, *_: print(f"minie5 {args.command}: warning: {cli_words(message)}",
                                                     file=sys.stderr)
    try:
        args.run(args)
        return 0
    except UsageError as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 1
    except TextError as e:  # the text named as the user gave it: its argument, or its file and line
        origin = getattr(args, "origin", None)
        where = origin.of(e.index) if origin is not None else f"text {e.index + 1}"
        advice = "pass --long truncate or --long chunk" if isinstance(e, TextTooLong) else e.advice
        print(f"minie5 {args.command}: error: {where} {e.problem}" + (f": {advice}" if advice else ""),
              file=sys.stderr)
        return 1
    except SilentFailure:
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop at once, quietly, with the status SIGPIPE gives,
        # and silence the second error at interpreter exit.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (left open for the interpreter's exit)
        return 128 + signal.SIGPIPE
    except Exception as e:
        if os.environ.get("MINIE5_DEBUG"):
            raise
        from ..errors import Minie5Error

        detail = str(e) if isinstance(e, (Minie5Error, OSError, ValueError)) else f"{type(e).__name__}: {e}"
        print(f"minie5 {args.command}: error: {detail}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = show_warning


if __name__ == "__main__":
    sys.exit(main())
