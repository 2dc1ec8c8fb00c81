"""What a practitioner tripped over, each pinned: install hints that work from a checkout, the
Hugging Face cache where huggingface_hub keeps it, a truthful search cache, one vocabulary across
commands, short model names, and errors and notes in the command line's own words."""

import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

import minie5 as minie5_library
from minie5.errors import install_hint
from minie5.loading import hub
from tests.support.cli import run_cli as minie5
from tests.support.server import running_server

REPO = Path(__file__).resolve().parents[2]
EXTRAS = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
LONG = "the committee met again to review the proposal " * 120


# ---- installing extras

def test_install_hints_name_the_checkout_and_a_real_extra():
    hint = install_hint("server")
    assert hint == f'pip install "{REPO}[server]"'  # works from any folder, as minie5 runs from a checkout
    for path in (REPO / "minie5").rglob("*.py"):
        text = path.read_text()
        assert 'pip install "minie5[' not in text, f"{path}: an install line that only works from a registry"
        for extra in re.findall(r"install_hint\('(\w+)'\)", text):
            assert extra in EXTRAS, f"{path}: install_hint({extra!r}) names no extra of pyproject.toml"


def test_the_readmes_install_lines_work_from_a_checkout():
    readme = (REPO / "README.md").read_text()
    assert 'pip install "minie5[' not in readme and "pip install 'minie5[" not in readme
    extras = re.findall(r'pip install -?e? ?"\.\[([\w,]+)\]"', readme)
    assert extras, "the README names the extras' install lines"
    for group in extras:
        assert set(group.split(",")) <= EXTRAS, group


def test_a_missing_extra_is_one_line_with_the_command_that_adds_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the server extra were not installed
    result = minie5("serve", "-m", "all-MiniLM-L6-v2")
    assert result.returncode == 2 and f'pip install "{REPO}[server]"' in result.stderr


# ---- the Hugging Face cache

def test_the_hugging_face_cache_under_xdg_cache_home(tmp_path, monkeypatch, minilm_dir):
    snapshot = tmp_path / "xdg" / "huggingface" / "hub" / "models--org--tiny" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (snapshot / name).symlink_to(minilm_dir / name)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    for name in ("HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.resolve("org/tiny")[0] == snapshot  # where huggingface_hub itself would look
    with pytest.raises(minie5_library.Minie5Error, match=re.escape(str(tmp_path / "xdg" / "huggingface" / "hub"))):
        hub.resolve("org/absent")


# ---- model names

def test_short_names_as_sentence_transformers_resolves_them(minilm_dir):
    result = minie5("embed", "-m", "all-MiniLM-L6-v2", "--backend", "numpy", "summit")
    expected = minie5_library.load(minilm_dir, backend="numpy").encode("summit")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.array(json.loads(result.stdout), np.float32), expected)
    result = minie5("info", "-m", "e5-small-v2")
    assert result.returncode == 1 and "did you mean 'intfloat/e5-small-v2'?" in result.stderr


