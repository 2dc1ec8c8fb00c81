"""Benchmark minie5 against transformers + PyTorch and ONNX Runtime, side by side, on the same texts.

Each engine runs in a process of its own, with the same thread count, on the same model files:
by default a BERT with e5-small-v2's exact shape (tests/support/random_bert.py; speed does not depend on
the weights' values). Every engine embeds end to end: tokenize, run the encoder, mean-pool,
normalise. transformers and ONNX Runtime get what a careful user would give them: texts sorted by
length into batches of 32, padded to the longest of each batch.

Workloads:
    corpus    600 English passages of 5 to 300 words, "passage: " prefix, seeded: tokens/s, texts/s
    queries   200 short "query: " texts, one encode call each: median latency
    long      48 passages of over 512 tokens, so every input is 512 tokens: tokens/s

Tokens counted are real tokens ([CLS] and [SEP] included, padding not), the same for every engine.

    pip install -e ".[reference]" onnx onnxruntime   # torch==2.13.0 on this project's machines
    python tools/bench.py                             # all engines, all workloads
    python tools/bench.py --threads 1 --engines minie5-numba onnxruntime --workloads queries
    python tools/bench.py --openblas unset            # drop OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
    python tools/bench.py --baseline ../old-checkout  # also minie5 from another checkout: before / after

NumPy's OpenBLAS reads OPENBLAS_CORETYPE when it loads; --openblas sets it for the worker
processes only (asis: leave the environment alone; unset: remove it and OPENBLAS_L2_SIZE; any
other value: set it, e.g. Haswell). It affects minie5 only: PyTorch and ONNX Runtime bring their
own matrix kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# transformers 5.2x swaps layers for kernels from its hub by default and refuses to load a model
# where the `kernels` package is missing; the peers here run transformers' own modules.
os.environ.setdefault("USE_HUB_KERNELS", "NO")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tools.measure import attention_flops, linear_flops_per_token, peak_rss_mb  # noqa: E402

ENGINES = ["minie5-numba", "minie5-deterministic", "minie5-int8", "minie5-bf16", "minie5-numpy", "minie5-baseline",
           "torch", "torch-bf16", "onnxruntime", "onnxruntime-int8", "onnxruntime-int8-channel", "openvino",
           "openvino-default"]
OURS = ("minie5-numba", "minie5-int8", "minie5-bf16")  # the rows the ratios are given for, against every other
WORKLOADS = ["corpus", "queries", "long", "latency"]
LATENCY_LENGTHS = (1, 8, 32, 128)  # word-piece tokens of text, [CLS] and [SEP] not counted
LATENCY_BATCHES = (1, 4, 16)  # short queries per call
ACCURACY_TEXTS = 40  # corpus texts each engine's vectors are compared on, against minie5's float64 reference
PEER_BATCH = 32

SENTENCES = """The river rises in the hills north of the town and reaches the sea after forty miles.
Most of the early settlers were farmers who grew wheat and kept a few cattle.
A new bridge was built in the spring, replacing the wooden one that had stood for a century.
The library holds more than two hundred thousand books, maps and letters.
Researchers measured the temperature of the lake every morning for three years.
She argued that the results could not be explained by chance alone.
Protein needs depend on body weight, age and how much exercise a person gets.
The committee asked for a second report before making a final decision.
Trains leave the central station every fifteen minutes during the day.
His first novel was rejected by six publishers before it found a home.
The software update fixed a bug that caused the screen to freeze.
Heavy rain in the valley delayed the harvest by almost two weeks.
The museum reopened after a long renovation of its east wing.
Engineers tested the engine at high altitude to check its cooling system.
The city council voted to extend the bicycle lanes along the harbour.
Children at the school learn two languages from the age of six.
A small amount of salt brings out the sweetness of the fruit.
The telescope captured images of a galaxy billions of light years away.
Prices rose sharply after the factory closed for repairs.
The old map shows a road that no longer exists.
Volunteers planted more than a thousand trees along the river bank.
The summit of the mountain is covered in snow for most of the year.
Doctors recommend drinking water regularly during hot weather.
The company plans to open three new offices next year.
Her speech focused on the history of the region and its future.
The recipe calls for flour, butter, eggs and a pinch of sugar.
Scientists believe the fossil is about seventy million years old.
The festival attracts visitors from all over the country each summer.
A strong wind knocked down several power lines overnight.
The students presented their findings at the annual conference.""".split("\n")
QUERY_WORDS = ("how much protein should a female eat summit define best way to learn a new language "
               "what causes rain when was the bridge built cheap flights to the coast symptoms of flu "
               "history of the museum how tall is the mountain").split()


def corpus_texts(n: int = 600, seed: int = 0) -> list[str]:
    """Passages of 5 to 300 words, drawn from SENTENCES by a seeded generator."""
    rng = np.random.RandomState(seed)
    words = [s.split() for s in SENTENCES]
    texts = []
    for _ in range(n):
        target = int(rng.randint(5, 301))
        passage: list[str] = []
        while len(passage) < target:
            passage += words[rng.randint(len(words))]
        texts.append("passage: " + " ".join(passage[:target]))
    return texts


def query_texts(n: int = 200, seed: int = 1) -> list[str]:
    rng = np.random.RandomState(seed)
    return ["query: " + " ".join(rng.choice(QUERY_WORDS, rng.randint(3, 11))) for _ in range(n)]


def long_texts(n: int = 48, seed: int = 2) -> list[str]:
    rng = np.random.RandomState(seed)
    return ["passage: " + " ".join(SENTENCES[i] for i in rng.randint(len(SENTENCES), size=60))
            for _ in range(n)]


# ---------------------------------------------------------------- engines (run inside a worker)

class Minie5Engine:
    def __init__(self, model_dir: Path, threads: int, backend: str, deterministic: bool = False,
                 dtype: str = "float32"):
        import minie5

        self.model = minie5.load(model_dir, backend=backend, threads=threads, deterministic=deterministic,
                                 dtype=dtype)

    def embed(self, texts):
        return self.model.encode(texts)


class PaddedEngine:
    """transformers or ONNX Runtime: sort by length, batch, pad, run, mean-pool, normalise."""

    max_length = 512  # tokens per text, as the e5 model card truncates; tools/retrieval_table.py sets the model's

    def __init__(self, model_dir: Path):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    def embed(self, texts):
        single = isinstance(texts, str)
        texts = [texts] if single else texts
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]]
        order = np.argsort([-n for n in lengths], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), PEER_BATCH):
            rows = order[start:start + PEER_BATCH]
            batch = self.tokenizer([texts[i] for i in rows], max_length=self.max_length, padding=True,
                                   truncation=True, return_tensors="np")
            hidden = self.run(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out[0] if single else out


class TorchEngine(PaddedEngine):
    """transformers + PyTorch; with bfloat16, the model cast to bfloat16 as a user would
    (`model.to(torch.bfloat16)`: oneDNN runs its products on AMX or AVX-512 BF16 where the CPU has
    them), the hidden states pooled in float32."""

    def __init__(self, model_dir: Path, threads: int, bfloat16: bool = False):
        import torch
        from transformers import AutoModel

        torch.set_num_threads(threads)
        super().__init__(model_dir)
        self.torch = torch
        self.model = AutoModel.from_pretrained(str(model_dir)).eval()
        if bfloat16:
            self.model = self.model.to(torch.bfloat16)
        self.dim = self.model.config.hidden_size

    def run(self, input_ids, attention_mask, token_type_ids):
        t = self.torch
        with t.inference_mode():
            return self.model(input_ids=t.from_numpy(input_ids), attention_mask=t.from_numpy(attention_mask),
                              token_type_ids=t.from_numpy(token_type_ids)).last_hidden_state.float().numpy()


class OnnxEngine(PaddedEngine):
    def __init__(self, model_dir: Path, threads: int, onnx_path: Path):
        import onnxruntime as ort

        super().__init__(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.dim = self.session.get_outputs()[0].shape[-1]

    def run(self, input_ids, attention_mask, token_type_ids):
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask,
                                       "token_type_ids": token_type_ids})[0]


class OpenVinoEngine(PaddedEngine):
    """The same ONNX export, compiled by OpenVINO for the CPU in full float32 (precision "f32"), or
    at its default precision (precision None), as a user who sets nothing gets it: bf16 on CPUs
    with AMX or AVX-512 BF16, f32 elsewhere."""

    def __init__(self, model_dir: Path, threads: int, onnx_path: Path, precision: str | None = "f32"):
        import openvino as ov

        super().__init__(model_dir)
        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads} | ({"INFERENCE_PRECISION_HINT": precision} if precision else {})
        self.compiled = core.compile_model(str(onnx_path), "CPU", config)
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.request = self.compiled.create_infer_request()
        self.dim = hidden_size(model_dir)

    def run(self, input_ids, attention_mask, token_type_ids):
        result = self.request.infer({"input_ids": input_ids, "attention_mask": attention_mask,
                                     "token_type_ids": token_type_ids})
        return next(iter(result.values()))


def hidden_size(model_dir: Path) -> int:
    return json.loads((model_dir / "config.json").read_text())["hidden_size"]


def int8_onnx(onnx_path: Path, engine: str) -> Path:
    """Where the int8 model of `engine` is kept: onnxruntime-int8 (ONNX Runtime's default recipe,
    one scale per weight tensor) or onnxruntime-int8-channel (per_channel=True)."""
    return onnx_path.with_name(onnx_path.stem + engine.removeprefix("onnxruntime") + ".onnx")


def quantize_onnx(onnx_path: Path, int8_path: Path, per_channel: bool = False) -> None:
    """ONNX Runtime's dynamic int8 quantisation of the export: int8 weights (one scale per tensor,
    or per output channel), activations quantised per batch at run time (its recommended recipe
    for transformer encoders on CPU)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(onnx_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=per_channel)


