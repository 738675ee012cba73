"""A plain CSV file with the columns the profile names: for any import format that is
one row per record (stock lists, price lists, Shopify's inventory CSV…)."""

from __future__ import annotations

import codecs
from typing import IO, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from filebridge.errors import Bug, OutputError
from filebridge.options import Encoding
from filebridge.outputs import Staged
from filebridge.overlap import Behind
from filebridge.records import Batch
from filebridge.registry import REGISTRY
from filebridge.sinks.base import (
    FileSink,
    FileSinkOptions,
    SinkContext,
    csv_text,
    guard_formulas,
    header_line,
    unencodable,
)
from filebridge.textcol import text_column


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
    separator: str = Field("|", min_length=1, description="between the items of a list "
                           "value in one cell (e.g. photos from a join)")
    formula_guard: bool = Field(True, description="prefix ' to cells starting with = + - @ "
                                "(a spreadsheet opening the file would run them as formulas); "
                                "false keeps such cells as they are")


SYNC_EVERY = 16 << 20  # bytes written between two syncs on the writer's thread


@REGISTRY.sink("csv")
class CsvSink(FileSink):
    Options = CsvSinkOptions

    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.staged: Staged | None = None
        self.file: IO[bytes] | None = None
        self.columns: dict[str, str] | None = None
        # The text of a batch is made and written on a thread while the pipeline maps
        # the next one (filebridge/overlap.py); what counts as sent is decided here.
        self.behind: Behind | None = None
        self.encoder: codecs.IncrementalEncoder | None = None
        self.synced = 0  # bytes of the file on disk

    def _columns(self, batch: Batch) -> dict[str, str]:
        cols = self.o.columns
        if cols is None:
            return {n: n for n in batch.names}
        if isinstance(cols, list):
            cols = {c: c for c in cols}
        missing = [f for f in cols.values() if f not in batch.names]
        if missing:
            raise OutputError(f"output columns need field(s) {', '.join(missing)}, not in "
                              f"the mapped record ({', '.join(batch.names)})")
        return cols

    def _open(self, cols: dict[str, str]) -> IO[bytes]:
        """The file is created with its first record (or at the end, when empty files
        are wanted): no header-only file for a run that changed nothing."""
        if self.file is None:
            if self.ctx is None:
                raise Bug("expected self.ctx is not None")
            self.staged = self.ctx.stage(self.o.path, self.o.done_file)
            self.file = self.staged.open("wb")
            if self.o.header:
                self._emit(header_line(list(cols), self.o.delimiter, self.o.newline))
        return self.file

    def _utf8(self) -> bool:
        return self.o.encoding.lower().replace("_", "-") in ("utf-8", "utf8")

    def _emit(self, data: bytes | memoryview) -> None:
        if not self._utf8():
            if self.encoder is None:  # one per file: utf-8-sig's BOM once, not per batch
                self.encoder = codecs.getincrementalencoder(self.o.encoding)("strict")
            try:
                data = self.encoder.encode(str(data, "utf-8"))
            except UnicodeEncodeError as e:  # not a value (those are refused): a header
                raise OutputError(f"{self.o.path}: {e.object[e.start:e.end]!r} cannot be "
                                  f"written in {self.o.encoding}") from None
        if self.file is None:
            raise Bug("expected self.file is not None")
        self.file.write(data)

    def write(self, batch: Batch) -> None:
        if self.columns is None:
            self.columns = self._columns(batch)
        if not self._utf8():
            batch = self._writable(batch)
        mask = self.changed(batch)
        self.sent(batch, mask)
        if mask is not None:
            batch = batch.filter(mask)
        if not len(batch):
            return
        self._open(self.columns)
        if self.behind is None:
            self.behind = Behind(self._text, name=f"write {self.id}")
        self.behind.put([batch.column(name) for name in self.columns.values()])

    def _writable(self, batch: Batch) -> Batch:
        """The rows whose values the output's encoding holds; each other row is refused,
        named by its first such field (and not sent, nor remembered by mode: changes)."""
        if self.ctx is None or self.ctx.rows is None or self.columns is None:
            raise Bug("expected a started sink")
        bad = np.zeros(len(batch), bool)
        for name in self.columns.values():
            col = batch.column(name)
            if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
                continue  # numbers and dates are ASCII
            for i in unencodable(col, self.o.encoding):
                if not bad[i]:
                    bad[i] = True
                    value = col[i].as_py()
                    self.ctx.rows.refuse(batch, i, name, f"{value!r} cannot be written in "
                                         f"{self.o.encoding} ({self.o.path})", value)
        return batch.filter(pa.array(~bad)) if bad.any() else batch

    def _text(self, columns: list[pa.Array]) -> None:
        texts = []
        for col in columns:
            col = text_column(col, decimal=self.o.decimal, separator=self.o.separator)
            texts.append(guard_formulas(col) if self.o.formula_guard else col)
        self._emit(csv_text(texts, self.o.delimiter, self.o.newline))
        if self.file is not None and self.staged is not None and \
                self.file.tell() - self.synced >= SYNC_EVERY:
            self.staged.sync()
            self.synced = self.file.tell()

    def finish(self) -> None:
        if self.behind is not None:
            self.behind.join()
        if self.file is None and self.o.empty and not self.keeps_earlier():
            cols = self.columns or self.o.columns or {}
            self._open(cols if isinstance(cols, dict) else {c: c for c in cols})
        self.close()

    def close(self) -> None:
        if self.behind is not None:
            self.behind.close()
        if self.file is not None:
            self.file.close()
