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
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ENGINES = ["minie5-numba", "minie5-numpy", "torch", "onnxruntime"]
WORKLOADS = ["corpus", "queries", "long"]
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
    def __init__(self, model_dir: Path, threads: int, backend: str):
        import minie5

        self.model = minie5.load(model_dir, backend=backend, threads=threads)

    def embed(self, texts):
        return self.model.encode(texts)


class PaddedEngine:
    """transformers or ONNX Runtime: sort by length, batch, pad, run, mean-pool, normalise."""

    def __init__(self, model_dir: Path):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    def embed(self, texts):
        single = isinstance(texts, str)
        texts = [texts] if single else texts
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=True, max_length=512)["input_ids"]]
        order = np.argsort([-n for n in lengths], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), PEER_BATCH):
            rows = order[start:start + PEER_BATCH]
            batch = self.tokenizer([texts[i] for i in rows], max_length=512, padding=True,
                                   truncation=True, return_tensors="np")
            hidden = self.run(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out[0] if single else out


class TorchEngine(PaddedEngine):
    def __init__(self, model_dir: Path, threads: int):
        import torch
        from transformers import AutoModel

        torch.set_num_threads(threads)
        super().__init__(model_dir)
        self.torch = torch
        self.model = AutoModel.from_pretrained(str(model_dir)).eval()
        self.dim = self.model.config.hidden_size

    def run(self, input_ids, attention_mask, token_type_ids):
        t = self.torch
        with t.inference_mode():
            return self.model(input_ids=t.from_numpy(input_ids), attention_mask=t.from_numpy(attention_mask),
                              token_type_ids=t.from_numpy(token_type_ids)).last_hidden_state.numpy()


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


def export_onnx(model_dir: Path, onnx_path: Path) -> None:
    """Export the same weights to ONNX (opset 17), with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()

    class Encoder(torch.nn.Module):  # positional arguments, as torch.onnx.export passes them
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(Encoder(model), (ids, ids, torch.zeros_like(ids)), str(onnx_path), dynamo=False,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"], opset_version=17,
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "last_hidden_state": axes})


def worker(args) -> None:
    """Load one engine, run the workloads, print one JSON line of results."""
    t0 = time.perf_counter()
    if args.worker.startswith("minie5"):
        engine = Minie5Engine(args.model, args.threads, args.worker.split("-")[1])
    elif args.worker == "torch":
        engine = TorchEngine(args.model, args.threads)
    else:
        engine = OnnxEngine(args.model, args.threads, args.onnx)
    result = {"engine": args.worker, "load_s": time.perf_counter() - t0}
    engine.embed(query_texts(4) + corpus_texts(4))  # warm-up: first-call costs are not throughput

    from tokenizers import Tokenizer

    counter = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    counter.no_padding()
    counter.enable_truncation(512)

    def count(texts):
        return sum(len(e.ids) for e in counter.encode_batch(texts))

    for workload in args.workloads:
        if workload == "queries":
            texts = query_texts()
            times = []
            for text in texts:
                t = time.perf_counter()
                engine.embed(text)
                times.append(time.perf_counter() - t)
            result["query_ms"] = 1e3 * statistics.median(times)
        else:
            texts = corpus_texts() if workload == "corpus" else long_texts()
            t = time.perf_counter()
            engine.embed(texts)
            elapsed = time.perf_counter() - t
            result[f"{workload}_tokens_s"] = count(texts) / elapsed
            result[f"{workload}_texts_s"] = len(texts) / elapsed
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM from /proc: getrusage's ru_maxrss is
    carried across exec, so a worker started by a large driver would report the driver's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    parser.add_argument("--workloads", nargs="+", default=WORKLOADS, choices=WORKLOADS)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--model", type=Path, help="model directory (default: e5-small-v2 shape, random weights)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "minie5-bench")
    parser.add_argument("--openblas", default="asis", help="asis, unset, or a core type such as Haswell")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0

    args.cache.mkdir(parents=True, exist_ok=True)
    model = args.model or prepare_model(args.cache)
    onnx_path = args.cache / f"{model.name}.onnx"
    if "onnxruntime" in args.engines and not onnx_path.exists():
        export_onnx(model, onnx_path)
    env = worker_env(args.openblas)
    header = (f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"threads={args.threads}, OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', '(unset)')} "
              f"(OpenBLAS kernel: {openblas_kernel(env)}), {time.strftime('%Y-%m-%d')}")
    print(header, flush=True)
    results = []
    for engine in args.engines:
        cmd = [sys.executable, __file__, "--worker", engine, "--model", str(model), "--onnx", str(onnx_path),
               "--threads", str(args.threads), "--workloads", *args.workloads]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode:
            print(f"{engine} failed:\n{run.stderr[-3000:]}", file=sys.stderr)
            continue
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(f"  {engine} done", file=sys.stderr, flush=True)
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps({"header": header, "results": results}, indent=1))
    return 0


COLUMNS = [("corpus_tokens_s", "corpus tok/s", "{:,.0f}"), ("corpus_texts_s", "corpus texts/s", "{:,.1f}"),
           ("long_tokens_s", "512-tok tok/s", "{:,.0f}"), ("query_ms", "query ms (median)", "{:.2f}"),
           ("load_s", "load s", "{:.2f}"), ("peak_rss_mb", "peak RSS MB", "{:,.0f}")]


def format_table(results: list[dict]) -> str:
    columns = [c for c in COLUMNS if any(c[0] in r for r in results)]
    lines = ["| engine | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for r in results:
        lines.append(f"| {r['engine']} | " + " | ".join(fmt.format(r[key]) if key in r else "-"
                                                       for key, _, fmt in columns) + " |")
    ours = next((r for r in results if r["engine"] == "minie5-numba"), None)
    if ours:
        for peer in results:
            if peer is ours:
                continue
            ratios = []
            for key, title, _ in columns:
                if key in ours and key in peer and key != "load_s":
                    better_high = not key.endswith(("_ms", "_mb"))
                    ratio = ours[key] / peer[key] if better_high else peer[key] / ours[key]
                    ratios.append(f"{title} {ratio:.2f}x")
            lines.append(f"\nminie5-numba vs {peer['engine']} (>1 = minie5 better): " + ", ".join(ratios))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
