"""Intel AMX's tile operations as the AMX products call them, on the CPU's own tiles or on the
emulator's (amx_emulator.py), and whether this process may use the real ones.

AMX adds eight tile registers of up to 16 rows x 64 bytes and instructions that multiply whole
tiles: TDPBF16PS (16 x 32 bfloat16 times 32 x 16, summed into 16 x 16 float32) and TDPBSSD (16 x 64
int8 times 64 x 16, into int32). Every operation below takes `tiles` first:

    None              the CPU's tiles, through the LLVM intrinsics llvm.x86.ldtilecfg, tileloadd64,
                      tdpbf16ps, tdpbssd, tilestored64, tilezero, tilerelease (tile numbers are
                      immediates: pass them as constants)
    a tile file       amx_emulator.tile_files(): the emulator, the state of the calling thread's row

so one tile schedule, written once, compiles to either (Numba compiles a function once per type of
its arguments, and a None argument selects the hardware at compile time). The schedules keep the
configuration and every tile use inside one compiled function: tile registers do not survive a
call.

The real instructions may only be compiled where `amx_status()` says so: compiling them for a CPU
without AMX aborts the process with an LLVM error Python cannot catch. That needs all of:
    - LLVM's features for this CPU name amx-tile, amx-bf16, amx-int8 (what Numba compiles for);
    - CPUID leaf 0x1D reports palette 1 as 8 tiles of 16 rows x 64 bytes (some hypervisors
      advertise AMX and report no palette);
    - Linux grants this process the tile state: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
      The grant is per process: a fork inherits it, an exec (a subprocess, a server's or Ray's new
      worker) asks again, which importing minie5 and loading a model does.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
import platform

from llvmlite import ir
from numba import get_thread_id, njit, types
from numba.core import cgutils, errors
from numba.extending import intrinsic, overload

from . import amx_emulator as emulator
from .intrinsics import cpu_features

AMX_FEATURES = ("+amx-tile", "+amx-bf16", "+amx-int8")
EMULATE_ENV = "MINIE5_AMX"  # "on": use the tiles where usable; "emulate": on the emulator (slow: tests); "off": never
SYS_ARCH_PRCTL = 158  # x86-64
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18

_I8, _I32, _I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
_BYTES = _I8.as_pointer()


# --- CPUID: what the processor reports, read with the instruction itself -----------------------

# cpuid(leaf in edi, subleaf in esi, uint32 out[4] in rdx), System V x86-64: push rbx; mov eax, edi;
# mov ecx, esi; mov r8, rdx; cpuid; mov [r8], eax; mov [r8+4], ebx; mov [r8+8], ecx;
# mov [r8+12], edx; pop rbx; ret. Numba's JIT has no inline assembler, so these 33 bytes run from
# an executable page through ctypes (CPUID exists on every x86-64 CPU).
_CPUID_CODE = bytes.fromhex("53 89f8 89f1 4989d0 0fa2 418900 41895804 41894808 4189500c 5b c3".replace(" ", ""))


@functools.cache
def cpuid(leaf: int, subleaf: int = 0) -> tuple[int, int, int, int]:
    """(eax, ebx, ecx, edx) of CPUID(leaf, subleaf)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return (0, 0, 0, 0)
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    try:
        page.write(_CPUID_CODE)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        function = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32))(address)
        out = (ctypes.c_uint32 * 4)()
        function(leaf, subleaf, out)
        del function, address
        return tuple(out)
    finally:
        try:
            page.close()
        except BufferError:  # a ctypes view still holds it: leave the page to the process
            pass


def amx_palette() -> dict | None:
    """CPUID leaf 0x1D as the SDM lays it out: palette 1's tiles, or None where the CPU reports no
    palette 1 (or no leaf 0x1D)."""
    try:
        if cpuid(0, 0)[0] < 0x1D:
            return None
    except (OSError, ValueError):  # no executable page (a hardened kernel): the palette is unknown
        return None
    if cpuid(0x1D, 0)[0] < 1:  # the highest palette
        return None
    eax, ebx, ecx, _ = cpuid(0x1D, 1)
    return {"total_tile_bytes": eax & 0xFFFF, "bytes_per_tile": eax >> 16, "bytes_per_row": ebx & 0xFFFF,
            "tiles": ebx >> 16, "max_rows": ecx & 0xFFFF}


