"""Delimited text (CPYTOIMPF, Excel "CSV", ACS exports), streamed in blocks by Arrow.

Every column is read as text (codes such as 001 or EAN 00… keep their zeros);
declared ``fields`` are then typed with the file's decimal mark and thousands
separator. Quoted values may hold delimiters and line breaks: source lines are
tracked across them.
"""

from __future__ import annotations

import atexit
import csv as stdcsv
import io
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pydantic import Field, field_validator

from filebridge.errors import RejectedFile
from filebridge.layouts.bytes import Utf8Text, data_bytes, marked_rows, not_valid, unmarked
from filebridge.options import ChunkSize, Condition, Encoding, FieldSpec, Model
from filebridge.overlap import Ahead
from filebridge.readers.base import sniff, typed_rows
from filebridge.records import Batch, FileReport, Notes, Reject
from filebridge.registry import REGISTRY


class CsvOptions(Model):
    """Delimited text."""

    format: Literal["csv"] = Field(description="delimited text")
    encoding: Encoding = Field("utf-8", description="utf-8, utf-8-sig (Excel BOM), cp1252, "
                               "iso-8859-15, …")
    delimiter: str = Field(",", min_length=1, max_length=1, description="field separator")
    quote: str | None = Field('"', description="quote character; null when values are never "
                              "quoted")
    header: bool = Field(True, description="the first line (after skip_lines) names the "
                         "columns")
    columns: list[str] | None = Field(None, description="column names, for files without a "
                                      "header (positional columns)")
    skip_lines: int = Field(0, ge=0, description="lines to skip before the header or data")
    decimal: Literal[".", ","] = Field(".", description="decimal mark of numbers")
    thousands: Literal[".", ",", " ", "'"] | None = Field(
        None, description="thousands separator inside numbers, if any")
    fields: dict[str, FieldSpec] = Field(default_factory=dict, description="types of the "
                                         "columns that are not text")
    filter: list[Condition] = Field(default_factory=list, description="keep only rows "
                                    "passing every condition; the others count as skipped")
    # Arrow's CSV reader holds several blocks in flight: 2 MiB costs no more peak memory
    # than 1 MiB did (measured, 1M rows) and halves the per-batch work.
    chunk_size: ChunkSize = 2 << 20

    @field_validator("columns")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("column names must be unique")
        return v


def _header(path: Path, opts: CsvOptions) -> list[str]:
    """Column names from the header line (the stdlib parser honours quoting)."""
    # Lenient while reading (the block read ahead may hold a bad byte of a later row);
    # the header itself must be valid.
    with open(path, encoding=opts.encoding, newline="", errors="surrogateescape") as f:
        for _ in range(opts.skip_lines):
            f.readline()
        rows = stdcsv.reader(f, delimiter=opts.delimiter, quotechar=opts.quote or '"',
                             quoting=stdcsv.QUOTE_MINIMAL if opts.quote else stdcsv.QUOTE_NONE)
        try:
            names = [n.strip() for n in next(rows)]
        except StopIteration:
            raise RejectedFile("the file has no header line") from None
    for n in names:
        bad = [c for c in n if 0xDC80 <= ord(c) <= 0xDCFF]
        if bad:
            data = bytes(ord(c) - 0xDC00 for c in bad)
            raise RejectedFile(f"the header: {not_valid(data, opts.encoding)}",
                               line=opts.skip_lines + 1)
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RejectedFile(f"the header repeats column(s) {', '.join(dupes)}",
                           line=opts.skip_lines + 1)
    return names


