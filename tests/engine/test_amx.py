"""AMX: the tile emulator against the SDM's rules and arithmetic, the AMX products' tile schedules
on the emulator against the references (on every CPU), the engine's AMX path end to end on the
emulator, the dispatch and what `amx_status` says, and the real tiles where the CPU has them (in a
subprocess, after the feature check: compiling AMX for a CPU without it aborts the process)."""

import math
import os
import platform
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minie5
from minie5.engine import dispatch
from minie5.engine.kernels import amx, amx_bfloat16, amx_emulator, amx_int8, bfloat16
from minie5.reference.bfloat16 import bfloat16_values, linear_bfloat16, round_bfloat16
from tests.support.engine import assert_same_bits_in_any_batch_and_thread_count, varied_texts

AMX, AMX_WHY = amx.amx_status()


def config(*tiles, palette=1) -> np.ndarray:  # tiles: (rows, bytes per row) for tiles 0, 1, ...
    c = np.zeros(64, np.uint8)
    c[0] = palette
    for t, (rows, width) in enumerate(tiles):
        c[16 + 2 * t], c[17 + 2 * t], c[48 + t] = width & 0xFF, width >> 8, rows
    return c


def state_with(*tiles) -> np.ndarray:
    state = np.zeros(amx_emulator.STATE_BYTES, np.uint8)
    amx_emulator.ldtilecfg(state, config(*tiles))
    return state


@pytest.mark.parametrize("change, message", [
    (lambda c: c.__setitem__(0, 2), "palette must be 0 or 1"),
    (lambda c: c.__setitem__(48, 17), "more than 16 rows"),
    (lambda c: c.__setitem__(16, 65), "more than 64 bytes a row"),
    (lambda c: c.__setitem__(17, 1), "more than 64 bytes a row"),  # 256 + 64
    (lambda c: c.__setitem__(5, 1), "bytes 1-15"),
    (lambda c: c.__setitem__(40, 4), "bytes 32-47"),
    (lambda c: c.__setitem__(60, 1), "bytes 56-63"),
    (lambda c: c.__setitem__(49, 4), "rows but no bytes"),
])
def test_the_emulator_refuses_configurations_the_hardware_refuses(change, message):
    c = config((16, 64), (0, 0))
    change(c)
    with pytest.raises(ValueError, match=message):
        amx_emulator.ldtilecfg(np.zeros(amx_emulator.STATE_BYTES, np.uint8), c)


def test_the_emulator_refuses_what_the_instructions_refuse():
    state = np.zeros(amx_emulator.STATE_BYTES, np.uint8)
    with pytest.raises(ValueError, match="before ldtilecfg"):
        amx_emulator.tilezero(state, 0)
    state = state_with((16, 64), (16, 64), (16, 64), (8, 64), (16, 32))
    with pytest.raises(ValueError, match="not configured"):
        amx_emulator.tilezero(state, 6)
    with pytest.raises(ValueError, match="one tile twice"):
        amx_emulator.tdpbssd(state, 0, 0, 1)
    with pytest.raises(ValueError, match="A's rows differ"):
        amx_emulator.tdpbssd(state, 0, 3, 1)  # 8 rows of A for 16 of C
    with pytest.raises(ValueError, match="B's bytes per row"):
        amx_emulator.tdpbf16ps(state, 0, 1, 4)  # B 32 bytes a row, C 64
    memory = np.zeros((16, 64), np.int8)
    amx_emulator.tileloadd(state, 1, memory.reshape(-1), 0, 64)
    with pytest.raises(IndexError, match="outside the array"):
        amx_emulator.tileloadd(state, 1, memory.reshape(-1), 1, 64)  # the last row would run one byte over
    with pytest.raises(IndexError, match="outside the array"):
        amx_emulator.tilestored(state, 1, memory.reshape(-1)[:1000], 0, 64)
    amx_emulator.tilerelease(state)
    with pytest.raises(ValueError, match="before ldtilecfg"):
        amx_emulator.tilezero(state, 0)


