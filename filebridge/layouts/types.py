"""Vectorised parsing of text columns into typed columns.

Every parser takes an Arrow string array and returns ``(values, bad)`` where
``bad`` is a boolean mask of rows whose text could not be parsed (``None`` when
no row failed). Callers turn bad rows into rejects; nothing here raises on data.
Decimals become ``decimal128(38, scale)``: exact, never float.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

FieldType = Literal["text", "integer", "decimal", "date", "boolean"]

Parsed = tuple[pa.Array, pa.Array | None]

TRUE_WORDS = ["1", "y", "yes", "s", "si", "sì", "true", "t", "x", "on"]
FALSE_WORDS = ["0", "n", "no", "false", "f", "off", ""]


def _blank_to_null(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _finish(arr: pa.Array, ok: pa.Array, target: pa.DataType) -> Parsed:
    """Null out rows that failed validation, cast the rest, and report the failures."""
    ok = pc.fill_null(ok, True)  # null input is not an error
    bad = pc.invert(ok)
    nbad = pc.sum(bad).as_py() or 0
    if nbad:
        arr = pc.if_else(ok, arr, pa.scalar(None, pa.string()))
    return pc.cast(arr, target), (bad if nbad else None)


def _move_trailing_sign(arr: pa.Array) -> pa.Array:
    # Reports and some exports print negatives as "12,50-" (RPG edit codes J/K/L/M).
    if not pc.any(pc.ends_with(arr, "-")).as_py():
        return arr
    return pc.replace_substring_regex(arr, r"^([0-9.,]*[0-9])-$", r"-\1")


def _fast_cast(arr: pa.Array, target: pa.DataType) -> pa.Array | None:
    """Clean data casts in one pass; only a failure pays for row-level validation."""
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def parse_integer(arr: pa.Array, *, thousands: str | None = None) -> Parsed:
    arr = _move_trailing_sign(_blank_to_null(arr))
    if thousands:
        arr = pc.replace_substring(arr, thousands, "")
    fast = _fast_cast(arr, pa.int64())
    if fast is not None:
        return fast, None
    ok = pc.match_substring_regex(arr, r"^[+-]?[0-9]{1,18}$")
    arr = pc.replace_substring_regex(arr, r"^\+", "")
    return _finish(arr, ok, pa.int64())


def parse_decimal(arr: pa.Array, *, scale: int = 2, decimal: str = ".",
                  thousands: str | None = None, implied: bool = False) -> Parsed:
    """Text to exact decimals. ``implied``: the digits carry ``scale`` implied decimals
    (COBOL ``9(7)V99``: ``000020090`` is 200.90)."""
    arr = _move_trailing_sign(_blank_to_null(arr))
    target = pa.decimal128(38, scale)
    if implied:
        ints, bad = parse_integer(arr)
        # Decimal128 stores the unscaled integer: view the same digits with a scale.
        return pc.cast(ints, pa.decimal128(38, 0)).view(target), bad
    if thousands:
        arr = pc.replace_substring(arr, thousands, "")
    if decimal != ".":
        arr = pc.replace_substring(arr, decimal, ".")
    fast = _fast_cast(arr, target)  # refuses excess decimals ("data loss"), never rounds
    if fast is not None:
        return fast, None
    frac = r"(\.[0-9]{0,%d})?" % scale if scale else r"\.?"
    ok = pc.match_substring_regex(arr, r"^[+-]?([0-9]+%s|\.[0-9]{1,%d})$" % (frac, max(scale, 1)))
    arr = pc.replace_substring_regex(arr, r"^\+", "")
    arr = pc.replace_substring_regex(arr, r"\.$", "")
    arr = pc.replace_substring_regex(arr, r"^(-?)\.", r"\10.")  # RE2: group 1, then "0."
    return _finish(arr, ok, target)


# Date formats by name; anything containing "%" is taken as a strptime pattern.
DATE_FORMATS = {
    "ISO": "%Y-%m-%d", "YYYY-MM-DD": "%Y-%m-%d",
    "EUR": "%d.%m.%Y", "DD.MM.YYYY": "%d.%m.%Y",
    "DMY": "%d/%m/%Y", "DD/MM/YYYY": "%d/%m/%Y",
    "USA": "%m/%d/%Y", "MM/DD/YYYY": "%m/%d/%Y",
    "YYYYMMDD": "%Y%m%d", "YYMD": "%Y%m%d",
}
# Formats computed from digits: the AS400 century digit and two-digit years.
NUMERIC_DATE_FORMATS = {"CYYMMDD", "CYMD", "YYMMDD", "YMD", "DDMMYY", "DMY6"}
DATE_NULLS = ["0", "00000000", "0000000", "000000", "9999999", "99999999", "999999",
              "0001-01-01", "00/00/0000", "00.00.0000"]


def date_format_names() -> list[str]:
    return sorted(DATE_FORMATS) + sorted(NUMERIC_DATE_FORMATS)


def _yyyymmdd(digits: pa.Array, fmt: str) -> pa.Array:
    """Digits of a numeric date format -> integer yyyymmdd (two-digit years 1940-2039)."""
    n = pc.cast(digits, pa.int64())
    if fmt in ("CYYMMDD", "CYMD"):
        return pc.add(n, 19_000_000)  # century 0 = 19xx, 1 = 20xx
    if fmt in ("DDMMYY", "DMY6"):
        dd, rest = pc.divide(n, 10_000), pc.subtract(n, pc.multiply(pc.divide(n, 10_000), 10_000))
        mm, yy = pc.divide(rest, 100), pc.subtract(rest, pc.multiply(pc.divide(rest, 100), 100))
        n = pc.add(pc.add(pc.multiply(yy, 10_000), pc.multiply(mm, 100)), dd)
    yy = pc.divide(n, 10_000)
    century = pc.if_else(pc.less(yy, 40), 20_000_000, 19_000_000)
    return pc.add(n, century)


def parse_date(arr: pa.Array, *, format: str = "ISO") -> Parsed:
    arr = _blank_to_null(arr)
    arr = pc.if_else(pc.is_in(arr, pa.array(DATE_NULLS)), pa.scalar(None, pa.string()), arr)
    fmt = format.upper() if "%" not in format else format
    if fmt in NUMERIC_DATE_FORMATS:
        width = 7 if fmt in ("CYYMMDD", "CYMD") else 6
        ok = pc.match_substring_regex(arr, r"^[0-9]{%d}$" % width)
        ok_filled = pc.fill_null(ok, False)
        digits = pc.if_else(ok_filled, arr, pa.scalar(None, pa.string()))
        text = pc.cast(_yyyymmdd(digits, fmt), pa.string())
        pattern = "%Y%m%d"
    else:
        pattern = DATE_FORMATS.get(fmt, format)
        ok = pc.or_(pc.is_valid(arr), pc.is_null(arr))  # no digit check: all pass
        text = arr
    ts = pc.strptime(text, format=pattern, unit="s", error_is_null=True)
    # strptime rolls 31/02 over into March: a date must format back to its own text.
    same = pc.equal(pc.strftime(ts, format=pattern), text)
    ok = pc.and_(pc.fill_null(ok, True), pc.or_(pc.is_null(arr), pc.fill_null(same, False)))
    ts = pc.if_else(ok, ts, pa.scalar(None, ts.type))
    bad = pc.invert(ok)
    return pc.cast(ts, pa.date32()), (bad if pc.any(bad).as_py() else None)


def parse_boolean(arr: pa.Array) -> Parsed:
    low = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    is_true, is_false = pc.is_in(low, pa.array(TRUE_WORDS)), pc.is_in(low, pa.array(FALSE_WORDS))
    ok = pc.or_(pc.or_(is_true, is_false), pc.is_null(arr))
    bad = pc.invert(ok)
    out = pc.if_else(ok, is_true, pa.scalar(None, pa.bool_()))
    return out, (bad if pc.any(bad).as_py() else None)


def parse(arr: pa.Array, type: FieldType, *, scale: int = 2, decimal: str = ".",
          thousands: str | None = None, implied: bool = False, format: str = "ISO") -> Parsed:
    """Parse a text column into ``type``. ``text`` passes through unchanged."""
    if type == "text":
        return arr, None
    if type == "integer":
        return parse_integer(arr, thousands=thousands)
    if type == "decimal":
        return parse_decimal(arr, scale=scale, decimal=decimal, thousands=thousands,
                             implied=implied)
    if type == "date":
        return parse_date(arr, format=format)
    if type == "boolean":
        return parse_boolean(arr)
    raise ValueError(f"unknown field type {type!r}")
