"""Traces, the float64 reference, `minie5 verify` and `minie5 attention`."""

import json

import numpy as np
import pytest

import minie5
from minie5.errors import install_hint
from minie5.porting import compare, trace
from tests.support.cli import run_cli

TEXTS = ["query: how much protein should a female eat", "passage: summit"]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def test_trace_names_shapes_and_agreement_with_the_reference(minilm):
    t = minilm.trace(TEXTS)
    assert list(t) == trace.tensor_names(6)
    B, T = t["input_ids"].shape
    assert (B, T) == (2, 11)
    assert t["encoder.layer.2.attention.self.probs"].shape == (2, 12, T, T)
    assert t["encoder.layer.2.intermediate"].shape == (2, T, 1536)
    np.testing.assert_allclose(t["encoder.layer.2.attention.self.probs"].sum(axis=-1), 1, atol=1e-6)
    hidden, mask = minilm.backend.hidden_states(minilm.tokenizer.tokenize(TEXTS))
    np.testing.assert_array_equal(t["encoder.layer.5.output.LayerNorm"][mask > 0], hidden[-1][mask > 0])
    np.testing.assert_array_equal(t["embedding"], minilm.encode(TEXTS))


def test_float64_ground_truth(minilm_dir, minilm):
    exact = minie5.load(minilm_dir, backend="numpy", dtype="float64")
    e64 = exact.encode(TEXTS)
    assert e64.dtype == np.float64
    np.testing.assert_array_equal(e64, minilm.trace(TEXTS, dtype="float64")["embedding"])
    assert 0 < np.abs(e64 - minilm.encode(TEXTS)).max() < 1e-6  # float32 rounding, nothing more
    with pytest.raises(ValueError, match="dtype='float64' needs backend='numpy'"):
        minie5.load(minilm_dir, dtype="float64")


def test_verify_names_the_perturbed_layer(tmp_path):
    """A trace written by minie5, with one layer's tensor changed as a faulty port would: verify
    names that tensor as the first divergence, and fails only when the embeddings differ too."""
    path = tmp_path / "trace.npz"
    result = run_cli("trace", "-m", MODEL, "-o", path, *TEXTS)
    assert result.returncode == 0, result.stderr
    tensors, meta = trace.load(path)
    assert meta["format"] == "minie5-trace" and meta["texts"] == TEXTS

    result = run_cli("verify", "-m", MODEL, "--against", path)
    assert result.returncode == 0 and "first divergence" not in result.stdout
    assert "RESULT: embeddings AGREE" in result.stdout

    name = "encoder.layer.3.intermediate"
    tensors[name][1, 4, 100] += 0.05  # one value, of one token of the second text
    bad = tmp_path / "bad.npz"
    trace.save(bad, tensors, meta)
    result = run_cli("verify", "-m", MODEL, "--against", bad)
    (marked,) = [line for line in result.stdout.splitlines() if "first divergence" in line and "<--" in line]
    assert marked.startswith(name + " ")
    assert result.returncode == 0  # the embeddings in the file still agree

    tensors["embedding"][1] += 1e-3
    trace.save(bad, tensors, meta)
    result = run_cli("verify", "-m", MODEL, "--against", bad)
    assert result.returncode == 1 and "RESULT: embeddings DIFFER" in result.stdout
    assert f"first divergence: {name}" in result.stdout


def test_compare_ignores_padding_and_accepts_other_padding(minilm):
    ours = minilm.trace(TEXTS)
    theirs = {}
    pad = 3  # their batch is padded 3 tokens longer, with garbage there
    for name, value in ours.items():
        if value.ndim >= 2 and name not in ("pooled", "embedding"):
            widths = [(0, 0)] * value.ndim
            widths[1] = (0, pad)
            if name.endswith("probs"):
                widths[1], widths[2], widths[3] = (0, 0), (0, pad), (0, pad)
            value = np.pad(value, widths, constant_values=7)
        theirs[name] = value
    theirs["attention_mask"] = np.pad(ours["attention_mask"], [(0, 0), (0, pad)])
    rows, missing = compare.compare(ours, theirs)
    assert not missing and all(r.ok and r.max_abs == 0 for r in rows)