@functools.lru_cache(maxsize=1)
def _request_tile_permission() -> int:  # 0, or the errno of the refusal
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(SYS_ARCH_PRCTL), ctypes.c_long(ARCH_REQ_XCOMP_PERM),
                          ctypes.c_long(XFEATURE_XTILEDATA))
    return 0 if result == 0 else ctypes.get_errno()


def amx_status() -> tuple[bool, str]:
    """(whether this process may run the real AMX instructions, why not or what it has). Asks
    Linux for the tile state the first time it gets that far; decided before anything compiles."""
    if os.environ.get(EMULATE_ENV, "") == "off":
        return False, f"{EMULATE_ENV}=off"
    missing = [f[1:] for f in AMX_FEATURES if f not in cpu_features()]
    if missing:
        return False, f"this CPU has no {', '.join(missing)} (lscpu flags amx_tile, amx_bf16, amx_int8)"
    palette = amx_palette()
    wanted = {"tiles": emulator.TILES, "max_rows": emulator.MAX_ROWS, "bytes_per_row": emulator.MAX_BYTES_PER_ROW}
    if palette is None or any(palette[k] < v for k, v in wanted.items()):
        return False, f"CPUID leaf 0x1D reports no palette 1 of 8 tiles x 16 rows x 64 bytes ({palette})"
    errno = _request_tile_permission()
    if errno:
        return False, f"Linux refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM: {os.strerror(errno)})"
    return True, "AMX tiles (amx-tile, amx-bf16, amx-int8), palette 1, permitted"


def enabled() -> bool:
    """Whether the user asked for the real tiles ($MINIE5_AMX=on): dispatch uses them only then,
    until the AMX kernels have been verified on an AMX CPU (engine/dispatch.py)."""
    return os.environ.get(EMULATE_ENV, "") == "on"


def emulating() -> bool:
    """Whether the engine's AMX products run on the emulator ($MINIE5_AMX=emulate): for tests of
    the AMX path on any CPU; far slower than any other kernel."""
    return os.environ.get(EMULATE_ENV, "") == "emulate"


# --- the hardware: LLVM's AMX intrinsics, tile numbers as immediates ---------------------------

def _immediate(t):
    if not isinstance(t, types.IntegerLiteral):
        raise errors.TypingError("amx: tile numbers must be constants (they are instruction immediates)")
    if not 0 <= t.literal_value < emulator.TILES:
        raise errors.TypingError("amx: tile numbers are 0-7")
    return _I8(t.literal_value)


def _call(builder, name, argument_types, arguments):
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), argument_types), name)
    builder.call(function, arguments)


def _byte_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array)
    return builder.bitcast(cgutils.get_item_pointer(context, builder, array_type, data, [index]), _BYTES)


@intrinsic
def _ldtilecfg(typingctx, config):
    def codegen(context, builder, signature, args):
        _call(builder, "llvm.x86.ldtilecfg", [_BYTES], [_byte_pointer(context, builder, signature.args[0],
                                                                       args[0], _I64(0))])
        return context.get_dummy_value()
    return types.void(config), codegen


