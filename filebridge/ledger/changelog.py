"""The API outbox: every change for a shop API is written to the ledger before it
is sent, and what the shop acknowledged is kept per sink and key. All the SQL on
these tables is here (issue 11: the ledger as a boundary); the sender that uses it
is filebridge/sync/send.py (staged by filebridge/sync/changes.py).

(Not to be confused with ``outputs.Outbox``, which stages *files* for an atomic
publish.) Two tables, migration 1 of filebridge/ledger/schema.py:

``shop_state``  per (profile, sink, key): the hash and the record of what the shop
                last acknowledged, the ids it gave the record, and whether the
                missing-products policy zeroed or unpublished it. Delta compares
                against this, so a change the shop never confirmed is sent again.
``outbox``      one row per change: its record, an idempotency key (the same on every
                retry), the input file and line it came from, and a status:

                    staged ──(file accepted)──► queued ──► sent
                       │                          │  └───► rejected (the shop said no)
                       └──(breaker)──► held ──(approve)──┘
                    queued ──(a newer change to the key)──► superseded

A change is ``staged`` while its file is read and becomes ``queued`` (or ``held``)
in one transaction when the whole file is accepted, so a file rejected half-way
leaves nothing to send. ``attempts`` is raised *before* each send: after a crash,
a change with attempts > 0 may have reached the shop, and clients make it
idempotent. State moves to ``sent`` and ``shop_state`` in one transaction per
acknowledged batch, so a crash repeats at most the batch in flight, never loses it.

Portable SQL only (``?`` placeholders, ``INSERT ... ON CONFLICT``, ``UPDATE ... AS
t``): the same statements run on the PostgreSQL ledger (filebridge/ledger/backend.py
rewrites the placeholders). :func:`rekey` also moves shared stock's order rows, in the
same transaction as the shop's state.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from filebridge.ledger.sqlite import Ledger

# The outbox's rows as the clients see them (filebridge/sinks/api/base.py uses them).
Op = Literal["upsert", "zero", "unpublish", "delete"]


@dataclass
class Change:
    """One pending change to one record key, as the outbox hands it to a client."""

    id: int  # the outbox row
    key: str  # the record key (the SKU)
    op: Op
    record: dict[str, Any]  # canonical fields; for zero/unpublish/delete, the last one sent
    idem: str  # idempotency key: one per logical change, the same on every retry
    remote: dict[str, Any] = field(default_factory=dict)  # ids the shop gave this key
    previous: dict[str, Any] | None = None  # what the shop last acknowledged for this key
    attempts: int = 0  # > 0: it may already have reached the shop (crash or timeout)


@dataclass
class Result:
    """The shop's answer for one change."""

    id: int
    ok: bool
    message: str = ""  # the shop's own words when it refused the change
    remote: dict[str, Any] | None = None  # ids to remember for this key (None: keep)


IDEM_NS = uuid.UUID("6f1d3c52-8a4e-4b7a-9a63-2f0c1b9e7d10")


def idem_key(profile: str, sink: str, key: str, op: str, hash_: int, file_id: int | None) -> str:
    """One key per logical change (this record state, from this file): retries and
    redone runs reuse it, a later change to the same record gets a new one."""
    return str(uuid.uuid5(IDEM_NS, f"{profile}\x1f{sink}\x1f{key}\x1f{op}\x1f{hash_}\x1f"
                                   f"{file_id}"))


@dataclass
class Pending:
    """A change read back from the outbox for sending."""

    change: Change
    hash: int
    product: str | None


