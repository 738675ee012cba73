"""What a job needs for ``tables:`` and ``join:``: the code tables' versions, the
set's members read per main file into scratch SQLite files, and the joiner built
on one pinned version of each (see filebridge/tables/ for each part)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filebridge.crashpoints import crash_point
from filebridge.errors import RejectedFile
from filebridge.ledger.sqlite import Ledger
from filebridge.tables.codes import CodeTables
from filebridge.tables.join import Joiner
from filebridge.tables.spec import JoinSpec
from filebridge.tables.store import TableData, TableError

TABLES = ".filebridge-tables"


class Related:
    def __init__(self, profile: Any, ledger: Ledger, registry: Any, scratch_root: Path):
        self.name = profile.name
        self.specs: dict[str, Any] = dict(profile.tables or {})
        self.joins: list[JoinSpec] = list(profile.join or [])
        self.languages = list(profile.map.languages)
        self.ledger = ledger
        self.scratch_root = scratch_root
        self.readers = {n: registry.get("reader", s.read.format)(s.read)
                        for n, s in self.specs.items() if s.is_member}
        codes = {n: s for n, s in self.specs.items() if not s.is_member}
        self.codes = CodeTables(profile.name, codes, ledger, profile.source, registry,
                                ledger.home / TABLES / profile.name, scratch_root,
                                self.needs, self.check) if codes else None

    def needs(self, table: str) -> tuple[set[str], set[str], list[list[str]]]:
        """The columns the joins read from ``table``, those compared (trimmed), and one
        index per join."""
        columns: set[str] = set()
        keys: set[str] = set()
        indexes: list[list[str]] = []
        for j in self.joins:
            if j.table != table:
                continue
            columns |= j.columns()
            compared = [*j.where, *j.on.values()]  # type: ignore[union-attr]
            keys |= set(compared) | {c for c in (j.language, j.field) if c}
            if compared not in indexes:
                indexes.append(compared)
        return columns, keys, indexes

    def check(self, table: str, data: TableData) -> str | None:
        """One row per key where a join needs one (one-to-one, wide)."""
        for i, j in enumerate(self.joins):
            if j.table != table or j.kind == "list":
                continue
            keys = list(j.on.values()) + [c for c in (j.language, j.field) if c]  # type: ignore[union-attr]
            dup = data.duplicate(keys, j.where)
            if dup is not None:
                values, a, b = dup
                shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, values, strict=True))
                return (f"lines {a} and {b}: both hold {shown}"
                        + "".join(f", {c}={v!r}" for c, v in j.where.items())
                        + f"; {j.describe(i)} (kind {j.kind}) needs one row per key")
        return None

    # between files ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Code tables to their newest usable version; Waiting if one has none."""
        if self.codes is not None:
            self.codes.refresh()

    def sweep(self) -> int:
        return self.codes.sweep() if self.codes is not None else 0

    # one main file -------------------------------------------------------------------
    @contextmanager
    def open(self, members: dict[str, Path]) -> Iterator[Joiner]:
        """A joiner on the code tables' current versions and this file's members (read
        into a scratch folder, removed afterwards; a crash leaves it to the sweep)."""
        tables = self.codes.pinned() if self.codes is not None else {}
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.TemporaryDirectory(prefix=f"tables-{os.getpid()}-",
                                              dir=self.scratch_root)
        try:
            for name, path in members.items():
                columns, keys, indexes = self.needs(name)
                try:
                    data = TableData.load(self.readers[name], path,
                                          Path(scratch.name) / f"{name}.sqlite", label=name,
                                          shown=path.name, columns=columns, keys=keys,
                                          indexes=indexes, spool=Path(scratch.name))
                    tables[name] = data
                    problem = self.check(name, data)
                    if problem:
                        raise TableError(f"{path.name}: {problem}")
                except TableError as e:
                    raise RejectedFile(f"member {name} of its set: {e}") from None
            crash_point("tables.loaded")
            yield Joiner(self.joins, tables, self.languages)
        finally:
            for t in tables.values():
                t.close()
            scratch.cleanup()
