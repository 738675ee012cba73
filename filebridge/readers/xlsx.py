"""Excel workbooks (.xlsx), streamed row by row with openpyxl in read-only mode.

Rows: ``header_row`` (1-based) holds the column names and data starts on the next
row; rows above it are skipped. Without a header set ``header_row: 0`` and name the
columns (A, B, C… in order) with ``columns``; data then starts on row 1. Either
way ``data_row`` can move the first data row further down. Cells right of the
last named column are ignored, fully empty rows are skipped (not counted), and
batch lines are the sheet's row numbers.

Every cell becomes text before typing, as a person reads the sheet: integral
numbers without ".0" or exponent (EAN 8012345000005), other numbers as exact
decimals with "." (12.5), dates as ISO ``YYYY-MM-DD`` (with ``THH:MM:SS`` when the
cell has a time), booleans as 1/0, empty cells as "". Formulas give the value
Excel saved with the file. Codes stored as text keep their leading zeros; a code
the sheet stores as a number has already lost them (00123 is 123): restore them
in the mapping with the ``pad`` transform, e.g. ``apply: [{pad: {width: 13}}]``.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from pydantic import Field, model_validator

from filebridge.errors import RejectedFile
from filebridge.options import Condition, FieldSpec, Model
from filebridge.readers.base import apply_filters, type_columns
from filebridge.records import Batch, FileReport
from filebridge.registry import REGISTRY


class XlsxOptions(Model):
    """Excel workbook (.xlsx), one sheet."""

    format: Literal["xlsx"] = Field(description="Excel workbook (.xlsx)")
    sheet: str | int | None = Field(None, description="sheet name, or 0-based position; "
                                    "default the first sheet")
    header_row: int = Field(1, ge=0, description="row holding the column names (1-based); "
                            "rows above are skipped; 0: no header, name the columns")
    columns: list[str] | None = Field(None, description="column names in order (A, B, …) "
                                      "for a sheet without a header (header_row: 0)")
    data_row: int | None = Field(None, ge=1, description="first data row (1-based); default "
                                 "the row after the header")
    fields: dict[str, FieldSpec] = Field(default_factory=dict, description="types of the "
                                         "columns that are not text")
    filter: list[Condition] = Field(default_factory=list, description="keep only rows "
                                    "passing every condition; the others count as skipped")
    batch_rows: int = Field(5000, ge=1, description="rows per batch")

    @model_validator(mode="after")
    def _rows(self) -> XlsxOptions:
        if self.header_row == 0 and not self.columns:
            raise ValueError("header_row: 0 (no header) needs columns")
        if self.header_row and self.columns:
            raise ValueError("columns is for sheets without a header: set header_row: 0")
        if self.columns and len(set(self.columns)) != len(self.columns):
            raise ValueError("column names must be unique")
        if self.data_row is not None and self.data_row <= self.header_row:
            raise ValueError("data_row must come after header_row")
        return self


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
        return str(int(v)) if v.is_integer() else format(Decimal(str(v)), "f")
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time() else v.isoformat()
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)


def _load(f: Any) -> Any:
    magic = f.read(8)
    f.seek(0)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise RejectedFile("not an .xlsx workbook: an old .xls or a password-protected "
                           "workbook; save it as .xlsx without a password")
    if not zipfile.is_zipfile(f):
        raise RejectedFile("not an .xlsx workbook: the file is not a zip archive "
                           "(or it is truncated)")
    try:
        # A file object, not the name: openpyxl refuses names not ending in .xlsx.
        return load_workbook(f, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises KeyError, InvalidFileException, ...
        raise RejectedFile(f"not an .xlsx workbook: {type(e).__name__}: {e}") from None


def _guarded(rows: Iterator[tuple]) -> Iterator[tuple]:
    """Rows, with a damaged sheet inside a valid zip turned into a rejected file."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, ValueError,
                OverflowError, SyntaxError) as e:  # xml ParseError is a SyntaxError
            raise RejectedFile(f"damaged workbook: {type(e).__name__}: {e}") from None
        yield row


