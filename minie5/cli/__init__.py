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

Exit status: 0 on success, 2 for a usage error, 1 for any other error. Errors go to stderr as one
line naming the file or argument at fault; set MINIE5_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from . import embed, embed_corpus, info, porting, search, serve
from .common import InputError, SilentFailure, UsageError

# Each adds its subcommands, in this order, to --help.
COMMAND_MODULES = (embed, search, serve, embed_corpus, porting, info)

EPILOG = """\
examples:
  minie5 embed --query "how much protein should a female eat"
  minie5 embed --passage --input docs.txt --out docs.npy        one text per line
  minie5 embed --input docs.jsonl --field body --out out.jsonl  records keep their fields
  minie5 similarity "query: summit define" "passage: the top of a mountain"
  minie5 search --corpus docs.txt "how tall is the summit"      vectors cached beside docs.txt
  minie5 info intfloat/e5-small-v2
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
  MINIE5_NUM_THREADS  cores to use (default: all)
  MINIE5_API_KEY      the key `minie5 serve` requires (Authorization: Bearer KEY)
  HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE  where the Hugging Face cache is; never download
  MINIE5_DEBUG=1      show Python tracebacks instead of one-line errors

exit status:
  0 success; 1 an error in a model, an input file or a text; 2 a usage error (the command line
  itself); 130 interrupted. Messages go to stderr, one line each.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minie5", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Text embeddings with e5-small-v2 and other BERT encoders, on the CPU, without PyTorch.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Warnings as one line each, like errors, rather than Python's file:line form.
    show_warning = warnings.showwarning
    warnings.showwarning = lambda message, *_: print(f"minie5 {args.command}: warning: {message}",
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
    except SilentFailure:
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); silence the second error at interpreter exit.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (left open for the interpreter's exit)
        return 1
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