class ChangeLog:
    """The outbox and shop state of one profile's API sink, in the ledger."""

    def __init__(self, ledger: Ledger, profile: str, sink: str):
        self.ledger, self.profile, self.sink = ledger, profile, sink
        self.db = ledger.db
        self.lock = threading.Lock()  # clients read siblings from worker threads

    # reading state ------------------------------------------------------
    def known(self) -> pa.Table:
        """(key, hash) the next delta compares with: what the shop acknowledged,
        overridden by changes already queued for it (they will be sent anyway)."""
        rows = self.db.execute("SELECT key, hash FROM shop_state WHERE profile=? AND sink=?",
                               (self.profile, self.sink)).fetchall()
        queued = self.db.execute(
            "SELECT key, hash FROM outbox WHERE id IN (SELECT max(id) FROM outbox WHERE "
            "profile=? AND sink=? AND status='queued' GROUP BY key)",
            (self.profile, self.sink)).fetchall()
        if queued:
            merged = dict(rows)
            merged.update(queued)
            rows = list(merged.items())
        keys = [r[0] for r in rows]
        hashes = [r[1] for r in rows]
        return pa.table({"key": pa.array(keys, pa.string()), "hash": pa.array(hashes, pa.int64())})

    def present(self) -> pa.Array:
        """The keys of everything the shop has from us that the missing-products policy
        has not acted on yet."""
        rows = self.db.execute("SELECT key FROM shop_state WHERE profile=? AND sink=? AND "
                               "gone IS NULL", (self.profile, self.sink)).fetchall()
        return pa.array([k for (k,) in rows], pa.string())

    def records(self, keys: list[str]) -> Iterator[tuple[str, str | None, str]]:
        """(key, product, record json) of what the shop acknowledged for ``keys``."""
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            yield from self.db.execute(
                f"SELECT key, product, record FROM shop_state WHERE profile=? AND sink=? "
                f"AND key IN ({','.join('?' * len(chunk))})",
                (self.profile, self.sink, *chunk))

    def catalog_size(self) -> int:
        return self.db.execute("SELECT count(*) FROM shop_state WHERE profile=? AND sink=? "
                               "AND gone IS NULL", (self.profile, self.sink)).fetchone()[0]

    def siblings(self, product: str) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT record, remote FROM shop_state WHERE profile=? AND sink=? AND product=? "
                "AND gone IS NULL", (self.profile, self.sink, product)).fetchall()
        return [json.loads(r) | {"_remote": json.loads(m)} for r, m in rows]

    def own(self, file_id: int) -> set[str]:
        """Keys this file already has in the outbox past staging (a redone file)."""
        return {k for (k,) in self.db.execute(
            "SELECT key FROM outbox WHERE file_id=? AND sink=? AND status!='staged'",
            (file_id, self.sink))}

    # writing changes ----------------------------------------------------
    def unstage(self, file_id: int) -> None:
        """Forget the staged changes of a file read before (a crash or a rejection)."""
        with self.ledger.tx() as db:
            db.execute("DELETE FROM outbox WHERE file_id=? AND sink=? AND status='staged'",
                       (file_id, self.sink))

    def stage(self, rows: Iterable[tuple[str, str, int, str | None, str, int | None,
                                         int | None]],
              file_id: int | None, run_id: int | None) -> None:
        """Stage (key, op, hash, product, record json, line, ordinal) changes of one
        file (the ordinal: the row's number among those the file sent to outputs)."""
        now = time.time()
        p, s = self.profile, self.sink
        values = [(p, s, k, op, h, prod, rec, idem_key(p, s, k, op, h, file_id), file_id,
                   run_id, line, ord_, now, now) for k, op, h, prod, rec, line, ord_ in rows]
        with self.ledger.tx() as db:
            # A key twice in one file: its last row wins. A redone file keeps what it
            # had already queued (and perhaps sent).
            db.executemany("INSERT INTO outbox(profile, sink, key, op, hash, product, record, "
                           "idem, file_id, run_id, line, ord, status, created, updated) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'staged',?,?) "
                           "ON CONFLICT(file_id, sink, key) DO UPDATE SET op=excluded.op, "
                           "hash=excluded.hash, product=excluded.product, record=excluded.record, "
                           "idem=excluded.idem, line=excluded.line, ord=excluded.ord "
                           "WHERE outbox.status='staged'", values)

    def enqueue(self, rows: Iterable[tuple[str, str, int, str | None, str]],
                run_id: int | None) -> None:
        """Queue (key, op, hash, product, record json) changes that come from no file
        (a reconciliation's corrections, availability after an order pull). Without a
        run each gets a key of its own: the same figure queued again later (5, 4, 5) is
        a new change, which a shop's idempotency must not take for the first."""
        now = time.time()
        p, s = self.profile, self.sink

        def idem(k: str, op: str, h: int) -> str:
            return idem_key(p, s, k, op, h, -run_id) if run_id else str(uuid.uuid4())
        with self.ledger.tx() as db:
            db.executemany("INSERT INTO outbox(profile, sink, key, op, hash, product, record, "
                           "idem, run_id, status, created, updated) "
                           "VALUES (?,?,?,?,?,?,?,?,?,'queued',?,?)",
                           [(p, s, k, op, h, prod, rec, idem(k, op, h), run_id, now, now)
                            for k, op, h, prod, rec in rows])

    def acknowledged(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The last record the shop acknowledged for each of ``keys`` that it has."""
        return {k: json.loads(r) for k, _, r in self.records(keys)}

    def commit(self, file_id: int, hold: bool) -> int:
        """The file is accepted: its staged changes become sendable (or held)."""
        with self.ledger.tx() as db:
            return db.execute("UPDATE outbox SET status=?, updated=? WHERE file_id=? AND sink=? "
                              "AND status='staged'", ("held" if hold else "queued",
                                                      time.time(), file_id, self.sink)).rowcount

    def approve(self, run_id: int) -> int:
        """Release a held run's changes. One that a later change to the same key has
        overtaken is superseded instead."""
        with self.ledger.tx() as db:
            db.execute("UPDATE outbox SET status='superseded', updated=? WHERE run_id=? AND "
                       "sink=? AND status='held' AND EXISTS (SELECT 1 FROM outbox o WHERE "
                       "o.profile=outbox.profile AND o.sink=outbox.sink AND o.key=outbox.key "
                       "AND o.id > outbox.id AND o.status IN ('queued','sent','rejected'))",
                       (time.time(), run_id, self.sink))
            return db.execute("UPDATE outbox SET status='queued', updated=? WHERE run_id=? AND "
                              "sink=? AND status='held'",
                              (time.time(), run_id, self.sink)).rowcount

    # sending ------------------------------------------------------------
    def pending(self, limit: int) -> list[Pending]:
        """The oldest queued changes, one per key (an older change to a key that has a
        newer one queued is superseded: only the latest state matters). Their attempt
        count is raised before they are handed out."""
        with self.ledger.tx() as db:
            db.execute("UPDATE outbox SET status='superseded', updated=? WHERE profile=? AND "
                       "sink=? AND status='queued' AND id NOT IN (SELECT max(id) FROM outbox "
                       "WHERE profile=? AND sink=? AND status='queued' GROUP BY key)",
                       (time.time(), self.profile, self.sink, self.profile, self.sink))
            rows = db.execute(
                "SELECT o.id, o.key, o.op, o.hash, o.product, o.record, o.idem, o.attempts, "
                "s.remote, s.record FROM outbox o LEFT JOIN shop_state s ON s.profile=o.profile "
                "AND s.sink=o.sink AND s.key=o.key WHERE o.profile=? AND o.sink=? AND "
                "o.status='queued' ORDER BY o.id LIMIT ?",
                (self.profile, self.sink, limit)).fetchall()
            db.executemany("UPDATE outbox SET attempts=attempts+1, updated=? WHERE id=?",
                           [(time.time(), r[0]) for r in rows])
        out = []
        for oid, key, op, h, product, record, idem, attempts, remote, prev in rows:
            change = Change(oid, key, op, json.loads(record), idem,
                            json.loads(remote) if remote else {},
                            json.loads(prev) if prev else None, attempts)
            out.append(Pending(change, h, product))
        return out

    def queued(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE profile=? AND sink=? AND "
                               "status='queued'", (self.profile, self.sink)).fetchone()[0]

    def settle(self, sent: list[Pending], results: list[Result]) -> None:
        """Record the shop's answers for one batch, in one transaction."""
        by_id = {p.change.id: p for p in sent}
        now = time.time()
        with self.ledger.tx() as db:
            for r in results:
                p = by_id.get(r.id)
                if p is None:
                    continue
                c = p.change
                if not r.ok:
                    db.execute("UPDATE outbox SET status='rejected', error=?, updated=? "
                               "WHERE id=?", (r.message, now, c.id))
                    continue
                db.execute("UPDATE outbox SET status='sent', error=NULL, updated=? WHERE id=?",
                           (now, c.id))
                if c.op == "delete":
                    db.execute("DELETE FROM shop_state WHERE profile=? AND sink=? AND key=?",
                               (self.profile, self.sink, c.key))
                    continue
                remote = dict(c.remote)
                if r.remote:
                    remote.update(r.remote)
                gone = c.op if c.op in ("zero", "unpublish") else None
                db.execute(
                    "INSERT INTO shop_state(profile, sink, key, hash, product, record, remote, "
                    "gone, updated) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(profile, sink, key) "
                    "DO UPDATE SET hash=excluded.hash, product=excluded.product, "
                    "record=excluded.record, remote=excluded.remote, gone=excluded.gone, "
                    "updated=excluded.updated",
                    (self.profile, self.sink, c.key, p.hash if gone is None else 0, p.product,
                     json.dumps(c.record, ensure_ascii=False), json.dumps(remote), gone, now))

    def note_error(self, ids: list[int], message: str) -> None:
        """A batch that could not be sent this time: it stays queued, with the reason."""
        with self.lock, self.ledger.tx() as db:
            db.executemany("UPDATE outbox SET error=?, updated=? WHERE id=? AND status='queued'",
                           [(message, time.time(), i) for i in ids])

    # reports -------------------------------------------------------------
    def outcomes(self, file_id: int
                 ) -> Iterator[tuple[int | None, int, str, str, str | None, str]]:
        """(ordinal, line, key, status, error, record json) of one file's changes."""
        yield from self.db.execute(
            "SELECT ord, line, key, status, error, record FROM outbox WHERE file_id=? AND "
            "sink=? ORDER BY line", (file_id, self.sink))

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, count(*) FROM outbox WHERE profile=? AND "
                                    "sink=? GROUP BY status", (self.profile, self.sink)))


