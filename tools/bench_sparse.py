"""Speed of minie5's sparse (SPLADE) and multi-vector (ColBERT) encoders against
sentence-transformers' SparseEncoder and MultiVectorEncoder (PyTorch, float32 and bfloat16), side by
side in one run, on the same texts, each engine in a process of its own with the same threads.

The models have all-MiniLM-L6-v2's real encoder (6 layers, 384 wide, the packaged weights) and
heads of the real shapes with seeded random weights: SPLADE's masked-LM head (384 x 384 transform,
the 30522-wide decoder tied to the word embeddings) and ColBERT's 384 -> 128 projection; speed does
not depend on the heads' values. Documents: the standard-library set's passages
(tools/make_retrieval_set.py), cut at 256 tokens, batches of 32.

Also measured, in minie5's process: the share of SPLADE's time spent in the vocabulary-wide head
(the same pass with a head that does nothing) and the head product's GFLOP/s.

    python tools/bench_sparse.py --peer-python /path/to/venv-with-torch-and-sentence-transformers/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAX_LENGTH = 256
ENGINES = ("minie5 float32", "minie5 int8", "minie5 bfloat16", "torch float32", "torch bfloat16")


def build(work: Path) -> tuple[Path, Path]:
    """MiniLM-shaped SPLADE and ColBERT folders in sentence-transformers 6's layouts."""
    from safetensors.numpy import load_file, save_file

    from tests.support import golden, random_sparse

    minilm = golden.minilm_dir()
    weights = load_file(str(minilm / "model.safetensors"))
    weights = {k: v for k, v in weights.items() if k != "embeddings.position_ids"}
    config = json.loads((minilm / "config.json").read_text())
    splade = random_sparse.build("splade-random", work / "splade", minilm)  # the layout files, then MiniLM's encoder
    head = {k: v for k, v in random_sparse.mlm_weights(random_sparse.SEEDS["splade-random"]).items()
            if k.startswith("cls.")}
    save_file({**{"bert." + k: v for k, v in weights.items()}, **head}, str(splade / "model.safetensors"))
    (splade / "config.json").write_text(json.dumps({**config, "architectures": ["BertForMaskedLM"]}))
    colbert = random_sparse.build("colbert-random", work / "colbert", minilm)
    save_file(weights, str(colbert / "model.safetensors"))
    shutil.copyfile(minilm / "config.json", colbert / "config.json")
    return splade, colbert


def worker(engine: str, kind: str, folder: Path, texts: list[str], runs: int, threads: int) -> dict:
    """Seconds per run of encoding `texts` as documents (best of `runs` after a warm-up)."""
    if engine.startswith("minie5"):
        import minie5

        dtype = engine.split()[1]
        load = minie5.load_sparse if kind == "sparse" else minie5.load_multi_vector
        model = load(folder, threads=threads, dtype=dtype)
        embedder = model.embedder if kind == "sparse" else model.embedders["document"]
        embedder.tokenizer = type(embedder.tokenizer)(embedder.tokenizer.path, MAX_LENGTH)
        ran = model.backend.weights  # dtype="bfloat16" runs float32 where the CPU lacks AVX-512 BF16

        def encode():
            return model.encode_document(texts, batch_size=32)
    else:
        import torch
        from sentence_transformers import MultiVectorEncoder, SparseEncoder

        torch.set_num_threads(threads)
        model = (SparseEncoder if kind == "sparse" else MultiVectorEncoder)(str(folder), device="cpu")
        model.max_seq_length = MAX_LENGTH
        if kind != "sparse":
            model[0].document_length = MAX_LENGTH
        if engine.endswith("bfloat16"):
            model = model.to(torch.bfloat16)

        def encode():
            with torch.inference_mode():
                return model.encode_document(texts, batch_size=32)
    encode()  # warm up: compiles or loads kernels
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        encode()
        seconds.append(time.perf_counter() - started)
    result = {"seconds": min(seconds), "median": statistics.median(seconds)}
    if engine.startswith("minie5") and ran != engine.split()[1]:
        result["note"] = f"ran {ran}: this CPU lacks the instructions"
    if engine == "minie5 float32" and kind == "sparse":
        result.update(head_share(model, texts))
    return result


