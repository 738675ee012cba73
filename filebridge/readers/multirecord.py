"""Files with several record kinds: header / detail / trailer, or several detail
kinds, told apart by a record-type code at a fixed position.

Only detail records become rows; a detail takes the fields it ``inherit``s from
the last header before it (e.g. order number, warehouse). Header and trailer
records are counted as skipped (structure, not data). A trailer's control totals
(record count, sums of detail fields) are checked against what was read since
the previous trailer; on a mismatch, or a missing trailer, the whole file is
rejected — outputs are published only after the whole file is read, so nothing
is sent. The count includes detail records rejected for a bad field; a sum
cannot include a value that did not parse, so such a row fails the sum check.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from filebridge.errors import RejectedFile
from filebridge.layouts.fixed import FixedField
from filebridge.options import Model
from filebridge.records import Batch, FileReport, Reject


class RecordKind(Model):
    """One kind of record in a multi-record file."""

    role: Literal["header", "detail", "trailer"] = Field("detail", description="header: "
                                                         "its fields pass to the details "
                                                         "after it; trailer: control totals")
    fields: dict[str, FixedField] = Field(description="the layout of this kind of record")
    inherit: list[str] = Field(default_factory=list, description="detail: header fields to "
                               "copy into each detail record")
    count: str | None = Field(None, description="trailer: field holding the number of detail "
                              "records since the previous trailer")
    sums: dict[str, str] = Field(default_factory=dict, description="trailer: detail field -> "
                                 "trailer field holding its total")


class MultiRecordOptions(Model):
    record_type: FixedField | None = Field(None, description="where the record-type code is "
                                           "(start, length); with records:")
    records: dict[str, RecordKind] = Field(default_factory=dict, description="record-type "
                                           "code -> its kind and layout")

    @model_validator(mode="after")
    def _consistent(self) -> MultiRecordOptions:
        if bool(self.records) != (self.record_type is not None):
            raise ValueError("record_type and records go together")
        headers = {n for k in self.records.values() if k.role == "header" for n in k.fields}
        details = {n for k in self.records.values() if k.role == "detail" for n in k.fields}
        for code, k in self.records.items():
            for n in k.inherit:
                if n not in headers:
                    raise ValueError(f"records.{code}.inherit: {n} is not a header field")
            for named in [k.count, *k.sums.values()]:
                if named is not None and named not in k.fields:
                    raise ValueError(f"records.{code}: {named} is not one of its fields")
            for n in k.sums:
                if n not in details:
                    raise ValueError(f"records.{code}.sums: {n} is not a detail field")
        return self


# (row mask, layout) -> rows. Callable[...]: the readers' lambdas bind their block as
# default arguments, which mypy cannot infer against a fixed parameter list.
Decode = Callable[..., Batch]


class Splitter:
    """Per file: turns batches of mixed records into batches of detail rows."""

    def __init__(self, o: MultiRecordOptions):
        self.o = o
        self.header: dict[str, Any] | None = None  # in force, across batches
        self.count = 0  # detail records since the last trailer
        self.sums: dict[str, Decimal] = {}
        self.trailers = [k for k in o.records.values() if k.role == "trailer"]
        self.summed = sorted({n for k in self.trailers for n in k.sums})
        self.checked = False

    def split(self, codes: pa.Array, lines: pa.Array, decode: Decode,
              report: FileReport) -> Batch:
        codes = pc.utf8_trim_whitespace(pc.cast(codes, pa.string()))
        unknown = pc.invert(pc.is_in(codes, pa.array(list(self.o.records))))
        for line, code in zip(pc.filter(lines, unknown).to_pylist(),
                              pc.filter(codes, unknown).to_pylist(), strict=True):
            report.reject(Reject(line, "record type", f"unknown record type {code!r}; "
                                 f"known: {', '.join(self.o.records)}", {"type": code}))
        marks: list[tuple[int, str, RecordKind, dict[str, Any]]] = []
        tables = []
        counted: list[int] = []  # every detail record, rejected ones too: the trailer counts them
        for code, kind in self.o.records.items():
            mask = pc.equal(codes, code)
            if not pc.any(mask).as_py():
                continue
            b = decode(mask, kind.fields)
            if kind.role == "detail":
                counted += pc.filter(lines, mask).to_pylist()
                tables.append(b.table.append_column("__line", b.lines))
            else:
                marks += [(ln, code, kind, row)
                          for ln, row in zip(b.lines.to_pylist(), b.rows(), strict=True)]
                report.tally.skipped += len(b)
        marks.sort(key=lambda m: m[0])
        if tables:
            table = pa.concat_tables(tables, promote_options="default").sort_by("__line")
        else:
            table = pa.table({"__line": pa.array([], pa.int64())})
        detail_lines = np.asarray(table["__line"].to_pylist(), dtype=np.int64)
        # Headers and trailers are few: walk them in line order; the details between
        # two marks take the header in force and count toward the next trailer.
        all_lines = np.sort(np.asarray(counted, dtype=np.int64))
        headers = [self.header]
        owner = np.zeros(len(detail_lines), dtype=np.int64)
        prev = prev_all = 0
        for line, _code, kind, row in marks:
            end = int(np.searchsorted(detail_lines, line))
            end_all = int(np.searchsorted(all_lines, line))
            owner[prev:end] = len(headers) - 1
            self._tally(table, prev, end, end_all - prev_all)
            prev, prev_all = end, end_all
            if kind.role == "header":
                headers.append(row)
                self.header = row
            else:
                self._check(kind, row, line)
        owner[prev:] = len(headers) - 1
        self._tally(table, prev, len(detail_lines), len(all_lines) - prev_all)
        return self._inherit(table, headers, owner, report)

    def _tally(self, table: pa.Table, start: int, end: int, records: int) -> None:
        """Count ``records`` detail records; sum the good ones, rows start..end."""
        self.count += records
        if end <= start:
            return
        for name in self.summed:
            if name in table.column_names:
                total = pc.sum(table[name].slice(start, end - start)).as_py()
                self.sums[name] = self.sums.get(name, Decimal(0)) + Decimal(total or 0)

    def _inherit(self, table: pa.Table, headers: list[dict[str, Any] | None],
                 owner: np.ndarray, report: FileReport) -> Batch:
        lines = table["__line"].combine_chunks()
        table = table.drop_columns(["__line"])
        names = sorted({n for k in self.o.records.values() if k.role == "detail"
                        for n in k.inherit})
        if not names:
            return Batch(table, lines)
        index = pa.array(owner)
        for name in names:
            values = pa.array([h.get(name) if h else None for h in headers])
            table = table.append_column(name, pc.take(values, index))
        orphan = pa.array(np.array([headers[i] is None for i in owner], dtype=bool))
        if pc.any(orphan).as_py():
            for line in pc.filter(lines, orphan).to_pylist():
                report.reject(Reject(line, None, "detail record before any header record"))
            keep = pc.invert(orphan)
            return Batch(table.filter(keep), pc.filter(lines, keep))
        return Batch(table, lines)

    def _check(self, kind: RecordKind, trailer: dict[str, Any], line: int) -> None:
        problems = []
        if kind.count is not None and trailer.get(kind.count) != self.count:
            problems.append(f"{kind.count}: expected {trailer.get(kind.count)} detail "
                            f"records, found {self.count}")
        for field, total in kind.sums.items():
            found = self.sums.get(field, Decimal(0))
            stated = trailer.get(total)
            if stated is None or Decimal(stated) != found:
                problems.append(f"{total}: expected {stated}, found {found} (sum of {field})")
        if problems:
            raise RejectedFile("control totals do not match (" + "; ".join(problems) +
                               "): nothing was sent", line=line)
        self.count, self.sums, self.checked = 0, {}, True

    def finish(self) -> None:
        """A layout with a trailer needs one after the last details (else: truncated)."""
        if any(k.count or k.sums for k in self.trailers) and (not self.checked or self.count):
            raise RejectedFile(f"the trailer with the control totals is missing after the "
                               f"last {self.count} detail records: a truncated file?")
