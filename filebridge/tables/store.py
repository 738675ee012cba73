"""A table read once into a SQLite file on disk, then looked up per batch of the main
file: memory stays bounded whatever the table's size (SQLite's page cache, one
batch of keys, the rows that match them).

Each column the joins need is kept as text (exact decimals, ISO dates) with its
Arrow type beside, so a lookup gives back the typed columns the reader made; key
columns are trimmed (an AS400 pads codes). Every row keeps its source line, for
the messages that name a duplicate key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.errors import RejectedFile
from filebridge.records import Batch, FileReport

SEP = "\x1f"  # between the parts of a composite key (a unit separator: never in codes)


class TableError(Exception):
    """A table file that cannot be used: the message names the file, and the line."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as text, nulls kept."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type):
        return pc.cast(arr, pa.string())
    return pc.cast(arr, pa.string())


def key_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A key column as compared: text, trimmed, blank for null."""
    return pc.fill_null(pc.utf8_trim_whitespace(text(arr)), "")


class TableData:
    """One loaded table: a SQLite file with table ``t`` and its column types."""

    def __init__(self, path: Path, label: str, source: str):
        self.path = path
        self.label = label  # the profile's name for the table
        self.source = source  # the file it was read from (for messages)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA query_only=ON")
        self.db.execute("PRAGMA temp_store=MEMORY")
        schema = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
        self.schema = pa.ipc.read_schema(pa.py_buffer(schema))
        self.rows = int(self.db.execute("SELECT value FROM meta WHERE key='rows'").fetchone()[0])
        self._temp = 0

    def close(self) -> None:
        self.db.close()

    @property
    def names(self) -> list[str]:
        return self.schema.names

    # loading ---------------------------------------------------------------------
    @classmethod
    def load(cls, reader: Any, src: Path, dest: Path, *, label: str, shown: str,
             columns: set[str], keys: set[str], indexes: list[list[str]],
             spool: Path | None = None) -> TableData:
        """Read ``src`` with ``reader`` into a new SQLite file ``dest``: the columns the
        joins use, keys trimmed, one index per join. Raises TableError naming the file
        (``shown``) and the line for anything that makes the table unusable: a row the
        reader rejects, a bad encoding, a missing column."""
        dest.unlink(missing_ok=True)
        db = sqlite3.connect(dest)
        try:
            db.execute("PRAGMA journal_mode=OFF")  # a scratch copy: rebuilt if lost
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA cache_size=-16384")  # 16 MiB: bounded, also while indexing
            db.execute("PRAGMA temp_store=FILE")  # the index sort spills to disk
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
            report = FileReport(shown, spool_dir=str(spool) if spool else None)
            try:
                n, schema = cls._fill(db, reader, src, report, shown=shown, columns=columns,
                                      keys=keys)
            finally:
                report.close()
            for i, cols in enumerate(indexes):
                db.execute(f"CREATE INDEX ix{i} ON t ({', '.join(_q(c) for c in cols)})")
            db.execute("INSERT INTO meta VALUES ('schema', ?), ('rows', ?)",
                       (schema.serialize().to_pybytes(), n))
            db.commit()
        except BaseException:
            db.close()
            dest.unlink(missing_ok=True)
            raise
        db.close()
        return cls(dest, label, shown)

    @staticmethod
    def _fill(db: sqlite3.Connection, reader: Any, src: Path, report: FileReport, *,
              shown: str, columns: set[str], keys: set[str]) -> tuple[int, pa.Schema]:
        schema: pa.Schema | None = None
        n = 0
        try:
            for batch in _batches(reader, src, report):
                if schema is None:
                    missing = sorted(columns - set(batch.names))
                    if missing:
                        raise TableError(f"column(s) {', '.join(missing)} used by "
                                         f"the joins are not in the table (it has: "
                                         f"{', '.join(batch.names)})")
                    keep = [c for c in batch.names if c in columns]
                    schema = pa.schema([batch.table.schema.field(c) for c in keep])
                    db.execute("CREATE TABLE t (_line INTEGER, "
                               + ", ".join(f"{_q(c)} TEXT" for c in keep) + ")")
                    insert = (f"INSERT INTO t VALUES (?{', ?' * len(keep)})")
                if not len(batch):
                    continue
                cols = [batch.lines.to_pylist()]
                for c in schema.names:
                    col = key_text(batch.column(c)) if c in keys else text(batch.column(c))
                    cols.append(col.to_pylist())
                db.executemany(insert, zip(*cols, strict=True))
                n += len(batch)
        except RejectedFile as e:  # unreadable as a whole: a bad encoding, not CSV…
            raise TableError(f"{shown}: {e}") from None
        except TableError as e:
            raise TableError(f"{shown}: {e}") from None
        if schema is None:
            raise TableError(f"{shown}: the table holds no rows")
        return n, schema

    # lookups ---------------------------------------------------------------------
    def duplicate(self, keys: list[str], where: dict[str, str]
                  ) -> tuple[list[str], int, int] | None:
        """A key (with ``where``) held by two rows: its values and two of its lines."""
        cond, args = _where(where)
        cols = ", ".join(_q(k) for k in keys)
        row = self.db.execute(f"SELECT {cols}, min(_line), max(_line) FROM t {cond} GROUP BY "
                              f"{cols} HAVING count(*) > 1 LIMIT 1", args).fetchone()
        if row is None:
            return None
        return list(row[:len(keys)]), row[-2], row[-1]

    def lookup(self, keys: list[str], values: list[tuple[str, ...]], where: dict[str, str],
               select: list[str], order: list[str] | None = None,
               only: dict[str, list[str]] | None = None) -> pa.Table:
        """The rows whose ``keys`` columns hold one of ``values`` (and the ``where``
        constants, and for ``only`` one of the listed values): a column ``_id`` (the
        position in ``values`` of the key the row matched) and the ``select`` columns,
        typed. With ``order``: by ``_id``, then those columns (numbers as numbers),
        then file order."""
        kcols = [f"k{i}" for i in range(len(keys))]
        db = self.db
        db.execute("PRAGMA query_only=OFF")
        try:
            db.execute("DROP TABLE IF EXISTS temp.k")
            db.execute(f"CREATE TEMP TABLE k (id INTEGER PRIMARY KEY, {', '.join(kcols)})")
            db.executemany(f"INSERT INTO k VALUES (?, {', '.join('?' * len(keys))})",
                           ((i, *v) for i, v in enumerate(values)))
            # CROSS JOIN: the keys drive, each probes the table's index.
            on = " AND ".join(f"t.{_q(k)} = k.{kc}" for k, kc in zip(keys, kcols, strict=True))
            cond, args = _where(where, only, prefix="t.")
            cond = cond.replace("WHERE", "AND", 1) if cond else ""
            sel = ["k.id"] + [f"t.{_q(c)}" for c in select]
            sql = f"SELECT {', '.join(sel)} FROM k CROSS JOIN t ON {on} {cond}"
            if order is not None:
                by = ["k.id"]
                for c in order:
                    num = f"t.{_q(c)} GLOB '[0-9]*' AND NOT t.{_q(c)} GLOB '*[^0-9]*'"
                    by += [f"CASE WHEN {num} THEN CAST(t.{_q(c)} AS INTEGER) END",
                           f"t.{_q(c)}"]
                sql += " ORDER BY " + ", ".join([*by, "t._line"])
            rows = db.execute(sql, args).fetchall()
            db.execute("DROP TABLE temp.k")
        finally:
            db.execute("PRAGMA query_only=ON")
        parts = list(zip(*rows, strict=True)) if rows else [()] * (1 + len(select))
        out: dict[str, pa.Array] = {"_id": pa.array(parts[0], pa.int64())}
        for c, col_values in zip(select, parts[1:], strict=True):
            typ = self.schema.field(c).type
            col = pa.array(col_values, pa.string())
            out[c] = col if pa.types.is_string(typ) else pc.cast(col, typ)
        return pa.table(out)


def _where(where: dict[str, str], only: dict[str, list[str]] | None = None,
           prefix: str = "") -> tuple[str, list[str]]:
    parts, args = [], []
    for c, v in where.items():
        parts.append(f"{prefix}{_q(c)} = ?")
        args.append(str(v).strip())
    for c, vs in (only or {}).items():
        parts.append(f"{prefix}{_q(c)} IN ({', '.join('?' * len(vs))})")
        args += list(vs)
    return ("WHERE " + " AND ".join(parts) if parts else "", args)


def _batches(reader: Any, src: Path, report: FileReport) -> Iterator[Batch]:
    """The reader's batches; a row it rejects makes the table unusable."""
    for batch in reader.read(src, report):
        report.flush()
        if report.first:
            r = report.first[0]
            what = f"{r.field}: " if r.field else ""
            raise TableError(f"line {r.line}: {what}{r.reason}")
        yield batch
