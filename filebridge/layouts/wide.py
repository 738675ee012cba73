"""128-bit integers, column-wise, for what int64 cannot hold: binary items of 19 to
38 digits and float values scaled into decimals.

numpy has no int128, so a number is a pair of uint64 arrays (``lo``, ``hi``) in two's
complement, which is exactly Arrow's decimal128 layout (16 bytes, little-endian):
the arrays become a decimal128 column without a Python loop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_MASK32 = np.uint64(0xFFFFFFFF)
_MAX_HI, _MAX_LO = divmod(10 ** 38, 2 ** 64)  # decimal128 holds |x| < 10**38


def negate(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two's complement of 128-bit numbers."""
    lo2 = ~lo + np.uint64(1)
    return lo2, ~hi + (lo2 == 0).astype(np.uint64)


def too_big(lo: np.ndarray, hi: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Rows whose magnitude needs more than 38 decimal digits."""
    alo, ahi = negate(lo, hi)
    alo, ahi = np.where(negative, alo, lo), np.where(negative, ahi, hi)
    return (ahi > _MAX_HI) | ((ahi == _MAX_HI) & (alo >= _MAX_LO))


def to_array(lo: np.ndarray, hi: np.ndarray, scale: int, null: np.ndarray) -> pa.Array:
    """(lo, hi) two's complement -> decimal128(38, scale); ``null`` rows are null."""
    n = len(lo)
    data = np.empty((n, 2), dtype="<u8")
    data[:, 0], data[:, 1] = lo, hi
    validity = pa.py_buffer(np.packbits(~null, bitorder="little")) if null.any() else None
    return pa.Array.from_buffers(pa.decimal128(38, scale), n,
                                 [validity, pa.py_buffer(data.tobytes())])


def from_big_endian(mat: np.ndarray, *, signed: bool) -> tuple[pa.Array, np.ndarray]:
    """Big-endian binary fields of 9 to 16 bytes -> decimal128(38, 0) and a mask of
    values beyond 38 digits (only a 16-byte field can hold one)."""
    n, length = mat.shape
    negative = (mat[:, 0] >= 0x80) if signed else np.zeros(n, dtype=bool)
    full = np.broadcast_to(np.where(negative[:, None], np.uint8(0xFF), np.uint8(0)),
                           (n, 16)).copy()
    full[:, 16 - length:] = mat  # sign-extended to 16 bytes
    be = full.view(">u8").reshape(n, 2)
    hi, lo = be[:, 0].astype(np.uint64), be[:, 1].astype(np.uint64)
    bad = too_big(lo, hi, negative) if length == 16 else np.zeros(n, dtype=bool)
    return to_array(lo, hi, 0, bad), bad


def times_pow10(d: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``d * 10**m`` for uint64 ``d`` and ``0 <= m``: (lo, hi, overflow), in four 32-bit
    limbs multiplied by at most 10**9 at a time (limb * 10**9 + carry < 2**63)."""
    limbs = [d & _MASK32, d >> np.uint64(32), np.zeros_like(d), np.zeros_like(d)]
    overflow = np.zeros(len(d), dtype=bool)
    left = m.astype(np.int64).copy()
    while (left > 0).any():
        step = np.minimum(left, 9)
        mult = (10 ** step).astype(np.uint64)
        carry = np.zeros_like(d)
        for i in range(4):
            t = limbs[i] * mult + carry
            limbs[i], carry = t & _MASK32, t >> np.uint64(32)
        overflow |= carry != 0
        left -= step
    lo = limbs[0] | (limbs[1] << np.uint64(32))
    hi = limbs[2] | (limbs[3] << np.uint64(32))
    return lo, hi, overflow