def first_bad_line(path: Path, encoding: str) -> tuple[int, bytes] | None:
    """The first line that is not valid ``encoding`` (1-based) and its offending bytes."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as e:
                return n, line[e.start:e.end]
    return None


def undecodable(path: Path, encoding: str, error: Exception) -> RejectedFile:
    """A file whose bytes do not decode: the line and bytes (Arrow says only 'invalid
    UTF8', the stdlib a byte offset in some buffer)."""
    bad = first_bad_line(path, encoding)
    if bad is None:
        return RejectedFile(f"cannot read as CSV in {encoding}: {error}")
    line, data = bad
    return RejectedFile(f"bytes {data!r} are not valid {encoding} (the file is read as "
                        f"encoding: {encoding}; is it in another?)", line=line)


def _encoding_error(e: Exception) -> bool:
    return isinstance(e, UnicodeError) or "UTF8" in str(e)


@REGISTRY.reader("csv")
class CsvReader:
    Options = CsvOptions

    def __init__(self, options: CsvOptions):
        self.o = options

    def read(self, path: Path, report: FileReport) -> Iterator[Batch]:
        o = self.o
        sniff(path)
        names = o.columns if (o.columns and not o.header) else None
        first_line = o.skip_lines + 1
        if names is None:
            try:
                names = _header(path, o) if o.header else None
            except UnicodeDecodeError as e:
                raise undecodable(path, o.encoding, e) from None
            if names is None:
                raise RejectedFile("the profile gives no column names (header: false "
                                   "needs columns)")
            first_line += 1
        skip_rows = o.skip_lines + (1 if o.header else 0)
        invalid: list[tuple[int, int]] = []  # (physical line, lines it spans)
        found: list[pacsv.InvalidRow] = []  # by Arrow, not yet counted

        def on_invalid(row: pacsv.InvalidRow) -> str:
            found.append(row)
            return "skip"

        def counted(notes: Notes) -> Notes:
            for row in found:
                line = row.number if row.number is not None and row.number > 0 else -1
                invalid.append((line, (row.text or "").count("\n") + 1))
                notes.tally.read += 1
                notes.reject(Reject(line, None, f"expected {row.expected_columns} fields, "
                                    f"found {row.actual_columns}",
                                    {"text": unmarked(row.text or "")}))
            found.clear()
            return notes

        # The file reaches Arrow as UTF-8 (see layouts.bytes.Utf8Text): a byte that is not
        # valid in the file's encoding is carried through marked, and rejects its own row,
        # not the whole file.
        source = _Utf8Stream(path, o.encoding)
        try:
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    encoding="utf8", skip_rows=skip_rows, column_names=names,
                    block_size=o.chunk_size, use_threads=False),
                parse_options=pacsv.ParseOptions(
                    delimiter=o.delimiter, quote_char=o.quote or False,
                    double_quote=True, newlines_in_values=bool(o.quote),
                    invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, UnicodeError) as e:
            if _encoding_error(e):
                raise undecodable(path, o.encoding, e) from None
            raise RejectedFile(f"cannot read as CSV: {e}") from None
        def batches() -> Iterator[tuple[Batch | None, Notes]]:
            """Each block's rows typed, filtered and placed on their lines, with what was
            noted of them. On a thread of its own (filebridge/overlap.py): Arrow and the
            typing work on the next block while the pipeline maps this one."""
            next_row = 0  # data rows seen so far, to place each row on its source line
            extra_lines = 0  # line breaks inside quoted values so far
            for rb in source.pulled(reader):
                notes = counted(Notes())
                if rb.num_rows == 0:
                    yield None, notes
                    continue
                table = pa.Table.from_batches([rb])
                idx = pa.array(np.arange(next_row, next_row + rb.num_rows, dtype=np.int64))
                lines = pc.add(idx, first_line + extra_lines)
                if o.quote:
                    breaks = None
                    for col in table.columns:
                        col = col.combine_chunks()
                        if b"\n" not in data_bytes(col.cast(pa.large_string())):
                            continue  # a memchr scan spares the per-row count
                        n = pc.count_substring(col, "\n")
                        breaks = n if breaks is None else pc.add(breaks, n)
                    total = (pc.sum(breaks).as_py() or 0) if breaks is not None else 0
                    if total:
                        before = pc.subtract(pc.cumulative_sum(breaks), breaks)
                        lines = pc.add(lines, pc.cast(before, pa.int64()))
                        extra_lines += total
                for line, span in sorted(invalid):
                    if line > 0:
                        lines = pc.if_else(pc.greater_equal(lines, line), pc.add(lines, span),
                                           lines)
                next_row += rb.num_rows
                notes.tally.read += rb.num_rows
                batch = _unmarked(table, lines, o.encoding, notes) if source.text.marked \
                    else Batch(table, lines)
                yield typed_rows(batch, o.fields, o.filter, notes, decimal=o.decimal,
                                 thousands=o.thousands), notes
            if found:  # rows after the last batch
                yield None, counted(Notes())

        parsed = Ahead(batches(), name=f"parse {path.name}")
        try:
            for batch, notes in parsed:
                report.take(notes)
                if batch is not None:
                    yield batch
        except (pa.ArrowInvalid, UnicodeError) as e:
            if _encoding_error(e):
                raise undecodable(path, o.encoding, e) from None
            raise RejectedFile(f"cannot read as CSV in {o.encoding}: {e}") from None
        finally:
            source.release()  # before Arrow's reader goes: its thread may be waiting
            parsed.close()


