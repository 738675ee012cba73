"""What the web console (filebridge/console/) reads from the ledger, and the one thing
it writes: a *sync request* (table ``sync_requests``), which the watcher takes and
carries out (filebridge/syncnow.py); the web request itself never does the work.

Reads take the ledger's lock: the console shares a job's connection with the
webhook handlers of ``filebridge serve``, whose transactions must not interleave.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from filebridge.ledger.sqlite import Ledger

FILE_COLUMNS = ("id", "profile", "name", "status", "claimed", "finished", "tally", "reason",
                "moved_to", "run_id", "size")
SYNC_COLUMNS = ("id", "profile", "asked", "asked_by", "taken", "done", "outcome")


@contextmanager
def reading(ledger: Ledger) -> Iterator[None]:
    with ledger._lock:
        yield


def _file(row: Any) -> dict[str, Any]:
    return dict(zip(FILE_COLUMNS, row, strict=True)) | {"tally": json.loads(row[6])}


def file(ledger: Ledger, file_id: int) -> dict[str, Any] | None:
    """One file's row, or None."""
    with reading(ledger):
        row = ledger.db.execute(f"SELECT {', '.join(FILE_COLUMNS)} FROM files WHERE id=?",
                                (file_id,)).fetchone()
    return _file(row) if row else None


def files(ledger: Ledger, profile: str, limit: int = 50, run_id: int | None = None
          ) -> list[dict[str, Any]]:
    """A profile's files, newest first (those of one run)."""
    q = f"SELECT {', '.join(FILE_COLUMNS)} FROM files WHERE profile=?"
    args: tuple[Any, ...] = (profile,)
    if run_id is not None:
        q += " AND run_id=?"
        args += (run_id,)
    with reading(ledger):
        rows = ledger.db.execute(q + " ORDER BY id DESC LIMIT ?", args + (limit,)).fetchall()
    return [_file(r) for r in rows]


def runs(ledger: Ledger, profile: str, limit: int = 20) -> list[dict[str, Any]]:
    with reading(ledger):
        return ledger.recent_runs(limit, profile)


def run(ledger: Ledger, profile: str, run_id: int) -> dict[str, Any] | None:
    with reading(ledger):
        row = ledger.db.execute("SELECT id, profile, started, finished, status, files, tally "
                                "FROM runs WHERE id=? AND profile=?",
                                (run_id, profile)).fetchone()
    if row is None:
        return None
    keys = ("id", "profile", "started", "finished", "status", "files", "tally")
    return dict(zip(keys, row, strict=True)) | {"tally": json.loads(row[6])}


def last_file(ledger: Ledger, profile: str) -> dict[str, Any] | None:
    found = files(ledger, profile, 1)
    return found[0] if found else None


def last_error(ledger: Ledger, profile: str) -> dict[str, Any] | None:
    """The newest file that was rejected or failed, or a scheduled job that failed:
    {'when', 'what', 'error'}."""
    with reading(ledger):
        f = ledger.db.execute("SELECT name, finished, claimed, reason FROM files WHERE "
                              "profile=? AND status IN ('rejected', 'rejecting', 'failed') "
                              "ORDER BY id DESC LIMIT 1", (profile,)).fetchone()
        s = ledger.db.execute("SELECT job, finished, error FROM schedules WHERE profile=? "
                              "AND status='failed' ORDER BY finished DESC LIMIT 1",
                              (profile,)).fetchone()
    found = []
    if f is not None:
        found.append({"when": f[1] or f[2], "what": f[0], "error": f[3] or ""})
    if s is not None:
        found.append({"when": s[1] or 0, "what": f"scheduled job {s[0]}", "error": s[2] or ""})
    return max(found, key=lambda e: e["when"]) if found else None


def outbox(ledger: Ledger, state: str) -> dict[str, dict[str, int]]:
    """{sink: {status: changes}} of the outbox a profile's shops use (``state``: the
    profile's name, or ``inventory:<name>`` for shared stock)."""
    with reading(ledger):
        rows = ledger.db.execute("SELECT sink, status, count(*) FROM outbox WHERE profile=? "
                                 "GROUP BY sink, status", (state,)).fetchall()
    out: dict[str, dict[str, int]] = {}
    for sink, status, n in rows:
        out.setdefault(sink, {})[status] = n
    return out


