"""Excel workbooks (.xlsx), streamed row by row with openpyxl in read-only mode.

Sheet: ``sheet`` names it (or gives its position); by default the first visible
worksheet, so a hidden sheet of drop-down lists or a chart sheet in front is passed
over. Other sheets (notes, lists) are not read.

Rows: ``header_row`` (1-based) holds the column names and data starts on the next
row; rows above it (a title merged across the columns, blank rows) are skipped.
``header_with: EAN`` instead finds the header as the first row, among the first
100, with a cell holding that name. Without a header set ``header_row: 0`` and name
the columns (A, B, C… in order) with ``columns``; data then starts on row 1.
Either way ``data_row`` can move the first data row further down. A header that
lacks a column the profile types or filters refuses the file, naming the sheet and
row. Cells right of the last named column are ignored, blank rows are skipped (not
counted), and batch lines are the sheet's row numbers. A row pasted twice is two
rows: duplicate keys are the catalog's business, not the reader's.

Cells become text as :mod:`filebridge.readers.xlsx_cells` says (number cells exact
and zero-padded as their format shows them, date cells in the field's date format,
Excel errors refused), then declared ``fields`` are typed by the parsers the CSV
reader uses, with the reader's ``decimal``/``thousands`` or a field's own: a price
typed as text ``1.250,00`` and one stored as the number 1250 both read 1250.00.
Formulas give the value Excel saved with the file. Every refused cell rejects its
row with the sheet row and the column's name.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from filebridge.errors import Bug, RejectedFile
from filebridge.options import Condition, FieldSpec, Model
from filebridge.readers.base import separators, typed_rows
from filebridge.readers.xlsx_cells import BadCell, Convert, cell_text, converter
from filebridge.records import Batch, FileReport, Reject
from filebridge.registry import REGISTRY

DecimalMark = Literal[".", ","]
Thousands = Literal[".", ",", " ", "'"]
HEADER_SCAN = 100  # rows header_with looks through


class XlsxField(FieldSpec):
    """A column's type; numbers typed as text in it may have their own notation."""

    decimal: DecimalMark | None = Field(None, description="decimal mark of numbers typed as "
                                    "text in this column; default the reader's decimal")
    thousands: Thousands | None = Field(None, description="thousands separator of numbers "
                                        "typed as text in this column; default the "
                                        "reader's; null: none")


