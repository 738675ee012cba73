"""A spreadsheet cell as the text its field is parsed from.

The xlsx reader turns every cell into text and types the declared fields through
the same parsers as the CSV reader (:func:`filebridge.readers.base.type_columns`),
so a price typed as ``1.250,00`` and a price stored as a number meet one parser.
What a cell becomes depends on the cell and on its field:

- Text cells are taken as typed, in the field's notation (``decimal``,
  ``thousands``, the date ``format``).
- Number cells are exact: written with the field's decimal mark and no thousands
  separator, so the reader's notation never shifts their digits. Excel keeps 15
  significant digits and shows no more (Microsoft, "Excel specifications and
  limits": number precision 15 digits; "Keep leading zeros and large numbers"), so
  15 is what is read: a computed 30.499999999999996 is 30.5. Integral numbers come
  without ".0" or exponent. A format made only of zeros (``00000``,
  ``0000000000000``) pads the digits as the sheet shows them (Microsoft, "Review
  guidelines for customizing a number format": 0 "displays insignificant zeros if a
  number has fewer digits than there are zeros in the format"): an EAN stored as a
  number keeps its leading zeros. Other formats (decimals shown, currency, ``@``)
  do not change the value.
- Date cells are written in the field's date ``format``, so date cells and dates
  typed as text meet one parser. A date cell with a time of day in a date field is
  refused (the time would be lost).
- A number in a date field is digits of the date when the format is all digits
  (``YYYYMMDD``, ``*CYMD``: 20270228, 1270228; the leading zero a number loses is
  put back: 1032027 in ``%d%m%Y`` is 01032027); otherwise it is an Excel day
  number whose date format was lost (46446 shows as 46446 in Excel too): refused
  with the date it would be, or taken as that date with ``serial_dates: true``.
- Cells showing an Excel error (``#N/A``, ``#VALUE!``, ``#DIV/0!``) are refused.

A refused cell raises :class:`BadCell`; the reader rejects the row, naming the
column, and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

from filebridge.layouts.dates import canonical, to_digits
from filebridge.layouts.types import DATE_FORMATS
from filebridge.options import FieldSpec

# cell -> text. The cell is openpyxl's read-only cell: value, data_type ("e" for an
# error) and number_format, which it looks up in the workbook's styles (openpyxl 3.1.5,
# openpyxl/cell/read_only.py); a number under a date format already comes as a
# datetime (openpyxl/worksheet/_reader.py, parse_cell).
Convert = Callable[[Any], str]


class BadCell(Exception):
    """A cell its field cannot take. ``text`` is what the reject shows for it."""

    def __init__(self, reason: str, text: str):
        super().__init__(reason)
        self.reason, self.text = reason, text


def cell_text(v: Any) -> str:
    """A cell value as text: what the sheet shows, without float artefacts."""
    if type(v) is str:
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        # Excel keeps every number as a double: 8012345000005.0 is an integer code.
        # Up to 1e15 integral doubles are exact; beyond, and for fractions, what Excel
        # shows is 15 significant digits (1.2345678901234567e19 is 12345678901234600000).
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return format(Decimal(format(v, ".15g")), "f")
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time() else v.isoformat()
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)


@lru_cache(maxsize=256)
def zero_pad(number_format: str | None) -> int:
    """Digits a number format pads integers to: 13 for ``0000000000000``, else 0."""
    if not number_format:
        return 0
    positive = number_format.split(";")[0]  # the section for positive numbers
    return len(positive) if re.fullmatch(r"0+", positive) else 0


def number_text(v: float, number_format: str | None) -> str:
    text = str(v) if type(v) is int else cell_text(v)
    width = zero_pad(number_format)
    if width and (type(v) is int or v.is_integer()):
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        return sign + digits.zfill(width)
    return text


def _error(cell: Any) -> str:
    v = cell.value
    if cell.data_type == "e":
        raise BadCell(f"the cell shows the Excel error {v}", v)
    return v


def _as_text(cell: Any) -> str:
    v = cell.value
    if type(v) is str:
        if cell.data_type == "e":
            raise BadCell(f"the cell shows the Excel error {v}", v)
        return v
    if type(v) is float or type(v) is int:
        return number_text(v, cell.number_format)
    return cell_text(v)


def _as_number(mark: str) -> Convert:
    def convert(cell: Any) -> str:
        v = cell.value
        if type(v) is str:
            return _error(cell)
        if type(v) is int:
            return str(v)
        text = cell_text(v)
        return text.replace(".", mark) if type(v) is float and mark != "." else text
    return convert


def _date_writer(fmt: str) -> Callable[[date], str | None]:
    ibm = canonical(fmt) if "%" not in fmt else None
    if ibm is not None:
        return lambda d: to_digits(d, ibm)
    pattern = DATE_FORMATS.get(fmt.upper(), fmt)
    if pattern == "%Y-%m-%d":
        return date.isoformat  # the same text, without strftime's cost
    return lambda d: d.strftime(pattern)


def digits_only(fmt: str) -> bool:
    """Whether dates in this format are written with digits alone (20270228)."""
    if "%" not in fmt and canonical(fmt) is not None:
        return True
    return not re.sub(r"%.", "", DATE_FORMATS.get(fmt.upper(), fmt))


def _as_date(fmt: str, epoch: datetime, serial_dates: bool) -> Convert:
    write = _date_writer(fmt)
    digits = digits_only(fmt)
    # A number loses the leading zero a day needs (01032027 is stored as 1032027):
    # put it back to the format's width. IBM formats are padded by the parser.
    width = len(write(date(2000, 1, 1)) or "") if digits and canonical(fmt) is None else 0

    def written(d: date, v: Any) -> str:
        text = write(d)
        if text is None:
            raise BadCell(f"the date {d.isoformat()} cannot be written in format {fmt}",
                          cell_text(v))
        return text

    def serial(v: float) -> datetime | None:
        try:
            from openpyxl.utils.datetime import from_excel

            return from_excel(v, epoch) if v >= 1 else None
        except (OverflowError, ValueError):
            return None

    def convert(cell: Any) -> str:
        v = cell.value
        if type(v) is str:
            return _error(cell)
        if isinstance(v, datetime):
            if v.time() != time():
                raise BadCell(f"the cell holds a date with a time of day ({v:%Y-%m-%d %H:%M});"
                              " the field wants a date", cell_text(v))
            return written(v.date(), v)
        if isinstance(v, date):
            return written(v, v)
        if type(v) is float or type(v) is int:
            shown = cell_text(v)
            if digits:
                return shown.zfill(width) if width and shown.isdigit() else shown
            day = serial(v)
            if day is not None and day.time() == time() and serial_dates:
                return written(day.date(), v)
            hint = (f" (as an Excel date: {day:%Y-%m-%d}); format the cells as dates or "
                    "set serial_dates: true" if day is not None and day.time() == time()
                    else "")
            raise BadCell(f"{shown} is a number, not a date in format {fmt}: the cell has "
                          f"no date format{hint}", shown)
        return cell_text(v)
    return convert


def converter(spec: FieldSpec | None, *, decimal: str, epoch: datetime,
              serial_dates: bool) -> Convert:
    """How the cells of one column become text: by the field's type and notation."""
    if spec is None or spec.type in ("text", "boolean"):
        return _as_text
    if spec.type == "date":
        return _as_date(spec.format, epoch, serial_dates)
    return _as_number(getattr(spec, "decimal", None) or decimal)


__all__ = ["BadCell", "Convert", "cell_text", "converter", "digits_only", "number_text",
           "zero_pad"]
