"""Intel AMX's tiles modelled in plain Numba loops: the twin of the hardware tile operations in
amx.py, so that the AMX products' tile schedules (amx_bfloat16.py, amx_int8.py), their packing and
their edges run and are tested on any CPU, and the real instructions are a one-for-one swap.

What is modelled is palette 1 of the Intel SDM (Vol. 1 ch. 18, Vol. 2 LDTILECFG, TILELOADD,
TDPBSSD, TDPBF16PS): eight tiles, each up to 16 rows of up to 64 bytes, shaped by a 64-byte
configuration. One thread's tile state is a uint8 array of STATE_BYTES: the configuration it last
loaded, then the 8 tiles' 1,024 bytes each (a row is 64 bytes apart, whatever its width):

    config byte 0       palette: 1, or 0 for the init state (no tile usable, as after TILERELEASE)
    byte 1              start_row (restarts an interrupted load); 0 here
    bytes 2-15          reserved, zero
    bytes 16 + 2t       bytes per row of tile t (a little-endian uint16), <= 64
    bytes 32-47         reserved (tiles 8-15), zero
    byte 48 + t         rows of tile t, <= 16
    bytes 56-63         reserved, zero

What the hardware refuses, the emulator refuses with an error that names the problem: a palette
other than 0 or 1, a reserved byte set, more than 16 rows or 64 bytes a row, a tile with rows but
no bytes or bytes but no rows (LDTILECFG's #GP); a tile used unconfigured or before any
configuration; a product whose shapes disagree (A's rows = C's rows, A's bytes per row / 4 = B's
rows, B's bytes per row = C's) or that names one tile twice (the products' #UD); a load or store
outside its array (where the hardware would fault, or write over another array).

The arithmetic is the manual's pseudo-code:
    tdpbssd    C[m, n] += sum over k of the 4 products of signed bytes A[m, 4k+i] * B[k, 4n+i],
               exact integers, wrapping at 2^32 as the instruction does (no saturation)
    tdpbf16ps  per row m, two float32 sums per column n, of the even and of the odd bfloat16
               products A[m, 2k+j] * B[k, 2n+j] over all k of the instruction, each step one fused
               multiply-add rounded to nearest even; then C[m, n] += (even + odd), two more
               roundings. Inputs that are denormal count as zero and denormal results are
               flushed to zero (DAZ and FTZ, whatever MXCSR says).
A load or a product writes whole rows: the bytes of a row past its width and the rows past the
tile's rows are zeroed, as the hardware's write_row_and_zero / zero_upper_rows do.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

from .math import CACHE

PALETTE = 1
TILES = 8
MAX_ROWS = 16
MAX_BYTES_PER_ROW = 64
TILE_BYTES = MAX_ROWS * MAX_BYTES_PER_ROW  # 1,024
CONFIG_BYTES = 64
STATE_BYTES = CONFIG_BYTES + TILES * TILE_BYTES
FLOAT32_MIN_NORMAL = np.float32(2.0 ** -126)


def tile_files(threads: int | None = None) -> np.ndarray:  # -> [threads, STATE_BYTES] uint8
    """One thread's tile state per row, in the init state, as the hardware gives each core its own
    tiles: what the AMX products take as `tiles` to run on the emulator (amx.py)."""
    return np.zeros((threads or numba.config.NUMBA_NUM_THREADS, STATE_BYTES), np.uint8)


@njit(cache=CACHE)
def rows_of(state, t):
    return np.int64(state[48 + t])


@njit(cache=CACHE)
def bytes_per_row(state, t):
    return np.int64(state[16 + 2 * t]) | (np.int64(state[17 + 2 * t]) << 8)


@njit(cache=CACHE)
def ldtilecfg(state, config):  # config: 64 bytes -> state
    """LDTILECFG: check the configuration, keep it, and zero every tile."""
    if config.shape[0] != CONFIG_BYTES:
        raise ValueError("ldtilecfg: the configuration is 64 bytes")
    palette = config[0]
    if palette == 0:  # the init state, as TILERELEASE leaves it
        state[:] = 0
        return
    if palette != PALETTE:
        raise ValueError("ldtilecfg: palette must be 0 or 1 (byte 0)")
    for i in range(1, 16):
        if config[i] != 0:
            raise ValueError("ldtilecfg: bytes 1-15 (start_row and reserved) must be zero")
    for i in range(32, 48):
        if config[i] != 0:
            raise ValueError("ldtilecfg: bytes 32-47 are reserved (palette 1 has 8 tiles) and must be zero")
    for i in range(56, 64):
        if config[i] != 0:
            raise ValueError("ldtilecfg: bytes 56-63 are reserved and must be zero")
    for t in range(TILES):
        rows, width = rows_of(config, t), bytes_per_row(config, t)
        if rows > MAX_ROWS:
            raise ValueError("ldtilecfg: a tile has more than 16 rows")
        if width > MAX_BYTES_PER_ROW:
            raise ValueError("ldtilecfg: a tile has more than 64 bytes a row")
        if (rows == 0) != (width == 0):
            raise ValueError("ldtilecfg: a tile has rows but no bytes a row, or bytes but no rows")
    state[:] = 0
    state[:CONFIG_BYTES] = config


@njit(cache=CACHE)
def tilerelease(state):
    """TILERELEASE: back to the init state."""
    state[:] = 0


@njit(cache=CACHE)
def _tile(state, t):  # -> the tile's 1,024 bytes; refuses an unconfigured tile
    if t < 0 or t >= TILES:
        raise ValueError("amx: tile numbers are 0-7")
    if state[0] != PALETTE:
        raise ValueError("amx: tile used before ldtilecfg (or after tilerelease)")
    if rows_of(state, t) == 0:
        raise ValueError("amx: tile used but not configured (0 rows)")
    return state[CONFIG_BYTES + t * TILE_BYTES:CONFIG_BYTES + (t + 1) * TILE_BYTES]


@njit(cache=CACHE)
def tilezero(state, t):
    _tile(state, t)[:] = 0


@njit(cache=CACHE)
def tileloadd(state, t, array, index, stride):  # array 1-D, contiguous; index in elements, stride in bytes
    """TILELOADD: the tile's rows from array's bytes, row r starting at byte index * itemsize + r *
    stride. Refuses bytes outside the array."""
    tile = _tile(state, t)
    data = array.view(np.uint8)
    rows, width = rows_of(state, t), bytes_per_row(state, t)
    first = index * array.itemsize
    tile[:] = 0
    for r in range(rows):
        at = first + r * stride
        if at < 0 or at + width > data.shape[0]:
            raise IndexError("tileloadd: a row of the tile lies outside the array")
        tile[r * MAX_BYTES_PER_ROW:r * MAX_BYTES_PER_ROW + width] = data[at:at + width]


@njit(cache=CACHE)
def tilestored(state, t, array, index, stride):  # the tile's rows -> array's bytes, as tileloadd reads them
    """TILESTORED: the tile's rows written to array. Refuses bytes outside the array."""
    tile = _tile(state, t)
    data = array.view(np.uint8)
    rows, width = rows_of(state, t), bytes_per_row(state, t)
    first = index * array.itemsize
    for r in range(rows):
        at = first + r * stride
        if at < 0 or at + width > data.shape[0]:
            raise IndexError("tilestored: a row of the tile lies outside the array")
        data[at:at + width] = tile[r * MAX_BYTES_PER_ROW:r * MAX_BYTES_PER_ROW + width]