def test_minie5_model_sets_the_default_model(monkeypatch, minilm_dir):
    monkeypatch.setenv("MINIE5_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    result = minie5("info", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["path"] == str(minilm_dir)
    assert minie5_library.load(backend="numpy").path == minilm_dir


def test_a_default_model_that_is_not_here_says_how_to_choose_one(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIE5_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = minie5("embed", "a text")
    assert result.returncode == 1
    assert "no model was named, so the default was used: name one, or set MINIE5_MODEL" in result.stderr
    assert "sentence-transformers/all-MiniLM-L6-v2" in result.stderr  # what is installed here


# ---- one vocabulary, the run options everywhere

def test_version_json_and_standard_output():
    assert minie5("--version").stdout.strip() == f"minie5 {minie5_library.__version__}"


def test_unknown_flags_get_the_commands_usage_and_a_suggestion(minilm_dir):
    result = minie5("embed", "-m", minilm_dir, "--qeury", "x")
    assert result.returncode == 2 and result.stderr.startswith("usage: minie5 embed")
    assert "minie5 embed: error: unrecognized argument --qeury (did you mean --query?)" in result.stderr
    result = minie5("search", "-m", minilm_dir, "-c", "x.txt", "--topk", "3", "q")
    assert "did you mean --top-k?" in result.stderr


def test_similarity_takes_the_run_options_and_json(minilm_dir, minilm):
    result = minie5("similarity", "-m", minilm_dir, "--backend", "numpy", "--threads", "1", "--long", "chunk",
                    "--json", "summit", LONG)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    a, b = minilm.encode(["summit", LONG], long="chunk")
    assert out["a"] == "summit" and out["b"] == LONG and abs(out["cosine"] - float(a @ b)) < 1e-5


def test_out_dash_is_standard_output(minilm_dir):
    plain = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "a", "b")
    dashed = minie5("embed", "-m", minilm_dir, "--backend", "numpy", "-o", "-", "a", "b")
    assert dashed.returncode == 0 and dashed.stdout == plain.stdout and "wrote" not in dashed.stderr


# ---- errors and notes in the command line's words

def test_errors_name_the_file_and_line(tmp_path, minilm_dir):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"text": "short"}) + "\n\n" + json.dumps({"text": LONG}) + "\n")
    result = minie5("embed", "-m", minilm_dir, "--long", "error", "-i", docs)
    assert result.returncode == 1
    assert result.stderr == (f"minie5 embed: error: --input {docs} line 3 is longer than 256 tokens (1 text(s) "
                             "are): pass --long truncate or --long chunk\n")
    corpus = tmp_path / "corpus.csv"
    corpus.write_text(f"id,text\n1,short\n2,{LONG}\n")
    result = minie5("search", "-m", minilm_dir, "--long", "error", "-c", corpus, "q")
    assert f"--corpus {corpus} row 2 is longer than 256 tokens" in result.stderr
    surrogate = minie5("embed", "-m", minilm_dir, "fine", "bad \udcff byte")
    assert surrogate.returncode == 1 and "error: TEXT 2 holds a lone surrogate (U+DCFF)" in surrogate.stderr


