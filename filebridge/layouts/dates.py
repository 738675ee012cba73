"""IBM i date formats (DDS DATFMT) held as digits in zoned, packed or character
fields: *CYMD 1240315, *DMY 150324, *JUL 24075, … Two-digit years map to
1940–2039, as on IBM i; the century digit 0 is 19xx and 1 is 20xx.

:func:`to_iso` turns such digits into ISO text (``YYYYMMDD`` or ``YYYYDDD`` with
its strptime pattern) with integer arithmetic on whole columns; :func:`to_digits`
writes one date in a format (a spreadsheet's date cell in a *CYMD field).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

# name -> (digits, components from the left: c = century, y2/y4 = year, m, d, j = day of year)
IBM_FORMATS: dict[str, tuple[int, tuple[str, ...]]] = {
    "*CYMD": (7, ("c", "y2", "m", "d")), "*CMDY": (7, ("c", "m", "d", "y2")),
    "*CDMY": (7, ("c", "d", "m", "y2")), "*YMD": (6, ("y2", "m", "d")),
    "*DMY": (6, ("d", "m", "y2")), "*MDY": (6, ("m", "d", "y2")),
    "*YYMD": (8, ("y4", "m", "d")), "*MDYY": (8, ("m", "d", "y4")),
    "*DMYY": (8, ("d", "m", "y4")), "*JUL": (5, ("y2", "j")),
    "*LONGJUL": (7, ("y4", "j")), "*CJUL": (6, ("c", "y2", "j")),
}
# Names used before the IBM ones were added, kept as aliases.
ALIASES = {"CYYMMDD": "*CYMD", "CYMD": "*CYMD", "YYMMDD": "*YMD", "DDMMYY": "*DMY",
           "DMY6": "*DMY", "*CYYMMDD": "*CYMD"}
# The character formats of IBM i have strptime equivalents.
CHAR_FORMATS = {"*ISO": "%Y-%m-%d", "*JIS": "%Y-%m-%d", "*EUR": "%d.%m.%Y",
                "*USA": "%m/%d/%Y"}
_WIDTH = {"c": 1, "y2": 2, "y4": 4, "m": 2, "d": 2, "j": 3}


def canonical(fmt: str) -> str | None:
    name = fmt.upper()
    name = ALIASES.get(name, name)
    return name if name in IBM_FORMATS else None


def to_iso(digits: pa.Array, fmt: str) -> tuple[pa.Array, str]:
    """Digit strings of an IBM format -> (text, strptime pattern) of the same dates."""
    width, parts = IBM_FORMATS[fmt]
    n = pc.cast(digits, pa.int64())
    values: dict[str, pa.Array] = {}
    scale = 10 ** width
    for part in parts:
        scale //= 10 ** _WIDTH[part]
        values[part] = pc.divide(n, scale) if scale > 1 else n
        n = pc.subtract(n, pc.multiply(values[part], scale))
    if "y4" in values:
        year = values["y4"]
    elif "c" in values:
        year = pc.add(pc.add(values["y2"], 1900), pc.multiply(values["c"], 100))
    else:  # the 1940-2039 window
        y2 = values["y2"]
        year = pc.add(y2, pc.if_else(pc.less(y2, 40), 2000, 1900))
    if "j" in values:
        return pc.cast(pc.add(pc.multiply(year, 1000), values["j"]), pa.string()), "%Y%j"
    ymd = pc.add(pc.add(pc.multiply(year, 10_000), pc.multiply(values["m"], 100)), values["d"])
    return pc.cast(ymd, pa.string()), "%Y%m%d"


def to_digits(day: dt.date, fmt: str) -> str | None:
    """``day`` written in the IBM format ``fmt`` (canonical name), or None when the
    format cannot hold it (a two-digit year outside 1940-2039, a century digit
    outside 19xx-28xx)."""
    _, parts = IBM_FORMATS[fmt]
    century = day.year // 100 - 19
    if "c" in parts:
        if not 0 <= century <= 9:
            return None
    elif "y2" in parts and not 1940 <= day.year <= 2039:
        return None
    text = {"c": str(century), "y2": f"{day.year % 100:02d}", "y4": f"{day.year:04d}",
            "m": f"{day.month:02d}", "d": f"{day.day:02d}",
            "j": f"{day.timetuple().tm_yday:03d}"}
    return "".join(text[p] for p in parts)