@njit(cache=CACHE)
def _check_product(state, c, a, b):  # -> (rows, C's 4-byte columns, A's 4-byte columns)
    if c == a or c == b or a == b:
        raise ValueError("amx: a tile product names one tile twice")
    _tile(state, c)
    _tile(state, a)
    _tile(state, b)
    if rows_of(state, a) != rows_of(state, c):
        raise ValueError("amx: A's rows differ from C's")
    if bytes_per_row(state, a) % 4 != 0 or bytes_per_row(state, a) // 4 != rows_of(state, b):
        raise ValueError("amx: A's bytes per row / 4 differ from B's rows")
    if bytes_per_row(state, b) != bytes_per_row(state, c) or bytes_per_row(state, c) % 4 != 0:
        raise ValueError("amx: B's bytes per row differ from C's")
    return rows_of(state, c), bytes_per_row(state, c) // 4, bytes_per_row(state, a) // 4


@njit(cache=CACHE)
def tdpbssd(state, c, a, b):
    """TDPBSSD: C (int32) += A (int8) . B (int8, 4 bytes of K per 4-byte column), exactly."""
    rows, columns, depth = _check_product(state, c, a, b)
    C, A, B = _tile(state, c).view(np.int32), _tile(state, a).view(np.int8), _tile(state, b).view(np.int8)
    for m in range(rows):
        for n in range(columns):
            total = np.int64(C[m * 16 + n])
            for k in range(depth):
                for i in range(4):
                    total += np.int64(A[m * 64 + 4 * k + i]) * np.int64(B[k * 64 + 4 * n + i])
            C[m * 16 + n] = (total + 2 ** 31) % 2 ** 32 - 2 ** 31  # int32 arithmetic wraps