def test_tdpbssd_sums_signed_bytes_exactly_and_loads_with_strides():
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (16, 80), dtype=np.int8)  # a tile of 16 x 64 from a wider array
    b = rng.integers(-128, 128, (64, 16), dtype=np.int8)
    b[:, 3] = -128  # extremes: -128 * -128 over K = 64 is 2^20, far inside int32
    a[2] = -128
    vnni = np.ascontiguousarray(b.reshape(16, 4, 16).transpose(0, 2, 1)).reshape(-1)  # [16 quads, 16 n, 4]
    state = state_with((16, 64), (16, 64), (16, 64))
    amx_emulator.tileloadd(state, 1, a.reshape(-1), 8, 80)  # from column 8, row stride 80 bytes
    amx_emulator.tileloadd(state, 2, vnni, 0, 64)
    c0 = rng.integers(-2 ** 20, 2 ** 20, (16, 16), dtype=np.int32)
    amx_emulator.tileloadd(state, 0, c0.reshape(-1), 0, 64)
    amx_emulator.tdpbssd(state, 0, 1, 2)
    out = np.zeros((16, 16), np.int32)
    amx_emulator.tilestored(state, 0, out.reshape(-1), 0, 64)
    assert np.array_equal(out, c0 + a[:, 8:72].astype(np.int64) @ b.astype(np.int64))
    # int32 arithmetic wraps, as the instruction does: 2^31 - 1 plus a positive sum
    c0[:] = 2 ** 31 - 1
    amx_emulator.tileloadd(state, 0, c0.reshape(-1), 0, 64)
    amx_emulator.tdpbssd(state, 0, 1, 2)
    amx_emulator.tilestored(state, 0, out.reshape(-1), 0, 64)
    expected = (np.int64(2 ** 31 - 1) + a[:, 8:72].astype(np.int64) @ b.astype(np.int64) + 2 ** 31) % 2 ** 32 - 2 ** 31
    assert np.array_equal(out, expected)


def tdpbf16ps_as_the_manual_says(c, a, b):  # c [R, N] float32, a [R, 2K] uint16, b [K, 2N] uint16 (pairs)
    """The SDM's pseudo-code in NumPy, vectorised over columns: per row, an even and an odd float32
    sum over k (each step one rounding), then C += even + odd (two roundings); DAZ and FTZ."""
    def daz(bits):
        values = bfloat16_values(bits).astype(np.float64)
        values[(bits & 0x7F80) == 0] = 0.0
        return values

    def ftz(x):
        x = x.astype(np.float32)
        return np.where(np.abs(x) < np.float32(2.0 ** -126), np.float32(0), x)

    A, B = daz(a), daz(b)
    out = c.copy()
    for m in range(c.shape[0]):
        even = np.zeros(c.shape[1], np.float32)
        odd = np.zeros(c.shape[1], np.float32)
        for k in range(b.shape[0]):
            even = ftz(A[m, 2 * k] * B[k, 0::2] + even.astype(np.float64))
            odd = ftz(A[m, 2 * k + 1] * B[k, 1::2] + odd.astype(np.float64))
        out[m] = ftz(c[m].astype(np.float64) + ftz(even.astype(np.float64) + odd).astype(np.float64))
    return out


def test_tdpbf16ps_is_the_manuals_pseudo_code():
    rng = np.random.default_rng(1)
    a = round_bfloat16(rng.standard_normal((16, 32)).astype(np.float32) * 3)
    b = round_bfloat16(rng.standard_normal((16, 32)).astype(np.float32))
    a[0, 0] = 0x0001  # a denormal input counts as zero (DAZ)
    a[1, :] = round_bfloat16(np.full(32, 2.0 ** -70, np.float32))  # products of 2^-140: denormal, flushed
    b[:, 0] = round_bfloat16(np.full(16, 2.0 ** -70, np.float32))
    c = rng.standard_normal((16, 16)).astype(np.float32)
    state = state_with((16, 64), (16, 64), (16, 64))
    for t, array in ((0, c), (1, a), (2, b)):
        amx_emulator.tileloadd(state, t, array.reshape(-1), 0, 64)
    amx_emulator.tdpbf16ps(state, 0, 1, 2)
    out = np.zeros((16, 16), np.float32)
    amx_emulator.tilestored(state, 0, out.reshape(-1), 0, 64)
    expected = tdpbf16ps_as_the_manual_says(c, a, b)
    assert np.array_equal(out, expected)
    np.testing.assert_allclose(out, c + bfloat16_values(a).astype(np.float64) @ bfloat16_values(
        b.reshape(16, 16, 2).transpose(0, 2, 1).reshape(32, 16)).astype(np.float64), rtol=0, atol=1e-4)
    assert out[1, 0] == c[1, 0]  # the flushed products added nothing


def test_a_short_tile_zeroes_the_rest_as_the_hardware_does():
    state = state_with((3, 12))
    amx_emulator.tileloadd(state, 0, np.full(100, 7, np.uint8), 0, 20)
    tile = state[64:64 + 1024].reshape(16, 64)
    assert np.all(tile[:3, :12] == 7) and np.all(tile[:3, 12:] == 0) and np.all(tile[3:] == 0)


