"""IBM numeric encodings, decoded column-wise with numpy (never through float):

- packed decimal (COMP-3, DDS type P): two digits per byte, the last nibble is
  the sign (C/F positive, D negative; A/E positive and B negative only when
  tolerated);
- zoned decimal (DISPLAY, DDS type S): one digit per byte, the sign in the zone
  of the last byte (or the first, or a separate +/- byte);
- big-endian two's complement binary (COMP/COMP-4/COMP-5, DDS type B), 1 to 16
  bytes: up to 8 bytes into int64, 9 to 16 (PIC 9(19) to 9(38)) straight into
  Arrow's decimal128 layout, exact;
- signed overpunch in *text* that was converted from EBCDIC, where the last
  character carries the sign and the table depends on the source code page.

Every decoder takes an ``(n, length)`` uint8 matrix (one row per record) and
returns ``(values, bad)``: an Arrow int64 array of the unscaled integers (the
caller applies implied decimals) and a numpy bool mask of malformed fields.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.layouts import wide

Empty = Literal["null", "zero", "reject"]

POSITIVE, NEGATIVE = [0xC, 0xF], [0xD]
LENIENT_POSITIVE, LENIENT_NEGATIVE = [0xA, 0xE], [0xB]


def _signs(nibble: np.ndarray, lenient: bool) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = POSITIVE + (LENIENT_POSITIVE if lenient else []), NEGATIVE + (
        LENIENT_NEGATIVE if lenient else [])
    return np.isin(nibble, pos), np.isin(nibble, neg)


def _empty(mat: np.ndarray) -> np.ndarray:
    """All EBCDIC blanks (0x40) or all binary zeros: the field was never filled."""
    return (mat == 0x40).all(axis=1) | (mat == 0x00).all(axis=1)


def _combine(digits: np.ndarray) -> np.ndarray:
    """Digits (n, k) -> int64 (k <= 18), or Python ints beyond (object array)."""
    k = digits.shape[1]
    if k <= 18:
        powers = 10 ** np.arange(k - 1, -1, -1, dtype=np.int64)
        return (digits.astype(np.int64) * powers).sum(axis=1)
    out = np.zeros(digits.shape[0], dtype=object)
    for d in digits.T:  # up to 31 digits (IBM i maximum): exact Python ints
        out = out * 10 + d.astype(object)
    return out


def _finish(value: np.ndarray, neg: np.ndarray, bad: np.ndarray, empty: np.ndarray,
            on_empty: Empty) -> tuple[pa.Array, np.ndarray]:
    value = np.where(neg, -value, value)
    if on_empty == "zero":
        value = np.where(empty, 0, value)
        null = bad
    elif on_empty == "reject":
        bad = bad | empty
        null = bad
    else:
        null = bad | empty
    if value.dtype == object:
        arr = pa.array([None if m else int(v) for v, m in zip(value, null, strict=True)],
                       pa.decimal128(38, 0))
    else:
        arr = pa.array(value, pa.int64(), mask=null)
    return arr, bad & ~(empty & (on_empty != "reject"))


def packed(mat: np.ndarray, *, lenient: bool = False,
           on_empty: Empty = "null") -> tuple[pa.Array, np.ndarray]:
    n, length = mat.shape
    nibbles = np.empty((n, 2 * length), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = mat >> 4, mat & 0x0F
    digits, sign = nibbles[:, :-1], nibbles[:, -1]
    pos, neg = _signs(sign, lenient)
    empty = _empty(mat)
    bad = ((digits > 9).any(axis=1) | ~(pos | neg)) & ~empty
    value = _combine(np.where(digits > 9, 0, digits))
    return _finish(value, neg, bad, empty, on_empty)


ZonedSign = Literal["trailing", "leading", "trailing_separate", "leading_separate", "none"]
PLUS, MINUS = 0x4E, 0x60  # EBCDIC '+' and '-'


POINTS = (0x4B, 0x6B)  # EBCDIC "." and "," (DECIMAL-POINT IS COMMA)


def zoned(mat: np.ndarray, *, sign: ZonedSign = "trailing", lenient: bool = False,
          on_empty: Empty = "null", point_at: int | None = None) -> tuple[pa.Array, np.ndarray]:
    """``point_at``: index of a printed decimal point byte (PIC S9(3).99), checked and
    dropped; the sign stays where the picture puts it (overpunch on the last digit)."""
    empty = _empty(mat)
    point_bad = None
    if point_at is not None:
        point_bad = ~np.isin(mat[:, point_at], POINTS)
        mat = np.delete(mat, point_at, axis=1)
    if sign in ("trailing_separate", "leading_separate"):
        sep = mat[:, -1] if sign == "trailing_separate" else mat[:, 0]
        body = mat[:, :-1] if sign == "trailing_separate" else mat[:, 1:]
        neg, signed_ok = sep == MINUS, (sep == PLUS) | (sep == MINUS)
        zones_ok = (body >> 4 == 0xF).all(axis=1)
    else:
        body = mat
        at = -1 if sign == "trailing" else 0
        zone = body[:, at] >> 4
        if sign == "none":
            pos, neg = zone == 0xF, np.zeros(len(zone), dtype=bool)
        else:
            pos, neg = _signs(zone, lenient)
        signed_ok = pos | neg
        others = np.delete(body, at if at >= 0 else body.shape[1] - 1, axis=1)
        zones_ok = (others >> 4 == 0xF).all(axis=1)
    digits = body & 0x0F
    bad = (digits > 9).any(axis=1) | ~signed_ok | ~zones_ok
    if point_bad is not None:
        bad |= point_bad
    bad &= ~empty
    return _finish(_combine(np.where(digits > 9, 0, digits)), neg, bad, empty, on_empty)


def binary(mat: np.ndarray, *, signed: bool = True) -> tuple[pa.Array, np.ndarray]:
    """1 to 8 bytes -> int64; 9 to 16 bytes -> decimal128(38, 0). An unsigned value
    that int64 (8 bytes) or decimal128 (16 bytes: 38 digits) cannot hold is bad."""
    n, length = mat.shape
    if not 1 <= length <= 16:
        raise ValueError(f"binary fields are 1 to 16 bytes, not {length}")
    if length > 8:
        return wide.from_big_endian(mat, signed=signed)
    negative = (mat[:, 0] >= 0x80) if signed else np.zeros(n, dtype=bool)
    full = np.where(negative[:, None], np.uint8(0xFF), np.uint8(0))
    full = np.broadcast_to(full, (n, 8)).copy()
    full[:, 8 - length:] = mat  # sign-extended to 8 bytes
    raw = full.view(">u8").reshape(n)
    bad = np.zeros(n, dtype=bool) if signed or length < 8 else raw >= 2 ** 63
    values = raw.view(">i8").astype(np.int64)
    return pa.array(values, pa.int64(), mask=bad if bad.any() else None), bad


# Signed overpunch after EBCDIC -> ASCII conversion: the last character encodes
# the last digit and the sign. The +0/-0 characters depend on the source CCSID.
_OVERPUNCH_ZERO = {
    "us": ("{", "}"),   # cp037, cp500, cp1140, cp1148 …
    "it": ("à", "è"),   # cp280, cp1144
    "de": ("ä", "ü"),   # cp273, cp1141
}
OVERPUNCH_TABLES = sorted(_OVERPUNCH_ZERO)


def overpunch(arr: pa.Array, table: str = "us") -> tuple[pa.Array, pa.Array | None]:
    """Text like ``1234N`` (= -12345) -> int64; plain digits pass through."""
    plus0, minus0 = _OVERPUNCH_ZERO[table]
    chars = [plus0, *"ABCDEFGHI", minus0, *"JKLMNOPQR"]
    arr = pc.utf8_trim_whitespace(arr)
    last = pc.utf8_slice_codeunits(arr, -1, 2**31 - 1)
    head = pc.utf8_slice_codeunits(arr, 0, -1)
    code = pc.index_in(last, value_set=pa.array(chars))
    digit = pc.cast(pc.if_else(pc.less(code, 10), code, pc.subtract(code, 10)), pa.string())
    negative = pc.greater_equal(code, 10)
    punched = pc.binary_join_element_wise(
        pc.if_else(negative, "-", ""), head, digit, "")
    text = pc.if_else(pc.is_valid(code), punched, arr)
    text = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), text)
    ok = pc.fill_null(pc.match_substring_regex(text, r"^-?[0-9]{1,18}$"), True)
    bad = pc.invert(ok)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.int64())
    return values, (bad if pc.any(bad).as_py() else None)