def held_runs(ledger: Ledger, profile: str | None = None) -> list[tuple[int, str, str, int]]:
    """(run, profile, sink, changes) of runs waiting for approval."""
    q = ("SELECT run_id, profile, sink, count(*) FROM outbox WHERE status='held'"
         + (" AND profile=?" if profile else "") + " GROUP BY run_id, profile, sink")
    return ledger.db.execute(q, (profile,) if profile else ()).fetchall()


def outbox_counts(ledger: Ledger, profile: str | None = None
                  ) -> dict[tuple[str, str], dict[str, int]]:
    """{(profile, sink): {status: changes}} over the whole outbox."""
    q = ("SELECT profile, sink, status, count(*) FROM outbox"
         + (" WHERE profile=?" if profile else "") + " GROUP BY profile, sink, status")
    out: dict[tuple[str, str], dict[str, int]] = {}
    for prof, sink, status, n in ledger.db.execute(q, (profile,) if profile else ()):
        out.setdefault((prof, sink), {})[status] = n
    return out


def stranded(ledger: Ledger, state: str, known: set[str]) -> dict[str, int]:
    """{sink id: changes} queued or held under ``state`` for sinks no output of the
    profile is named by (its url or id changed, or the output was removed)."""
    rows = ledger.db.execute("SELECT sink, count(*) FROM outbox WHERE profile=? AND status IN "
                             "('queued', 'held') GROUP BY sink", (state,)).fetchall()
    return {sink: n for sink, n in rows if sink not in known}


