"""Fixed-width text records (CPYTOIMPF *FIXED, flat PF sent as text).

The file is read in blocks cut at line ends and split into lines by Arrow. In a
single-byte code page (cp1252, ISO-8859-x: the usual case) lines are sliced as
bytes, and only columns with non-ASCII bytes are transcoded; other encodings
(UTF-8) are decoded first and sliced by character. No per-row Python either way.
A single-byte block whose lines all have one length (a padded export: the usual
case) is not even split into lines: fields are column slices of its byte matrix
(layouts.uniform).
Lines shortened by the transfer (FTP ASCII mode drops trailing blanks) read as
if re-padded with blanks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from filebridge.errors import RejectedFile
from filebridge.layouts import uniform
from filebridge.layouts.bytes import (
    Utf8Text,
    blank_lines,
    decode_values,
    is_single_byte,
    marked_rows,
    not_valid,
    split_lines,
    unmarked,
)
from filebridge.layouts.fixed import FixedField, LayoutMixin
from filebridge.layouts.imported import LayoutFileMixin
from filebridge.options import ChunkSize, Condition, Encoding
from filebridge.readers.base import (
    apply_filters,
    filter_mask,
    sniff,
    type_columns,
    typed_rows,
)
from filebridge.readers.multirecord import MultiRecordOptions, Splitter
from filebridge.records import Batch, FileReport, Reject
from filebridge.registry import REGISTRY

if TYPE_CHECKING:
    from filebridge.rawskip import Skip


class FixedOptions(LayoutFileMixin, LayoutMixin, MultiRecordOptions):
    """Fixed-width text records, one per line."""

    format: Literal["fixed"] = Field(description="fixed-width text records")
    encoding: Encoding = Field("cp1252", description="text encoding of the file")
    record_length: int | None = Field(None, ge=1, description="expected characters per "
                                      "record; longer lines are rejected, shorter ones "
                                      "re-padded")
    fields: dict[str, FixedField] = Field(default_factory=dict, description="the layout: "
                                          "name -> start, length, type (or records: for "
                                          "multi-record files)")
    filter: list[Condition] = Field(default_factory=list, description="keep only records "
                                    "passing every condition (e.g. a record type); the others "
                                    "count as skipped")
    chunk_size: ChunkSize = 4 << 20

    @model_validator(mode="after")
    def _text_storage(self) -> FixedOptions:
        if not self.fields and not self.records:
            raise ValueError("give the layout: fields, or record_type and records")
        every = [*self.fields.items(), *((n, f) for k in self.records.values()
                                         for n, f in k.fields.items())]
        for name, f in every:
            if f.storage not in ("text", "overpunch", "edited"):
                raise ValueError(f"field {name}: storage {f.storage} exists only in binary "
                                 "records: use format: ebcdic")
        return self


def _blocks(path: Path, size: int) -> Iterator[bytes]:
    """Blocks of whole lines."""
    rest = b""
    with open(path, "rb") as f:
        while True:
            data = f.read(size)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            yield data[:cut]
    if rest:
        yield rest


@REGISTRY.reader("fixed")
class FixedReader:
    Options = FixedOptions

    def __init__(self, options: FixedOptions):
        self.o = options
        self.bytewise = is_single_byte(options.encoding)
        # Records known unchanged can be left undecoded (filebridge/rawskip.py) where
        # a block is a byte matrix: a record is then a row of bytes.
        self.skips = self.bytewise and not options.records

    def read(self, path: Path, report: FileReport, skip: Skip | None = None
             ) -> Iterator[Batch]:
        o = self.o
        sniff(path)
        splitter = Splitter(o) if o.records else None
        next_line = 1
        text = None if self.bytewise else Utf8Text(o.encoding)
        for block in _blocks(path, o.chunk_size):
            fast = self._uniform(block, next_line, report, skip)
            if fast is not None:
                next_line += fast[0]
                yield fast[1]
                continue
            lines = self._lines(block, text)
            numbers = pa.array(np.arange(next_line, next_line + len(lines), dtype=np.int64))
            next_line += len(lines)
            # Blank lines (trailing ones, spacing) are not records.
            blank = blank_lines(lines)
            if blank is not None:
                keep = pc.invert(blank)
                lines, numbers = pc.filter(lines, keep), pc.filter(numbers, keep)
            if not len(lines):
                continue
            report.tally.read += len(lines)
            if text is not None and text.marked:
                lines, numbers = self._unmarked(lines, numbers, report)
            if o.record_length is not None:
                lines, numbers = self._check_length(lines, numbers, report)
            if splitter is not None and o.record_type is not None:
                codes = self._slice(lines, o.record_type)[0]
                batch = splitter.split(
                    codes, numbers, lambda mask, fields, lines=lines, numbers=numbers: self._decode(
                        pc.filter(lines, mask), pc.filter(numbers, mask), fields, report), report)
            else:
                batch = self._decode(lines, numbers, o.fields, report)
            yield apply_filters(batch, o.filter, report)
        if next_line == 1:
            raise RejectedFile("the file is empty")
        if splitter is not None:
            splitter.finish()

    def _uniform(self, block: bytes, first: int, report: FileReport,
                 skip: Skip | None = None) -> tuple[int, Batch] | None:
        """(lines, filtered batch) of a block whose lines all have one length, read as
        a byte matrix (see layouts.uniform); None: the general path reads it.
        ``skip``: the records it names are left out, read and unchanged."""
        o = self.o
        if not self.bytewise or o.records:
            return None
        rows = uniform.lines(block)
        if rows is None or (o.record_length is not None and rows.shape[1] > o.record_length):
            return None
        count = len(rows)
        numbers = np.arange(first, first + count, dtype=np.int64)
        left = skip.block(rows, first, self._one) if skip is not None else None
        if left is not None:
            rows, numbers = rows[~left], numbers[~left]
        numbers = pa.array(numbers)
        typed = {n: f for n, f in o.fields.items() if f.type != "text"}
        parsed = {n: v for n in typed if (v := uniform.digits(rows, typed[n])) is not None}
        skipped = 0
        early = len(parsed) == len(typed) and all(c.field in parsed for c in o.filter)
        # No row can fail typing and the filter needs only fields typed from the
        # bytes: filter first, and the rows left out are never cut into text.
        keep = filter_mask(Batch(pa.table(parsed), numbers), o.filter) \
            if o.filter and early else None
        if keep is not None:
            picked = np.asarray(keep.to_numpy(zero_copy_only=False), np.bool_)
            if not picked.all():
                # The general path rejects a record holding a byte the code page lacks
                # before it filters: a left-out row holding one is a reject, not a skip.
                if not uniform.mappable(rows[~picked], o.encoding):
                    return None
                skipped = len(rows) - int(picked.sum())
                rows, numbers = rows[picked], pc.filter(numbers, keep)
                parsed = {n: pc.filter(v, keep) for n, v in parsed.items()}
        columns = {}
        for name, f in o.fields.items():
            col = uniform.column(rows, f, o.encoding)
            if col is None:
                return None  # before any count: the general path reads the block
            columns[name] = col
        report.tally.read += count
        report.tally.skipped += skipped
        if skip is not None:
            skip.commit()
        # A filter applied early has been: the rows left pass it.
        return count, typed_rows(Batch(pa.table(columns), numbers), typed,
                                 [] if early else o.filter, report, parsed=parsed)

    def _one(self, record: bytes) -> dict[str, Any]:
        """One record's fields as read (what a reject shows), decoded alone."""
        scratch = FileReport("record")
        try:
            batch = self._decode(pa.array([record], pa.binary()), pa.array([0], pa.int64()),
                                 self.o.fields, scratch)
            return batch.raw_rows([0])[0] if len(batch) else {"text": record.decode(
                self.o.encoding, "replace")}
        finally:
            scratch.close()

    def _decode(self, lines: pa.Array, numbers: pa.Array, fields: dict[str, FixedField],
                report: FileReport) -> Batch:
        columns: dict[str, pa.Array] = {}
        bad: dict[int, tuple[str, bytes]] = {}
        for name, f in fields.items():
            columns[name], wrong = self._slice(lines, f)
            for i, data in wrong.items():
                bad.setdefault(i, (name, data))
        table = pa.table(columns)
        if bad:  # a byte the code page does not have rejects its record, not the file
            at = sorted(bad)
            for i, line in zip(at, pc.take(numbers, at).to_pylist(), strict=True):
                name, data = bad[i]
                f = fields[name]
                raw = lines[i].as_py()
                report.reject(Reject(line, name, f"{not_valid(data, self.o.encoding)} at "
                                     f"positions {f.start}-{f.end}",
                                     {"text": raw.decode(self.o.encoding, "replace")}))
            keep = np.ones(len(table), bool)
            keep[at] = False
            mask = pa.array(keep)
            table, numbers = table.filter(mask), pc.filter(numbers, mask)
        typed = {n: f for n, f in fields.items() if f.type != "text"}
        return type_columns(Batch(table, numbers), typed, report)

    def _lines(self, block: bytes, text: Utf8Text | None) -> pa.Array:
        if text is None:
            return split_lines(block)
        # Invalid bytes come through marked; _unmarked rejects their records.
        return split_lines(text(block), pa.large_string())

    def _unmarked(self, lines: pa.Array, numbers: pa.Array,
                  report: FileReport) -> tuple[pa.Array, pa.Array]:
        """Records holding bytes that are not valid in the encoding (marked when the
        block was decoded) are rejected whole: positions are characters, and a record
        with an undecodable byte has no reliable characters after it."""
        bad = marked_rows(lines)
        if not bad:
            return lines, numbers
        at = sorted(bad)
        for i, line in zip(at, pc.take(numbers, at).to_pylist(), strict=True):
            report.reject(Reject(line, None, not_valid(bad[i], self.o.encoding),
                                 {"text": unmarked(lines[i].as_py())}))
        keep = np.ones(len(lines), bool)
        keep[at] = False
        mask = pa.array(keep)
        return pc.filter(lines, mask), pc.filter(numbers, mask)

    def _slice(self, lines: pa.Array, f: FixedField) -> tuple[pa.Array, dict[int, bytes]]:
        bad: dict[int, bytes] = {}
        if not self.bytewise:
            col = pc.cast(pc.utf8_slice_codeunits(lines, f.start - 1, f.end), pa.string())
        else:
            col, bad = decode_values(pc.binary_slice(lines, f.start - 1, f.end),
                                     self.o.encoding)
        if f.type == "text" and f.trim:
            col = pc.utf8_rtrim(col, characters=" ")
        return col, bad

    def _check_length(self, lines: pa.Array, numbers: pa.Array,
                      report: FileReport) -> tuple[pa.Array, pa.Array]:
        length = pc.binary_length(lines) if self.bytewise else pc.utf8_length(lines)
        too_long = pc.greater(length, self.o.record_length)
        if not pc.any(too_long).as_py():
            return lines, numbers
        for line, raw in zip(pc.filter(numbers, too_long).to_pylist(),
                             pc.filter(lines, too_long).to_pylist(), strict=True):
            text = raw.decode(self.o.encoding, errors="replace") if isinstance(raw, bytes) else raw
            report.reject(Reject(line, None, f"record is {len(text)} characters, longer than "
                                 f"record_length {self.o.record_length}", {"text": text}))
        keep = pc.invert(too_long)
        return pc.filter(lines, keep), pc.filter(numbers, keep)
