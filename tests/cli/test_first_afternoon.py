"""What a new user met on a first afternoon, each pinned: the compile notice only when compiling,
a corpus cache keyed by the arithmetic that made it, --field never silently ignored, no notes when
piped, result files that say how they were made, search reading the vectors embed wrote and naming
hits by their id, one rule for cutting dimensions, and CrossEncoder loading by name."""

import json
import warnings

import numpy as np
import pytest

import minie5
from minie5 import jit_cache
from minie5.corpus import CorpusCache
from minie5.encode.dimensions import kept_dimensions
from tests.support.cli import run_cli as minie5_cli

DOCS = [{"id": "alps", "title": "Mountains", "text": "The summit is covered in snow."},
        {"id": "rail", "title": "Trains", "text": "Trains leave every fifteen minutes."},
        {"id": "food", "title": "Protein", "text": "Protein needs depend on body weight."}]


@pytest.fixture(scope="module")
def engine(minilm_dir):
    return minie5.load(minilm_dir)  # the numba engine (the minilm fixture is the reference)


@pytest.fixture
def docs_jsonl(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return path


# ---- 1. the compile notice

def test_kernels_cached_sees_the_compiled_kernel_folder(engine):
    engine.encode("warm the kernels")  # compiled or loaded from the cache by now
    if not jit_cache.available():
        pytest.skip("Numba cannot cache here: every process compiles, and kernels_cached() says so")
    assert jit_cache.kernels_cached()


def test_kernels_cached_is_false_for_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not jit_cache.kernels_cached()


def test_no_compile_notice_once_the_kernels_are_cached(engine, minilm_dir):
    engine.encode("warm the kernels")
    if not jit_cache.available():
        pytest.skip("Numba cannot cache here")
    result = minie5_cli("embed", "-m", minilm_dir, "a text", tty=True)
    assert result.returncode == 0 and "compiling" not in result.stderr


# ---- 2. the corpus cache's key

def test_the_corpus_cache_is_keyed_by_the_engines_arithmetic(tmp_path, minilm_dir, engine):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a\n")
    int8 = minie5.load(minilm_dir, dtype="int8")
    numpy = minie5.load(minilm_dir, backend="numpy")
    paths = {name: CorpusCache(m, corpus, {}).path for name, m in
             (("float32", engine), ("int8", int8), ("numpy", numpy))}
    # A CPU without VNNI runs float32 for dtype="int8": then the vectors, and the cache, are float32's.
    assert (paths["int8"] != paths["float32"]) == (int8.backend.weights == "int8")
    assert paths["numpy"] != paths["float32"]
    assert CorpusCache(engine, corpus, {"prompt": "passage: "}).path != paths["float32"]


def test_search_with_another_dtype_does_not_reuse_the_float32_cache(tmp_path, minilm_dir):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The summit is covered in snow.\nTrains leave every fifteen minutes.\n")
    assert minie5_cli("search", "-m", minilm_dir, "-c", corpus, "train").returncode == 0
    result = minie5_cli("search", "-m", minilm_dir, "-c", corpus, "--dtype", "int8", "train")
    assert result.returncode == 0, result.stderr
    int8_ran = minie5.load(minilm_dir, dtype="int8").backend.weights == "int8"
    assert len(list(tmp_path.glob("corpus.txt.minie5-*.npz"))) == (2 if int8_ran else 1)


# ---- 3. --field and input formats

def test_field_on_standard_input_reads_json_lines(docs_jsonl, minilm_dir, minilm):
    result = minie5_cli("embed", "-m", minilm_dir, "--field", "text", "-o", "-", stdin=docs_jsonl.read_text())
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["alps", "rail", "food"]  # each record plus its embedding
    np.testing.assert_allclose([r["embedding"] for r in rows], minilm.encode([d["text"] for d in DOCS]), atol=1e-6)


def test_a_json_file_is_read_as_records(tmp_path, minilm_dir, minilm):
    expected = minilm.encode([d["text"] for d in DOCS])
    lines = "".join(json.dumps(d) + "\n" for d in DOCS)
    for name, content in (("array.json", json.dumps(DOCS)), ("lines.json", lines)):
        (tmp_path / name).write_text(content)
        out = tmp_path / f"{name}.npy"
        result = minie5_cli("embed", "-m", minilm_dir, "-i", tmp_path / name, "-o", out)
        assert result.returncode == 0, result.stderr
        np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_field_with_plain_text_is_an_error_naming_it(tmp_path, minilm_dir):
    (tmp_path / "docs.txt").write_text('{"text": "a"}\n')
    result = minie5_cli("embed", "-m", minilm_dir, "-i", tmp_path / "docs.txt", "--field", "text")
    assert result.returncode == 2 and "--field text" in result.stderr and "--format" in result.stderr
    assert minie5_cli("embed", "-m", minilm_dir, "--field", "body", stdin="plain line\n").returncode == 2
    forced = minie5_cli("embed", "-m", minilm_dir, "-i", tmp_path / "docs.txt", "--format", "jsonl")
    assert forced.returncode == 0, forced.stderr


# ---- 4. notes only for a person watching

def test_no_notes_when_stderr_is_not_a_terminal(tmp_path, minilm_dir):
    out = tmp_path / "v.npy"
    piped = minie5_cli("embed", "-m", minilm_dir, "a text", "-o", out)
    assert piped.returncode == 0 and piped.stderr == ""
    watched = minie5_cli("embed", "-m", minilm_dir, "a text", "-o", out, tty=True)
    assert f"wrote 1 vectors of 384 float32 to {out}" in watched.stderr
    quiet = minie5_cli("embed", "-m", minilm_dir, "a text", "-o", out, "--quiet", tty=True)
    assert "wrote" not in quiet.stderr


# ---- 5. result files that say how they were made

def test_evaluate_records_dtype_threads_version_and_fingerprint(tmp_path, stdlib_beir, minilm_dir, minilm):
    out = tmp_path / "results.json"
    result = minie5_cli("evaluate", str(stdlib_beir), "-m", minilm_dir, "--threads", "1", "-o", out)
    assert result.returncode == 0, result.stderr
    setup = json.loads(out.read_text())["setup"]
    assert setup["dtype"] == "float32" and setup["threads"] == 1 and setup["backend"] == "numba"
    assert setup["minie5"] == minie5.__version__ and setup["files"] == minilm.files.fingerprint
    assert "float32" in result.stdout and "1 threads" in result.stdout


# ---- 6. search reads embed's vectors and names hits by id

def test_search_uses_the_vectors_embed_wrote(tmp_path, docs_jsonl, minilm_dir):
    embedded = tmp_path / "embedded.jsonl"
    assert minie5_cli("embed", "-m", minilm_dir, "--passage", "-i", docs_jsonl, "-o", embedded).returncode == 0
    direct = minie5_cli("search", "-m", minilm_dir, "-c", docs_jsonl, "--no-cache", "--json", "next train")
    reused = minie5_cli("search", "-m", minilm_dir, "-c", docs_jsonl, "--vectors", embedded, "--json", "next train")
    assert reused.returncode == 0, reused.stderr
    scores = lambda out: [(h["index"], h["score"]) for h in map(json.loads, out.splitlines())]  # noqa: E731
    assert [i for i, _ in scores(reused.stdout)] == [i for i, _ in scores(direct.stdout)]
    np.testing.assert_allclose([s for _, s in scores(reused.stdout)], [s for _, s in scores(direct.stdout)], atol=1e-5)
    assert not list(tmp_path.glob("*.npz"))  # nothing embedded, nothing cached


def test_search_refuses_vectors_of_another_model_or_size(tmp_path, docs_jsonl, minilm_dir):
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.random.default_rng(0).standard_normal((3, 384)).astype(np.float32))
    result = minie5_cli("search", "-m", minilm_dir, "-c", docs_jsonl, "--vectors", wrong, "q")
    assert result.returncode == 2 and "--vectors" in result.stderr and "is not the vector" in result.stderr
    np.save(wrong, np.ones((2, 384), np.float32))
    result = minie5_cli("search", "-m", minilm_dir, "-c", docs_jsonl, "--vectors", wrong, "q")
    assert result.returncode == 2 and "2 vectors" in result.stderr and "3 texts" in result.stderr


