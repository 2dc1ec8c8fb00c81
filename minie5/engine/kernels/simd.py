"""Vector registers as Numba values: a 16-lane int32 and a 16-lane float32 type, and the few
operations the products need (linear.py's float32, int8.py's int8), each emitting the LLVM IR of
one or two instructions.

Plain Numba code reaches SIMD only through LLVM's auto-vectoriser, which never turns an int8 dot
product into AVX-512 VNNI's `vpdpbusd` (64 byte products summed into 16 int32 lanes in one
instruction), and which vectorises a float32 dot product along K, leaving 16 partial sums to add
across the register at the end of every output. So the products write their inner loops with
these: `I32x16` and `F32x16` are LLVM's <16 x i32> and <16 x float>, kept in registers by LLVM like
any scalar local, and each function below is one instruction or two:

    load_bytes(row, k)          64 bytes from row[k:] as 16 int32 lanes         vmovdqu64
    broadcast_bytes(row, k)     the 4 bytes at row[k:k+4] in every lane         vpbroadcastd
    dot_bytes(acc, u8, s8)      acc + per lane the sum of 4 products u8 x s8    vpdpbusd  (VNNI only)
    dot_bfloat16(acc, a, b)     acc + per lane the sum of 2 bfloat16 products   vdpbf16ps (BF16 only)
    load_int(row, k), load_float(row, k), store_float(row, k, v)   16 lanes from row[k:]
    splat(x)                    a float32 in every lane
    add(a, b), multiply(a, b)   lane by lane
    multiply_add(acc, a, b)     acc + a * b per lane, fused where the CPU has FMA   vfmadd231ps
    fma_int(acc, ints, scale)   acc + float(ints) * scale, one rounding         vcvtdq2ps + vfmadd
    fma(a, b, c)                a * b + c for float32 scalars, one rounding     (llvm.fma.f32)

`dot_bytes` and `dot_bfloat16` are the ones a CPU may lack: compiling them for a processor without
AVX-512 VNNI (BF16) aborts the process with an LLVM error that Python cannot catch. Callers must
choose the kernel that uses them in Python, from `intrinsics.has_avx512_vnni()`
(`has_avx512_bf16()`), before it is first called (Numba compiles on the first call). Everything
else here compiles for any x86 target: LLVM splits a 16-lane operation into what the processor has
(two AVX2 registers, four SSE ones).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, config
from numba.extending import intrinsic, models, register_model

_I32, _F32 = ir.IntType(32), ir.FloatType()
_LANES = 16
_VI, _VF = ir.VectorType(_I32, _LANES), ir.VectorType(_F32, _LANES)


class I32x16(types.Type):
    """16 int32 lanes: a zmm register (or two ymm) holding int32 accumulators."""

    def __init__(self):
        super().__init__(name="I32x16")


class F32x16(types.Type):
    """16 float32 lanes."""

    def __init__(self):
        super().__init__(name="F32x16")


i32x16, f32x16 = I32x16(), F32x16()


@register_model(I32x16)
class _I32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VI)


@register_model(F32x16)
class _F32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VF)


def _pointer(context, builder, array_type, array, index, to):
    """A pointer of type `to` at array[index] (a 1-D array; the index is not bounds-checked, as in
    any Numba kernel without boundscheck)."""
    data = context.make_array(array_type)(context, builder, array)
    item = cgutils.get_item_pointer(context, builder, array_type, data, [index])
    return builder.bitcast(item, to.as_pointer())


def _splat(builder, vector_type, value):
    one = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value, _I32(0))
    return builder.shuffle_vector(one, ir.Constant(vector_type, ir.Undefined), ir.Constant(_VI, [0] * _LANES))


def _load(name: str, result, vector, align: int, doc: str):
    """An intrinsic name(row, index) -> `result`: the `vector` at row[index:], as one load."""
    def load(typingctx, row, index):
        def codegen(context, builder, signature, args):
            return builder.load(_pointer(context, builder, signature.args[0], *args, vector), align=align)
        return result(row, index), codegen
    load.__name__ = load.__qualname__ = name  # Numba names (and caches) an intrinsic by its function's name
    load.__doc__ = doc
    return intrinsic(load)


load_bytes = _load("load_bytes", i32x16, _VI, 1,
                   "row[index:index + 64] (int8 or uint8) as 16 int32 lanes of four bytes each.")
load_int = _load("load_int", i32x16, _VI, 4, "row[index:index + 16] of an int32 array.")
load_float = _load("load_float", f32x16, _VF, 4, "row[index:index + 16] of a float32 array.")


@intrinsic
def broadcast_bytes(typingctx, row, index):
    """The four bytes row[index:index + 4] repeated in all 16 lanes."""
    def codegen(context, builder, signature, args):
        four = builder.load(_pointer(context, builder, signature.args[0], *args, _I32), align=1)
        return _splat(builder, _VI, four)
    return i32x16(row, index), codegen


@intrinsic
def dot_bytes(typingctx, acc, unsigned, signed):
    """acc + in each lane u0*s0 + u1*s1 + u2*s2 + u3*s3, the four bytes of `unsigned` read as uint8
    and those of `signed` as int8, summed exactly in int32 (vpdpbusd: no saturation). AVX-512 VNNI
    only: see the module's docstring."""
    def codegen(context, builder, signature, args):
        # LLVM's IR reader upgrades this all-<16 x i32> form to the byte-vector signature of newer
        # LLVMs, so it works with every llvmlite Numba supports.
        vpdpbusd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VI, [_VI, _VI, _VI]),
                                                  "llvm.x86.avx512.vpdpbusd.512")
        return builder.call(vpdpbusd, list(args))
    return i32x16(i32x16, i32x16, i32x16), codegen


