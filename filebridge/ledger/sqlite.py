"""The default ledger: one SQLite file in WAL mode, no server.

Files are keyed by content digest per profile. A file is *claimed* (committed
at once, so a crash leaves a trace of which file was in flight and when it was
claimed), then *finished* in one transaction together with the delivered
records' hashes: state moves only after the outputs are durable. Hashes of a
file in flight sit in a TEMP table, which a crash discards.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filebridge.errors import LedgerError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL DEFAULT 'running',
    files INTEGER NOT NULL DEFAULT 0,
    tally TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,          -- processing | done | rejected | duplicate
    claimed REAL NOT NULL,
    finished REAL,
    run_id INTEGER REFERENCES runs(id),
    tally TEXT NOT NULL DEFAULT '{}',
    moved_to TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS files_by_digest ON files(profile, digest, status);
CREATE TABLE IF NOT EXISTS snapshots (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    hash INTEGER NOT NULL,
    PRIMARY KEY (profile, sink, key)
) WITHOUT ROWID;
"""


@dataclass
class FileRow:
    id: int
    digest: str
    name: str
    status: str
    claimed: float
    moved_to: str | None


class SqliteLedger:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS pending (sink TEXT, key TEXT, "
                            "hash INTEGER, PRIMARY KEY (sink, key)) WITHOUT ROWID")
        except sqlite3.Error as e:
            raise LedgerError(f"ledger {self.path}: {e}") from e

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            raise LedgerError(f"ledger {self.path}: {e}") from e

    # runs ---------------------------------------------------------------
    def start_run(self, profile: str) -> int:
        with self.tx() as db:
            return db.execute("INSERT INTO runs(profile, started) VALUES (?, ?)",
                              (profile, time.time())).lastrowid or 0

    def end_run(self, run_id: int, status: str, files: int, tally: dict[str, int]) -> None:
        with self.tx() as db:
            db.execute("UPDATE runs SET finished=?, status=?, files=?, tally=? WHERE id=?",
                       (time.time(), status, files, json.dumps(tally), run_id))

    # files --------------------------------------------------------------
    def find(self, profile: str, digest: str) -> FileRow | None:
        """The most relevant earlier sighting of this content: done beats in flight."""
        row = self.db.execute(
            "SELECT id, digest, name, status, claimed, moved_to FROM files "
            "WHERE profile=? AND digest=? AND status IN ('done', 'processing') "
            "ORDER BY status='done' DESC, id DESC LIMIT 1", (profile, digest)).fetchone()
        return FileRow(*row) if row else None

    def claim(self, profile: str, digest: str, name: str, size: int, run_id: int) -> FileRow:
        with self.tx() as db:
            now = time.time()
            fid = db.execute("INSERT INTO files(profile, digest, name, size, status, claimed, "
                             "run_id) VALUES (?,?,?,?, 'processing', ?, ?)",
                             (profile, digest, name, size, now, run_id)).lastrowid or 0
        self.db.execute("DELETE FROM pending")
        return FileRow(fid, digest, name, "processing", now, None)

    def stage_hashes(self, sink: str, rows: Iterable[tuple[str, int]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO pending(sink, key, hash) VALUES (?,?,?)",
                            ((sink, k, h) for k, h in rows))

    def known_hashes(self, profile: str, sink: str, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(keys), 50_000):
            part = json.dumps(keys[i:i + 50_000])
            found.update(self.db.execute(
                "SELECT key, hash FROM snapshots WHERE profile=? AND sink=? AND key IN "
                "(SELECT value FROM json_each(?))", (profile, sink, part)).fetchall())
        return found

    def finish(self, file_id: int, profile: str, status: str, tally: dict[str, int],
               reason: str | None = None) -> None:
        """One transaction: the delivered snapshots and the file's outcome."""
        with self.tx() as db:
            if status == "done":
                db.execute("INSERT OR REPLACE INTO snapshots(profile, sink, key, hash) "
                           "SELECT ?, sink, key, hash FROM pending", (profile,))
            db.execute("DELETE FROM pending")
            db.execute("UPDATE files SET status=?, finished=?, tally=?, reason=? WHERE id=?",
                       (status, time.time(), json.dumps(tally), reason, file_id))

    def moved(self, file_id: int, where: Path) -> None:
        with self.tx() as db:
            db.execute("UPDATE files SET moved_to=? WHERE id=?", (str(where), file_id))

    def record(self, profile: str, digest: str, name: str, size: int, run_id: int,
               status: str, reason: str, moved_to: Path | None = None) -> None:
        """A file that was looked at but not processed (e.g. a duplicate)."""
        with self.tx() as db:
            now = time.time()
            db.execute("INSERT INTO files(profile, digest, name, size, status, claimed, "
                       "finished, run_id, reason, moved_to) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (profile, digest, name, size, status, now, now, run_id, reason,
                        str(moved_to) if moved_to else None))

    # reports ------------------------------------------------------------
    def recent_runs(self, limit: int = 10, profile: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, profile, started, finished, status, files, tally FROM runs"
        args: tuple[Any, ...] = ()
        if profile:
            q += " WHERE profile=?"
            args = (profile,)
        rows = self.db.execute(q + " ORDER BY id DESC LIMIT ?", args + (limit,)).fetchall()
        keys = ("id", "profile", "started", "finished", "status", "files", "tally")
        return [dict(zip(keys, r)) | {"tally": json.loads(r[6])} for r in rows]

    def recent_files(self, limit: int = 20, profile: str | None = None) -> list[dict[str, Any]]:
        q = ("SELECT id, profile, name, status, claimed, finished, tally, reason, moved_to, "
             "run_id FROM files")
        args: tuple[Any, ...] = ()
        if profile:
            q += " WHERE profile=?"
            args = (profile,)
        rows = self.db.execute(q + " ORDER BY id DESC LIMIT ?", args + (limit,)).fetchall()
        keys = ("id", "profile", "name", "status", "claimed", "finished", "tally", "reason",
                "moved_to", "run_id")
        return [dict(zip(keys, r)) | {"tally": json.loads(r[6])} for r in rows]
