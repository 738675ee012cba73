"""Leases: only one process works a profile at a time, on one machine or many.

Every process that shares a ledger (several ``watch`` on one machine, a cron
``run`` beside a ``watch``, watchers on several hosts sharing one PostgreSQL)
takes the profile's lease before it lists the inbox, claims a file, sends queued
changes or runs a scheduled job, and gives it back when that pass is done. Files of
one profile are so applied in order and by one process: the file claims, the
``mode: changes`` snapshots and the catalog memory are read and written by the
holder only, so no update is lost; watchers share the work across profiles.

A lease names its owner (host, pid, a token) and an expiry a heartbeat thread
pushes forward while it is held. It is taken over when its owner is gone: at once
when the owner ran on this host and its pid is dead (SIGKILL, power cut), else once
it has expired (another host, or a hung process). The takeover is one conditional
upsert, atomic on both backends. A holder that finds its lease taken (it stalled
past the expiry) stops before it commits: ``fence`` fails the finishing
transaction, and the new holder redoes the file under the same claim time and so
the same output names.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from filebridge.errors import FilebridgeError
from filebridge.processes import pid_alive

log = logging.getLogger("filebridge")

HOST = socket.gethostname()
TTL = 60.0        # a lease not renewed for this long is taken over (other hosts)
HEARTBEAT = 10.0  # how often a held lease is renewed
POLL = 0.5        # how often a waiting process asks again

# Made by the ledger's migration 4 (filebridge/ledger/schema.py), in each engine's types.
TABLE = """
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,      -- what is held: profile:<name>
    owner TEXT NOT NULL,        -- host:pid:token
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    taken REAL NOT NULL,
    expires REAL NOT NULL
)
"""


class LeaseLost(FilebridgeError):
    """Another process took over a lease this one still needed (this one stalled past
    the expiry): nothing more is committed; the new holder redoes the work."""


class Busy(FilebridgeError):
    """The profile is being worked by another live process."""

    def __init__(self, name: str, holder: str, since: float):
        self.holder, self.since = holder, since
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
        super().__init__(f"{name} is being worked by {holder} since {stamp}; its files are "
                         "left to it")


def alive(host: str, pid: int) -> bool | None:
    """Whether process ``pid`` of ``host`` runs; None when it cannot be told (another
    host: only the expiry can say)."""
    return pid_alive(pid) if host == HOST else None


class Lease:
    """The lease ``profile:<name>`` in ``ledger``, taken by :meth:`hold`."""

    def __init__(self, ledger: Any, profile: str, ttl: float = TTL,
                 heartbeat: float = HEARTBEAT):
        self.ledger, self.name = ledger, f"profile:{profile}"
        self.ttl, self.heartbeat = ttl, heartbeat
        self.owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._depth = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.lost = False
        self.took_over = False  # the last take was from a process that is gone

    # taking and giving back ---------------------------------------------------
    def try_take(self) -> bool:
        """Take the lease if it is free, ours, or its owner is gone."""
        now = time.time()
        with self.ledger.tx() as db:
            row = db.execute("SELECT owner, host, pid, expires FROM leases WHERE name=?",
                             (self.name,)).fetchone()
            stale = row is not None and row[0] != self.owner
            if stale and row[3] >= now and alive(row[1], row[2]) is not False:
                return False
            # One statement, conditional on what was just read: on PostgreSQL (no
            # BEGIN IMMEDIATE) two takers of a stale lease cannot both win.
            seen = row[0] if row is not None else None
            db.execute(
                "INSERT INTO leases(name, owner, host, pid, taken, expires) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, "
                "host=excluded.host, pid=excluded.pid, taken=excluded.taken, "
                "expires=excluded.expires WHERE leases.owner=?",
                (self.name, self.owner, HOST, os.getpid(), now, now + self.ttl, seen))
            got = db.execute("SELECT owner FROM leases WHERE name=?", (self.name,)).fetchone()
        if got is None or got[0] != self.owner:
            return False
        self.took_over = stale
        if stale:
            log.info("%s: taken over from %s (%s)", self.name, row[0],
                     "its lease expired" if row[3] < now else "its process is gone")
        return True

    def holder(self) -> tuple[str, float] | None:
        """(owner, taken) of the lease as it stands, if anyone holds it."""
        row = self.ledger.db.execute("SELECT owner, taken, expires FROM leases WHERE name=?",
                                     (self.name,)).fetchone()
        return (row[0], row[1]) if row is not None and row[2] >= time.time() else None

    @contextmanager
    def hold(self, wait: float | None = 0.0) -> Iterator[None]:
        """Hold the lease for the block (re-entrant). ``wait``: seconds to wait for a
        live holder to finish (None: as long as it takes); then :class:`Busy`."""
        with self._lock:
            self._depth += 1
            held = self._depth > 1
        try:
            if not held:
                self._acquire(wait)
            yield
        finally:
            with self._lock:
                self._depth -= 1
                last = self._depth == 0
            if last and not held:
                self._release()

    def _acquire(self, wait: float | None) -> None:
        deadline = None if wait is None else time.monotonic() + wait
        told = False
        while not self.try_take():
            h = self.holder()
            if deadline is not None and time.monotonic() >= deadline:
                raise Busy(self.name.removeprefix("profile:"), *(h or ("another process",
                                                                        time.time())))
            if not told and h is not None:
                log.info("%s: waiting for %s to finish", self.name, h[0])
                told = True
            time.sleep(POLL)
        self.lost = False
        self._stop.clear()
        self._beat = threading.Thread(target=self._renew, daemon=True,
                                      name=f"lease-{self.name}")
        self._beat.start()
        self.ledger.fences[self.name] = self.owner

    def _release(self) -> None:
        self.ledger.fences.pop(self.name, None)
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if not self.lost:
            with self.ledger.tx() as db:
                db.execute("DELETE FROM leases WHERE name=? AND owner=?",
                           (self.name, self.owner))

    def _renew(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                with self.ledger.tx() as db:
                    n = db.execute("UPDATE leases SET expires=? WHERE name=? AND owner=?",
                                   (time.time() + self.ttl, self.name, self.owner)).rowcount
            except FilebridgeError as e:  # the ledger is away: the work itself will say so
                log.warning("%s: could not renew the lease: %s", self.name, e)
                continue
            if n == 0:
                self.lost = True
                log.error("%s: another process took this lease over; stopping", self.name)
                return


def fence(db: Any, fences: dict[str, str], profile: str) -> None:
    """Inside a finishing transaction: fail it if this process no longer holds the
    profile's lease (it does not use leases at all: nothing to check)."""
    owner = fences.get(f"profile:{profile}")
    if owner is None:
        return
    row = db.execute("SELECT owner FROM leases WHERE name=?", (f"profile:{profile}",)).fetchone()
    if row is None or row[0] != owner:
        raise LeaseLost(f"profile {profile}: another process took over its lease; this "
                        "process commits nothing more for it")
