"""`minie5 info`: describe a model without running it (see `minie5.describe`), and this CPU as the
engine sees it: its features, and which kernel each dtype's products run (engine/dispatch.py);
with --measure, a few seconds' timing of each dtype on this machine."""

from __future__ import annotations

import json
import time
import warnings

from .common import UsageError, add_model_arguments

# Passage-like texts for --measure: the same on every run, about 60 tokens each.
MEASURE_TEXT = ("passage: the summit of the mountain is covered in snow for most of the year, while trains leave "
                "the station in the valley below every hour and carry walkers to the foot of the long ridge; "
                "number {i} of the measured texts")


def add_parsers(commands) -> None:
    info = commands.add_parser(
        "info", help="describe a model without running it, and this CPU's kernels",
        description="Print a model's architecture, sizes, parameter count, stored dtypes, pooling, "
                    "files, and where it was found (reads config.json and the safetensors header only); "
                    "then this CPU's features (AVX-512, VNNI, BF16, AMX) and which kernel each dtype "
                    "(float32, bfloat16, int8) runs here. --measure also times each dtype on the model "
                    "for a few seconds.")
    info.add_argument("model_name", metavar="MODEL", nargs="?", help="as --model (either form)")
    add_model_arguments(info)
    info.add_argument("--json", action="store_true", help="print it as one JSON object")
    info.add_argument("--measure", action="store_true",
                      help="time each dtype on this CPU: corpus tokens/s and one query's milliseconds "
                           "(a few seconds each, after compiling)")
    info.set_defaults(run=run_info)


def run_info(args) -> None:
    from ..describe import describe
    from ..engine.dispatch import cpu_report

    if args.model_name is not None and args.model is not None and args.model_name != args.model:
        raise UsageError(f"two models given: {args.model_name!r} and --model {args.model!r}")
    description = describe(args.model_name or args.model, args.revision, pooling=args.pooling)
    report = cpu_report()
    if args.measure:
        report["measured"] = measure_dtypes(description.path)
    if args.json:
        print(json.dumps(description.to_dict() | {"engine": report}, indent=1))
    else:
        print(description)
        print(format_report(report))


def format_report(report: dict) -> str:
    have = [name for name, present in report["features"].items() if present]
    lack = [name for name, present in report["features"].items() if not present]
    amx = report["amx"]
    lines = [f"cpu         {report['cpu']} (LLVM's name): has {' '.join(have) or 'none of'}"
             + (f"; lacks {' '.join(lack)}" if lack else ""),
             f"amx         {'used' if amx['usable'] else 'not used'}: {amx['why']}"]
    for dtype, choice in report["kernels"].items():
        runs = "" if choice["runs"] == dtype else f", runs {choice['runs']}"
        lines.append(f"{dtype:<12}{choice['kernel']}{runs} ({choice['why']})")
    for dtype, m in report.get("measured", {}).items():
        lines.append(f"measured    {dtype}: {m['tokens_per_second']:,.0f} tokens/s on {m['texts']} passages, "
                     f"one query {m['query_ms']:.2f} ms ({m['threads']} threads, best of {m['repeats']})")
    return "\n".join(lines)


def measure_dtypes(model_path, texts: int = 64, seconds: float = 2.0) -> dict:
    """Each dtype's corpus throughput and one short query's time on this CPU: the best of repeated
    runs (at least 3, for about `seconds`), after a first run that compiles."""
    import minie5

    corpus = [MEASURE_TEXT.format(i=i) for i in range(texts)]
    query = "query: how high is the summit"
    results = {}
    for dtype in ("float32", "bfloat16", "int8"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a dtype this CPU lacks: reported as it runs
            model = minie5.load(model_path, dtype=dtype)
        tokens = sum(len(ids) for ids in model.tokenizer.tokenize(corpus))
        model.encode(corpus)  # compiles
        model.encode(query)
        best_corpus = best_query = float("inf")
        repeats, started = 0, time.perf_counter()
        while repeats < 3 or time.perf_counter() - started < seconds:
            start = time.perf_counter()
            model.encode(corpus, batch_size=texts)
            middle = time.perf_counter()
            model.encode(query)
            best_corpus, best_query = min(best_corpus, middle - start), min(best_query, time.perf_counter() - middle)
            repeats += 1
        results[dtype] = {"runs": model.backend.weights, "kernel": model.backend.products(),
                          "tokens_per_second": tokens / best_corpus, "query_ms": best_query * 1e3,
                          "texts": texts, "threads": model.backend.threads.threads, "repeats": repeats}
    return results