@intrinsic
def _tilerelease(typingctx):
    def codegen(context, builder, signature, args):
        _call(builder, "llvm.x86.tilerelease", [], [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def _tilezero(typingctx, t):
    tile = _immediate(t)

    def codegen(context, builder, signature, args):
        _call(builder, "llvm.x86.tilezero", [_I8], [tile])
        return context.get_dummy_value()
    return types.void(t), codegen


def _memory_op(name):
    def op(typingctx, t, array, index, stride):
        tile = _immediate(t)

        def codegen(context, builder, signature, args):
            pointer = _byte_pointer(context, builder, signature.args[1], args[1], args[2])
            stride64 = context.cast(builder, args[3], signature.args[3], types.int64)
            _call(builder, name, [_I8, _BYTES, _I64], [tile, pointer, stride64])
            return context.get_dummy_value()
        return types.void(t, array, index, stride), codegen
    op.__name__ = op.__qualname__ = "_" + name.rsplit(".", 1)[1]  # Numba names (and caches) it by this
    return intrinsic(op)


_tileloadd64 = _memory_op("llvm.x86.tileloadd64")
_tilestored64 = _memory_op("llvm.x86.tilestored64")


def _product(name):
    def op(typingctx, c, a, b):
        tiles = [_immediate(t) for t in (c, a, b)]
        if len({t.constant for t in tiles}) < 3:
            raise errors.TypingError("amx: a tile product names one tile twice")

        def codegen(context, builder, signature, args):
            _call(builder, name, [_I8] * 3, tiles)
            return context.get_dummy_value()
        return types.void(c, a, b), codegen
    op.__name__ = op.__qualname__ = "_" + name.rsplit(".", 1)[1]
    return intrinsic(op)


_tdpbssd = _product("llvm.x86.tdpbssd")
_tdpbf16ps = _product("llvm.x86.tdpbf16ps")


# --- the operations the schedules call: hardware for tiles=None, else the emulator -------------

def _hardware(tiles) -> bool:
    if isinstance(tiles, types.NoneType):
        return True
    if isinstance(tiles, types.Array) and tiles.ndim == 2 and tiles.dtype == types.uint8:
        return False
    raise errors.TypingError("amx: tiles is None (the CPU's) or amx_emulator.tile_files()")


def configure(tiles, config):
    """LDTILECFG from config's 64 bytes (see amx_emulator's docstring for the layout)."""


def release(tiles):
    """TILERELEASE."""


def zero(tiles, t):
    """TILEZERO tile t."""


def load(tiles, t, array, index, stride):
    """TILELOADD: tile t's rows from a 1-D contiguous array, starting at array[index], stride bytes apart."""


def store(tiles, t, array, index, stride):
    """TILESTORED: tile t's rows into array, as load reads them."""


def dot_int8(tiles, c, a, b):
    """TDPBSSD: tile c (int32) += tile a (int8) . tile b (int8, VNNI layout)."""


def dot_bfloat16(tiles, c, a, b):
    """TDPBF16PS: tile c (float32) += tile a (bfloat16) . tile b (bfloat16 pairs, VNNI layout)."""


@overload(configure, prefer_literal=True)
def _configure(tiles, config):
    if _hardware(tiles):
        return lambda tiles, config: _ldtilecfg(config)
    return lambda tiles, config: emulator.ldtilecfg(tiles[get_thread_id()], config)


@overload(release, prefer_literal=True)
def _release(tiles):
    if _hardware(tiles):
        return lambda tiles: _tilerelease()
    return lambda tiles: emulator.tilerelease(tiles[get_thread_id()])


@overload(zero, prefer_literal=True)
def _zero(tiles, t):
    if _hardware(tiles):
        _immediate(t)
        return lambda tiles, t: _tilezero(t)
    return lambda tiles, t: emulator.tilezero(tiles[get_thread_id()], t)


@overload(load, prefer_literal=True)
def _load(tiles, t, array, index, stride):
    if _hardware(tiles):
        _immediate(t)
        return lambda tiles, t, array, index, stride: _tileloadd64(t, array, index, stride)
    return lambda tiles, t, array, index, stride: emulator.tileloadd(tiles[get_thread_id()], t, array, index, stride)


@overload(store, prefer_literal=True)
def _store(tiles, t, array, index, stride):
    if _hardware(tiles):
        _immediate(t)
        return lambda tiles, t, array, index, stride: _tilestored64(t, array, index, stride)
    return lambda tiles, t, array, index, stride: emulator.tilestored(tiles[get_thread_id()], t, array, index, stride)


@overload(dot_int8, prefer_literal=True)
def _dot_int8(tiles, c, a, b):
    if _hardware(tiles):
        return lambda tiles, c, a, b: _tdpbssd(c, a, b)
    return lambda tiles, c, a, b: emulator.tdpbssd(tiles[get_thread_id()], c, a, b)


@overload(dot_bfloat16, prefer_literal=True)
def _dot_bfloat16(tiles, c, a, b):
    if _hardware(tiles):
        return lambda tiles, c, a, b: _tdpbf16ps(c, a, b)
    return lambda tiles, c, a, b: emulator.tdpbf16ps(tiles[get_thread_id()], c, a, b)


@njit(inline="always")
def set_tile(config, t, rows, width):  # tile t: rows x width bytes, in a 64-byte configuration
    config[16 + 2 * t] = width & 0xFF
    config[17 + 2 * t] = width >> 8
    config[48 + t] = rows