def rekey(ledger: Ledger, state: str, old: str, new: str, *, only_if_new: bool = False
          ) -> bool:
    """Move what the ledger keeps for shop ``old`` to ``new`` in one transaction: queued
    changes, acknowledged state, and for shared stock the order cursor, order lines and
    movements pulled from that shop (``web:<id>``; left behind, the orders would be
    pulled and counted again). With ``only_if_new``, only while ``new`` has nothing yet.
    True if something moved."""
    inventory = state[len("inventory:"):] if state.startswith("inventory:") else None
    web_old, web_new = f"web:{old}", f"web:{new}"
    with ledger.tx() as db:
        if only_if_new and (db.execute("SELECT 1 FROM outbox WHERE profile=? AND sink=? "
                                       "LIMIT 1", (state, new)).fetchone()
                            or db.execute("SELECT 1 FROM shop_state WHERE profile=? AND "
                                          "sink=? LIMIT 1", (state, new)).fetchone()):
            return False
        moved = db.execute("UPDATE outbox SET sink=? WHERE profile=? AND sink=?",
                           (new, state, old)).rowcount
        # old's state wins over what new has of the same key (as UPDATE OR REPLACE did)
        db.execute("DELETE FROM shop_state WHERE profile=? AND sink=? AND key IN (SELECT key "
                   "FROM shop_state WHERE profile=? AND sink=?)", (state, new, state, old))
        moved += db.execute("UPDATE shop_state SET sink=? WHERE profile=? AND sink=?",
                            (new, state, old)).rowcount
        if inventory is not None:
            # a row new already has stays, old's twin is left behind (as UPDATE OR IGNORE)
            for table, same in (("cursors", ""),
                                ("order_lines", " AND o.order_id=t.order_id AND "
                                 "o.line_id=t.line_id"),
                                ("movements", " AND o.order_id=t.order_id AND "
                                 "o.line_id=t.line_id AND o.version=t.version")):
                moved += db.execute(f"UPDATE {table} AS t SET source=? WHERE inventory=? AND "
                                    f"source=? AND NOT EXISTS (SELECT 1 FROM {table} AS o "
                                    f"WHERE o.inventory=t.inventory AND o.source=?{same})",
                                    (web_new, inventory, web_old, web_new)).rowcount
    return moved > 0


def drop(ledger: Ledger, state: str, sink: str) -> int:
    """Give up the changes still queued or held for ``sink`` (marked superseded, kept
    for the record); returns how many."""
    with ledger.tx() as db:
        return db.execute("UPDATE outbox SET status='superseded', error='dropped by hand', "
                          "updated=? WHERE profile=? AND sink=? AND status IN ('queued', "
                          "'held')", (time.time(), state, sink)).rowcount
