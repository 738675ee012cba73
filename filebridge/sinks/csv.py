"""A plain CSV file with the columns the profile names: for any import format that is
one row per record (stock lists, price lists, Shopify's inventory CSV…)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from filebridge.options import Encoding
from filebridge.records import Batch
from filebridge.registry import REGISTRY
from filebridge.sinks.base import (FileSinkOptions, SinkContext, csv_lines, guard_formulas,
                                   header_line, text_column)


class CsvSinkOptions(FileSinkOptions):
    """One CSV row per record."""

    format: Literal["csv"] = Field(description="plain CSV, one row per record")
    columns: dict[str, str] | list[str] | None = Field(
        None, description="header -> mapped field, or a list of fields (header = field); "
                          "default: every mapped field")
    delimiter: str = Field(",", min_length=1, max_length=1, description="field separator")
    decimal: Literal[".", ","] = Field(".", description="decimal mark written")
    encoding: Encoding = Field("utf-8", description="output encoding")
    header: bool = Field(True, description="write a header line")
    newline: Literal["\n", "\r\n"] = Field("\n", description="line end")
    formula_guard: bool = Field(False, description="prefix ' to cells starting with = + - @ "
                                "(for files people open in a spreadsheet)")


@REGISTRY.sink("csv")
class CsvSink:
    Options = CsvSinkOptions

    def __init__(self, options: CsvSinkOptions):
        self.o = options

    def start(self, ctx: SinkContext) -> None:
        self.staged = ctx.stage(self.o.path, self.o.done_file)
        self.file = self.staged.open("wb")
        self.columns: dict[str, str] | None = None

    def _columns(self, batch: Batch) -> dict[str, str]:
        cols = self.o.columns
        if cols is None:
            return {n: n for n in batch.names}
        if isinstance(cols, list):
            cols = {c: c for c in cols}
        missing = [f for f in cols.values() if f not in batch.names]
        if missing:
            raise ValueError(f"output columns need field(s) {', '.join(missing)}, not in "
                             f"the mapped record ({', '.join(batch.names)})")
        return cols

    def _write_header(self, cols: dict[str, str]) -> None:
        if self.o.header:
            self._emit(header_line(list(cols), self.o.delimiter, self.o.newline))

    def _emit(self, data: bytes) -> None:
        if self.o.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            data = data.decode("utf-8").encode(self.o.encoding, errors="strict")
        self.file.write(data)

    def write(self, batch: Batch) -> None:
        if self.columns is None:
            self.columns = self._columns(batch)
            self._write_header(self.columns)
        if not len(batch):
            return
        texts = []
        for field in self.columns.values():
            col = text_column(batch.column(field), decimal=self.o.decimal)
            texts.append(guard_formulas(col) if self.o.formula_guard else col)
        self._emit(csv_lines(texts, self.o.delimiter, self.o.newline))

    def finish(self) -> None:
        if self.columns is None and self.o.columns is not None:
            cols = self.o.columns
            self._write_header(cols if isinstance(cols, dict) else {c: c for c in cols})
        self.close()

    def close(self) -> None:
        self.file.close()
