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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyarrow import ipc

from filebridge.crashpoints import crash_point
from filebridge.ledger.backend import Backend, Conn, SqliteBackend
from filebridge.ledger.leases import fence
from filebridge.ledger.schema import migrate
from filebridge.processes import pid_alive

_HOST = socket.gethostname()


# Schema metadata of a table saved without compression (hashes do not compress: zstd
# spends 0.3 s on 32 MB of them for nothing).
UNCOMPRESSED = b"filebridge.uncompressed"


def _ipc(table: pa.Table) -> tuple[memoryview, int]:
    sink = pa.BufferOutputStream()
    plain = UNCOMPRESSED in (table.schema.metadata or {})
    with ipc.new_stream(sink, table.schema,
                        options=ipc.IpcWriteOptions(compression=None if plain else "zstd")) as w:
        w.write_table(table)
    # The Arrow buffer itself (both drivers take a buffer): no copy of a large snapshot.
    return memoryview(sink.getvalue()), table.num_rows


def _table(data: bytes | memoryview) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(data)).read_all()


@dataclass
class SnapshotPatch:
    """A ``mode: changes`` snapshot saved as the (key, hash, khash) rows a file changed
    or added: kept beside the last full snapshot and applied over it, in order, when
    loaded (filebridge/delta_index.py). A run that changed 1% of a million keys writes
    those, not the million."""

    table: pa.Table


@dataclass
class FileRow:
    id: int
    digest: str
    name: str
    status: str
    claimed: float
    moved_to: str | None


