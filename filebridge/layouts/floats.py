"""COMP-1 / COMP-2 floating point, decoded column-wise into exact decimals.

Two encodings exist (4 bytes single, 8 bytes double, big-endian unless ``_le``):

- ``ibm``: IBM hexadecimal floating point, the z/OS default: a sign bit, a 7-bit
  exponent of 16 in excess 64, a 24-bit (single) or 56-bit (double) fraction:
  value = (-1)^s * 0.fraction * 16^(exponent - 64);
- ``ieee754``: IEEE 754 binary floating point, what IBM i uses for COBOL COMP-1 and
  COMP-2 and RPG type F ("follows the ANSI/IEEE standard 754-1985", IBM support page
  "Floating point numbers on IBM i operating system").

What precision is kept (a float is binary, a decimal is not):

1. the float's value: IEEE single and double, and IBM single, exactly as float64;
   IBM double rounded to the nearest float64 (53 of its 56 fraction bits, relative
   error at most 2**-53);
2. its shortest decimal: the fewest significant digits that still identify that float
   (what Java, cobrix and Python print: 0.1, not 0.100000001490116): for IEEE the
   shortest string that reads back as the same float (Arrow's float-to-string cast);
   for IBM single the shortest decimal within half a unit in the last place of the
   IBM fraction (at most 9 digits), found column-wise;
3. rounded half-even to the field's ``scale`` decimals (copybook default 9).

A value needing more than 38 digits at that scale, and IEEE NaN or infinity, are bad
rows (the reader rejects them with their bytes). An IBM fraction of zero is 0 whatever
its sign and exponent. Test vectors: IBM's and Wikipedia's -118.625 = C276A000,
enthought/ibm2ieee's tests; cobrix decodes IBM single with a wrong exponent mask
(``IBM32_EXPONENT_MASK = 0x80000000`` in FloatingPointDecoders.scala, 898330b8): its
own test expects 5.045883 for 43142EFC, which is 322.9367.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.layouts import wide

FloatFormat = Literal["ibm", "ieee754", "ibm_le", "ieee754_le"]
FLOAT_FORMATS = ["ibm", "ieee754", "ibm_le", "ieee754_le"]


def decode(mat: np.ndarray, fmt: FloatFormat, scale: int) -> tuple[pa.Array, np.ndarray]:
    """(n, 4 or 8) bytes -> decimal128(38, scale) and a mask of bad rows."""
    n, length = mat.shape
    if length not in (4, 8):
        raise ValueError(f"float fields are 4 or 8 bytes, not {length}")
    if fmt.endswith("_le"):
        mat = mat[:, ::-1]
    mat = np.ascontiguousarray(mat)
    if fmt.startswith("ieee754"):
        x = mat.view(f">f{length}").reshape(n).astype(f"<f{length}")
        bad = ~np.isfinite(x)
        x = np.where(bad, 0, x)
        digits, exp10 = _from_text(pc.cast(pa.array(x), pa.string()))
        negative = np.signbit(x)
    else:
        raw = mat.view(f">u{length}").reshape(n).astype(np.uint64)
        bits = 8 * length
        negative = (raw >> np.uint64(bits - 1)).astype(bool)
        exponent = ((raw >> np.uint64(bits - 8)) & np.uint64(0x7F)).astype(np.int64)
        fraction = raw & np.uint64((1 << (bits - 8)) - 1)
        # 0.fraction * 16**(e-64) = fraction * 2**(4*(e-64) - fraction bits)
        power = 4 * (exponent - 64) - (bits - 8)
        x = np.ldexp(fraction.astype(np.float64), power.astype(np.int32))
        bad = np.zeros(n, dtype=bool)
        if length == 4:
            digits, exp10 = _shortest(x, np.ldexp(1.0, (power).astype(np.int32)))
        else:
            digits, exp10 = _from_text(pc.cast(pa.array(x), pa.string()))
        negative &= fraction != 0
    return _to_decimal(digits, exp10, negative, scale, bad)


def _from_text(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Arrow's shortest float text (-30503.93, 1e-7, 1.2345678901234568e+17) ->
    significand digits (uint64, at most 17) and a power of ten. Plain notation, the
    common case, is cut with substring kernels; only exponent notation needs a regex."""
    digits = np.zeros(len(text), dtype=np.uint64)
    exp10 = np.zeros(len(text), dtype=np.int64)
    sci = pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    plain = pc.filter(text, pa.array(~sci)) if sci.any() else text
    body = pc.replace_substring(pc.replace_substring(plain, "-", ""), ".", "")
    dot = pc.find_substring(plain, ".").to_numpy(zero_copy_only=False)
    length = pc.utf8_length(plain).to_numpy(zero_copy_only=False)
    digits[~sci] = pc.cast(body, pa.uint64()).to_numpy(zero_copy_only=False)
    exp10[~sci] = np.where(dot >= 0, dot + 1 - length, 0)
    if sci.any():
        parts = pc.extract_regex(pc.filter(text, pa.array(sci)),
                                 r"^-?(?P<i>[0-9]+)(?:\.(?P<f>[0-9]+))?e\+?(?P<e>-?[0-9]+)$")
        i, f, e = (parts.field(k) for k in ("i", "f", "e"))
        digits[sci] = pc.cast(pc.binary_join_element_wise(i, f, ""),
                              pa.uint64()).to_numpy(zero_copy_only=False)
        exp10[sci] = (pc.cast(e, pa.int64()).to_numpy(zero_copy_only=False) -
                      pc.utf8_length(f).to_numpy(zero_copy_only=False))
    return digits, exp10


