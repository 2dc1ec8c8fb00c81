"""What the processor offers beyond what plain Numba code reaches: how many vector registers the
compiled code may use, whether it has AVX-512 VNNI and BF16, and llvm.prefetch, called through a Numba
intrinsic (simd.py has the vector operations).

An intrinsic emits LLVM IR directly. One that names an instruction the target lacks can abort the
whole process when it is compiled (an LLVM error Python cannot catch), so any such kernel must be
chosen in Python, from `cpu_features()`, before it is compiled; llvm.prefetch is safe everywhere
(where a processor lacks it, LLVM emits nothing).
"""

from __future__ import annotations

from llvmlite import binding, ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic


def cpu_features() -> set[str]:
    """The features Numba compiles for ("+avx512f", "+avx2", ...): the host's, unless
    NUMBA_CPU_NAME / NUMBA_CPU_FEATURES say otherwise. Numba's cache keys compiled code by the same
    features, but module-level constants are frozen into it, so a kernel shaped by them is chosen
    once per process."""
    # As numba.core.codegen chooses them: NUMBA_CPU_FEATURES if set, else the host's.
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else binding.get_host_cpu_features().flatten()
    return {f for f in features.split(",") if f.startswith("+")}


def vector_registers() -> int:
    """How many SIMD registers the generated code can use: 32 where it targets AVX-512 (zmm0-31),
    16 otherwise (AVX2's ymm0-15)."""
    return 32 if "+avx512f" in cpu_features() else 16


def has_avx512_vnni() -> bool:
    """Whether the compiled code may use AVX-512 VNNI (`vpdpbusd`, see simd.dot_bytes): the int8
    products' fast kernel. Decided from the features Numba compiles for, never from the host's
    name: NUMBA_CPU_FEATURES without +avx512vnni must not get it (NUMBA_CPU_NAME alone keeps the
    host's features; NUMBA_CPU_NAME=generic has none)."""
    return {"+avx512f", "+avx512bw", "+avx512vnni"} <= cpu_features()


def has_avx512_bf16() -> bool:
    """Whether the compiled code may use AVX-512 BF16 (`vdpbf16ps`, see simd.dot_bfloat16): the
    bfloat16 products' kernel. Decided as has_avx512_vnni is."""
    return {"+avx512f", "+avx512bw", "+avx512bf16"} <= cpu_features()


@intrinsic
def _prefetch(typingctx, row, index):
    """Ask for the cache line holding row[index] (llvm.prefetch: read, keep in all cache levels).
    A hint only: it changes no value."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, signature.args[0], array, [args[1]])
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch")
        builder.call(prefetch, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(row, index), codegen


if config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1 runs the kernels as plain Python, where a hint is nothing
    def _prefetch(row, index):  # noqa: F811
        pass


@njit(inline="always")
def prefetch_row(row):  # every 64-byte cache line of a float32 row (any stride-1 view)
    for k in range(0, row.shape[0], 16):
        _prefetch(row, k)
