"""The porters' and learners' commands: `minie5 trace`, `minie5 verify`, `minie5 attention` and
`minie5 explain`."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import install_hint
from ..files import write_atomically
from ..porting.compare import DEFAULT_EMBEDDING_ATOL, DEFAULT_RTOL
from ..porting.examples import MODEL_CARD_TEXTS
from .common import SilentFailure, UsageError, add_model_arguments


def add_parsers(commands) -> None:
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
    verify.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help=f"per tensor: max |difference| / max |value| allowed (default {DEFAULT_RTOL:g})")
    verify.add_argument("--embedding-atol", type=float, default=DEFAULT_EMBEDDING_ATOL,
                        help=f"final embeddings: max |difference| allowed (default {DEFAULT_EMBEDDING_ATOL:g})")
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

    explain = commands.add_parser(
        "explain", help="follow one text through the model, step by step",
        description="Run TEXT through the model's NumPy reference and show every step: each tensor's "
                    "name, shape, first values and statistics, the tokens each attention head of one layer "
                    "looks at most, the pooled and the final vector. --html FILE also writes one "
                    "self-contained page with the figures drawn for TEXT (docs/reading-guide.md explains them).")
    explain.add_argument("text", metavar="TEXT")
    explain.add_argument("--layer", "-l", type=int, metavar="L", help="the layer whose attention to show "
                         "(default: the last); --html: every attention figure's layer")
    explain.add_argument("--head", type=int, default=0, metavar="H", help="--html: the head the attention figures "
                         "show (default 0)")
    explain.add_argument("--html", type=Path, metavar="FILE", help="also write the page here")
    add_model_arguments(explain)
    explain.set_defaults(run=run_explain)


def run_trace(args) -> None:
    from ..porting import trace

    model = load_reference(args)
    tensors = model.trace(args.texts, dtype=args.dtype)
    out = args.out if args.out.suffix == ".npz" else args.out.with_name(args.out.name + ".npz")
    write_atomically(out, lambda f: trace.save(f, tensors, {**trace.metadata(model, args.texts), "dtype": args.dtype}))
    print(f"wrote {len(tensors)} tensors for {len(args.texts)} texts to {out}", file=sys.stderr)


def run_verify(args) -> None:
    from ..porting import compare, peers, trace

    if args.rtol <= 0 or args.embedding_atol <= 0:
        raise UsageError("--rtol and --embedding-atol must be positive")
    if args.plot is not None:
        check_can_draw("--plot", args.plot)
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
    model = load_reference(args)
    ours = model.trace(texts, dtype=args.dtype)
    if theirs is not None:
        label = against
    elif against == "transformers":
        theirs, label = peers.transformers_trace(model, texts), "transformers"
    elif against.endswith(".onnx"):
        theirs, label = peers.onnx_trace(model, texts, Path(against)), against
    else:
        raise UsageError(f"--against {against}: expected 'transformers', a .onnx file or a .npz trace")
    rows, missing = compare.compare(ours, theirs, args.rtol, args.embedding_atol)
    print(compare.report(rows, missing, args.rtol, args.embedding_atol, f"{label} ({args.dtype} minie5)"))
    if args.plot is not None:
        try:
            compare.plot(rows, args.plot, label)
        except ImportError:
            raise UsageError(f"--plot needs matplotlib: {install_hint('plot')}") from None
        print(f"wrote {args.plot}", file=sys.stderr)
    embedding = next((r for r in rows if r.name == "embedding"), None)
    if embedding is None or not embedding.ok:
        raise SilentFailure


def run_attention(args) -> None:
    from ..porting import attention_map

    if args.out is not None:
        check_can_draw("--out", args.out, " (without --out: a text heat map)")
    model = load_reference(args)
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
        raise UsageError(f"--out needs matplotlib: {install_hint('plot')} "
                         '(without --out: a text heat map)') from None
    print(f"wrote {args.out}", file=sys.stderr)


def run_explain(args) -> None:
    from ..porting import explain

    if args.html is not None and not args.html.parent.is_dir():
        raise UsageError(f"--html {args.html}: no such folder {str(args.html.parent)!r}")
    if not args.text:
        raise UsageError("TEXT is empty: give a text to explain")
    model = load_reference(args)
    layers = model.config.num_hidden_layers
    if args.layer is not None and not 0 <= args.layer < layers:
        raise UsageError(f"--layer must be from 0 to {layers - 1}, got {args.layer}")
    heads = model.config.num_attention_heads
    if not 0 <= args.head < heads:
        raise UsageError(f"--head must be from 0 to {heads - 1}, got {args.head}")
    trace = model.trace([args.text])
    print(explain.report(model, args.text, args.layer, trace))
    if args.html is not None:
        page = explain.page(model, args.text, args.layer, trace, head=args.head)
        write_atomically(args.html, lambda f: f.write(page.encode("utf-8")))
        print(f"wrote {args.html}", file=sys.stderr)


def load_reference(args):
    """The NumPy reference: traces record its tensors."""
    from ..model import load

    return load(args.model, backend="numpy", revision=args.revision, pooling=args.pooling)


def check_can_draw(option: str, out: Path, alternative: str = "") -> None:
    """Before any work: a PNG needs matplotlib, and a folder to go in."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"{option} needs matplotlib: {install_hint('plot')}{alternative}")
    if not out.parent.is_dir():
        raise UsageError(f"{option} {out}: no such folder {str(out.parent)!r}")