def test_the_result_table_names_hits_by_their_id(docs_jsonl, minilm_dir):
    result = minie5_cli("search", "-m", minilm_dir, "-c", docs_jsonl, "-k", "1", "how often does the train go")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[2] == "rail" and "#1" not in result.stdout


# ---- 8. one rule for cutting dimensions

def test_truncate_dim_and_dimensions_follow_one_rule(minilm):
    assert kept_dimensions(None, 384) is None and kept_dimensions(384, 384) is None
    assert kept_dimensions(128, 384) == 128
    for bad in (0, 385, True, 1.5):
        with pytest.raises(ValueError, match="truncate_dim"):
            kept_dimensions(bad, 384)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cut = minilm.encode(["a text"], truncate_dim=128)
    assert cut.shape == (1, 128) and any("first 128 of 384" in str(w.message) for w in caught)
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1, atol=1e-6)


def test_the_server_cuts_dimensions_as_the_library_does(minilm_dir, minilm):
    pytest.importorskip("starlette")
    import httpx

    from tests.support.server import running_server

    with running_server("-m", minilm_dir) as (_, url):
        openai = httpx.post(f"{url}/v1/embeddings", json={"input": ["a text"], "dimensions": 128}).json()
        tei = httpx.post(f"{url}/embed", json={"inputs": ["a text"], "dimensions": 128}).json()
        refused = httpx.post(f"{url}/v1/embeddings", json={"input": "a", "dimensions": 385})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = minilm.encode(["a text"], truncate_dim=128)
    np.testing.assert_allclose(openai["data"][0]["embedding"], expected[0], atol=1e-5)
    np.testing.assert_allclose(tei[0], expected[0], atol=1e-5)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "dimensions"


# ---- 9. CrossEncoder by name, as sentence-transformers'

def test_cross_encoder_loads_by_name_like_sentence_transformers(random_model_dir):
    folder = random_model_dir("reranker-random")
    reranker = minie5.CrossEncoder(str(folder), max_length=128, device="cpu", backend="numpy")
    assert reranker.max_length == 128
    pairs = [("how tall is everest", "Everest is 8,849 m high."), ("how tall is everest", "bread")]
    np.testing.assert_allclose(reranker.predict(pairs),
                               minie5.load_reranker(folder, max_length=128, backend="numpy").predict(pairs), atol=1e-6)
    with pytest.raises(ValueError, match="CPU"):
        minie5.CrossEncoder(folder, device="cuda")
    with pytest.raises(ValueError, match="activation="):
        minie5.CrossEncoder(folder, activation_fn=object())
    with pytest.raises(ValueError, match="num_labels=3"):
        minie5.CrossEncoder(folder, num_labels=3, backend="numpy")
    with pytest.raises(TypeError, match="nonsense"):
        minie5.CrossEncoder(folder, nonsense=1)
