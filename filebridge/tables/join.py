"""Joins between the reader and the mapping, one batch of the main file at a time,
column-wise: the batch's distinct keys are looked up in the table's SQLite file,
and the rows found are laid beside the batch's rows by position (``index_in``), so
the batch keeps its order and its lines.

- ``one``: one row per key brings columns (per language: ``<name>@<language>``);
- ``wide``: a long table (key;language;field;text) becomes ``<name>@<language>``
  columns;
- ``list``: the rows of a key become one ordered ``list<string>`` value.

A key with no row follows the join's ``missing`` policy; a rejected row is a
reject in the report (its line, the join, the key), counted like any other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filebridge.errors import Bug, RejectedFile
from filebridge.records import Batch, FileReport, Reject
from filebridge.tables.spec import JoinSpec, placeholders
from filebridge.tables.store import SEP, TableData, key_text, text


class Joiner:
    """The profile's joins against one pinned version of every table."""

    def __init__(self, joins: list[JoinSpec], tables: dict[str, TableData],
                 languages: list[str]):
        self.joins = joins
        self.tables = tables
        self.languages = languages

    def apply(self, batch: Batch, report: FileReport) -> Batch:
        if not len(batch):
            return batch
        if batch.raw is None:  # a reject shows the ERP its row as read, not joined columns
            batch = Batch(batch.table, batch.lines, batch.table, batch.index)
        for i, j in enumerate(self.joins):
            batch = self._join(i, j, batch, report)
            if not len(batch):
                break
        return batch

    # one join ------------------------------------------------------------------
    def _join(self, i: int, j: JoinSpec, batch: Batch, report: FileReport) -> Batch:
        table = self.tables[j.table]
        on: dict[str, str] = j.on  # type: ignore[assignment]
        missing = [f for f in on if f not in batch.names]
        if missing:
            raise RejectedFile(f"{j.describe(i)}: key field(s) {', '.join(missing)} not in "
                               f"the file (it has: {', '.join(batch.names)})")
        parts = [key_text(batch.column(f)) for f in on]
        keys = parts[0]
        blank = pc.equal(parts[0], "")
        for p in parts[1:]:
            keys = pc.binary_join_element_wise(keys, p, SEP)
            blank = pc.or_(blank, pc.equal(p, ""))
        distinct = pc.unique(pc.filter(keys, pc.invert(blank)))
        # Each row's key as a position among the distinct keys (blank: one past them).
        pos = pc.fill_null(pc.index_in(keys, value_set=distinct), len(distinct))
        at = _At(len(distinct), np.asarray(pos.to_numpy(zero_copy_only=False), np.int64))
        values = [tuple(k.split(SEP)) for k in distinct.to_pylist()]
        langs = j.languages or self.languages
        tcols = list(on.values())
        if j.kind == "one":
            found, new = self._one(j, table, tcols, values, at, langs)
        elif j.kind == "wide":
            found, new = self._wide(j, table, tcols, values, at, langs)
        else:
            found, new = self._list(j, table, tcols, values, at)
        absent = pc.and_(pc.invert(found), pc.invert(blank))
        if j.missing == "empty":
            new = {n: _empty(a, absent) for n, a in new.items()}
        out = batch.table
        for name, arr in new.items():
            if name in out.column_names:
                raise RejectedFile(f"{j.describe(i)}: the new field {name!r} is already a "
                                   "field of the file")
            out = out.append_column(name, arr)
        joined = Batch(out, batch.lines, batch.raw, batch.index)
        if j.missing != "reject" or not pc.any(absent).as_py():
            return joined
        self._reject(i, j, table, joined, batch, absent, report)
        return joined.filter(pc.invert(absent))

    def _one(self, j: JoinSpec, table: TableData, tcols: list[str], values: list[tuple],
             at: _At, langs: list[str]) -> tuple[pa.Array, dict[str, pa.Array]]:
        take: dict[str, str] = j.take  # type: ignore[assignment]
        select = list(take) + ([j.language] if j.language else [])
        only = {j.language: langs} if j.language else None
        rows = _lookup(table, tcols, values, j.where, select, only=only)
        ids = _ids(rows)
        new: dict[str, pa.Array] = {}
        if j.language is None:
            for col, name in take.items():
                new[name] = at.spread(ids, rows[col])
            return at.found(ids), new
        lang_col = rows[j.language].combine_chunks()
        for lang in langs:
            sub = rows.filter(pc.equal(lang_col, lang))
            for col, name in take.items():
                new[f"{name}@{lang}"] = at.spread(_ids(sub), sub[col])
        return at.found(ids), {f"{n}@{lang}": new[f"{n}@{lang}"] for n in take.values()
                               for lang in langs}

    def _wide(self, j: JoinSpec, table: TableData, tcols: list[str], values: list[tuple],
              at: _At, langs: list[str]) -> tuple[pa.Array, dict[str, pa.Array]]:
        fields: dict[str, str] = j.fields  # type: ignore[assignment]
        if not (j.field and j.value and j.language):
            raise Bug("expected j.field and j.value and j.language")
        rows = _lookup(table, tcols, values, j.where, [j.field, j.language, j.value],
                       only={j.field: list(fields), j.language: langs})
        fcol, lcol = rows[j.field].combine_chunks(), rows[j.language].combine_chunks()
        new: dict[str, pa.Array] = {}
        for value, name in fields.items():
            for lang in langs:
                sub = rows.filter(pc.and_(pc.equal(fcol, value), pc.equal(lcol, lang)))
                new[f"{name}@{lang}"] = at.spread(_ids(sub), text(sub[j.value]))
        return at.found(_ids(rows)), new

    def _list(self, j: JoinSpec, table: TableData, tcols: list[str], values: list[tuple],
              at: _At) -> tuple[pa.Array, dict[str, pa.Array]]:
        refs = sorted(placeholders(j.template)) if j.template else [j.value or ""]
        rows = _lookup(table, tcols, values, j.where, refs, order=j.order)
        items = _items(rows, j)
        ids = _ids(rows)
        # Rows come ordered by key: each run of one key is one list.
        n = len(ids)
        change = np.ones(n, bool)
        change[1:] = ids[1:] != ids[:-1]
        starts = np.flatnonzero(change)
        offsets = pa.array(np.append(starts, n).astype(np.int32))
        lists = pa.ListArray.from_arrays(offsets, items)
        return at.found(ids), {j.as_ or "": at.spread(ids[starts], lists)}

    def _reject(self, i: int, j: JoinSpec, table: TableData, joined: Batch, batch: Batch,
                absent: pa.Array, report: FileReport) -> None:
        idx = pc.indices_nonzero(absent).to_pylist()
        lines = pc.take(batch.lines, idx).to_pylist()
        rows = batch.raw_rows(idx)
        on: dict[str, str] = j.on  # type: ignore[assignment]
        keyvals = {f: key_text(batch.column(f)).take(pa.array(idx, pa.int64())).to_pylist()
                   for f in on}
        extra = "".join(f", {c}={v!r}" for c, v in j.where.items())
        for n, (line, row) in enumerate(zip(lines, rows, strict=True)):
            shown = ", ".join(f"{f}={keyvals[f][n]!r}" for f in on)
            cols = ", ".join(f"{c}={keyvals[f][n]!r}" for f, c in on.items())
            first = next(iter(on))
            report.reject(Reject(line, first, f"{j.describe(i)}: no row for {shown} in "
                                 f"table {j.table} ({table.source}: {cols}{extra})", row,
                                 keyvals[first][n]))


