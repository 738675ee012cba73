"""The one record type that flows through every stage, and the bookkeeping around it.

A :class:`Batch` is a slice of a file: an Arrow table with one column per field
and, beside it, the source line of every row (the sheet row for spreadsheets,
the record's start-tag line for XML, the record number in binary EBCDIC files). Readers produce batches, mapping turns raw
batches into mapped batches, delta and sinks consume them. Rows that fail are
:class:`Reject` values collected in a :class:`FileReport`, never exceptions.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class Batch:
    table: pa.Table
    lines: pa.Array  # int64, one per row
    # The fields as read, before typing: what a reject shows the ERP, whatever stage
    # refused the row. None when nothing was typed (then ``table`` is the raw text).
    raw: pa.Table | None = None

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def names(self) -> list[str]:
        return self.table.column_names

    def column(self, name: str) -> pa.Array:
        col = self.table.column(name)
        return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col

    def filter(self, mask: pa.Array) -> Batch:
        raw = self.raw.filter(mask) if self.raw is not None else None
        return Batch(self.table.filter(mask), pc.filter(self.lines, mask), raw)

    def raw_rows(self, indices: list[int]) -> list[dict[str, Any]]:
        return (self.raw if self.raw is not None else self.table).take(indices).to_pylist()

    def rows(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()

    @classmethod
    def from_pydict(cls, data: dict[str, list], lines: list[int]) -> Batch:
        return cls(pa.table(data), pa.array(lines, pa.int64()))


@dataclass(frozen=True)
class Reject:
    """One rejected input row: where it was, which field, why, and what it held."""

    line: int
    field: str | None
    reason: str
    values: dict[str, Any] = field(default_factory=dict)  # the input row as read
    value: Any = None  # the failing value, when it is not simply values[field]


@dataclass
class Tally:
    """Counts for one file. ``read == sent + unchanged + rejected + skipped + queued``.

    ``skipped`` counts rows a profile filter deliberately leaves out (e.g. header
    records of another type); ``unchanged`` rows were already delivered as they are;
    ``queued`` rows wait in the API outbox (the shop was down, or the run is held).
    """

    read: int = 0
    sent: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    queued: int = 0

    def balanced(self) -> bool:
        return self.read == (self.sent + self.unchanged + self.rejected + self.skipped
                             + self.queued)

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "sent": self.sent, "unchanged": self.unchanged,
                "rejected": self.rejected, "skipped": self.skipped, "queued": self.queued}


def plain(value: Any) -> Any:
    """A value as it should appear in a report: Decimal and dates as text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class FileReport:
    """Collects tallies and rejects for one input file with bounded memory.

    Rejects go to a spool file as JSON lines, so a file with millions of bad rows
    does not grow the process; the first few stay in memory for previews and logs.
    """

    KEEP = 50

    def __init__(self, name: str, spool_dir: str | None = None):
        self.name = name
        self.tally = Tally()
        self.first: list[Reject] = []
        self._pending: list[Reject] = []
        # Anonymous: the operating system deletes it when closed or collected.
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=spool_dir)

    def reject(self, rej: Reject, count: bool = True) -> None:
        """Note a rejected row; ``count=False`` for a second reason for a row that is
        counted already."""
        self.tally.rejected += count
        self._pending.append(rej)

    def flush(self) -> None:
        """Spool the rejects of the batch just done, in line order (a reader's and the
        mapping's rejects of one batch arrive separately)."""
        for rej in sorted(self._pending, key=lambda r: r.line):
            if len(self.first) < self.KEEP:
                self.first.append(rej)
            self._spool.write(json.dumps(
                [rej.line, rej.field, rej.reason, {k: plain(v) for k, v in rej.values.items()},
                 plain(rej.value)], ensure_ascii=False, default=str) + "\n")
        self._pending.clear()

    def rejects(self) -> Iterator[Reject]:
        """Every reject so far, in order (read once the file is done)."""
        self.flush()
        self._spool.seek(0)
        for line in self._spool:
            ln, fld, reason, values, value = json.loads(line)
            yield Reject(ln, fld, reason, values, value)
        self._spool.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._spool.close()