class XlsxOptions(Model):
    """Excel workbook (.xlsx), one sheet."""

    format: Literal["xlsx"] = Field(description="Excel workbook (.xlsx)")
    sheet: str | int | None = Field(None, description="sheet name, or 0-based position "
                                    "among all sheets; default the first visible worksheet")
    header_row: int = Field(1, ge=0, description="row holding the column names (1-based); "
                            "rows above are skipped; 0: no header, name the columns")
    header_with: str | None = Field(None, min_length=1, description="instead of header_row:"
                                    " the header is the first row (of the first 100) with a "
                                    "cell holding this column name (case and blanks aside)")
    columns: list[str] | None = Field(None, description="column names in order (A, B, …) "
                                      "for a sheet without a header (header_row: 0)")
    data_row: int | None = Field(None, ge=1, description="first data row (1-based); default "
                                 "the row after the header")
    decimal: DecimalMark = Field(".", description="decimal mark of numbers typed as text; "
                             "number cells are exact whatever it says")
    thousands: Thousands | None = Field(None, description="thousands separator of numbers "
                                        "typed as text, if any (only between groups of "
                                        "three digits)")
    serial_dates: bool = Field(False, description="a number in a date field whose format "
                               "is not all digits is an Excel day number (46446 is "
                               "2027-02-28): a date cell that lost its format; without "
                               "this such cells reject their row")
    fields: dict[str, XlsxField] = Field(default_factory=dict, description="types of the "
                                         "columns that are not text")
    filter: list[Condition] = Field(default_factory=list, description="keep only rows "
                                    "passing every condition; the others count as skipped")
    batch_rows: int = Field(5000, ge=1, description="rows per batch")

    @model_validator(mode="after")
    def _rows(self) -> XlsxOptions:
        if self.header_with is not None:
            if "header_row" in self.model_fields_set:
                raise ValueError("header_with finds the header row: leave header_row out")
            if self.columns:
                raise ValueError("columns is for sheets without a header: leave "
                                 "header_with out and set header_row: 0")
        if self.header_row == 0 and not self.columns:
            raise ValueError("header_row: 0 (no header) needs columns")
        if self.header_row and self.columns:
            raise ValueError("columns is for sheets without a header: set header_row: 0")
        if self.columns:
            if len(set(self.columns)) != len(self.columns):
                raise ValueError("column names must be unique")
            named = set(self.columns)
            missing = [n for n in [*self.fields, *(c.field for c in self.filter)]
                       if n not in named]
            if missing:
                raise ValueError(f"{', '.join(map(repr, missing))} not in columns")
        if (self.header_with is None and self.data_row is not None
                and self.data_row <= self.header_row):
            raise ValueError("data_row must come after header_row")
        for name, spec in self.fields.items():
            mark, group = separators(spec, self.decimal, self.thousands)
            if mark == group:
                raise ValueError(f"fields.{name}: decimal and thousands are both {mark!r}")
        return self


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
        from openpyxl import load_workbook  # when a workbook is read: a slow import

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
        # Chart sheets have no rows; hidden sheets hold drop-down lists and the like.
        shown = [ws for ws in wb.worksheets
                 if hasattr(ws, "iter_rows") and ws.sheet_state == "visible"]
        if not shown:
            raise RejectedFile(f"the workbook has no visible worksheet ({listed or 'none'})"
                               "; name the sheet to read (sheet)")
        return shown[0]
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


def _texts(row: tuple) -> list[str]:
    return [cell_text(c.value).strip() for c in row]


def _names(row: tuple, line: int, sheet: str) -> list[str]:
    names = _texts(row)
    while names and not names[-1]:
        names.pop()  # the sheet's used range often runs past the last named column
    where = f"sheet {sheet!r}, header row {line}"
    if not names:
        raise RejectedFile(f"{where} is empty; is the header on another row (header_row)?",
                           line=line)
    blank = [get_column_letter(i + 1) for i, n in enumerate(names) if not n]
    if blank:
        raise RejectedFile(f"{where}: no name in column(s) {', '.join(blank)}", line=line)
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        repeats = "; ".join(f"{n!r} in " + ", ".join(get_column_letter(i + 1)
                                                     for i, m in enumerate(names) if m == n)
                            for n in sorted(dupes))
        raise RejectedFile(f"{where} repeats column names: {repeats}", line=line)
    return names


