"""Which kernel runs each dtype's products on this CPU, decided in Python before anything compiles
(compiling an instruction the CPU lacks aborts the process: kernels/simd.py, kernels/amx.py).

    dtype       first choice                 then                         else
    float32     kernels.linear / OpenBLAS    (measured per process, numba_backend._linear_is_faster)
    bfloat16    AMX tiles (amx_bfloat16)     AVX-512 BF16 (bfloat16)      float32, with a warning
    int8        AMX tiles (amx_int8)         AVX-512 VNNI (int8)          float32, with a warning

AMX needs the instructions, CPUID's palette and Linux's permission (kernels/amx.amx_status), and
for now $MINIE5_AMX=on: the tile kernels have not yet run on a CPU with AMX (only on the emulator),
so they are not the default. $MINIE5_AMX=off never uses AMX; $MINIE5_AMX=emulate runs the AMX
products on the tile emulator on any CPU (kernels/amx_emulator.py: exact, and thousands of times
slower: for tests).

The AMX choice is by the instructions' peak rates (on a Sapphire Rapids class core, 2.9 TFLOP/s
bfloat16 and 5.8 TOPS int8 in a loop of tile products, against 0.1-0.2 TFLOP/s for AVX-512 BF16 or
VNNI), not by a measurement of these kernels: none has yet run on a CPU with AMX (docs/engine-guide.md,
"AMX"). `minie5 info --measure` times every dtype on the machine it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba

from .kernels import amx
from .kernels.intrinsics import cpu_features, has_avx512_bf16, has_avx512_vnni


@dataclass(frozen=True)
class Choice:
    """A dtype's products on this CPU: `kernel` names the code, `runs` the dtype it really runs
    ("float32" where the CPU lacks every kernel of the dtype), `why` says why in a sentence."""

    dtype: str
    kernel: str
    runs: str
    why: str


def _amx() -> tuple[bool, bool, str]:  # (use AMX, emulated, why)
    if numba.config.DISABLE_JIT:
        return False, False, "kernels run as Python (NUMBA_DISABLE_JIT)"
    if amx.emulating():
        return True, True, f"{amx.EMULATE_ENV}=emulate: the AMX tile emulator (for tests; very slow)"
    usable, why = amx.amx_status()
    if usable and not amx.enabled():
        # The tile kernels are checked on the emulator on every CPU, but have never run on a CPU
        # with AMX: until tests/engine/test_amx.py has passed on one, they are the user's choice,
        # not the default (a wrong tile configuration would fault or give wrong vectors).
        return False, False, (f"{why}; not used by default until the AMX kernels have been verified on an "
                              f"AMX CPU: set {amx.EMULATE_ENV}=on to use them")
    return usable, False, why


def choose(dtype: str) -> Choice:
    """The kernel this process runs for `dtype` ("float32", "bfloat16" or "int8")."""
    if dtype == "float32":
        return Choice(dtype, "kernels.linear", "float32", "float32: kernels.linear, or OpenBLAS on long batches "
                                                          "where this CPU runs it faster (timed once per process)")
    if dtype not in ("bfloat16", "int8"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'int8', got {dtype!r}")
    use_amx, emulated, amx_why = _amx()  # why not: `minie5 info` and amx.amx_status() say it
    suffix = " (emulated)" if emulated else ""
    if use_amx:
        return Choice(dtype, f"kernels.amx_{dtype}{suffix}", dtype, amx_why)
    if dtype == "bfloat16":
        if has_avx512_bf16() and not numba.config.DISABLE_JIT:
            return Choice(dtype, "kernels.bfloat16", dtype, "AVX-512 BF16 (vdpbf16ps); no AMX")
        return Choice(dtype, "kernels.linear", "float32",
                      "has no AVX-512 BF16 (or runs with NUMBA_DISABLE_JIT), and no AMX")
    if numba.config.DISABLE_JIT:
        return Choice(dtype, "kernels.int8 (portable)", dtype, "kernels run as Python: the portable int8 loops")
    if has_avx512_vnni():
        return Choice(dtype, "kernels.int8", dtype, "AVX-512 VNNI (vpdpbusd); no AMX")
    return Choice(dtype, "kernels.linear", "float32", "has no AVX-512 VNNI, where int8 products would be slower "
                                                      "than float32's, and no AMX")


FEATURES = {  # what `minie5 info` reports, as lscpu spells them: LLVM's name for each
    "avx2": "+avx2", "fma": "+fma", "avx512f": "+avx512f", "avx512_vnni": "+avx512vnni",
    "avx512_bf16": "+avx512bf16", "avx512_fp16": "+avx512fp16", "amx_tile": "+amx-tile",
    "amx_bf16": "+amx-bf16", "amx_int8": "+amx-int8"}


def cpu_report() -> dict:
    """This CPU as the engine sees it: LLVM's name for it, the features the kernels care about,
    whether AMX may be used (and why not), and each dtype's choice."""
    features = cpu_features()
    usable, why = amx.amx_status()
    return {"cpu": numba.config.CPU_NAME or _host_cpu_name(),
            "features": {name: llvm in features for name, llvm in FEATURES.items()},
            "amx": {"usable": usable, "why": why, "palette": amx.amx_palette() if usable else None},
            "kernels": {dtype: vars(choose(dtype)) for dtype in ("float32", "bfloat16", "int8")}}


def _host_cpu_name() -> str:
    from llvmlite import binding
    return binding.get_host_cpu_name()
