"""Vectorised parsing of text columns into typed columns.

Every parser takes an Arrow string array and returns ``(values, bad)`` where
``bad`` is a boolean mask of rows whose text could not be parsed (``None`` when
no row failed). Callers turn bad rows into rejects; nothing here raises on data.
Decimals become ``decimal128(38, scale)``: exact, never float.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.layouts.dates import ALIASES, CHAR_FORMATS, IBM_FORMATS, canonical, to_iso

FieldType = Literal["text", "integer", "decimal", "date", "boolean"]

Parsed = tuple[pa.Array, pa.Array | None]

TRUE_WORDS = ["1", "y", "yes", "s", "si", "sì", "true", "t", "x", "on"]
FALSE_WORDS = ["0", "n", "no", "false", "f", "off", ""]


def _blank_to_null(arr: pa.Array) -> pa.Array:
    if _nothing_blank(arr):
        return arr  # the usual column: a trim and a compare of every value spared
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


_PRINTABLE = np.zeros(256, bool)
_PRINTABLE[0x21:0x7F] = True  # ASCII but blanks and controls: never trimmed


def _nothing_blank(arr: pa.Array) -> bool:
    """Whether no value is empty or starts or ends with a byte that could be white
    space, read off the offsets and the first and last bytes (no per-value copy)."""
    if not isinstance(arr, pa.Array) or arr.type not in (pa.string(), pa.large_string()):
        return False
    width = np.int64 if arr.type == pa.large_string() else np.int32
    _, obuf, dbuf = arr.buffers()
    offsets = np.frombuffer(obuf, width, len(arr) + 1, arr.offset * width().itemsize)
    starts, ends = offsets[:-1], offsets[1:]
    if arr.null_count:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
        starts, ends = starts[valid], ends[valid]
    if not len(starts):
        return True
    if np.less_equal(ends, starts).any() or dbuf is None:
        return False
    data = np.frombuffer(dbuf, np.uint8, int(offsets[-1]))
    return bool(_PRINTABLE[data[starts]].all() and _PRINTABLE[data[ends - 1]].all())


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


def _misfits(arr: pa.Array, decimal: str | None, thousands: str | None) -> pa.Array | None:
    """Rows whose text does not follow the declared notation, or None when all do.

    Thousands separators are only accepted between groups of three digits, and with a
    decimal comma a point is only accepted as the thousands separator: "12.50" in a
    ``decimal: ","``/``thousands: "."`` column is refused, not read as 1250."""
    if not thousands and decimal in (None, "."):
        return None  # the plain notation: the parsers' own checks suffice
    if not thousands and (decimal or "").isascii() and \
            _only(arr, "0123456789+-" + (decimal or "")):
        # Only digits, signs and the decimal mark: any row out of the notation (two
        # marks, a sign inside) fails the parse itself, so no per-row regex.
        return None
    whole = "[0-9]*"
    if thousands:
        whole = f"(?:[0-9]{{1,3}}(?:[{thousands}][0-9]{{3}})+|[0-9]*)"
    frac = f"(?:[{decimal}][0-9]*)?" if decimal else ""
    fits = pc.match_substring_regex(arr, f"^[+-]?{whole}{frac}$")
    misfit = pc.invert(pc.fill_null(fits, True))
    return misfit if pc.any(misfit).as_py() else None


def _only(arr: pa.Array, chars: str) -> bool:
    """Whether the column's text holds no character but ``chars`` (ASCII)."""
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    offsets = np.frombuffer(arr.buffers()[1], np.int32, len(arr) + 1, arr.offset * 4)
    start, stop = int(offsets[0]), int(offsets[-1])
    data = arr.buffers()[2]
    text = bytes(memoryview(data)[start:stop]) if data is not None else b""
    return not text.translate(None, chars.encode("ascii"))


def _apply_notation(arr: pa.Array, decimal: str | None, thousands: str | None) -> pa.Array:
    """Plain digits with "." for the decimal mark; a row not in the notation becomes
    "?", which every parser refuses (the reject shows the original text)."""
    misfit = _misfits(arr, decimal, thousands)
    if thousands:
        arr = pc.replace_substring(arr, thousands, "")
    if decimal and decimal != ".":
        arr = pc.replace_substring(arr, decimal, ".")
    if misfit is not None:
        arr = pc.if_else(misfit, pa.scalar("?", pa.string()), arr)
    return arr


def parse_integer(arr: pa.Array, *, thousands: str | None = None) -> Parsed:
    arr = _apply_notation(_move_trailing_sign(_blank_to_null(arr)), None, thousands)
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
    arr = _apply_notation(arr, decimal, thousands)
    fast = _fast_cast(arr, target)  # refuses excess decimals ("data loss"), never rounds
    if fast is not None:
        return fast, None
    frac = rf"(\.[0-9]{{0,{scale}}})?" if scale else r"\.?"
    # ".5" only where decimals are allowed: at scale 0 it would reach the cast below
    # as "0.5" and fail the whole batch instead of rejecting its row.
    bare = rf"|\.[0-9]{{1,{scale}}}" if scale else ""
    ok = pc.match_substring_regex(arr, rf"^[+-]?([0-9]+{frac}{bare})$")
    arr = pc.replace_substring_regex(arr, r"^\+", "")
    arr = pc.replace_substring_regex(arr, r"\.$", "")
    arr = pc.replace_substring_regex(arr, r"^(-?)\.", r"\10.")  # RE2: group 1, then "0."
    return _finish(arr, ok, target)


_EDITED = (r"^(?P<lead>[+-]?)(?P<num>[0-9]*\.?[0-9]*)(?P<trail>[+-]|CR|DB)?$")