def shop_health(ledger: Ledger, state: str) -> dict[str, dict[str, Any]]:
    """Per shop sink: when it last took a change ('last_sent'), the oldest change still
    waiting for it ('waiting_since') and the last error a change met ('error',
    'error_at'), from the outbox."""
    with reading(ledger):
        sent = dict(ledger.db.execute("SELECT sink, max(updated) FROM outbox WHERE profile=? "
                                      "AND status='sent' GROUP BY sink", (state,)).fetchall())
        waiting = dict(ledger.db.execute("SELECT sink, min(created) FROM outbox WHERE "
                                         "profile=? AND status='queued' GROUP BY sink",
                                         (state,)).fetchall())
        errors = ledger.db.execute("SELECT sink, error, updated FROM outbox WHERE id IN "
                                   "(SELECT max(id) FROM outbox WHERE profile=? AND error IS "
                                   "NOT NULL GROUP BY sink)", (state,)).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for sink in {*sent, *waiting, *(e[0] for e in errors)}:
        out[sink] = {"last_sent": sent.get(sink), "waiting_since": waiting.get(sink),
                     "error": None, "error_at": None}
    for sink, error, at in errors:
        out[sink] |= {"error": error, "error_at": at}
    return out


def held(ledger: Ledger, state: str) -> list[dict[str, Any]]:
    """Runs the breaker holds: [{'run', 'sink', 'changes'}], oldest first."""
    with reading(ledger):
        rows = ledger.db.execute("SELECT run_id, sink, count(*) FROM outbox WHERE profile=? "
                                 "AND status='held' GROUP BY run_id, sink ORDER BY run_id",
                                 (state,)).fetchall()
    return [{"run": r, "sink": s, "changes": n} for r, s, n in rows]


_KIND = ("CASE WHEN o.op='upsert' AND s.key IS NULL THEN 'create' WHEN o.op='upsert' THEN "
         "'update' ELSE o.op END")
# What a removal leaves in the shop (filebridge/sync/changes.py REMOVAL): shown as its "after".
_AFTER = {"zero": {"stock": 0}, "unpublish": {"status": "unpublished"},
          "delete": {"deleted": True}}


def held_changes(ledger: Ledger, state: str, run_id: int, limit: int = 200
                 ) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """A held run's plan: ({sink: {kind: changes}}, the first ``limit`` changes, each
    with what the shop holds now (the record it last acknowledged) and after). Kinds:
    create, update (an upsert of a key the shop has), zero, unpublish, delete."""
    join = ("FROM outbox o LEFT JOIN shop_state s ON s.profile=o.profile AND s.sink=o.sink "
            "AND s.key=o.key WHERE o.profile=? AND o.run_id=? AND o.status='held'")
    with reading(ledger):
        counts = ledger.db.execute(f"SELECT o.sink, {_KIND}, count(*) {join} GROUP BY o.sink, "
                                   f"{_KIND}", (state, run_id)).fetchall()
        rows = ledger.db.execute(
            f"SELECT o.sink, o.key, {_KIND}, o.record, s.record, o.line {join} ORDER BY "
            "o.sink, o.op, o.key LIMIT ?", (state, run_id, limit)).fetchall()
    by_sink: dict[str, dict[str, int]] = {}
    for sink, kind, n in counts:
        by_sink.setdefault(sink, {})[kind] = n
    changes = []
    for sink, key, kind, new, old, line in rows:
        now = json.loads(old) if old else None
        after = _AFTER.get(kind) or (json.loads(new) if new else {})
        changes.append({"sink": sink, "key": key, "op": kind, "new": after, "old": now,
                        "line": line})
    return by_sink, changes


def schedules(ledger: Ledger, profile: str) -> dict[str, dict[str, Any]]:
    """{job: its row} of the profile's scheduled jobs (filebridge/ledger/schedules.py)."""
    from filebridge.ledger.schedules import Schedules

    with reading(ledger):
        return {r["job"]: r for r in Schedules(ledger, profile).rows()}