def _shortest(x: np.ndarray, ulp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shortest decimal within half an ulp of each value (IBM single: up to 24
    significant bits, so 9 digits always suffice). ``x`` is exact in float64, whose 53
    bits leave the comparisons exact except at a boundary nothing short sits on."""
    ax = np.abs(x)
    n = len(x)
    digits = np.zeros(n, dtype=np.uint64)
    exp10 = np.zeros(n, dtype=np.int64)
    done = ax == 0
    with np.errstate(divide="ignore"):
        e10 = np.floor(np.log10(np.where(done, 1.0, ax))).astype(np.int64)
    for d in range(1, 18):
        if done.all():
            break
        k = d - 1 - e10  # decimals kept at this many significant digits
        scaled = ax * np.power(10.0, k)
        lo = np.floor(scaled)
        tol = 0.5 * ulp * np.power(10.0, k)
        up, down = lo + 1 - scaled, scaled - lo
        ok_lo, ok_hi = down <= tol, up <= tol
        # Both fit: the nearer; a tie goes to the even one.
        pick_hi = ok_hi & (~ok_lo | (up < down) | ((up == down) & (lo % 2 == 1)))
        found = ~done & (ok_lo | ok_hi)
        digits[found] = np.where(pick_hi, lo + 1, lo)[found].astype(np.uint64)
        exp10[found] = -k[found]
        done |= found
    return digits, exp10


def _to_decimal(digits: np.ndarray, exp10: np.ndarray, negative: np.ndarray, scale: int,
                bad: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """digits * 10**exp10 rounded half-even to ``scale`` decimals -> decimal128."""
    m = exp10 + scale
    # Fewer decimals than the value has: divide, rounding half to even.
    cut = np.clip(-m, 0, 19)
    div = (10 ** np.minimum(cut, 19).astype(np.uint64)).astype(np.uint64)
    div = np.where(cut >= 19, np.uint64(0), div)  # digits < 10**17: all gone
    safe = np.where(div == 0, np.uint64(1), div)
    q, r = digits // safe, digits % safe
    half = safe // np.uint64(2)
    q = q + ((r > half) | ((r == half) & (safe > 1) & (q % np.uint64(2) == 1))).astype(np.uint64)
    q = np.where(div == 0, np.uint64(0), q)
    value = np.where(m < 0, q, digits)
    up = np.maximum(m, 0)
    if up.max(initial=0) <= 18 and (value < np.uint64(2 ** 63) // (
            10 ** up.astype(np.uint64)).astype(np.uint64)).all():
        lo, hi = value * (10 ** up.astype(np.uint64)).astype(np.uint64), np.zeros_like(value)
        overflow = np.zeros(len(value), dtype=bool)  # below 2**63: int64 is enough
    else:
        lo, hi, overflow = wide.times_pow10(value, up)
    overflow |= wide.too_big(lo, hi, np.zeros(len(lo), dtype=bool))
    lo, hi = np.where(negative, wide.negate(lo, hi)[0], lo), np.where(
        negative, wide.negate(lo, hi)[1], hi)
    bad = bad | overflow
    return wide.to_array(lo, hi, scale, bad), bad