def _blank(row: tuple) -> bool:
    for c in row:
        v = c.value
        if v is not None and not (type(v) is str and not v.strip()):
            return False
    return True


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
                if o.header_with is not None:
                    rows = _guarded(ws.iter_rows(min_row=1))
                    line, header = self._find_header(rows, ws.title)
                    names = _names(header, line, ws.title)
                    start = o.data_row or line + 1
                    if start <= line:
                        raise RejectedFile(f"sheet {ws.title!r}: data_row {start} is not "
                                           f"below the header, found on row {line}", line=line)
                elif o.header_row:
                    line = o.header_row
                    rows = _guarded(ws.iter_rows(min_row=line))
                    at_header = next(rows, None)
                    if at_header is None:
                        raise RejectedFile(f"sheet {ws.title!r} has no row {line} (header_row):"
                                           " the sheet is shorter", line=line)
                    names = _names(at_header, line, ws.title)
                    start = o.data_row or line + 1
                else:
                    names, start = list(o.columns or []), o.data_row or 1
                    line = start - 1
                    rows = _guarded(ws.iter_rows(min_row=start))
                if o.header_row or o.header_with:
                    self._check_names(names, line, ws.title)
                yield from self._batches(rows, names, line + 1, start, wb.epoch, report)
            finally:
                wb.close()

    def _find_header(self, rows: Iterator[tuple], sheet: str) -> tuple[int, tuple]:
        """The header row's number and cells; ``rows`` goes on after it."""
        want = " ".join(str(self.o.header_with).split()).casefold()
        for line in range(1, HEADER_SCAN + 1):
            row = next(rows, None)
            if row is None:
                break
            if any(" ".join(t.split()).casefold() == want for t in _texts(row)):
                return line, row
        raise RejectedFile(f"sheet {sheet!r}: no row among the first {HEADER_SCAN} has a cell "
                           f"{self.o.header_with!r} (header_with)")

    def _check_names(self, names: list[str], line: int, sheet: str) -> None:
        wanted = [*self.o.fields, *(c.field for c in self.o.filter)]
        missing = [n for n in dict.fromkeys(wanted) if n not in names]
        if missing:
            raise RejectedFile(
                f"sheet {sheet!r}, header row {line}: no column "
                f"{', '.join(map(repr, missing))} (the profile's fields/filter); the row "
                f"holds {', '.join(map(repr, names))}; is the header on another row?",
                line=line)

    def _batches(self, rows: Iterator[tuple], names: list[str], line: int, start: int,
                 epoch: Any, report: FileReport) -> Iterator[Batch]:
        o = self.o
        width = len(names)
        from openpyxl.cell.read_only import EMPTY_CELL

        pad = (EMPTY_CELL,) * width
        convs: list[Convert] = [converter(o.fields.get(n), decimal=o.decimal, epoch=epoch,
                                          serial_dates=o.serial_dates) for n in names]
        cols: list[list[str]] = [[] for _ in names]
        lines: list[int] = []
        bad: list[tuple[int, str, str]] = []  # (row in batch, column, reason)
        for row in rows:
            # a row openpyxl skips (no cells at all) comes as [], short rows are short
            cells = row[:width] if len(row) >= width else (*row, *pad[len(row):])
            if line >= start and not _blank(cells):
                try:
                    for col, conv, cell in zip(cols, convs, cells, strict=True):
                        col.append(conv(cell))
                except BadCell:  # rare: redo the row cell by cell, noting the first bad one
                    bad.append(self._bad_row(cols, convs, cells, names, len(lines)))
                lines.append(line)
                if len(lines) >= o.batch_rows:
                    yield self._batch(names, cols, lines, bad, report)
                    cols, lines, bad = [[] for _ in names], [], []
            line += 1
        if lines:
            yield self._batch(names, cols, lines, bad, report)

    @staticmethod
    def _bad_row(cols: list[list[str]], convs: list[Convert], cells: tuple, names: list[str],
                 row: int) -> tuple[int, str, str]:
        first = None
        for name, col, conv, cell in zip(names, cols, convs, cells, strict=True):
            del col[row:]
            try:
                col.append(conv(cell))
            except BadCell as e:
                col.append(e.text)
                first = first or (row, name, e.reason)
        if first is None:
            raise Bug("expected first is not None")
        return first

    def _batch(self, names: list[str], cols: list[list[str]], lines: list[int],
               bad: list[tuple[int, str, str]], report: FileReport) -> Batch:
        o = self.o
        report.tally.read += len(lines)
        table = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)})
        batch = Batch(table, pa.array(lines, pa.int64()))
        if bad:
            taken = table.take([b[0] for b in bad]).to_pylist()
            for (i, name, reason), row in zip(bad, taken, strict=True):
                report.reject(Reject(lines[i], name, reason, row))
            keep = pc.invert(pc.is_in(pa.array(range(len(lines)), pa.int64()),
                                      pa.array([b[0] for b in bad], pa.int64())))
            batch = batch.filter(keep)
        return typed_rows(batch, o.fields, o.filter, report, decimal=o.decimal,
                          thousands=o.thousands)


__all__ = ["XlsxField", "XlsxOptions", "XlsxReader", "cell_text"]


def get_column_letter(n: int) -> str:
    """The sheet's column letters of column ``n`` (1-based), as openpyxl names them."""
    from openpyxl.utils import get_column_letter as letter

    return letter(n)