def _sheet(wb: Any, want: str | int | None) -> Any:
    names = wb.sheetnames
    listed = ", ".join(repr(n) for n in names)
    if want is None:
        if not wb.worksheets:
            raise RejectedFile("the workbook has no worksheet")
        return wb.worksheets[0]
    if isinstance(want, int):
        if not 0 <= want < len(names):
            raise RejectedFile(f"sheet {want} not found: the workbook has {len(names)} "
                               f"sheet(s) ({listed}), counted from 0")
        name = names[want]
    else:
        # Excel sheet names are case-insensitive.
        name = next((n for n in names if n == want), None) or next(
            (n for n in names if n.casefold() == want.casefold()), None)
        if name is None:
            raise RejectedFile(f"sheet {want!r} not found; the workbook has: {listed}")
    ws = wb[name]
    if not hasattr(ws, "iter_rows"):
        raise RejectedFile(f"sheet {name!r} is a chart sheet, not a worksheet")
    return ws


def _names(row: tuple, line: int) -> list[str]:
    names = [cell_text(v).strip() for v in row]
    while names and not names[-1]:
        names.pop()  # the sheet's used range often runs past the last named column
    if not names:
        raise RejectedFile("the header row is empty", line=line)
    blank = [get_column_letter(i + 1) for i, n in enumerate(names) if not n]
    if blank:
        raise RejectedFile(f"the header has no name in column(s) {', '.join(blank)}",
                           line=line)
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        where = "; ".join(f"{n!r} in " + ", ".join(get_column_letter(i + 1)
                                                  for i, m in enumerate(names) if m == n)
                          for n in sorted(dupes))
        raise RejectedFile(f"the header repeats column names: {where}", line=line)
    return names


@REGISTRY.reader("xlsx")
class XlsxReader:
    Options = XlsxOptions

    def __init__(self, options: XlsxOptions):
        self.o = options

    def read(self, path: Path, report: FileReport) -> Iterator[Batch]:
        o = self.o
        with open(path, "rb") as f:
            wb = _load(f)
            try:
                ws = _sheet(wb, o.sheet)
                ws.reset_dimensions()  # trust the rows present, not the stored used range
                first = o.header_row or o.data_row or 1
                rows = _guarded(ws.iter_rows(min_row=first, values_only=True))
                names = o.columns or []
                if o.header_row:
                    header = next(rows, None)
                    if header is None:
                        raise RejectedFile(f"sheet {ws.title!r} has no row {o.header_row} "
                                           "(header_row)")
                    names = _names(header, o.header_row)
                    first += 1
                yield from self._batches(rows, names, first, o.data_row or first, report)
            finally:
                wb.close()

    def _batches(self, rows: Iterator[tuple], names: list[str], line: int, start: int,
                 report: FileReport) -> Iterator[Batch]:
        width = len(names)
        pad = (None,) * width
        cols: list[list[str]] = [[] for _ in names]
        lines: list[int] = []
        for row in rows:
            if line >= start and not all(v is None or v == "" for v in row[:width]):
                for col, v in zip(cols, row + pad):
                    col.append(cell_text(v))
                lines.append(line)
                if len(lines) >= self.o.batch_rows:
                    yield self._batch(names, cols, lines, report)
                    cols, lines = [[] for _ in names], []
            line += 1
        if lines:
            yield self._batch(names, cols, lines, report)

    def _batch(self, names: list[str], cols: list[list[str]], lines: list[int],
               report: FileReport) -> Batch:
        report.tally.read += len(lines)
        table = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols)})
        batch = type_columns(Batch(table, pa.array(lines, pa.int64())), self.o.fields, report)
        return apply_filters(batch, self.o.filter, report)


__all__ = ["XlsxOptions", "XlsxReader", "cell_text"]
