"""The one record type that flows through every stage, and the bookkeeping around it.

A :class:`Batch` is a slice of a file: an Arrow table with one column per field
and, beside it, the source line of every row (the sheet row for spreadsheets,
the record's start-tag line for XML, the record number in binary EBCDIC files).
Readers produce batches, mapping turns raw batches into mapped batches, delta and
sinks consume them. Rows that fail are :class:`Reject` values collected in a
:class:`FileReport`, never exceptions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array; a single chunk as it is (``combine_chunks`` copies even that)."""
    if isinstance(a, pa.ChunkedArray):
        return a.chunk(0) if a.num_chunks == 1 else a.combine_chunks()
    return a


@dataclass(frozen=True)
class Keyed:
    """A batch's key hashes (:func:`filebridge.keys.key_hashes` of ``field`` per row),
    and, when the duplicate check looked its keys up in a ``mode: changes`` snapshot
    (:class:`filebridge.delta_index.KeyIndex`), ``looked``: that index (held weakly: a
    batch left over must not keep a snapshot alive) and the answer per row, its place
    in it and whether it is there. The delta reuses that answer for the same index.
    ``content``: the rows' hashes (:func:`filebridge.delta.row_hashes`), when computed
    before the outputs (filebridge/rawskip.py): the delta uses them."""

    field: str
    hashes: np.ndarray
    looked: tuple[weakref.ref[Any], np.ndarray, np.ndarray] | None = None
    content: np.ndarray | None = None

    def rows(self, which: np.ndarray) -> Keyed:
        """These rows (a mask or positions), as Batch.filter and take pick them."""
        looked = None if self.looked is None else \
            (self.looked[0], self.looked[1][which], self.looked[2][which])
        return Keyed(self.field, self.hashes[which], looked,
                     None if self.content is None else self.content[which])

    def found_in(self, index: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(pos, found) per row if the keys were looked up in ``index``, else None."""
        if self.looked is None or self.looked[0]() is not index:
            return None
        return self.looked[1], self.looked[2]


class Batch:
    """``table``: the rows; ``lines``: int64, the source line of each row; ``raw``: the
    fields as read, before typing: what a reject shows the ERP, whatever stage refused
    the row (None when nothing was typed: then ``table`` is the raw text); ``index``:
    set by the pipeline for rows that reach the outputs, each row's ordinal in the
    file, by which sinks tell what became of it (see :class:`Rows`).

    ``raw`` is only read for rejects, so a filter or take does not copy it: it keeps
    the rows of ``raw`` behind its own (``raw_at``) and takes them when asked.

    ``keyed``: the key hashes the duplicate check computed (:class:`Keyed`): ``mode:
    changes`` looks keys up by them (filebridge.delta). Kept through a filter or take,
    dropped with the columns (``with_table``, ``mapped``)."""

    def __init__(self, table: pa.Table, lines: pa.Array, raw: pa.Table | None = None,
                 index: pa.Array | None = None, raw_at: pa.Array | None = None,
                 keyed: Keyed | None = None):
        self.table = table
        self.lines = lines
        self.index = index
        self._raw = raw
        self._raw_at = raw_at if raw is not None else None
        self.keyed = keyed

    def __repr__(self) -> str:
        return f"Batch({len(self)} rows: {', '.join(self.names)})"

    @property
    def raw(self) -> pa.Table | None:
        if self._raw is not None and self._raw_at is not None:
            self._raw, self._raw_at = self._raw.take(self._raw_at), None
        return self._raw

    def _raw_rows_at(self, pick: Callable[[pa.Array], pa.Array]) -> pa.Array | None:
        """Where this batch's rows, picked by ``pick``, sit in ``raw`` as held."""
        if self._raw is None:
            return None
        at = self._raw_at if self._raw_at is not None else \
            pa.array(np.arange(self._raw.num_rows, dtype=np.int64))
        return pick(at)

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def names(self) -> list[str]:
        return self.table.column_names

    def column(self, name: str) -> pa.Array:
        return flat(self.table.column(name))

    def filter(self, mask: pa.Array) -> Batch:
        index = pc.filter(self.index, mask) if self.index is not None else None
        keyed = None
        if self.keyed is not None:  # a null in the mask drops its row, as Arrow's filter
            keyed = self.keyed.rows(np.asarray(pc.fill_null(flat(mask), False).to_numpy(
                zero_copy_only=False), bool))
        return Batch(self.table.filter(mask), pc.filter(self.lines, mask), self._raw, index,
                     self._raw_rows_at(lambda at: pc.filter(at, mask)), keyed)

    def take(self, indices: pa.Array | list[int]) -> Batch:
        idx = indices if isinstance(indices, pa.Array) else pa.array(indices, pa.int64())
        index = pc.take(self.index, idx) if self.index is not None else None
        keyed = self.keyed.rows(np.asarray(idx.to_numpy(zero_copy_only=False), np.int64)) \
            if self.keyed is not None else None
        return Batch(self.table.take(idx), pc.take(self.lines, idx), self._raw, index,
                     self._raw_rows_at(lambda at: pc.take(at, idx)), keyed)

    def with_keyed(self, keyed: Keyed) -> Batch:
        """These rows with their key hashes known (``keyed``)."""
        return Batch(self.table, self.lines, self._raw, self.index, self._raw_at, keyed)

    def numbered(self, index: pa.Array) -> Batch:
        """The same rows with their ordinals (see :class:`Rows`); ``raw`` stays as held
        (taking it for every batch cost the 1M-row bench 0.2 s)."""
        return Batch(self.table, self.lines, self._raw, index, self._raw_at, self.keyed)

    def with_table(self, table: pa.Table) -> Batch:
        """The same rows with other columns (e.g. mapped from these)."""
        return Batch(table, self.lines, self._raw, self.index, self._raw_at)

    def mapped(self, table: pa.Table) -> Batch:
        """``table``'s rows (mapped from these) with these rows as read beside them: a
        sink refusing a row shows the ERP what it sent. Not numbered (``index``)."""
        if self._raw is None:
            return Batch(table, self.lines, self.table)
        return Batch(table, self.lines, self._raw, None, self._raw_at)

    def index_array(self) -> np.ndarray:
        """The rows' ordinals (see :class:`Rows`); 0..n-1 when not numbered."""
        if self.index is None:
            return np.arange(len(self), dtype=np.int64)
        return np.asarray(self.index.to_numpy(zero_copy_only=False), np.int64)

    def raw_rows(self, indices: list[int]) -> list[dict[str, Any]]:
        if self._raw is None:
            return self.table.take(indices).to_pylist()
        at = self._raw_at.take(pa.array(indices, pa.int64())) \
            if self._raw_at is not None else indices
        return self._raw.take(at).to_pylist()

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
    # dataclasses.field: the name field is this class's own attribute
    values: dict[str, Any] = dataclasses.field(default_factory=dict)  # the input row as read
    value: Any = None  # the failing value, when it is not simply values[field]
    level: str = "reject"  # or "warning": the row went on, but someone should look


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


class Notes:
    """Tallies and rejects of some rows, not yet spooled: what a reader's thread notes
    for one batch (filebridge/readers/csv.py), for the file's report to take in
    (:meth:`FileReport.take`) on the pipeline's thread."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.warnings = 0
        self._pending: list[Reject] = []

    def reject(self, rej: Reject, count: bool = True) -> None:
        """Note a rejected row; ``count=False`` for a second reason for a row that is
        counted already."""
        self.tally.rejected += count
        self._pending.append(rej)

    def warn(self, line: int | None, field: str | None, reason: str,
             values: dict[str, Any] | None = None, value: Any = None) -> None:
        """A row that went on but deserves a look (variants that disagree on a title,
        a cell a spreadsheet would run as a formula). Listed with the rejects, not
        counted in the tally."""
        self.warnings += 1
        self._pending.append(Reject(line or 0, field, reason, values or {}, value, "warning"))


class FileReport(Notes):
    """Collects tallies and rejects for one input file with bounded memory.

    Rejects go to a spool file as JSON lines, so a file with millions of bad rows
    does not grow the process; the first few stay in memory for previews and logs.
    """

    KEEP = 50

    def __init__(self, name: str, spool_dir: str | None = None):
        super().__init__()
        self.name = name
        self.started = time.time()  # for the run report's timings
        self.first: list[Reject] = []
        # Anonymous: the operating system deletes it when closed or collected.
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=spool_dir)

    def take(self, notes: Notes) -> None:
        """Adds what ``notes`` holds (its rows are this file's)."""
        for k, v in notes.tally.as_dict().items():
            setattr(self.tally, k, getattr(self.tally, k) + v)
        self.warnings += notes.warnings
        self._pending += notes._pending

    def flush(self) -> None:
        """Spool the rejects of the batch just done, in line order (a reader's and the
        mapping's rejects of one batch arrive separately)."""
        for rej in sorted(self._pending, key=lambda r: r.line):
            if len(self.first) < self.KEEP and rej.level == "reject":
                self.first.append(rej)
            self._spool.write(json.dumps(
                [rej.line, rej.field, rej.reason, {k: plain(v) for k, v in rej.values.items()},
                 plain(rej.value), rej.level], ensure_ascii=False, default=str) + "\n")
        self._pending.clear()

    def rejects(self) -> Iterator[Reject]:
        """Every reject so far, in order (read once the file is done)."""
        self.flush()
        self._spool.seek(0)
        for line in self._spool:
            ln, fld, reason, values, value, level = json.loads(line)
            yield Reject(ln, fld, reason, values, value, level)
        self._spool.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._spool.close()


class Rows:
    """What became of every row that reached the outputs of one file.

    The pipeline numbers each row it hands to the sinks (its *ordinal*, in
    ``Batch.index``); sinks mark rows sent, queued or refused, at once or later
    (a shop CSV decides per product when the file is complete, an API sink when
    the shop answers). A row's final state is the strongest mark it got:
    refused > queued > sent > unchanged, so a row two sinks treat differently is
    counted once. Stock rows stand for several input rows (``weights``).
    Memory: one byte per row (plus eight per row for weighted stock rows).
    """

    UNCHANGED, SENT, QUEUED, REFUSED = 0, 1, 2, 3

    def __init__(self, report: FileReport):
        self.report = report
        self._status = np.zeros(1024, np.uint8)
        self._weights: np.ndarray | None = None
        self.n = 0
        self.unlisted = 0  # input rows accounted for without an output row (stock)
        self.told = 0  # input rows sent without an output row (stock orders: movement file)

    def add(self, batch: Batch, weights: pa.Array | None = None) -> Batch:
        """Number the rows of a batch about to reach the sinks."""
        n = len(batch)
        if self.n + n > len(self._status):
            size = max(len(self._status) * 2, self.n + n)
            self._status = np.resize(self._status, size)
            self._status[self.n:] = 0
            if self._weights is not None:
                self._weights = np.resize(self._weights, size)
        if weights is not None or self._weights is not None:
            if self._weights is None:
                self._weights = np.ones(len(self._status), np.int64)
            w = np.ones(n, np.int64) if weights is None else \
                np.asarray(weights.to_numpy(zero_copy_only=False), np.int64)
            self._weights[self.n:self.n + n] = w
        index = pa.array(np.arange(self.n, self.n + n, dtype=np.int64))
        self.n += n
        return batch.numbered(index)

    def _mark(self, ordinals: Any, state: int) -> None:
        idx = np.asarray(ordinals, np.int64)
        if len(idx):
            self._status[idx] = np.maximum(self._status[idx], state)

    def sent(self, batch: Batch, mask: pa.Array | None = None) -> None:
        """Rows of ``batch`` delivered (all of them, or where ``mask`` is true)."""
        idx = batch.index_array()
        if mask is not None:
            idx = idx[np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False),
                                 bool)]
        self._mark(idx, self.SENT)

    def sent_at(self, ordinals: Any) -> None:
        self._mark(ordinals, self.SENT)

    def queued_at(self, ordinals: Any) -> None:
        self._mark(ordinals, self.QUEUED)

    def refuse(self, batch: Batch, i: int, field: str | None, reason: str,
               value: Any = None) -> None:
        """Row ``i`` of ``batch`` cannot be delivered: a reject with its line."""
        self.refuse_at(int(batch.index_array()[i]), int(batch.lines[i].as_py()), field, reason,
                       batch.raw_rows([i])[0], value)

    def refuse_at(self, ordinal: int, line: int, field: str | None, reason: str,
                  values: dict[str, Any] | None = None, value: Any = None) -> None:
        """A row refused after its batch went by (a product found incomplete when the
        file was done, a shop's answer)."""
        self._mark([ordinal], self.REFUSED)
        self.report.reject(Reject(line, field, reason, values or {}, value), count=False)

    def delivered(self, ordinals: np.ndarray) -> np.ndarray:
        """Per ordinal: whether the row counts sent or unchanged (so far)."""
        status = self._status[ordinals]
        return (status == self.SENT) | (status == self.UNCHANGED)

    def refused(self, ordinal: int) -> bool:
        return bool(self._status[ordinal] == self.REFUSED)

    def queued(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(ordinals, weights or None) of the rows counted queued: what a follow-up ack
        accounts for once their changes are sent (filebridge/followup.py)."""
        idx = np.flatnonzero(self._status[:self.n] == self.QUEUED)
        return idx, (self._weights[idx] if self._weights is not None else None)

    def count(self, nothing_to_send: bool = False) -> None:
        """Add this file's outcome to the report's tally. With no outputs at all
        (a stock profile that only records) every row counts as sent."""
        status = self._status[:self.n]
        if nothing_to_send:
            status = np.where(status == self.REFUSED, status, self.SENT)
        w = self._weights[:self.n] if self._weights is not None else None
        t = self.report.tally

        def total(state: int) -> int:
            hit = status == state
            return int(w[hit].sum()) if w is not None else int(hit.sum())

        t.sent += total(self.SENT) + self.told
        t.queued += total(self.QUEUED)
        t.rejected += total(self.REFUSED)
        t.unchanged += total(self.UNCHANGED) + self.unlisted