def export_onnx(model_dir: Path, onnx_path: Path, classifier: bool = False) -> None:
    """Export the same weights to ONNX (opset 17), with dynamic batch and sequence axes: the
    encoder's last hidden state, or with `classifier` a sequence classifier's logits."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    auto = AutoModelForSequenceClassification if classifier else AutoModel
    model = auto.from_pretrained(str(model_dir)).eval()
    output = "logits" if classifier else "last_hidden_state"

    class Wrapped(torch.nn.Module):  # positional arguments, as torch.onnx.export passes them
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            result = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return getattr(result, output)

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(Wrapped(model), (ids, ids, torch.zeros_like(ids)), str(onnx_path), dynamo=False,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=[output], opset_version=17,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    output: {0: "batch"} if classifier else axes})


def worker(args) -> None:
    """Load one engine, run the workloads, print one JSON line of results."""
    t0 = time.perf_counter()
    PaddedEngine.max_length = args.max_length
    if args.worker == "minie5-deterministic":
        engine = Minie5Engine(args.model, args.threads, "numba", deterministic=True)
    elif args.worker == "minie5-int8":
        engine = Minie5Engine(args.model, args.threads, "numba", dtype="int8")
    elif args.worker == "minie5-bf16":
        engine = Minie5Engine(args.model, args.threads, "numba", dtype="bfloat16")
    elif args.worker == "minie5-baseline":  # the numba engine of another checkout (--baseline)
        sys.path.insert(0, str(args.baseline))
        engine = Minie5Engine(args.model, args.threads, "numba")
    elif args.worker.startswith("minie5"):
        engine = Minie5Engine(args.model, args.threads, args.worker.split("-")[1])
    elif args.worker in ("torch", "torch-bf16"):
        engine = TorchEngine(args.model, args.threads, bfloat16=args.worker == "torch-bf16")
    elif args.worker in ("openvino", "openvino-default"):
        precision = None if args.worker == "openvino-default" else "f32"
        engine = OpenVinoEngine(args.model, args.threads, args.onnx, precision)
    elif args.worker.startswith("onnxruntime-int8"):
        engine = OnnxEngine(args.model, args.threads, int8_onnx(args.onnx, args.worker))
    else:
        engine = OnnxEngine(args.model, args.threads, args.onnx)
    result = {"engine": args.worker, "load_s": time.perf_counter() - t0}
    if isinstance(engine, OpenVinoEngine):
        result["precision"] = engine.precision  # what OpenVINO chose (its default: bf16 where the CPU has it)
    engine.embed(query_texts(4) + corpus_texts(4))  # warm-up: first-call costs are not throughput

    from tokenizers import Tokenizer

    counter = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    counter.no_padding()
    counter.enable_truncation(512)

    def count(texts):
        return sum(len(e.ids) for e in counter.encode_batch(texts))

    for workload in args.workloads:
        if workload == "latency":
            result.update(latencies(engine))
            continue
        if workload == "queries":
            texts = query_texts(args.query_texts)
            times = []
            for text in texts:
                t = time.perf_counter()
                engine.embed(text)
                times.append(time.perf_counter() - t)
            result["query_ms"] = 1e3 * statistics.median(times)
            result["query_p99_ms"] = 1e3 * float(np.percentile(times, 99))
            result["query_max_ms"] = 1e3 * max(times)
        else:
            texts = corpus_texts(args.corpus_texts) if workload == "corpus" else long_texts()
            t = time.perf_counter()
            engine.embed(texts)
            elapsed = time.perf_counter() - t
            result[f"{workload}_tokens_s"] = count(texts) / elapsed
            result[f"{workload}_texts_s"] = len(texts) / elapsed
    result["peak_rss_mb"] = peak_rss_mb()
    vectors = np.asarray(engine.embed(corpus_texts(ACCURACY_TEXTS, seed=7)), dtype=np.float32)
    np.save(args.vectors_out, vectors)
    print(json.dumps(result))


def latencies(engine) -> dict:
    """Median, p99 and maximum ms of one call: one text of each length in LATENCY_LENGTHS tokens,
    and batches of LATENCY_BATCHES short queries (the server's case)."""
    out = {}
    words = "the"  # one word piece in every BERT vocabulary
    for length in LATENCY_LENGTHS:
        text = " ".join([words] * length)
        out.update(_time_calls(engine, [text], 60, f"latency_{length}tok"))
    for size in LATENCY_BATCHES:
        out.update(_time_calls(engine, query_texts(size, seed=size), 40, f"latency_batch{size}"))
    return out


def _time_calls(engine, texts, calls: int, name: str) -> dict:
    engine.embed(texts)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        engine.embed(texts)
        times.append(time.perf_counter() - t)
    return {f"{name}_ms": 1e3 * statistics.median(times), f"{name}_p99_ms": 1e3 * float(np.percentile(times, 99)),
            f"{name}_max_ms": 1e3 * max(times)}


# ---------------------------------------------------------------- the driver

def prepare_model(cache: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from tests.support import random_bert
    from tests.support.golden import minilm_dir

    model_dir = cache / "e5-small-v2-shape"
    if not (model_dir / "model.safetensors").exists():
        random_bert.write_model(model_dir, tokenizer_from=minilm_dir())
    return model_dir


def worker_env(openblas: str) -> dict:
    env = dict(os.environ)
    if openblas == "unset":
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    elif openblas != "asis":
        env["OPENBLAS_CORETYPE"] = openblas
    return env


def openblas_kernel(env: dict) -> str:
    code = "import numpy, threadpoolctl; print(threadpoolctl.threadpool_info()[0].get('architecture'))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()


def gemm_limit(model: Path, env: dict, threads: int, texts: list[str]) -> dict:
    """The throughput bound set by the matrix products alone: the GFLOP/s of the faster of OpenBLAS
    and minie5's own kernels.linear on this model's product shapes (4096 rows, as a batch gives
    them), over the FLOPs per token of `texts`."""
    config = json.loads((model / "config.json").read_text())
    H, F, L = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    shapes = [(4096, H, 3 * H), (4096, H, H), (4096, H, F), (4096, F, H)]
    rates = json.loads(subprocess.run([sys.executable, str(REPO / "tools" / "measure.py"), "gemm", str(threads),
                                       json.dumps(shapes)], env=env, capture_output=True, text=True, check=True).stdout)
    rate = max(rates.values())
    from tokenizers import Tokenizer

    counter = Tokenizer.from_file(str(model / "tokenizer.json"))
    counter.no_padding()
    counter.enable_truncation(512)
    lengths = np.array([len(e.ids) for e in counter.encode_batch(texts)], dtype=np.float64)
    # per token, attention at each text's true length
    per_token = linear_flops_per_token(H, F, L) + attention_flops(H, L, lengths) / lengths.sum()
    return {"gemm_gflops": rate, "gemm_gflops_by_product": rates, "flops_per_token": per_token,
            "limit_tokens_s": rate * 1e9 / per_token}


def accuracy(model: Path, vector_files: dict) -> dict:
    """Each engine's vectors on ACCURACY_TEXTS corpus texts against minie5's float64 reference:
    the lowest cosine and the largest absolute difference."""
    import minie5

    truth = minie5.load(model, backend="numpy", dtype="float64").encode(corpus_texts(ACCURACY_TEXTS, seed=7))
    out = {}
    for engine, path in vector_files.items():
        v = np.load(path).astype(np.float64)
        cos = (v * truth).sum(axis=1) / (np.linalg.norm(v, axis=1) * np.linalg.norm(truth, axis=1))
        out[engine] = {"min_cosine": float(cos.min()), "max_abs": float(np.abs(v - truth).max())}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    parser.add_argument("--workloads", nargs="+", default=WORKLOADS, choices=WORKLOADS)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--model", type=Path, help="model directory (default: e5-small-v2 shape, random weights)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "minie5-bench")
    parser.add_argument("--openblas", default="asis", help="asis, unset, or a core type such as Haswell")
    parser.add_argument("--corpus-texts", type=int, default=600, help="passages in the corpus workload (default 600)")
    parser.add_argument("--query-texts", type=int, default=200, help="queries in the queries workload (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every engine; the tables give medians (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--baseline", type=Path, help="a checkout of another version of minie5: engine "
                        "minie5-baseline runs its numba engine (before and after a change, in one run)")
    parser.add_argument("--max-length", type=int, default=PaddedEngine.max_length,
                        help="tokens per text for the peers (default 512; minie5 uses the model's own limit, "
                             "so give a model's limit when it is less, e.g. 256 for all-MiniLM-L6-v2)")
    parser.add_argument("--no-accuracy", action="store_true",
                        help="skip the comparison with minie5's float64 reference (slow on a loaded machine)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--vectors-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    args.engines = [e for e in args.engines if e != "minie5-baseline"] + (["minie5-baseline"] if args.baseline else [])

    args.cache.mkdir(parents=True, exist_ok=True)
    model = args.model or prepare_model(args.cache)
    onnx_path = args.cache / f"{model.name}.onnx"
    if any(e.startswith(("onnxruntime", "openvino")) for e in args.engines) and not onnx_path.exists():
        export_onnx(model, onnx_path)
    for engine in ("onnxruntime-int8", "onnxruntime-int8-channel"):
        if engine in args.engines and not int8_onnx(onnx_path, engine).exists():
            quantize_onnx(onnx_path, int8_onnx(onnx_path, engine), per_channel=engine.endswith("channel"))
    env = worker_env(args.openblas)
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True,
                text=True).stdout.splitlines() if line.startswith("Model name")), platform.processor())
    header = (f"{cpu}, {len(os.sched_getaffinity(0))} cores, threads={args.threads}, "
              f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')} (OpenBLAS kernel: "
              f"{openblas_kernel(env)}), {args.runs} runs, {time.strftime('%Y-%m-%d')}")
    print(header, flush=True)
    limit = gemm_limit(model, env, args.threads, corpus_texts(args.corpus_texts))
    products = ", ".join(f"{name} {rate:.0f}" for name, rate in limit["gemm_gflops_by_product"].items())
    print(f"GEMM-bound limit: {limit['gemm_gflops']:.0f} GFLOP/s (the faster of {products}) over "
          f"{limit['flops_per_token'] / 1e6:.1f} MFLOP per token = {limit['limit_tokens_s']:,.0f} tokens/s", flush=True)
    runs: dict[str, list[dict]] = {}
    vector_files = {}
    for run in range(args.runs):
        for engine in args.engines:  # engines interleaved, so drifts of the machine hit all alike
            vectors = args.cache / f"vectors-{engine}.npy"
            cmd = [sys.executable, __file__, "--worker", engine, "--model", str(model), "--onnx", str(onnx_path),
                   "--threads", str(args.threads), "--corpus-texts", str(args.corpus_texts),
                   "--vectors-out", str(vectors), "--max-length", str(args.max_length),
                   "--query-texts", str(args.query_texts), "--workloads", *args.workloads]
            if engine == "minie5-baseline":
                cmd += ["--baseline", str(args.baseline.resolve())]
            result = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if result.returncode:
                print(f"{engine} failed:\n{result.stderr[-3000:]}", file=sys.stderr)
                continue
            runs.setdefault(engine, []).append(json.loads(result.stdout.strip().splitlines()[-1]))
            vector_files[engine] = vectors
            done = runs[engine][-1]
            print(f"  run {run + 1}: {engine} done: " + ", ".join(f"{k} {done[k]:.2f}" for k in
                  ("corpus_tokens_s", "query_ms", "long_tokens_s") if k in done), file=sys.stderr, flush=True)
    results = [median_result(engine, rs) for engine, rs in runs.items()]
    for name, values in ({} if args.no_accuracy else accuracy(model, vector_files)).items():
        next(r for r in results if r["engine"] == name).update(values)
    for r in results:
        if "corpus_tokens_s" in r:
            r["limit_pct"] = 100 * r["corpus_tokens_s"] / limit["limit_tokens_s"]
    print(format_table(results))
    for engine, rs in runs.items():
        if "precision" in rs[0]:
            print(f"{engine}: OpenVINO inference precision {rs[0]['precision']}")
    print(format_latency(results))
    if args.json:
        args.json.write_text(json.dumps({"header": header, "limit": limit, "results": results, "runs": runs},
                                        indent=1))
    return 0


