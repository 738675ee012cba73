"""The default ledger: one SQLite file in WAL mode, no server.

Files are keyed by content digest per profile (and by name too for a profile that
is once by name and content: see :meth:`SqliteLedger.find`). A file is *claimed*
(committed at once, so a crash leaves a trace of which file was in flight and when
it was claimed), then *finished* in one transaction together with the new snapshots of
what each sink received: state moves only after the outputs are durable. A crash
in between loses nothing: the file is claimed again and redone.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from filebridge.errors import DiskFull, LedgerError, disk_full
from filebridge.ledger.leases import fence
from filebridge.processes import pid_alive


_HOST = socket.gethostname()




def _ipc(table: pa.Table) -> tuple[bytes, int]:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema,
                        options=ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes(), table.num_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL DEFAULT 'running',  -- running | done | failed | interrupted
    files INTEGER NOT NULL DEFAULT 0,
    tally TEXT NOT NULL DEFAULT '{}',
    pid INTEGER,                    -- the process running it, on host: a dead one
    host TEXT                       -- leaves it 'interrupted', not 'running' forever
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,          -- processing | done | rejecting | rejected | duplicate
                                   -- | failed (left to retry, e.g. the disk was full);
                                   -- rejecting: moving to moved_to, then rejected
    claimed REAL NOT NULL,
    finished REAL,
    run_id INTEGER REFERENCES runs(id),
    tally TEXT NOT NULL DEFAULT '{}',
    moved_to TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS files_by_digest ON files(profile, digest, status);
CREATE INDEX IF NOT EXISTS files_by_name ON files(profile, name, status);
-- What each sink last received, per key: an Arrow table (key, hash) kept as one
-- compressed blob per sink, so a run loads and saves it whole, column-wise.
CREATE TABLE IF NOT EXISTS snapshots (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    data BLOB NOT NULL,
    rows INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink)
);
-- Shop APIs (see filebridge/outbox.py): what each shop acknowledged per key, and
-- every change written before it is sent.
CREATE TABLE IF NOT EXISTS shop_state (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    hash INTEGER NOT NULL,
    product TEXT,
    record TEXT NOT NULL,
    remote TEXT NOT NULL DEFAULT '{}',
    gone TEXT,                      -- zero | unpublish: the missing policy acted on it
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shop_state_product ON shop_state(profile, sink, product);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    op TEXT NOT NULL,               -- upsert | zero | unpublish | delete
    hash INTEGER NOT NULL,
    product TEXT,
    record TEXT NOT NULL,
    idem TEXT NOT NULL,
    file_id INTEGER,
    run_id INTEGER,
    line INTEGER,
    ord INTEGER,                    -- the row's ordinal among those its file sent out
    status TEXT NOT NULL,           -- staged | held | queued | sent | rejected | superseded
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (file_id, sink, key)
);
-- Shop files (filebridge/catalog/memory.py): what each product sink last wrote
-- per SKU, so a product is always written whole (every variant, every option
-- value) and a file that changes one variant does not orphan the others.
CREATE TABLE IF NOT EXISTS catalog (
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    product TEXT,
    hash INTEGER NOT NULL,
    record TEXT NOT NULL,
    file_id INTEGER,
    pos INTEGER NOT NULL DEFAULT 0, -- when the key was first written: its place among siblings
    updated REAL NOT NULL,
    PRIMARY KEY (profile, sink, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS catalog_product ON catalog(profile, sink, product);
CREATE TABLE IF NOT EXISTS catalog_staged (
    file_id INTEGER NOT NULL,
    profile TEXT NOT NULL,
    sink TEXT NOT NULL,
    key TEXT NOT NULL,
    product TEXT,
    hash INTEGER NOT NULL,
    record TEXT NOT NULL,
    pos INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS catalog_staged_file ON catalog_staged(file_id);
-- Files whose ack said some rows were queued for a shop (filebridge/followup.py): the
-- rows (ordinals, weights), saved with the file's outcome; a follow-up ack goes to the
-- ERP once their changes are settled, then ``written`` is set.
CREATE TABLE IF NOT EXISTS followups (
    file_id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    ordinals BLOB NOT NULL,
    weights BLOB,
    written REAL,
    path TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(profile, sink, status, id);
CREATE INDEX IF NOT EXISTS outbox_by_run ON outbox(run_id, status);
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
            # One connection per job; the watcher may use it from that job's thread.
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                      check_same_thread=False)
            self._lock = threading.RLock()
            # Leases this process holds through this ledger (filebridge/ledger/leases.py):
            # a claim or a file's outcome is committed only while its lease is held.
            self.fences: dict[str, str] = {}
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self._migrate()
        except sqlite3.Error as e:
            raise LedgerError(f"ledger {self.path}: {e}") from e

    def _migrate(self) -> None:
        """Columns added since a ledger file was made."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(outbox)")}
        if "ord" not in cols:
            self.db.execute("ALTER TABLE outbox ADD COLUMN ord INTEGER")
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
        if "pid" not in cols:
            self.db.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")
            self.db.execute("ALTER TABLE runs ADD COLUMN host TEXT")

    def close(self) -> None:
        self.db.close()

    def sibling(self) -> SqliteLedger:
        """The same ledger on a connection of its own, for a thread that must not
        share this one's (reads here take no lock: a lease's heartbeat)."""
        return SqliteLedger(self.path)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        # One connection per job, used by its sender threads and scheduled jobs too:
        # transactions on it take turns.
        with self._lock:
            yield from self._tx()

    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            if disk_full(e) is not None:
                raise DiskFull(f"ledger {self.path}: {e}") from e
            raise LedgerError(f"ledger {self.path}: {e}") from e

    # runs ---------------------------------------------------------------
    def start_run(self, profile: str) -> int:
        with self.tx() as db:
            return db.execute("INSERT INTO runs(profile, started, pid, host) VALUES (?,?,?,?)",
                              (profile, time.time(), os.getpid(), _HOST)).lastrowid or 0

    def end_dead_runs(self, profile: str) -> int:
        """Runs of ``profile`` still 'running' whose process on this host is gone (killed,
        power cut): marked 'interrupted'. Their files are redone by the next run."""
        rows = self.db.execute("SELECT id, pid FROM runs WHERE profile=? AND status='running' "
                               "AND host=?", (profile, _HOST)).fetchall()
        dead = [i for i, pid in rows if pid is not None and not pid_alive(pid)]
        if dead:
            with self.tx() as db:
                db.executemany("UPDATE runs SET status='interrupted' WHERE id=? AND "
                               "status='running'", [(i,) for i in dead])
        return len(dead)

    def end_run(self, run_id: int, status: str, files: int, tally: dict[str, int]) -> None:
        with self.tx() as db:
            db.execute("UPDATE runs SET finished=?, status=?, files=?, tally=? WHERE id=?",
                       (time.time(), status, files, json.dumps(tally), run_id))

    # files --------------------------------------------------------------
    def find(self, profile: str, digest: str, name: str | None = None) -> FileRow | None:
        """The earlier sighting of this file that decides what to do with it: a done
        row (already processed), else a claim a crashed run left in flight (redo it).

        Without ``name`` (once by content) any file of the profile with these bytes
        counts, done before in flight. With ``name`` (once by name and content) a done
        row counts only while it is the last file processed under that name: the same
        bytes under another name, or back under this name after a different file, are
        a new file; a claim in flight counts only for the same name and bytes."""
        cols = "SELECT id, digest, name, status, claimed, moved_to FROM files WHERE profile=? "
        if name is None:
            row = self.db.execute(
                cols + "AND digest=? AND status IN ('done', 'processing', 'failed') "
                "ORDER BY status='done' DESC, id DESC LIMIT 1", (profile, digest)).fetchone()
            return FileRow(*row) if row else None
        row = self.db.execute(cols + "AND name=? AND status='done' ORDER BY finished DESC, "
                              "id DESC LIMIT 1", (profile, name)).fetchone()
        if row is not None and row[1] == digest:
            return FileRow(*row)
        row = self.db.execute(cols + "AND name=? AND digest=? AND status IN ('processing', "
                              "'failed') ORDER BY id DESC LIMIT 1",
                              (profile, name, digest)).fetchone()
        return FileRow(*row) if row else None

    def rejecting(self, profile: str, digest: str | None = None, name: str | None = None
                  ) -> list[FileRow]:
        """Rejections whose move to the error folder was not seen through (the process
        died): their ``moved_to`` is where the file goes. Of these bytes under this name,
        or all of the profile's."""
        q = ("SELECT id, digest, name, status, claimed, moved_to FROM files WHERE profile=? "
             "AND status='rejecting'")
        args: tuple[Any, ...] = (profile,)
        if digest is not None:
            q += " AND name=? AND digest=?"
            args += (name, digest)
        return [FileRow(*r) for r in self.db.execute(q + " ORDER BY id DESC", args)]

    def rejected(self, file_id: int, where: Path | str) -> None:
        """The rejected file is where it goes: the rejection is complete."""
        with self.tx() as db:
            db.execute("UPDATE files SET status='rejected', moved_to=? WHERE id=?",
                       (str(where), file_id))

    def unmoved_done(self, profile: str) -> list[FileRow]:
        """Files done whose archiving was not recorded (the process died right after
        the move, or before it)."""
        return [FileRow(*r) for r in self.db.execute(
            "SELECT id, digest, name, status, claimed, moved_to FROM files WHERE profile=? "
            "AND status='done' AND moved_to IS NULL ORDER BY id", (profile,))]

    def unmoved_duplicate(self, profile: str, digest: str, name: str) -> int | None:
        """A duplicate recorded but not archived yet (the process died in between)."""
        row = self.db.execute("SELECT id FROM files WHERE profile=? AND name=? AND digest=? AND "
                              "status='duplicate' AND moved_to IS NULL ORDER BY id DESC LIMIT 1",
                              (profile, name, digest)).fetchone()
        return row[0] if row else None

    def failed(self, file_id: int, reason: str) -> None:
        """The file could not be finished for a reason outside it (a full disk): left
        to be redone, with its claim time, by the next run."""
        with self.tx() as db:
            db.execute("UPDATE files SET status='failed', reason=? WHERE id=? AND "
                       "status='processing'", (reason, file_id))

    def claim(self, profile: str, digest: str, name: str, size: int, run_id: int,
              redo: FileRow | None = None) -> FileRow:
        """Mark a file in flight. A file a crashed run left in flight is claimed again
        in its own row, keeping its claim time (and so its output names)."""
        with self.tx() as db:
            fence(db, self.fences, profile)
            if redo is not None:
                db.execute("UPDATE files SET name=?, run_id=?, status='processing', reason=NULL "
                           "WHERE id=?", (name, run_id, redo.id))
                return FileRow(redo.id, digest, name, "processing", redo.claimed, None)
            now = time.time()
            fid = db.execute("INSERT INTO files(profile, digest, name, size, status, claimed, "
                             "run_id) VALUES (?,?,?,?, 'processing', ?, ?)",
                             (profile, digest, name, size, now, run_id)).lastrowid or 0
        return FileRow(fid, digest, name, "processing", now, None)

    def load_snapshot(self, profile: str, sink: str) -> pa.Table | None:
        row = self.db.execute("SELECT data FROM snapshots WHERE profile=? AND sink=?",
                              (profile, sink)).fetchone()
        return ipc.open_stream(pa.py_buffer(row[0])).read_all() if row else None

    def finish(self, file_id: int, profile: str, status: str, tally: dict[str, int],
               reason: str | None = None, snapshots: dict[str, pa.Table] | None = None,
               moved_to: str | None = None,
               queued: tuple[bytes, bytes | None] | None = None) -> None:
        """One transaction: the sinks' new snapshots and the file's outcome (and, for a
        rejection, where the file is about to go)."""
        blobs = {sink: _ipc(t) for sink, t in (snapshots or {}).items()}
        with self.tx() as db:
            fence(db, self.fences, profile)
            for sink, (blob, rows) in blobs.items():
                db.execute("INSERT OR REPLACE INTO snapshots(profile, sink, data, rows, updated) "
                           "VALUES (?,?,?,?,?)", (profile, sink, blob, rows, time.time()))
            if status == "done":  # what the shop files of this file wrote, remembered
                db.execute("INSERT INTO catalog(profile, sink, key, product, hash, record, "
                           "file_id, pos, updated) SELECT profile, sink, key, product, hash, "
                           "record, file_id, pos, ? FROM catalog_staged WHERE file_id=? AND true "
                           "ON CONFLICT(profile, sink, key) DO UPDATE SET product=excluded.product,"
                           " hash=excluded.hash, record=excluded.record, file_id=excluded.file_id,"
                           " updated=excluded.updated", (time.time(), file_id))
            db.execute("DELETE FROM catalog_staged WHERE file_id=?", (file_id,))
            if queued is not None:  # the ack says "queued": a follow-up will say what became
                db.execute("INSERT OR REPLACE INTO followups(file_id, profile, ordinals, "
                           "weights) VALUES (?,?,?,?)", (file_id, profile, *queued))
            db.execute("UPDATE files SET status=?, finished=?, tally=?, reason=?, "
                       "moved_to=coalesce(?, moved_to) WHERE id=?",
                       (status, time.time(), json.dumps(tally), reason, moved_to, file_id))

    def verdict(self, file_id: int) -> tuple[str, dict[str, int]]:
        """(reason, tally) recorded for a file."""
        reason, tally = self.db.execute("SELECT reason, tally FROM files WHERE id=?",
                                        (file_id,)).fetchone()
        return reason or "", json.loads(tally)

    # catalog memory (shop file sinks) -------------------------------------
    def catalog_unstage(self, file_id: int, sink: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM catalog_staged WHERE file_id=? AND sink=?", (file_id, sink))

    def catalog_stage(self, file_id: int, profile: str, sink: str,
                      rows: list[tuple[str, str | None, int, str, int]]) -> None:
        """(key, product, hash, record json, pos) a sink wrote for a file; they count
        once the file is done (:meth:`finish`). ``pos`` orders a product's keys by when
        they were first written (kept on later writes)."""
        with self.tx() as db:
            db.executemany("INSERT INTO catalog_staged(file_id, profile, sink, key, product, "
                           "hash, record, pos) VALUES (?,?,?,?,?,?,?,?)",
                           [(file_id, profile, sink, k, p, h, r, pos)
                            for k, p, h, r, pos in rows])

    def catalog_products(self, profile: str, sink: str, products: list[str]
                         ) -> dict[str, list[tuple[str, int, str, int]]]:
        """What a sink last wrote for each of ``products``: (key, hash, record json,
        pos), in the order the keys were first written."""
        out: dict[str, list[tuple[str, int, str, int]]] = {}
        for i in range(0, len(products), 500):
            chunk = products[i:i + 500]
            for prod, key, h, rec, pos in self.db.execute(
                    f"SELECT product, key, hash, record, pos FROM catalog WHERE profile=? AND "
                    f"sink=? AND product IN ({','.join('?' * len(chunk))}) ORDER BY pos",
                    (profile, sink, *chunk)):
                out.setdefault(prod, []).append((key, h, rec, pos))
        return out

    def catalog_hashes(self, profile: str, sink: str, keys: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            out.update(self.db.execute(
                f"SELECT key, hash FROM catalog WHERE profile=? AND sink=? AND key IN "
                f"({','.join('?' * len(chunk))})", (profile, sink, *chunk)).fetchall())
        return out

    def moved(self, file_id: int, where: Path | str) -> None:
        with self.tx() as db:
            db.execute("UPDATE files SET moved_to=? WHERE id=?", (str(where), file_id))

    def record(self, profile: str, digest: str, name: str, size: int, run_id: int,
               status: str, reason: str, moved_to: Path | str | None = None) -> int:
        """A file that was looked at but not processed (e.g. a duplicate)."""
        with self.tx() as db:
            now = time.time()
            return db.execute(
                "INSERT INTO files(profile, digest, name, size, status, claimed, finished, "
                "run_id, reason, moved_to) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (profile, digest, name, size, status, now, now, run_id, reason,
                 str(moved_to) if moved_to else None)).lastrowid or 0

    def last_read(self, profile: str) -> int | None:
        """Rows read from the last file this profile accepted (for the breaker)."""
        row = self.db.execute("SELECT tally FROM files WHERE profile=? AND status='done' AND "
                              "(reason IS NULL OR reason LIKE 'approved:%') "
                              "ORDER BY finished DESC LIMIT 1", (profile,)).fetchone()
        return json.loads(row[0]).get("read") if row else None

    def approved(self, run_id: int) -> None:
        """The held files of a run were approved: they count as accepted now."""
        with self.tx() as db:
            db.execute("UPDATE files SET reason='approved: ' || reason WHERE run_id=? AND "
                       "status='done' AND reason IS NOT NULL AND reason NOT LIKE 'approved:%'",
                       (run_id,))

    # reports ------------------------------------------------------------
    def recent_runs(self, limit: int = 10, profile: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id, profile, started, finished, status, files, tally FROM runs"
        args: tuple[Any, ...] = ()
        if profile:
            q += " WHERE profile=?"
            args = (profile,)
        q = q.replace(" FROM runs", ", pid, host FROM runs")
        rows = self.db.execute(q + " ORDER BY id DESC LIMIT ?", args + (limit,)).fetchall()
        keys = ("id", "profile", "started", "finished", "status", "files", "tally")
        out = []
        for r in rows:
            run = dict(zip(keys, r)) | {"tally": json.loads(r[6])}
            pid, host = r[7], r[8]
            if run["status"] == "running" and host == _HOST and pid and not pid_alive(pid):
                run["status"] = "interrupted"  # its process died (swept on the next run)
            out.append(run)
        return out

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