SHAPES = [(1, 384, 40), (37, 100, 389), (33, 64, 16), (70, 1536, 48)]


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_emulated_amx_bfloat16_products_match_the_reference(M, K, N):
    rng = np.random.default_rng(M + K + N)
    x = rng.standard_normal((M, K)).astype(np.float32)
    weight = (rng.standard_normal((N, K)) / math.sqrt(K)).astype(np.float32)
    packed = amx_bfloat16.pack_weight(weight)
    xb = np.full((M, packed.padded_cols), 0xFFFF, np.uint16)
    bfloat16.round_rows(x, xb)  # pads K to a multiple of 32 with zeros
    out = np.full((M, packed.padded_rows), np.nan, np.float32)
    amx_bfloat16.linear_amx_bfloat16(xb, packed.packed, out, amx_emulator.tile_files())
    np.testing.assert_allclose(out[:, :N], linear_bfloat16(x, weight), rtol=0, atol=1e-5)
    assert np.all(out[:, N:] == 0)
    # A row's bits do not depend on the rows around it (every M tail of a 32-row block).
    alone = np.full((1, packed.padded_rows), np.nan, np.float32)
    amx_bfloat16.linear_amx_bfloat16(xb[-1:], packed.packed, alone, amx_emulator.tile_files())
    assert np.array_equal(alone[0], out[-1])


def test_amx_products_refuse_shapes_that_do_not_agree():
    packed = amx_bfloat16.pack_weight(np.ones((16, 40), np.float32))
    with pytest.raises(ValueError, match="do not agree"):
        amx_bfloat16.linear_amx_bfloat16(np.zeros((2, 40), np.uint16), packed.packed, np.zeros((2, 16), np.float32),
                                         amx_emulator.tile_files())