def parse_edited(arr: pa.Array, type: FieldType, *, scale: int = 2,
                 implied: bool = False) -> Parsed:
    """Text printed by a COBOL numeric edited picture: fill and insertion characters
    (blanks, *, $, the comma, /) go; one sign, leading (+ -) or trailing (+ - CR DB),
    gives the sign: ``00000012+`` (PIC 9(8)+) is 12, ``12CR`` and ``-12`` are -12, and
    a blank where PIC -9(8) prints nothing is +. Two signs are refused. A field of
    blanks (BLANK WHEN ZERO) is null."""
    arr = _blank_to_null(arr)
    arr = pc.replace_substring_regex(arr, r"[\s*$,/]", "")
    parts = pc.extract_regex(arr, _EDITED)
    lead, num, trail = (parts.field(k) for k in ("lead", "num", "trail"))
    one_sign = pc.or_(pc.equal(lead, ""), pc.equal(trail, ""))
    ok = pc.and_(one_sign, pc.match_substring_regex(num, "[0-9]"))
    minus = pc.or_(pc.equal(lead, "-"), pc.is_in(trail, pa.array(["-", "CR", "DB"])))
    text = pc.binary_join_element_wise(pc.if_else(minus, "-", ""), num, "")
    # "?" fails every parser, so a row not in the notation is rejected as bad.
    text = pc.if_else(pc.fill_null(ok, False), text,
                      pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), "?"))
    if type == "integer":
        return parse_integer(text)
    return parse_decimal(text, scale=scale, implied=implied)


# Date formats by name; anything containing "%" is taken as a strptime pattern.
# IBM i formats (*CYMD, *DMY, *JUL …) live in layouts/dates.py.
DATE_FORMATS = {
    "ISO": "%Y-%m-%d", "YYYY-MM-DD": "%Y-%m-%d",
    "EUR": "%d.%m.%Y", "DD.MM.YYYY": "%d.%m.%Y",
    "DMY": "%d/%m/%Y", "DD/MM/YYYY": "%d/%m/%Y",
    "USA": "%m/%d/%Y", "MM/DD/YYYY": "%m/%d/%Y",
    "YYYYMMDD": "%Y%m%d", "YYMD": "%Y%m%d", **CHAR_FORMATS,
}
NUMERIC_DATE_FORMATS = set(IBM_FORMATS) | set(ALIASES)
DATE_NULLS = ["0", "00000000", "0000000", "000000", "00000", "9999999", "99999999", "999999",
              "0001-01-01", "00/00/0000", "00.00.0000"]


def date_format_names() -> list[str]:
    return sorted(DATE_FORMATS) + sorted(IBM_FORMATS) + sorted(ALIASES)


def _unpadded(arr: pa.Array) -> pa.Array:
    # Only a lone 0 before one digit, between non-digits: 01/03/2027 -> 1/3/2027, while
    # 0027 (a year) and 20270301 (digits only) stay as they are. A match takes the
    # separator after it, so the component right after one is done by a second pass.
    for _ in range(2):
        arr = pc.replace_substring_regex(arr, r"(^|[^0-9])0([0-9])([^0-9]|$)", r"\1\2\3")
    return arr


def parse_date(arr: pa.Array, *, format: str = "ISO",
               nulls: list[str] | None = None) -> Parsed:
    """Text or digits to dates. ``nulls``: values meaning "no date" (IBM sentinels by
    default: 0, 9999999, 0001-01-01 …)."""
    arr = _blank_to_null(pc.cast(arr, pa.string()))
    sentinels = pa.array(DATE_NULLS if nulls is None else nulls, pa.string())
    arr = pc.if_else(pc.is_in(arr, sentinels), pa.scalar(None, pa.string()), arr)
    ibm = canonical(format) if "%" not in format else None
    if ibm is not None:
        width = IBM_FORMATS[ibm][0]
        # Character fields may print the digits with separators (15/03/24).
        digits = pc.replace_substring_regex(arr, r"[/.\-, ]", "")
        digits = pc.utf8_lpad(digits, width, "0")
        ok = pc.match_substring_regex(digits, rf"^[0-9]{{{width}}}$")
        clean = pc.if_else(pc.fill_null(ok, False), digits, pa.scalar(None, pa.string()))
        text, pattern = to_iso(clean, ibm)
    else:
        pattern = DATE_FORMATS.get(format.upper(), format)
        ok = pc.or_(pc.is_valid(arr), pc.is_null(arr))  # no digit check: all pass
        text = arr
    ts = pc.strptime(text, format=pattern, unit="s", error_is_null=True)
    # strptime rolls 31/02 over into March: a date must format back to its own text,
    # give or take the zero of a one-digit day or month typed by hand (1/3/2027).
    back = pc.strftime(ts, format=pattern)
    if ibm is None:
        back, text = _unpadded(back), _unpadded(text)
    same = pc.equal(back, text)
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
          thousands: str | None = None, implied: bool = False, format: str = "ISO",
          nulls: list[str] | None = None) -> Parsed:
    """Parse a text column into ``type``. ``text`` passes through unchanged."""
    if type == "text":
        return arr, None
    if type == "integer":
        return parse_integer(arr, thousands=thousands)
    if type == "decimal":
        return parse_decimal(arr, scale=scale, decimal=decimal, thousands=thousands,
                             implied=implied)
    if type == "date":
        return parse_date(arr, format=format, nulls=nulls)
    if type == "boolean":
        return parse_boolean(arr)
    raise ValueError(f"unknown field type {type!r}")
