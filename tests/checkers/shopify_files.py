"""What Shopify's CSV importers ask of a file before they look at a row.

Sources (see :mod:`checkers.shopify_csv` for the tags):

- One header line, then one record per line; comma separated. [doc]
  https://help.shopify.com/en/manual/products/import-export/using-csv ("The first line of
  your product CSV file must be the column headers ... Each column must be separated by a
  comma").
- UTF-8. [3p] https://www.importcsv.com/blog/shopify-csv-import ("UTF-8 encoded CSV").
  Invalid UTF-8 refuses the file here. A byte order mark is not documented either way;
  stricter reading: reported, because a BOM glued to the first header would hide it.
- 15 MB per file, for the product and the inventory import alike. [3p] importcsv.com (above)
  and a research note citing help.shopify.com's inventory page ("檔案 ≤15MB"); the help
  pages themselves could not be read that far. Stricter reading: 15,000,000 bytes.
- Quoting: RFC 4180 (``"`` around a cell, ``""`` inside). A malformed quote refuses the file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

MAX_BYTES = 15_000_000


class Problem(NamedTuple):
    """Something Shopify would refuse or warn about.

    ``row`` is the line the record starts on (1 is the header, 0 the file as a whole),
    ``column`` the header of the cell ("" for a row or the file), ``message`` says what
    Shopify does with it and why."""

    row: int
    column: str
    message: str


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (first line, cells)


def read_table(path: Path, errors: list[Problem]) -> Table | None:
    """The file's header and records, or None (with the reason in ``errors``)."""
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        errors.append(Problem(0, "", f"refused: the file has {len(data):,} bytes; Shopify takes "
                                     f"at most 15 MB ({MAX_BYTES:,} bytes) per import"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        errors.append(Problem(line, "", f"refused: not UTF-8 (byte 0x{data[e.start]:02x} at "
                                        f"offset {e.start}); Shopify reads UTF-8 only"))
        return None
    if text.startswith("\ufeff"):
        errors.append(Problem(1, "", "warning: the file starts with a byte order mark; Shopify "
                                     "documents none, and it could hide the first header"))
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    table: Table | None = None
    start = 1
    try:
        for cells in reader:
            if table is None:
                table = Table(cells)
            elif cells:
                table.rows.append((start, cells))
            else:  # undocumented; a blank line could be read as a row with no handle
                errors.append(Problem(start, "", "warning: blank line"))
            start = reader.line_num + 1
    except csv.Error as e:
        errors.append(Problem(start, "", f"refused: the file is not valid CSV from line {start} "
                                         f"({e}); Shopify cannot read it"))
        return None
    if table is None or not any(h.strip() for h in table.header):
        errors.append(Problem(0, "", "refused: the file is empty (no header line)"))
        return None
    return table
