"""`minie5 info`: describe a model without running it (see `minie5.describe`)."""

from __future__ import annotations

import json

from .common import UsageError, add_model_arguments


def add_parsers(commands) -> None:
    info = commands.add_parser(
        "info", help="describe a model without running it",
        description="Print a model's architecture, sizes, parameter count, stored dtypes, pooling, "
                    "files, and where it was found. Reads config.json and the safetensors header only.")
    info.add_argument("model_name", metavar="MODEL", nargs="?", help="as --model (either form)")
    add_model_arguments(info)
    info.add_argument("--json", action="store_true", help="print it as one JSON object")
    info.set_defaults(run=run_info)


def run_info(args) -> None:
    from ..describe import describe

    if args.model_name is not None and args.model is not None and args.model_name != args.model:
        raise UsageError(f"two models given: {args.model_name!r} and --model {args.model!r}")
    description = describe(args.model_name or args.model, args.revision, pooling=args.pooling)
    print(json.dumps(description.to_dict(), indent=1) if args.json else description)