# sync requests ---------------------------------------------------------------
def ask_sync(ledger: Ledger, profile: str, by: str) -> int:
    """Record that ``by`` asked for a sync of ``profile`` now; its id. One still open
    (not yet taken) is reused: asking twice is one sync."""
    with ledger.tx() as db:
        row = db.execute("SELECT id FROM sync_requests WHERE profile=? AND taken IS NULL "
                         "ORDER BY id LIMIT 1", (profile,)).fetchone()
        if row is not None:
            return int(row[0])
        return int(db.execute("INSERT INTO sync_requests(profile, asked, asked_by) VALUES "
                              "(?,?,?) RETURNING id", (profile, time.time(), by)).fetchone()[0])


def sync_asked(ledger: Ledger, profile: str) -> bool:
    """Whether a sync of ``profile`` waits to be taken (a cheap read, for the watcher's
    listener)."""
    with reading(ledger):
        return ledger.db.execute("SELECT 1 FROM sync_requests WHERE profile=? AND taken IS "
                                 "NULL LIMIT 1", (profile,)).fetchone() is not None


def take_syncs(ledger: Ledger, profile: str) -> list[int]:
    """The open requests of ``profile``, marked taken (by this watcher) in one
    transaction, so two watchers never both take one."""
    with ledger.tx() as db:
        ids = [int(r[0]) for r in db.execute("SELECT id FROM sync_requests WHERE profile=? "
                                             "AND taken IS NULL ORDER BY id", (profile,))]
        now = time.time()
        db.executemany("UPDATE sync_requests SET taken=? WHERE id=? AND taken IS NULL",
                       [(now, i) for i in ids])
    return ids


def files_since(ledger: Ledger, profile: str, since: float) -> list[tuple[str, str]]:
    """(name, status) of the files of ``profile`` claimed or recorded since ``since``."""
    with reading(ledger):
        return [(n, st) for n, st in ledger.db.execute(
            "SELECT name, status FROM files WHERE profile=? AND claimed>=? ORDER BY id",
            (profile, since))]


def taken_at(ledger: Ledger, request: int) -> float | None:
    with reading(ledger):
        row = ledger.db.execute("SELECT taken FROM sync_requests WHERE id=?",
                                (request,)).fetchone()
    return row[0] if row else None


def syncs_done(ledger: Ledger, ids: list[int], outcome: str) -> None:
    with ledger.tx() as db:
        db.executemany("UPDATE sync_requests SET done=?, outcome=? WHERE id=?",
                       [(time.time(), outcome, i) for i in ids])


def syncs(ledger: Ledger, profile: str, limit: int = 10) -> list[dict[str, Any]]:
    with reading(ledger):
        rows = ledger.db.execute(f"SELECT {', '.join(SYNC_COLUMNS)} FROM sync_requests WHERE "
                                 "profile=? ORDER BY id DESC LIMIT ?", (profile, limit)).fetchall()
    return [dict(zip(SYNC_COLUMNS, r, strict=True)) for r in rows]


# stock -----------------------------------------------------------------------
def stock_skus(ledger: Ledger, inventory: str, prefix: str = "", limit: int = 100,
               after: str = "") -> list[str]:
    """SKUs the ERP gave figures for in ``inventory``, in order, from after ``after``,
    those starting with ``prefix`` only."""
    with reading(ledger):
        rows = ledger.db.execute("SELECT DISTINCT sku FROM erp_stock WHERE inventory=? AND "
                                 "sku > ? AND substr(sku, 1, ?) = ? ORDER BY sku LIMIT ?",
                                 (inventory, after, len(prefix), prefix, limit)).fetchall()
    return [r[0] for r in rows]


def transfer_health(ledger: Ledger, profile: str) -> dict[str, Any]:
    """What the ledger keeps about a profile's transfers (filebridge/alerts.py writes the
    alerts rows, only for a profile with ``alerts:``): the last file claimed from its
    source, the last file done, and per problem key (``down:source``,
    ``down:transfer``, ``host_key:…``) when it was first seen failing and when an
    alert was last sent for it."""
    with reading(ledger):
        claimed, done = ledger.db.execute(
            "SELECT max(claimed), max(CASE WHEN status='done' THEN finished END) FROM files "
            "WHERE profile=?", (profile,)).fetchone()
        rows = ledger.db.execute(
            "SELECT key, since, sent FROM alerts WHERE profile=? AND (substr(key, 1, 5)='down:' "
            "OR substr(key, 1, 9)='host_key:')", (profile,)).fetchall()
    return {"last_claimed": claimed, "last_done": done,
            "troubles": {k: {"since": s, "sent": t} for k, s, t in rows}}
