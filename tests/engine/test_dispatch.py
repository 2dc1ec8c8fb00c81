"""Which kernel each dtype runs on this CPU (engine/dispatch.py) and `minie5 info`'s report of it,
with --measure. What a CPU without the instructions gets (float32 and a warning) is tested in
subprocesses with NUMBA_CPU_NAME in test_int8.py."""

import json
import os
import warnings

import pytest

import minie5
from minie5.engine import dispatch
from minie5.engine.kernels import amx
from tests.support.cli import run_cli

FLAGS = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []


@pytest.mark.skipif(not FLAGS, reason="no /proc/cpuinfo to compare with")
def test_info_reports_this_cpus_features_and_each_dtypes_kernel(minilm_dir):
    result = run_cli("info", minilm_dir, "--json")
    assert result.returncode == 0, result.stderr
    engine = json.loads(result.stdout)["engine"]
    for name in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"):
        assert engine["features"][name] == (name in FLAGS), name  # as lscpu spells and reports them
    usable, why = amx.amx_status()
    assert engine["amx"] == {"usable": usable, "why": why, "palette": engine["amx"]["palette"]}
    kernels = engine["kernels"]
    assert kernels["float32"]["kernel"] == "kernels.linear"
    if usable:
        assert kernels["bfloat16"]["kernel"] == "kernels.amx_bfloat16"
        assert kernels["int8"]["kernel"] == "kernels.amx_int8"
    else:
        assert kernels["bfloat16"]["kernel"] == ("kernels.bfloat16" if "avx512_bf16" in FLAGS else "kernels.linear")
        assert kernels["int8"]["kernel"] == ("kernels.int8" if "avx512_vnni" in FLAGS else "kernels.linear")
        assert kernels["bfloat16"]["runs"] == ("bfloat16" if "avx512_bf16" in FLAGS else "float32")
    text = run_cli("info", minilm_dir).stdout
    assert "amx         " + ("used" if usable else "not used: " + why) in text
    assert f"int8        {kernels['int8']['kernel']}" in text


def test_info_measure_times_every_dtype_as_it_runs_here(random_model_dir):
    result = run_cli("info", random_model_dir("xlmr-random"), "--measure", "--json")
    assert result.returncode == 0, result.stderr
    engine = json.loads(result.stdout)["engine"]
    for dtype, measured in engine["measured"].items():
        # float32's long batches go to kernels.linear or OpenBLAS, whichever the process timed faster
        # (and so do bfloat16's and int8's where the CPU lacks their instructions: they run float32's)
        runs = engine["kernels"][dtype]["runs"]
        expected = {engine["kernels"][dtype]["kernel"]} | ({"openblas"} if runs == "float32" else set())
        assert measured["kernel"] in expected
        assert measured["runs"] == engine["kernels"][dtype]["runs"]
        assert measured["tokens_per_second"] > 0 and measured["query_ms"] > 0 and measured["repeats"] >= 3


def test_the_loaded_model_runs_the_dispatched_kernel(minilm_dir):
    for dtype in ("bfloat16", "int8"):
        choice = dispatch.choose(dtype)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = minie5.load(minilm_dir, dtype=dtype)
        fell_back = [w for w in caught if "running dtype='float32'" in str(w.message)]
        assert len(fell_back) == (choice.runs != dtype)
        float32 = minie5.load(minilm_dir).backend.products()  # what a fallback must run: float32's own choice
        assert model.backend.products() == (choice.kernel if choice.runs == dtype else float32)
    with pytest.raises(ValueError, match="dtype must be"):
        dispatch.choose("float16")


def test_amx_off_is_never_amx(monkeypatch):
    monkeypatch.setenv(amx.EMULATE_ENV, "off")
    assert amx.amx_status() == (False, f"{amx.EMULATE_ENV}=off")
    assert not dispatch.choose("bfloat16").kernel.startswith("kernels.amx")
    monkeypatch.setenv(amx.EMULATE_ENV, "emulate")
    assert dispatch.choose("int8").kernel == "kernels.amx_int8 (emulated)"
    assert dispatch.choose("float32").kernel == "kernels.linear"