def test_unreadable_trace_is_named(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    result = run_cli("verify", "-m", MODEL, "--against", tmp_path / "x.npz")
    assert result.returncode == 1 and "x.npz: not a trace file" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_against_transformers():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    result = run_cli("verify", "-m", MODEL, *TEXTS)
    assert result.returncode == 0, result.stderr
    assert "encoder.layer.5.attention.self.probs" in result.stdout and "RESULT: embeddings AGREE" in result.stdout
    assert "first divergence" not in result.stdout and "not in the other trace" not in result.stdout


def test_attention_text_heatmap():
    result = run_cli("attention", "-m", MODEL, "--layer", "5", "query: summit define")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("\nhead ") == 12 and "summit" in out and "[SEP]" in out
    rows = [line for line in out.splitlines() if line.endswith("|")]
    assert len(rows) == 12 * 6 and all(len(r.split("|")[1]) == 6 for r in rows)
    result = run_cli("attention", "-m", MODEL, "--layer", "6", "x")
    assert result.returncode == 2 and "--layer must be from 0 to 5" in result.stderr


def test_attention_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "a.png"
    result = run_cli("attention", "-m", MODEL, "--out", out, "query: summit define")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trace_file_is_plain_npz(tmp_path):
    """What docs/trace-format.md promises a port in another language: plain .npy members."""
    import zipfile

    path = tmp_path / "t.npz"
    assert run_cli("trace", "-m", MODEL, "-o", path, "hello").returncode == 0
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert "embeddings.LayerNorm.npy" in names and "__meta__.npy" in names
    meta = json.loads(str(np.load(path)["__meta__"]))
    assert meta["version"] == 1 and meta["pooling"] == "mean" and meta["normalize"] is True


def test_verify_against_onnx(tmp_path, minilm_dir):
    """An ONNX export with every hidden state as an output: verify compares those, and pools the
    last one itself."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    pytest.importorskip("onnx")  # torch.onnx.export needs it
    from tests.support.onnx_export import export_all_hidden_states

    onnx_path = tmp_path / "minilm.onnx"
    export_all_hidden_states(minilm_dir, onnx_path)
    result = run_cli("verify", "-m", MODEL, "--against", onnx_path, *TEXTS)
    assert result.returncode == 0, result.stderr
    assert "encoder.layer.5.output.LayerNorm" in result.stdout and "RESULT: embeddings AGREE" in result.stdout
    assert "not in the other trace (" in result.stdout  # no attention probabilities in this graph
    result = run_cli("verify", "-m", MODEL, "--against", tmp_path / "missing.onnx", "x")
    assert result.returncode == 1 and "missing.onnx: ONNX Runtime cannot load it" in result.stderr


def test_a_plot_without_matplotlib_fails_before_the_work(tmp_path):
    import importlib.util

    if importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed here: nothing to refuse")
    for args in (("verify", "-m", MODEL, "--against", tmp_path / "t.npz", "--plot", tmp_path / "p.png"),
                 ("attention", "-m", MODEL, "--out", tmp_path / "a.png", "x")):
        result = run_cli(*args)
        assert result.returncode == 2 and install_hint("plot") in result.stderr and not result.stdout


def test_verify_pins_a_tanh_gelu_port_to_intermediate(tmp_path, minilm, monkeypatch):
    """A port with the tanh approximation of GELU: its error first passes the tolerance a step
    later, but verify names `intermediate`, where the error jumped, in the table and the summary."""
    import minie5.reference

    def tanh_gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    monkeypatch.setattr(minie5.reference, "gelu", tanh_gelu)
    port = minilm.trace(TEXTS)
    monkeypatch.undo()
    rows, missing = compare.compare(minilm.trace(TEXTS), port)
    assert compare.largest_growth(rows).name == "encoder.layer.0.intermediate"
    by_name = {r.name: r for r in rows}
    assert by_name["encoder.layer.0.attention.output.LayerNorm"].max_rel == 0  # the same code up to there
    assert by_name["encoder.layer.0.output.dense"].growth < 10  # a faithful step passes the error on

    path = tmp_path / "port.npz"
    trace.save(path, port, trace.metadata(minilm, TEXTS))
    result = run_cli("verify", "-m", MODEL, "--against", path)
    (marked,) = [line for line in result.stdout.splitlines() if "<-- largest growth" in line]
    assert marked.startswith("encoder.layer.0.intermediate ")
    assert "largest growth: encoder.layer.0.intermediate" in result.stdout.splitlines()[-1]