@pytest.mark.parametrize("M, K, N", SHAPES)
def test_emulated_amx_int8_products_sum_exactly_and_match_the_reference(M, K, N):
    rng = np.random.default_rng(M * K + N)
    x = rng.standard_normal((M, K)).astype(np.float32)
    x[:, :3] *= 30  # a few large channels, as a trained BERT has
    weight = (rng.standard_normal((N, K)) / math.sqrt(K)).astype(np.float32)
    packed = amx_int8.pack_weight(weight)
    Kp = packed.padded_cols
    xq, xs = np.full((M, Kp), 99, np.int8), np.zeros((M, Kp // 64), np.float32)
    amx_int8.quantize_rows(x, xq, xs)
    rq, rs = amx_int8.quantize_blocks(x)
    assert np.array_equal(xq, rq) and np.array_equal(xs, rs)
    out = np.full((M, packed.padded_rows), np.nan, np.float32)
    amx_int8.linear_amx_int8(xq, xs, packed.packed, packed.scales, out, amx_emulator.tile_files())
    wq, ws = amx_int8.quantize_blocks(weight)
    dots = np.einsum("mbk,nbk->mnb", rq.reshape(M, -1, 64).astype(np.int64), wq.reshape(N, -1, 64).astype(np.int64))
    reference = (dots * (rs[:, None, :] * ws[None, :, :]).astype(np.float64)).sum(axis=2)
    np.testing.assert_allclose(out[:, :N], reference, rtol=0, atol=2e-6)
    assert np.all(out[:, N:] == 0)
    # With every scale 1 the output is the integer sum itself: exact.
    ones = np.ones_like(xs)
    amx_int8.linear_amx_int8(xq, ones, packed.packed, np.ones_like(packed.scales), out, amx_emulator.tile_files())
    assert np.array_equal(out[:, :N], dots.sum(axis=2).astype(np.float32))


def test_this_cpu_s_amx_status_names_what_is_missing():
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if "amx_tile" not in flags:
        assert not AMX and "amx-tile" in AMX_WHY
    report = dispatch.cpu_report()
    assert report["amx"]["usable"] == AMX
    assert report["features"]["amx_tile"] == ("amx_tile" in flags)
    assert report["features"]["avx512_vnni"] == ("avx512_vnni" in flags)


@pytest.mark.slow
def test_emulated_amx_runs_the_engine_end_to_end(random_model_dir, monkeypatch):
    """$MINIE5_AMX=emulate: the engine's bfloat16 and int8 products on the emulator's tiles, on a
    few short texts of the small random XLM-R-shaped model (the emulator is slow)."""
    model_dir = random_model_dir("xlmr-random")
    texts = ["query: summit define", "passage: the highest point of a mountain", "x", ""]
    exact = minie5.load(model_dir).encode(texts)
    monkeypatch.setenv(amx.EMULATE_ENV, "emulate")
    for dtype, bar in (("bfloat16", 0.9999), ("int8", 0.998)):
        model = minie5.load(model_dir, dtype=dtype)
        assert model.backend.products() == f"kernels.amx_{dtype} (emulated)"
        vectors = model.encode(texts)
        assert np.sum(vectors * exact, axis=1).min() >= bar
        assert np.array_equal(model.encode(texts[1:2]), vectors[1:2])  # the same bits alone as in a batch


@pytest.mark.skipif(not AMX, reason=f"no AMX here: {AMX_WHY}")
def test_the_real_tiles_give_the_emulators_bits(tmp_path):
    """Where AMX exists: the CPU's tiles (tiles=None) against the emulator, bit for bit, in a
    subprocess (it asks for the tile state itself)."""
    code = (
        "import numpy as np\n"
        "from minie5.engine.kernels import amx, amx_bfloat16, amx_emulator, amx_int8, bfloat16\n"
        "assert amx.amx_status()[0]\n"
        "rng = np.random.default_rng(0)\n"
        "for M, K, N in ((1, 384, 40), (37, 100, 389), (70, 1536, 48)):\n"
        "    x = rng.standard_normal((M, K)).astype(np.float32)\n"
        "    w = rng.standard_normal((N, K)).astype(np.float32)\n"
        "    p = amx_bfloat16.pack_weight(w)\n"
        "    xb = np.zeros((M, p.padded_cols), np.uint16); bfloat16.round_rows(x, xb)\n"
        "    real, emulated = (np.zeros((M, p.padded_rows), np.float32) for _ in range(2))\n"
        "    amx_bfloat16.linear_amx_bfloat16(xb, p.packed, real, None)\n"
        "    amx_bfloat16.linear_amx_bfloat16(xb, p.packed, emulated, amx_emulator.tile_files())\n"
        "    assert np.array_equal(real, emulated), ('bfloat16', M, K, N, np.abs(real - emulated).max())\n"
        "    q = amx_int8.pack_weight(w)\n"
        "    xq = np.zeros((M, q.padded_cols), np.int8); xs = np.zeros((M, q.padded_cols // 64), np.float32)\n"
        "    amx_int8.quantize_rows(x, xq, xs)\n"
        "    real, emulated = (np.zeros((M, q.padded_rows), np.float32) for _ in range(2))\n"
        "    amx_int8.linear_amx_int8(xq, xs, q.packed, q.scales, real, None)\n"
        "    amx_int8.linear_amx_int8(xq, xs, q.packed, q.scales, emulated, amx_emulator.tile_files())\n"
        "    assert np.array_equal(real, emulated), ('int8', M, K, N)\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


@pytest.mark.skipif(not AMX, reason=f"no AMX here: {AMX_WHY}")
def test_on_an_amx_cpu_bfloat16_runs_on_the_tiles_and_keeps_its_accuracy(minilm_dir, monkeypatch):
    monkeypatch.setenv(amx.EMULATE_ENV, "on")  # not the default until this test has passed on an AMX CPU
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = minie5.load(minilm_dir, dtype="bfloat16")
    assert model.backend.products() == "kernels.amx_bfloat16"
    texts = varied_texts(60)
    cos = np.sum(model.encode(texts) * minie5.load(minilm_dir).encode(texts), axis=1)
    assert cos.min() >= 0.9999
    assert_same_bits_in_any_batch_and_thread_count(model, minilm_dir, "bfloat16", seed=5)


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() != "x86_64", reason="AMX is x86-64's")
def test_the_hardware_schedules_compile_to_amx_instructions(tmp_path):
    """On any x86-64 CPU: the products compiled with tiles=None for a Sapphire Rapids target (LLVM's
    features plus amx-tile, amx-bf16, amx-int8), never run, and their machine code read: the
    configuration, the loads, the products, the stores and the release are real tile instructions.
    In a subprocess: its target is not this CPU's."""
    from llvmlite import binding

    code = (
        "import re\n"
        "from numba import types\n"
        "from minie5.engine.kernels import amx_bfloat16, amx_int8\n"
        "int64, none = types.int64, types.none\n"
        "amx_bfloat16.linear_amx_bfloat16.compile((types.uint16[:, ::1], types.uint16[:, ::1], "
        "types.float32[:, ::1], none))\n"
        "amx_int8.linear_amx_int8.compile((types.int8[:, ::1], types.float32[:, ::1], types.int8[:, ::1], "
        "types.float32[:, ::1], types.float32[:, ::1], none))\n"
        "for kernel, product in ((amx_bfloat16._task, 'tdpbf16ps'), (amx_int8._task, 'tdpbssd')):\n"
        "    asm = '\\n'.join(kernel.inspect_asm().values())\n"
        "    print(product, *(len(re.findall(r'\\b' + op + r'\\b', asm)) for op in "
        "('ldtilecfg', 'tileloadd', product, 'tilestored', 'tilezero', 'tilerelease')))\n")
    features = binding.get_host_cpu_features().flatten() + ",+amx-tile,+amx-bf16,+amx-int8"
    env = dict(os.environ, NUMBA_CPU_NAME="sapphirerapids", NUMBA_CPU_FEATURES=features,
               NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in result.stdout.splitlines():
        product, configure, loads, products, stores, zeros, release = line.split()
        assert configure == release == "1", line  # one configuration and one release per task
        assert int(loads) >= 4 and int(products) >= 4 and int(stores) >= 4 and int(zeros) >= 4, line
