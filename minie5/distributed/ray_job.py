"""`embed_corpus`: the parts of a corpus spread over a Ray actor pool, one model per worker.

Each worker is a Ray actor that loads the model once (a BatchEmbedder) and embeds part after part;
`num_cpus` per actor is its thread count, which Ray also passes on as OMP_NUM_THREADS, and the
embedder holds Numba to it as well, so workers never oversubscribe the cores. A worker that dies
is restarted by Ray and its part retried; the driver dying loses only the parts in flight, since
finished parts are files and a re-run skips them.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..batch_embedder import BAD_ROW_POLICIES, BatchEmbedder
from ..errors import Minie5Error, check_choice, check_int, install_hint
from ..families import open_model
from ..loading.model_files import default_model
from . import parts as parts_module
from .parts import Part

WORKER_RESTARTS = 3  # a worker process that dies is started again this many times


def embed_corpus(input: str, output: str | Path, *, model: str | None = None, column: str = "text",
                 prefix: str | None = None, address: str | None = None, workers: int | None = None,
                 threads_per_worker: int = 1, rows_per_part: int = 10_000, on_bad_row: str = "error",
                 precision: str = "float32", ranges=None, batch_size: int = 32, revision: str | None = None,
                 long: str = "truncate", restart: bool = False, progress: bool = False, log=print,
                 dtype: str = "float32") -> dict:
    """Embed `column` of every row of `input` (a .parquet, .jsonl, .csv or .txt file, a folder of
    them, or a glob) into Parquet parts under `output`, with the input's columns and an
    `embedding`. A .txt file is one text per line, in a column named `column`. `long` is what
    `Model.encode` takes ("truncate", "chunk", "error"); truncated rows are counted in the summary.
    dtype: "float32", or "int8" / "bfloat16" for the engine's int8 / bfloat16 products (minie5.load's dtype).

    address: a Ray cluster ("ray://host:10001", "auto"); None starts Ray on this machine.
    workers: actors in the pool (default: the cluster's CPUs / threads_per_worker).
    A re-run with the same arguments skips finished parts; with another model, options or input
    it refuses unless restart=True. Returns a summary (parts, rows, bad rows, seconds, rows/s)."""
    check_int("threads_per_worker", threads_per_worker, 1)
    check_int("rows_per_part", rows_per_part, 1)
    if workers is not None:
        check_int("workers", workers, 1)
    check_choice("on_bad_row", on_bad_row, BAD_ROW_POLICIES)
    model = str(model) if model is not None else default_model()
    settings = dict(model=model, column=column, prefix=prefix, threads=threads_per_worker,
                    precision=precision, ranges=ranges, batch_size=batch_size, on_bad_row=on_bad_row,
                    revision=revision, long=long, dtype=dtype)
    BatchEmbedder(**settings)  # check the options here, before any worker starts
    output = Path(output)
    identity = open_model(model, revision).identity()
    inputs = [parts_module.describe_input(p) for p in parts_module.find_inputs(str(input))]
    all_parts = parts_module.plan_parts(inputs, rows_per_part)
    # long and dtype are recorded only when not the default, so that earlier jobs' manifests still match
    options = {"column": column, "prefix": prefix, "precision": precision, "on_bad_row": on_bad_row,
               **({"long": long} if long != "truncate" else {}), **({"dtype": dtype} if dtype != "float32" else {}),
               "ranges": None if ranges is None else [list(map(float, r)) for r in ranges]}
    manifest = parts_module.manifest_for(identity, options, inputs, rows_per_part)
    parts_module.prepare_output(output, manifest, restart)
    for stale in output.glob(".part-*.partial"):  # left by a run that was killed mid-write
        stale.unlink()
    pending = [p for p in all_parts if not (output / p.name).exists()]
    summary = {"parts": len(all_parts), "skipped": len(all_parts) - len(pending), "rows": 0, "bad_rows": [],
               "truncated_rows": 0, "max_length": None, "seconds": 0.0, "worker_peak_rss_mb": 0.0}
    if not pending:
        log(f"minie5 embed-corpus: all {len(all_parts)} parts of {output} are done already")
        return summary
    started = time.perf_counter()
    for result in _run(pending, settings, output, address, workers, threads_per_worker, progress):
        summary["rows"] += result["rows"]
        summary["truncated_rows"] += result["truncated_rows"]
        summary["max_length"] = result["max_length"] or summary["max_length"]
        summary["bad_rows"] += [(result["part"], row) for row in result["bad_rows"]]
        summary["worker_peak_rss_mb"] = max(summary["worker_peak_rss_mb"], result["peak_rss_mb"] or 0.0)
    summary["seconds"] = time.perf_counter() - started
    summary["rows_per_second"] = summary["rows"] / summary["seconds"]
    return summary


def _run(pending: list[Part], settings: dict, output: Path, address, workers, threads: int, progress: bool):
    """Yield each part's result as workers finish them."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise Minie5Error(f"embed-corpus needs Ray: {install_hint('ray')}") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
                 configure_logging=True)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    count = max(1, min(workers or cpus // threads, len(pending)))

    @ray.remote
    class CorpusWorker:
        """One model, loaded on first use, embedding part after part."""

        def __init__(self, settings: dict, output: str):
            self.embedder = BatchEmbedder(**settings)
            self.output = Path(output)

        def embed(self, part: Part) -> dict:
            from .worker import embed_part

            return embed_part(part, self.embedder, self.output)

    actors = [CorpusWorker.options(num_cpus=threads, max_restarts=WORKER_RESTARTS,
                                   max_task_retries=WORKER_RESTARTS).remote(settings, str(output))
              for _ in range(count)]
    total_rows = sum(p.stop - p.start for p in pending)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_rows, unit=" rows", smoothing=0.1, dynamic_ncols=True)
        bar.set_postfix_str(f"0/{len(pending)} parts, {count} workers")
    pool = ActorPool(actors)
    done = 0
    try:
        for result in pool.map_unordered(lambda actor, part: actor.embed.remote(part), pending):
            done += 1
            if bar is not None:
                bar.update(result["rows"])
                bar.set_postfix_str(f"{done}/{len(pending)} parts, {count} workers")
            yield result
    except ray.exceptions.RayError as e:
        cause = getattr(e, "cause", None)
        detail = str(cause) if cause is not None else str(e).strip().splitlines()[-1]
        raise Minie5Error(f"a part failed: {detail} ({done} of {len(pending)} parts were finished and are kept; "
                          "run again to do the rest)") from None
    finally:
        if bar is not None:
            bar.close()
        for actor in actors:
            ray.kill(actor)