def head_share(model, texts: list[str]) -> dict:
    """The SPLADE pass with its head, and the same pass with a head that does nothing."""
    sequences = model.embedder.tokenizer.tokenize(texts)
    tokens = sum(len(s) for s in sequences)

    def run(head):
        started = time.perf_counter()
        for first in range(0, len(sequences), 32):
            model.backend.token_states(sequences[first:first + 32], head)
        return time.perf_counter() - started

    encoder = min(run(lambda x, offsets: None) for _ in range(2))
    whole = min(run(model.splade_head) for _ in range(2))
    flops = 2.0 * tokens * model.config.hidden_size * (model.config.vocab_size + model.config.hidden_size)
    return {"encoder_only_seconds": encoder, "with_head_seconds": whole, "tokens": tokens,
            "head_gflops": flops / max(whole - encoder, 1e-9) / 1e9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", default=sys.executable,
                        help="a Python with torch and sentence-transformers >= 6 (default: this one)")
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--engines", nargs="+", default=list(ENGINES))
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "KIND", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, kind, folder = args.worker
        texts = json.loads(args.texts_file.read_text())
        print(json.dumps(worker(engine, kind, Path(folder), texts, args.runs, args.threads)))
        return 0
    import warnings

    warnings.simplefilter("ignore")
    work = Path(tempfile.mkdtemp(prefix="minie5-bench-sparse-"))
    subprocess.run([sys.executable, str(REPO / "tools" / "make_retrieval_set.py"), str(work / "set")], check=True,
                   capture_output=True)
    passages = [json.loads(line)["text"] for line in (work / "set" / "corpus.jsonl").open()]
    texts = passages[:args.texts]
    (work / "texts.json").write_text(json.dumps(texts))
    folders = dict(zip(("sparse", "multi-vector"), build(work)))
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True)
                .stdout.splitlines() if line.startswith("Model name")), "?")
    print(f"{len(texts)} passages (cut at {MAX_LENGTH} tokens), batches of 32, {args.threads} threads, {cpu}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, {time.strftime('%Y-%m-%d %H:%M')}")
    rows = []
    for kind, folder in folders.items():
        for engine in args.engines:
            python = sys.executable if engine.startswith("minie5") else args.peer_python
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            done = subprocess.run([python, __file__, "--worker", engine, kind, str(folder), "--texts-file",
                                   str(work / "texts.json"), "--runs", str(args.runs), "--threads",
                                   str(args.threads)], capture_output=True, text=True, env=env)
            if done.returncode:
                print(f"  {kind} {engine}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            rows.append((kind, engine, json.loads(done.stdout.strip().splitlines()[-1])))
            print(f"  {kind} {engine}: {rows[-1][2]['seconds']:.2f} s", file=sys.stderr, flush=True)
    print("| encoder | engine | seconds (best) | texts/s | vs torch float32 |")
    print("|---|---|---|---|---|")
    for kind in folders:
        base = next((r["seconds"] for k, e, r in rows if k == kind and e == "torch float32"), None)
        for k, engine, result in rows:
            if k == kind:
                ratio = f"{base / result['seconds']:.2f}x" if base else "-"
                note = f" ({result['note']})" if "note" in result else ""
                print(f"| {kind} | {engine}{note} | {result['seconds']:.2f} | {len(texts) / result['seconds']:.1f} | "
                      f"{ratio} |")
    for _, _, result in rows:
        if "head_gflops" in result:
            share = 1 - result["encoder_only_seconds"] / result["with_head_seconds"]
            print(f"\nSPLADE head (minie5 float32): {share:.0%} of the pass over {result['tokens']} tokens; the head's "
                  f"products at {result['head_gflops']:.0f} GFLOP/s")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