def _unmarked(table: pa.Table, lines: pa.Array, encoding: str, report: Notes) -> Batch:
    """Rows holding bytes that are not valid ``encoding`` (marked on the way in) are
    rejected, named by their first such field; the others go on."""
    bad: dict[int, tuple[str, bytes]] = {}
    for name in table.column_names:
        for i, data in marked_rows(table.column(name)).items():
            bad.setdefault(i, (name, data))
    if not bad:
        return Batch(table, lines)
    at = sorted(bad)
    for i, row, line in zip(at, table.take(at).to_pylist(), pc.take(lines, at).to_pylist(),
                            strict=True):
        name, data = bad[i]
        text = {k: unmarked(v) if isinstance(v, str) else v for k, v in row.items()}
        report.reject(Reject(line, name, not_valid(data, encoding), text, text[name]))
    keep = np.ones(len(lines), bool)
    keep[at] = False
    mask = pa.array(keep)
    return Batch(table.filter(mask), pc.filter(lines, mask))


AHEAD = 4  # blocks Arrow may have read past the batches taken from it
NEEDED = 0.05  # seconds the reader waits in Arrow before a read past AHEAD goes on


class _Utf8Stream(io.RawIOBase):
    """The file as UTF-8, for Arrow (invalid bytes marked: ``text.marked``).

    Arrow's streaming CSV reader reads blocks on its I/O thread into a queue of up to
    32 (its background generator), each held as a Python bytes object: with a slow
    consumer (a shop file's sink) that is 32 blocks of memory whatever the file. Reads
    are held back to :data:`AHEAD` blocks past the batches taken (:meth:`pulled`);
    one more goes on when the reader has waited :data:`NEEDED` in Arrow (building it
    or asking the next batch): Arrow needs that block, never a hang. A thread of
    Arrow's must not be waiting here when the interpreter exits: :func:`_let_out`."""

    def __init__(self, path: Path, encoding: str):
        self.f = open(path, "rb")
        self.text = Utf8Text(encoding)
        self.pending = memoryview(b"")
        self.gate = threading.Condition()
        self.blocks = 0  # reads Arrow made
        self.taken = 0  # batches taken from Arrow
        self.free = False  # no limit (the reader is done)
        self.asking = True  # the reader is in Arrow (open_csv, then each batch)
        self.ended = False  # the interpreter exits: reads return the end of the file
        self.inside = 0  # Arrow's threads in readinto
        _OPEN.add(self)

    def pulled(self, reader: Any) -> Iterator[pa.RecordBatch]:
        """The batches of Arrow's ``reader``, each letting Arrow read one block more."""
        batches = iter(reader)
        while True:
            with self.gate:
                self.asking = True
                self.gate.notify_all()
            try:
                rb = next(batches)
            except StopIteration:
                return
            finally:
                with self.gate:
                    self.asking = False
                    self.taken += 1
            yield rb

    def release(self) -> None:
        with self.gate:
            self.free = True
            self.gate.notify_all()

    def _wait(self) -> bool:
        """Whether to read on (False: the interpreter exits)."""
        with self.gate:
            while not (self.free or self.blocks - self.taken < AHEAD):
                if not self.gate.wait(NEEDED) and self.asking:
                    break  # the reader has waited in Arrow a while: Arrow needs it
            self.blocks += 1
            return not self.ended

    def end(self) -> None:
        with self.gate:
            self.ended = self.free = True
            self.gate.notify_all()
            self.gate.wait_for(lambda: self.inside == 0, timeout=1.0)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        """Fills ``buf`` whole unless the file ends: Arrow takes a short read for a
        block and would cut rows at it."""
        with self.gate:
            self.inside += 1
        try:
            return self._readinto(buf) if self._wait() else 0
        finally:
            with self.gate:
                self.inside -= 1
                self.gate.notify_all()

    def _readinto(self, buf: Any) -> int:
        done, size = 0, len(buf)
        while done < size:
            if not self.pending:
                # What Arrow asked for (its block, the profile's chunk_size), not more:
                # the raw, decoded and re-encoded copies are each about one block.
                raw = self.f.read(max(size - done, 1 << 16))
                self.pending = memoryview(self.text(raw, final=not raw))
                if not raw and not self.pending:
                    break
            n = min(size - done, len(self.pending))
            buf[done:done + n] = self.pending[:n]
            self.pending = self.pending[n:]
            done += n
        return done

    def close(self) -> None:
        self.f.close()
        super().close()


_OPEN: weakref.WeakSet[_Utf8Stream] = weakref.WeakSet()


@atexit.register
def _let_out() -> None:
    """Arrow's threads out of the streams' waits before the interpreter goes (a thread
    of its own coming back into a finalizing interpreter aborts the process)."""
    streams = list(_OPEN)
    for s in streams:
        s.end()
    if streams:
        time.sleep(0.05)  # back into Arrow's C++ from the last Python line of readinto

__all__ = ["CsvOptions", "CsvReader"]