@njit(cache=CACHE)
def _bfloat16_values(bits):  # uint16 [n] -> float64 [n], exactly; denormals count as zero (DAZ)
    values = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    for i in range(values.shape[0]):
        if bits[i] & 0x7F80 == 0:
            values[i] = 0.0 if bits[i] & 0x8000 == 0 else -0.0
    return values


@njit(cache=CACHE)
def _float32(x):  # float64 -> float32, to nearest even, a denormal result flushed to zero (FTZ)
    r = np.float32(x)
    if r != 0 and abs(r) < FLOAT32_MIN_NORMAL:
        return np.float32(0.0) if r > 0 else np.float32(-0.0)
    return r


@njit(cache=CACHE)
def _daz(x):  # a denormal float32 input counts as zero
    if x != 0 and abs(x) < FLOAT32_MIN_NORMAL:
        return np.float32(0.0) if x > 0 else np.float32(-0.0)
    return x


@njit(cache=CACHE)
def tdpbf16ps(state, c, a, b):
    """TDPBF16PS: C (float32) += A (bfloat16 pairs) . B (bfloat16 pairs along K), as the SDM's
    pseudo-code sums them (see the module's docstring).

    Each fused multiply-add is computed as float64(a) * float64(b) + float64(t), rounded once to
    float32: the product of two bfloat16 values (8 significant bits each) is exact in float32 and
    float64, and a sum of two float32 values rounded to float64 and then to float32 is correctly
    rounded (53 >= 2 * 24 + 2), so this is the one rounding of a fused multiply-add."""
    rows, columns, depth = _check_product(state, c, a, b)
    C = _tile(state, c).view(np.float32)
    A, B = _bfloat16_values(_tile(state, a).view(np.uint16)), _bfloat16_values(_tile(state, b).view(np.uint16))
    even, odd = np.zeros(columns, np.float32), np.zeros(columns, np.float32)
    for m in range(rows):
        even[:] = 0
        odd[:] = 0
        for k in range(depth):
            a0, a1 = A[m * 32 + 2 * k], A[m * 32 + 2 * k + 1]
            for n in range(columns):
                even[n] = _float32(a0 * B[k * 32 + 2 * n] + np.float64(even[n]))
                odd[n] = _float32(a1 * B[k * 32 + 2 * n + 1] + np.float64(odd[n]))
        for n in range(columns):
            pair = _float32(np.float64(even[n]) + np.float64(odd[n]))
            C[m * 16 + n] = _float32(np.float64(_daz(C[m * 16 + n])) + np.float64(pair))