@intrinsic
def dot_bfloat16(typingctx, acc, a, b):
    """acc + in each lane a0*b0 + a1*b1, the lane's two 16-bit halves of `a` and `b` read as
    bfloat16 (vdpbf16ps: each product exact in float32, the sums rounded). AVX-512 BF16 only: see
    the module's docstring."""
    def codegen(context, builder, signature, args):
        # As for vpdpbusd: LLVM's IR reader upgrades this <16 x i32> form to the bfloat vectors of
        # newer LLVMs, and llvmlite needs no bfloat type.
        vdpbf16ps = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VF, [_VF, _VI, _VI]),
                                                   "llvm.x86.avx512bf16.dpbf16ps.512")
        return builder.call(vdpbf16ps, list(args))
    return f32x16(f32x16, i32x16, i32x16), codegen


@intrinsic
def store_float(typingctx, row, index, value):
    """row[index:index + 16] = value, for a float32 array."""
    def codegen(context, builder, signature, args):
        builder.store(args[2], _pointer(context, builder, signature.args[0], args[0], args[1], _VF), align=4)
        return context.get_dummy_value()
    return types.void(row, index, value), codegen


@intrinsic
def splat(typingctx, value):
    """A float32 in all 16 lanes."""
    def codegen(context, builder, signature, args):
        return _splat(builder, _VF, args[0])
    return f32x16(types.float32), codegen


@intrinsic
def zeros(typingctx):
    """16 float32 zeros."""
    def codegen(context, builder, signature, args):
        return ir.Constant(_VF, [0.0] * _LANES)
    return f32x16(), codegen


@intrinsic
def add(typingctx, a, b):
    def codegen(context, builder, signature, args):
        return builder.fadd(*args)
    return f32x16(f32x16, f32x16), codegen


@intrinsic
def multiply(typingctx, a, b):
    def codegen(context, builder, signature, args):
        return builder.fmul(*args)
    return f32x16(f32x16, f32x16), codegen


@intrinsic
def multiply_add(typingctx, acc, a, b):
    """acc + a * b, lane by lane: one fused multiply-add where the compiled code has FMA, a multiply
    then an add where it has not (llvm.fmuladd, so never a slow call to C's fmaf)."""
    def codegen(context, builder, signature, args):
        fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VF, [_VF] * 3),
                                                 "llvm.fmuladd.v16f32")
        return builder.call(fmuladd, [args[1], args[2], args[0]])
    return f32x16(f32x16, f32x16, f32x16), codegen


def _fma(builder, a, b, c, value_type, name):
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(value_type, [value_type] * 3), name)
    return builder.call(fma, [a, b, c])


@intrinsic
def fma_int(typingctx, acc, ints, scale):
    """acc + float32(ints) * scale, lane by lane, with one rounding (the int32 to float32
    conversion is exact below 2^24 and rounds to nearest above)."""
    def codegen(context, builder, signature, args):
        return _fma(builder, builder.sitofp(args[1], _VF), args[2], args[0], _VF, "llvm.fma.v16f32")
    return f32x16(f32x16, i32x16, f32x16), codegen


@intrinsic
def _fma_scalar(typingctx, a, b, c):
    def codegen(context, builder, signature, args):
        return _fma(builder, *args, _F32, "llvm.fma.f32")
    return types.float32(types.float32, types.float32, types.float32), codegen


@njit(inline="always")
def fma(a, b, c):  # float32 a * b + c with one rounding: the scalar twin of fma_int's lanes
    return _fma_scalar(a, b, c)


if config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1: the kernels run as Python, with these as NumPy
    def fma(a, b, c):  # noqa: F811 - float64 holds a float32 product exactly; one rounding to float32 after the sum
        return np.float32(float(a) * float(b) + float(c))

    def load_float(row, index):  # noqa: F811
        return row[index:index + _LANES].copy()

    def store_float(row, index, value):  # noqa: F811
        row[index:index + _LANES] = value

    def splat(value):  # noqa: F811
        return np.full(_LANES, value, np.float32)

    def zeros():  # noqa: F811
        return np.zeros(_LANES, np.float32)

    def multiply_add(acc, a, b):  # noqa: F811 - a multiply, then an add: each rounded to float32
        return acc + a * b

    def add(a, b):  # noqa: F811
        return a + b