def median_result(engine: str, results: list[dict]) -> dict:
    keys = {k for r in results for k in r if isinstance(r[k], (int, float))}
    return {"engine": engine, **{k: statistics.median(r[k] for r in results if k in r) for k in keys}}


COLUMNS = [("corpus_tokens_s", "corpus tok/s", "{:,.0f}"), ("limit_pct", "% of GEMM limit", "{:.0f}%"),
           ("long_tokens_s", "512-tok tok/s", "{:,.0f}"), ("query_ms", "query ms", "{:.2f}"),
           ("query_p99_ms", "query p99 ms", "{:.2f}"), ("query_max_ms", "query max ms", "{:.2f}"),
           ("load_s", "load s", "{:.2f}"),
           ("peak_rss_mb", "peak RSS MB", "{:,.0f}"), ("min_cosine", "min cosine to fp64", "{:.7f}"),
           ("max_abs", "max abs diff to fp64", "{:.1e}")]


def format_table(results: list[dict]) -> str:
    columns = [c for c in COLUMNS if any(c[0] in r for r in results)]
    lines = ["| engine | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for r in results:
        lines.append(f"| {r['engine']} | " + " | ".join(fmt.format(r[key]) if key in r else "-"
                                                       for key, _, fmt in columns) + " |")
    for ours in (r for r in results if r["engine"] in OURS):
        for peer in results:
            if peer is ours or peer["engine"].startswith("minie5"):
                continue
            ratios = []
            for key, title, _ in columns:
                if key in ours and key in peer and key not in ("load_s", "min_cosine", "max_abs", "limit_pct"):
                    better_high = not key.endswith(("_ms", "_mb"))
                    ratio = ours[key] / peer[key] if better_high else peer[key] / ours[key]
                    ratios.append(f"{title} {ratio:.2f}x")
            lines.append(f"\n{ours['engine']} vs {peer['engine']} (>1 = minie5 better): " + ", ".join(ratios))
    return "\n".join(lines)


def format_latency(results: list[dict]) -> str:
    keys = [f"latency_{n}tok" for n in LATENCY_LENGTHS] + [f"latency_batch{n}" for n in LATENCY_BATCHES]
    titles = [f"{n} tok" for n in LATENCY_LENGTHS] + [f"{n} queries" for n in LATENCY_BATCHES]
    rows = [r for r in results if f"{keys[0]}_ms" in r]
    if not rows:
        return ""
    lines = ["\nLatency of one call, ms, median / p99 / max:\n", "| engine | " + " | ".join(titles) + " |",
             "|---" * (len(keys) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r['engine']} | " + " | ".join(
            f"{r[k + '_ms']:.2f} / {r[k + '_p99_ms']:.2f} / {r.get(k + '_max_ms', float('nan')):.2f}" for k in keys)
            + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
