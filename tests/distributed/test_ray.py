"""`minie5 embed-corpus` and BatchEmbedder on a real local Ray cluster: two nodes on this machine,
one worker each. Output equals Model.encode; a second run skips everything; a worker killed
mid-run costs only its part, and a re-run gives the complete, identical output."""

import json
import re
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")

import minie5  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def small_dir(minilm_dir, tmp_path_factory):
    from tests.support.model_files import small_model

    return small_model(minilm_dir, tmp_path_factory.mktemp("small"))


def texts(n: int, seed: int = 0) -> list[str]:
    words = "the river rises in the hills north of town trains leave every hour protein needs vary".split()
    rng = np.random.default_rng(seed)
    return [f"row {i}: " + " ".join(rng.choice(words, size=int(rng.integers(1, 60)))) for i in range(n)]


def corpus(folder, n_parquet: int, n_jsonl: int):
    """A folder of one Parquet file and one JSONL file, with an id column beside the text."""
    folder.mkdir()
    first = texts(n_parquet, seed=1)
    pq.write_table(pa.table({"id": list(range(n_parquet)), "text": first}), folder / "a.parquet",
                   row_group_size=400)
    second = texts(n_jsonl, seed=2)
    (folder / "b.jsonl").write_text("".join(json.dumps({"id": 10_000 + i, "text": t}) + "\n"
                                            for i, t in enumerate(second)))
    return first + second


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "minie5", "embed-corpus", *map(str, args)], capture_output=True,
                          text=True, timeout=600, **kwargs)


def read_output(folder) -> pa.Table:
    return pq.read_table(sorted(folder.glob("part-*.parquet")))  # part names sort in input order


def test_embed_corpus_on_two_nodes_equals_encode(cluster, small_dir, tmp_path):
    all_texts = corpus(tmp_path / "in", 1800, 1200)
    out = tmp_path / "out"
    result = run(tmp_path / "in", out, "-m", small_dir, "--passage", "--address", cluster.address,
                 "--workers", "2", "--rows-per-part", "500")
    assert result.returncode == 0, result.stderr[-3000:]
    table = read_output(out)
    assert table.column_names == ["id", "text", "embedding"] and table.num_rows == 3000
    assert table.column("text").to_pylist() == all_texts  # input order, whatever the packing
    expected = minie5.load(small_dir).encode_passages(all_texts)
    np.testing.assert_allclose(np.array(table.column("embedding").to_pylist(), np.float32), expected, atol=5e-7)

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    again = run(tmp_path / "in", out, "-m", small_dir, "--passage", "--address", cluster.address,
                "--rows-per-part", "500")
    assert again.returncode == 0 and "all 7 parts" in again.stderr and "done already" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == stamps

    other = run(tmp_path / "in", out, "-m", small_dir, "--query", "--address", cluster.address,
                "--rows-per-part", "500")
    assert other.returncode == 1 and "holds parts of another job (its options differ)" in other.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == stamps  # nothing mixed


def test_a_killed_worker_costs_only_its_part(cluster, small_dir, tmp_path):
    all_texts = corpus(tmp_path / "in", 6000, 0)
    out = tmp_path / "out"
    args = (tmp_path / "in", out, "-m", small_dir, "--address", cluster.address, "--workers", "2",
            "--rows-per-part", "250")
    driver = subprocess.Popen([sys.executable, "-m", "minie5", "embed-corpus", *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while len(list(out.glob("part-*.parquet"))) < 3 and time.time() < deadline and driver.poll() is None:
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-f", "ray::CorpusWorker"], capture_output=True, text=True).stdout.split()
    assert workers, "no worker process to kill"
    subprocess.run(["kill", "-9", workers[0]])
    _, stderr = driver.communicate(timeout=600)  # Ray restarts the worker and retries its part, or stops
    assert driver.returncode == 0 or "were finished and are kept" in stderr, stderr[-3000:]

    rerun = run(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    kept = re.search(r"all (\d+) parts .* done already|(\d+) parts were done already", rerun.stderr)
    assert kept and int(kept.group(1) or kept.group(2)) >= 3  # finished parts are never redone
    table = read_output(out)
    assert table.column("text").to_pylist() == all_texts
    np.testing.assert_allclose(np.array(table.column("embedding").to_pylist(), np.float32),
                               minie5.load(small_dir).encode(all_texts), atol=5e-7)
    assert not list(out.glob(".part-*"))  # no half-written part is left


def test_bad_rows_by_policy(cluster, small_dir, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in
                              [{"id": 0, "text": "fine"}, {"id": 1, "text": None}, {"id": 2, "text": "also fine"}]))
    failed = run(source, tmp_path / "out", "-m", small_dir, "--address", cluster.address)
    assert failed.returncode == 1 and "in.jsonl: row 1 (part part-00000-000000000000.parquet)" in failed.stderr
    assert "--on-bad-row" in failed.stderr and "Traceback" not in failed.stderr
    skipped = run(source, tmp_path / "out2", "-m", small_dir, "--address", cluster.address, "--on-bad-row", "skip")
    assert skipped.returncode == 0 and "input row 1 has no text (dropped)" in skipped.stderr
    assert read_output(tmp_path / "out2").column("id").to_pylist() == [0, 2]


def test_batch_embedder_in_ray_data(cluster, small_dir):
    from minie5.batch_embedder import BatchEmbedder

    if not ray.is_initialized():
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    rows = texts(400, seed=3)
    dataset = ray.data.from_items([{"text": t} for t in rows]).map_batches(
        BatchEmbedder, fn_constructor_kwargs={"model": str(small_dir), "threads": 1}, batch_format="pandas",
        batch_size=64, concurrency=2, num_cpus=1)
    result = sorted(dataset.take_all(), key=lambda r: int(r["text"].split(":")[0].split()[1]))
    got = np.array([r["embedding"] for r in result], np.float32)
    np.testing.assert_allclose(got, minie5.load(small_dir).encode(rows), atol=5e-7)