def test_quiet_is_quiet(tmp_path, minilm_dir):
    out = tmp_path / "v.npy"
    loud = minie5("embed", "-m", minilm_dir, "-o", out, "a", tty=True)
    assert "wrote 1 vectors" in loud.stderr
    quiet = minie5("embed", "-m", minilm_dir, "-o", out, "-q", "a", tty=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
    corpus = tmp_path / "c.txt"
    corpus.write_text("one\ntwo\n")
    assert "cached the corpus vectors" in minie5("search", "-m", minilm_dir, "-c", corpus, "q", tty=True).stderr
    corpus.write_text("one\ntwo\nthree\n")
    assert minie5("search", "-m", minilm_dir, "-c", corpus, "-q", "q", tty=True).stderr == ""


def test_progress_moves_after_every_batch(minilm):
    seen = []
    list(minilm.encode_iter([f"text {i}" for i in range(100)], batch_size=10, progress=lambda d, t: seen.append(d)))
    assert seen == list(range(10, 101, 10))


# ---- a truthful search cache

def test_search_on_a_read_only_folder_caches_in_the_users_cache(tmp_path, minilm_dir, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    corpus = folder / "c.txt"
    corpus.write_text("trains leave hourly\nthe summit is snowy\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = minie5("search", "-m", minilm_dir, "-c", corpus, "mountain", tty=True)
    assert first.returncode == 0 and f"cached the corpus vectors in {tmp_path / 'cache' / 'minie5' / 'corpora'}" \
        in first.stderr
    assert list(folder.iterdir()) == [corpus]
    second = minie5("search", "-m", minilm_dir, "-c", corpus, "mountain")
    assert second.stdout == first.stdout and "cached" not in second.stderr  # read back, nothing embedded again


def test_a_cache_that_cannot_be_written_is_not_claimed(tmp_path, minilm_dir, monkeypatch):
    from minie5 import corpus as corpus_module

    def refuse(path, write):
        raise OSError(f"{path}: cannot write (Read-only file system)")

    monkeypatch.setattr(corpus_module, "write_atomically", refuse)
    corpus = tmp_path / "c.txt"
    corpus.write_text("one\ntwo\n")
    result = minie5("search", "-m", minilm_dir, "-c", corpus, "q", tty=True)
    assert result.returncode == 0 and "could not cache the corpus vectors" in result.stderr
    assert "cached the corpus vectors in" not in result.stderr


def test_search_cache_dir_and_standard_input(tmp_path, minilm_dir, monkeypatch):
    corpus = tmp_path / "c.txt"
    corpus.write_text("one\ntwo\n")
    caches = tmp_path / "caches"
    caches.mkdir()
    result = minie5("search", "-m", minilm_dir, "-c", corpus, "--cache-dir", caches, "q")
    assert result.returncode == 0 and len(list(caches.iterdir())) == 1 and list(tmp_path.glob("c.txt.*")) == []
    monkeypatch.chdir(tmp_path / "caches")
    piped = minie5("search", "-m", minilm_dir, "-c", "-", "q", stdin="one\ntwo\n")
    assert piped.returncode == 0 and piped.stdout == result.stdout
    assert len(list(caches.iterdir())) == 1  # no "-.minie5-<hash>.npz" left in the current folder


# ---- embed-corpus: the same vocabulary and formats as embed

def test_embed_corpus_parts_are_ordinary_files(tmp_path, minilm_dir):
    from minie5.batch_embedder import BatchEmbedder
    from minie5.distributed.parts import Part
    from minie5.distributed.worker import embed_part

    source = tmp_path / "in.txt"
    source.write_text("short\n" + LONG + "\n\n")
    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(0o022)
    try:
        result = embed_part(Part(0, str(source), 0, 3), BatchEmbedder(minilm_dir, backend="numpy"), out)
    finally:
        os.umask(old)
    part = out / "part-00000-000000000000.parquet"
    assert stat.S_IMODE(part.stat().st_mode) == 0o644  # as every other file minie5 writes
    assert result["rows"] == 3 and result["truncated_rows"] == 1 and result["max_length"] == 256


def test_embed_corpus_takes_field_long_and_text_files(tmp_path, minilm_dir):
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "in.txt"
    source.write_text("short\n" + LONG + "\nthird\n")
    csv_source = tmp_path / "in.csv"
    csv_source.write_text(f"id,body\n1,short\n2,{LONG}\n")
    out = tmp_path / "out"
    result = minie5("embed-corpus", "-m", minilm_dir, "--field", "body", source, out, "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "warning: 1 of 3 texts were longer than 256 tokens and were truncated (--long chunk" in result.stderr
    table = pq.read_table(next(out.glob("part-*.parquet")))
    assert table.column("body").to_pylist() == ["short", LONG.rstrip("\n"), "third"]
    expected = minie5_library.load(minilm_dir).encode(["short", LONG, "third"])
    np.testing.assert_allclose(np.stack(table.column("embedding").to_numpy(zero_copy_only=False)), expected,
                               atol=1e-6)
    chunked = minie5("embed-corpus", "-m", minilm_dir, "--column", "body", "--long", "chunk", csv_source,
                     tmp_path / "out-csv", "--workers", "1")
    assert chunked.returncode == 0 and "truncated" not in chunked.stderr, chunked.stderr
    table = pq.read_table(next((tmp_path / "out-csv").glob("part-*.parquet")))
    np.testing.assert_allclose(np.stack(table.column("embedding").to_numpy(zero_copy_only=False))[1],
                               minie5_library.load(minilm_dir).encode(LONG, long="chunk"), atol=1e-6)


# ---- the server says when an e5 model will get bare texts

def test_serving_an_e5_model_without_a_default_prefix_warns(tmp_path, minilm_dir):
    folder = tmp_path / "e5-small-v2"
    shutil.copytree(minilm_dir, folder)
    with running_server("--model", folder) as (process, _):
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert "is an e5 model, trained with 'query: ' / 'passage: '" in stderr
    with running_server("--model", folder, "--default-prefix", "query") as (process, _):
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert "is an e5 model" not in stderr