class Ledger:
    """The ledger on a :class:`~filebridge.ledger.backend.Backend`: SQLite or PostgreSQL.

    ``path`` is the SQLite file (None on a server); ``home`` a local folder for what
    is kept beside the ledger (scratch folders, code tables' copies); ``where`` names
    the ledger in messages (a URL without its password)."""

    def __init__(self, backend: Backend, home: Path | None = None):
        self.backend = backend
        self.path = backend.path
        self.where = backend.where
        home = home if home is not None else (self.path.parent if self.path else None)
        if home is None:
            raise ValueError("a ledger on a server needs a local home folder")
        self.home = Path(home)
        self.db = backend.conn
        # Leases this process holds through this ledger (filebridge/ledger/leases.py):
        # a claim or a file's outcome is committed only while its lease is held.
        self.fences: dict[str, str] = {}
        # One connection per job, used by its sender threads and scheduled jobs too:
        # transactions on it take turns.
        self._lock = threading.RLock()
        try:
            migrate(backend)
            # The content digest files are known by (filebridge/digest.py).
            self.digest_kind: str = self.db.execute(
                "SELECT value FROM ledger_settings WHERE name='digest'").fetchone()[0]
        except BaseException:
            backend.close()
            raise

    def close(self) -> None:
        self.backend.close()

    def sibling(self) -> Ledger:
        """The same ledger on a connection of its own, for a thread that must not
        share this one's (reads here take no lock: a lease's heartbeat)."""
        return Ledger(self.backend.clone(), home=self.home)

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        with self._lock, self.backend.tx() as db:
            yield db

    # runs ---------------------------------------------------------------
    def start_run(self, profile: str) -> int:
        with self.tx() as db:
            return int(db.execute("INSERT INTO runs(profile, started, pid, host) VALUES "
                                  "(?,?,?,?) RETURNING id",
                                  (profile, time.time(), os.getpid(), _HOST)).fetchone()[0])

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
            fid = int(db.execute("INSERT INTO files(profile, digest, name, size, status, "
                                 "claimed, run_id) VALUES (?,?,?,?, 'processing', ?, ?) "
                                 "RETURNING id",
                                 (profile, digest, name, size, now, run_id)).fetchone()[0])
        return FileRow(fid, digest, name, "processing", now, None)

    def load_snapshot(self, profile: str, sink: str) -> pa.Table | None:
        """The last full snapshot, without the patches saved since (see
        :meth:`load_patches`; filebridge.delta_index.load applies them)."""
        row = self.db.execute("SELECT data FROM snapshots WHERE profile=? AND sink=?",
                              (profile, sink)).fetchone()
        return _table(row[0]) if row else None

    def load_patches(self, profile: str, sink: str) -> list[SnapshotPatch]:
        """The patches saved since the last full snapshot, oldest first."""
        return [SnapshotPatch(_table(data)) for (data,) in self.db.execute(
            "SELECT data FROM snapshot_patches WHERE profile=? AND sink=? ORDER BY seq",
            (profile, sink))]

    def finish(self, file_id: int, profile: str, status: str, tally: dict[str, int],
               reason: str | None = None,
               snapshots: dict[str, pa.Table | SnapshotPatch] | None = None,
               moved_to: str | None = None,
               queued: tuple[bytes, bytes | None] | None = None) -> None:
        """One transaction: the sinks' new snapshots (a full one, which replaces the
        patches, or a patch over it) and the file's outcome (and, for a rejection,
        where the file is about to go). ``snapshots`` is emptied: each table is
        serialized and written, and freed, before the next one is (a million-key
        snapshot is tens of MB, and so is its serialized copy)."""
        with self.tx() as db:
            fence(db, self.fences, profile)
            while snapshots:
                sink, t = snapshots.popitem()
                patch = isinstance(t, SnapshotPatch)
                blob, rows = _ipc(t.table if patch else t)
                del t
                if patch:  # the lease keeps other writers out: max(seq) is ours to follow
                    seq = db.execute("SELECT coalesce(max(seq), 0) FROM snapshot_patches "
                                     "WHERE profile=? AND sink=?", (profile, sink)).fetchone()[0]
                    db.execute("INSERT INTO snapshot_patches(profile, sink, seq, data, rows, "
                               "updated) VALUES (?,?,?,?,?,?)",
                               (profile, sink, int(seq) + 1, blob, rows, time.time()))
                    continue
                db.execute("INSERT INTO snapshots(profile, sink, data, rows, updated) "
                           "VALUES (?,?,?,?,?) ON CONFLICT(profile, sink) DO UPDATE SET "
                           "data=excluded.data, rows=excluded.rows, updated=excluded.updated",
                           (profile, sink, blob, rows, time.time()))
                db.execute("DELETE FROM snapshot_patches WHERE profile=? AND sink=?",
                           (profile, sink))
                del blob
            crash_point("snapshot.saved")
            if status == "done":  # what the shop files of this file wrote, remembered
                db.execute("INSERT INTO catalog(profile, sink, key, product, hash, record, "
                           "file_id, pos, updated) SELECT profile, sink, key, product, hash, "
                           "record, file_id, pos, ? FROM catalog_staged WHERE file_id=? AND true "
                           "ON CONFLICT(profile, sink, key) DO UPDATE SET product=excluded.product,"
                           " hash=excluded.hash, record=excluded.record, file_id=excluded.file_id,"
                           " updated=excluded.updated", (time.time(), file_id))
            db.execute("DELETE FROM catalog_staged WHERE file_id=?", (file_id,))
            if queued is not None:  # the ack says "queued": a follow-up will say what became
                db.execute("INSERT INTO followups(file_id, profile, ordinals, weights) VALUES "
                           "(?,?,?,?) ON CONFLICT(file_id) DO UPDATE SET profile=excluded.profile,"
                           " ordinals=excluded.ordinals, weights=excluded.weights, written=NULL,"
                           " path=NULL", (file_id, profile, *queued))
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
            return int(db.execute(
                "INSERT INTO files(profile, digest, name, size, status, claimed, finished, "
                "run_id, reason, moved_to) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (profile, digest, name, size, status, now, now, run_id, reason,
                 str(moved_to) if moved_to else None)).fetchone()[0])

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
            run = dict(zip(keys, r, strict=False)) | {"tally": json.loads(r[6])}
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
        return [dict(zip(keys, r, strict=True)) | {"tally": json.loads(r[6])} for r in rows]


class SqliteLedger(Ledger):
    """The default ledger: one SQLite file in WAL mode, no server."""

    def __init__(self, path: Path):
        super().__init__(SqliteBackend(Path(path)))