CHUNK = 8192  # distinct keys per lookup: bounds the rows held at once


class _At:
    """Where each of the batch's rows finds its key among the distinct keys looked up."""

    def __init__(self, n: int, pos: np.ndarray):
        self.n, self.pos = n, pos  # pos[i] == n: row i's key is blank

    def spread(self, ids: np.ndarray, col: pa.Array | pa.ChunkedArray) -> pa.Array:
        """``col``, whose row r matched distinct key ``ids[r]``, laid on the batch's
        rows (null where a row's key has none)."""
        at = np.full(self.n + 1, -1, np.int64)
        at[ids] = np.arange(len(ids))
        idx = at[self.pos]
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        return pc.take(col, pa.array(idx, mask=idx < 0))

    def found(self, ids: np.ndarray) -> pa.Array:
        hit = np.zeros(self.n + 1, bool)
        hit[ids] = True
        return pa.array(hit[self.pos])


def _ids(rows: pa.Table) -> np.ndarray:
    return np.asarray(rows["_id"].combine_chunks().to_numpy(zero_copy_only=False), np.int64)


def _lookup(table: TableData, tcols: list[str], values: list[tuple], where: dict[str, str],
            select: list[str], **kw: Any) -> pa.Table:
    """The table's rows for ``values``, a chunk of keys at a time; ``_id`` indexes
    ``values`` (so the rows stay ordered by key when ordered within each chunk)."""
    parts = []
    for o in range(0, max(len(values), 1), CHUNK):
        part = table.lookup(tcols, values[o:o + CHUNK], where, select, **kw)
        if o:
            part = part.set_column(0, "_id", pc.add(part["_id"], o))
        parts.append(part)
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def _items(rows: pa.Table, j: JoinSpec) -> pa.Array:
    """Each row's list item: the value column, or the template filled from the row."""
    if j.template is None:
        return text(rows[j.value or ""])
    from string import Formatter

    parts: list[Any] = []
    for lit, ref, _, _ in Formatter().parse(j.template):
        if lit:
            parts.append(pa.scalar(lit))
        if ref:
            parts.append(pc.fill_null(text(rows[ref]), ""))
    if not len(rows):
        return pa.array([], pa.string())
    out = pc.binary_join_element_wise(*parts, "")
    if isinstance(out, pa.Scalar):
        out = pa.array([out.as_py()] * len(rows), pa.string())
    return out


def _empty(arr: pa.Array, absent: pa.Array) -> pa.Array:
    """``missing: empty``: absent keys get empty text or an empty list."""
    if pa.types.is_list(arr.type):
        empty = pa.scalar([], arr.type)
    elif pa.types.is_string(arr.type):
        empty = pa.scalar("", pa.string())
    else:
        return arr  # numbers and dates have no empty value: null
    return pc.if_else(absent, empty, arr)
