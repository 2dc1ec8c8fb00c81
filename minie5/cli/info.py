"""`minie5 info`: describe a model without running it (see `minie5.describe`)."""

from __future__ import annotations

from ..loader import DEFAULT_MODEL


def add_parsers(commands) -> None:
    info = commands.add_parser(
        "info", help="describe a model without running it",
        description="Print a model's architecture, sizes, parameter count, stored dtypes, pooling, "
                    "files, and where it was found. Reads config.json and the safetensors header only.")
    info.add_argument("model", metavar="MODEL", nargs="?", default=DEFAULT_MODEL)
    info.add_argument("--revision", metavar="REV")
    info.set_defaults(run=run_info)


def run_info(args) -> None:
    from ..describe import describe

    print(describe(args.model, args.revision))
