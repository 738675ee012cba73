"""Time-based jobs for ``filebridge watch``: ``every: 5m`` or ``cron: "30 1 * * *"``.

A :class:`Scheduler` keeps, per (profile, job), what it has done in the ledger
(table ``schedules``), so a restart neither repeats nor forgets:

- Each job has *occurrences*: for ``cron:`` the times the expression matches in
  its ``timezone`` (default: this machine's local zone); for ``every:`` a grid
  starting when the scheduler first saw the job (so the first run is at once).
- An occurrence is due once ``now`` reaches it. The row remembers ``through``:
  every occurrence up to that time is taken care of. Starting a run moves
  ``through`` to now *before* the job is called, in its own transaction, so an
  occurrence is started at most once, even across a crash (a run a crash cut
  short is marked ``interrupted`` at the next start, not redone).
- Missed occurrences (the watcher was down) collapse into ONE catch-up run, for
  the latest of them. A job first seen after its time does not catch up on
  occurrences from before it was first seen.
- The same job never runs twice at once: an occurrence that comes due while the
  previous run is still going (in another thread) is skipped, logged and
  counted; it is not run later.
- A job that raises is logged with its traceback and recorded (``failed``,
  the error text); the next occurrence runs as usual. A ``LedgerError`` is not
  a job failure: it stops the caller, as everywhere in filebridge.

Daylight saving time follows Debian's cron (the cron library, cronsim, mirrors
it): a ``cron:`` time inside the hour skipped in spring (02:30 in Europe/Rome on
the last Sunday of March) runs ONCE, at the jump (03:00 summer time); a time in
the hour repeated in autumn runs ONCE, at its first pass. Expressions that fire
at least hourly (``*/30 * * * *``) simply follow the real clock: nothing in the
skipped hour, both passes of the repeated one.

Overlap is guarded within one process; across processes sharing the ledger (two
watchers), the watcher runs jobs only while it holds the profile's lease
(filebridge/ledger/leases.py), and starting a run is itself conditional on the
occurrence not being taken yet, so another process's run is never repeated.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import Field, field_validator, model_validator

from filebridge.errors import Bug, LedgerError
from filebridge.options import Duration, Model

log = logging.getLogger("filebridge")

MAX_WAKE = 60.0  # next_wake never says more: a wall clock that jumps costs a minute at most
LATE = 60.0      # a run starting this much after its time is logged as a catch-up
CRON_FIELDS = "minute hour day-of-month month day-of-week"



def local_zone() -> tzinfo:
    """This machine's zone, with its DST rules: ``TZ`` if set, else /etc/localtime."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            return ZoneInfo(target.split("/zoneinfo/", 1)[1])
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ZoneInfoNotFoundError, ValueError):
        zone = datetime.now().astimezone().tzinfo  # a fixed offset: no DST, but local
        return zone if zone is not None else ZoneInfo("UTC")


class Schedule(Model):
    """When a job runs: ``every:`` an interval, or ``cron:`` a 5-field expression."""

    every: Duration | None = Field(None, description="run at this interval, e.g. 5m, 1h; "
                                   "first when the job is first seen, then on that grid")
    cron: str | None = Field(None, description="run when this 5-field cron expression "
                             f"({CRON_FIELDS}) matches, e.g. \"30 1 * * *\" for 01:30 daily")
    timezone: str | None = Field(None, description="the zone cron: is read in, an IANA "
                                 "name such as Europe/Rome (default: the machine's local time)")

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, v: float | None) -> float | None:
        if v is not None and v < 1:
            raise ValueError(f"every: {v:g}s is too often; the shortest interval is 1s")
        return v

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        expr = " ".join(v.split())
        if len(expr.split()) != 5:
            raise ValueError(f"cron expression {v!r} has {len(expr.split())} field(s); "
                             f"write 5: {CRON_FIELDS}, e.g. \"30 1 * * *\"")
        try:
            next(CronSim(expr, datetime(2000, 1, 1)))
        except CronSimError as e:
            raise ValueError(f"bad cron expression {v!r}: {str(e).lower()} field "
                             f"(fields: {CRON_FIELDS})") from None
        except StopIteration:
            raise ValueError(f"cron expression {v!r} never matches") from None
        return expr

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {v!r} (an IANA name such as "
                                 "Europe/Rome, America/New_York or UTC)") from None
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.every is None) == (self.cron is None):
            raise ValueError("a schedule needs exactly one of every: (e.g. 5m) or cron: "
                             "(e.g. \"30 1 * * *\")")
        if self.timezone is not None and self.cron is None:
            raise ValueError("timezone: applies to cron: only (every: is an interval)")
        return self

    # occurrences, as epoch seconds --------------------------------------------
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone) if self.timezone else local_zone()

    def next_after(self, t: float, anchor: float) -> float | None:
        """The first occurrence strictly after ``t``, not before ``anchor``."""
        if self.every is not None:
            if t < anchor:
                return anchor
            k = math.floor((t - anchor) / self.every) + 1
            while anchor + (k - 1) * self.every > t:  # float rounding, either way
                k -= 1
            while anchor + k * self.every <= t:
                k += 1
            return anchor + k * self.every
        if self.cron is None:
            raise Bug("expected self.cron is not None")
        for dt in CronSim(self.cron, datetime.fromtimestamp(max(t, anchor - 1), self.zone())):
            ts = dt.timestamp()
            if ts > t and ts >= anchor:
                return ts
        return None  # cronsim stops after 50 years without a match

    def latest(self, now: float, anchor: float) -> float | None:
        """The last occurrence at or before ``now``, not before ``anchor``."""
        if now < anchor:
            return None
        if self.every is not None:
            k = math.floor((now - anchor) / self.every)
            while k > 0 and anchor + k * self.every > now:
                k -= 1
            while anchor + (k + 1) * self.every <= now:
                k += 1
            return anchor + k * self.every
        if self.cron is None:
            raise Bug("expected self.cron is not None")
        for dt in CronSim(self.cron, datetime.fromtimestamp(now + 1, self.zone()), reverse=True):
            ts = dt.timestamp()
            if ts <= now:
                return ts if ts >= anchor else None
        return None

    def describe(self) -> str:
        if self.every is not None:
            return f"every {self.every:g}s"
        zone = self.timezone or "local time"
        return f"cron {self.cron!r} ({zone})"


@dataclass
class ScheduledJob:
    """A named job and when it runs. ``run`` gets the occurrence it runs for, an aware
    datetime in the schedule's zone (for a catch-up: the latest one missed)."""

    name: str
    schedule: Schedule
    run: Callable[[datetime], Any]


@dataclass
class Occurrence:
    """What ``run_due`` did about one due job."""

    job: str
    due: datetime
    status: str  # done | failed | skipped | started (in a thread of its own)
    error: str | None = None


# Runs in progress in this process, by (ledger file, profile, job): two Scheduler
# objects over the same ledger still never run one job twice at once.
_running: set[tuple[str, str, str]] = set()
_running_lock = threading.Lock()
# One lock per ledger object: its single connection cannot hold two transactions,
# and a run finishing in a job thread writes through it too.
_ledger_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()


def _lock_for(ledger: Any) -> threading.RLock:
    with _running_lock:
        return _ledger_locks.setdefault(ledger, threading.RLock())


class Scheduler:
    """Runs a profile's scheduled jobs when due; state in the profile's ledger.

    ``clock`` gives epoch seconds (``time.time`` by default; tests pass their own).
    With ``background``, ``run_due`` starts each job in a thread of its own and
    returns at once; otherwise jobs run in the caller's thread, one after another.
    """

    def __init__(self, ledger: Any, profile: str, jobs: Iterable[ScheduledJob], *,
                 clock: Callable[[], float] = time.time, background: bool = False):
        from filebridge.ledger.schedules import Schedules  # lazy: a fast CLI start

        self.ledger, self.profile, self.clock = ledger, profile, clock
        self.jobs = list(jobs)
        names = [j.name for j in self.jobs]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"{profile}: job name {dupes[0]!r} is used twice")
        self.background = background
        self._lock = _lock_for(ledger)
        self._threads: list[threading.Thread] = []
        self._ledger_error: LedgerError | None = None
        self.store = Schedules(ledger, profile)
        here = self._key("")[:2]
        with _running_lock:
            running = {k[2] for k in _running if k[:2] == here}
        with self._lock:
            for name in self.store.interrupt(running):
                log.warning("%s: %s: its last run did not finish (the watcher stopped during "
                            "it); not repeated", profile, name)

    # questions ---------------------------------------------------------------
    def due(self, now: float | None = None) -> list[ScheduledJob]:
        """The jobs with an occurrence at or before ``now`` not yet taken care of
        (including one still running: ``run_due`` skips it)."""
        now = self._now(now)
        return [job for job in self.jobs if self._pending(job, now) is not None]

    def next_due(self, now: float | None = None) -> float | None:
        """Epoch time of the earliest occurrence not yet taken care of (it may be
        at or before ``now``); None without jobs or occurrences."""
        now = self._now(now)
        times = []
        for job in self.jobs:
            anchor, through = self._row(job, now)
            t = job.schedule.next_after(through if through is not None else anchor - 1, anchor)
            if t is not None:
                times.append(t)
        return min(times, default=None)

    def next_wake(self, now: float | None = None) -> float:
        """Seconds the caller may sleep before calling ``run_due`` again (0: now)."""
        now = self._now(now)
        t = self.next_due(now)
        return MAX_WAKE if t is None else min(max(t - now, 0.0), MAX_WAKE)

    def status(self) -> list[dict[str, Any]]:
        """Each job's row in the ledger (for reports and tests)."""
        with self._lock:
            return self.store.rows()

    # running -------------------------------------------------------------------
    def run_due(self, now: float | None = None) -> list[Occurrence]:
        """Start every due job once for its latest due occurrence."""
        self._raise_thread_error()
        now = self._now(now)
        done = []
        for job in self.jobs:
            due = self._pending(job, now)
            if due is not None:
                done.append(self._start(job, due, now))
        return done

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs started in threads (then raise a ledger error they met)."""
        for t in list(self._threads):
            t.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._raise_thread_error()

    def _start(self, job: ScheduledJob, due: float, now: float) -> Occurrence:
        when = datetime.fromtimestamp(due, job.schedule.zone())
        key = self._key(job.name)
        with _running_lock:
            busy = key in _running
            _running.add(key)
        if busy:
            with self._lock:
                self.store.skipped(job.name, now, due)
            log.warning("%s: %s: the run due at %s is skipped: the previous one is still "
                        "going", self.profile, job.name, when.isoformat(timespec="seconds"))
            return Occurrence(job.name, when, "skipped")
        try:
            with self._lock:  # only if no other process started this occurrence since
                taken = self.store.started(job.name, now, due)
        except BaseException:
            with _running_lock:
                _running.discard(key)
            raise
        if not taken:
            with _running_lock:
                _running.discard(key)
            log.info("%s: %s: the run due at %s was started by another process", self.profile,
                     job.name, when.isoformat(timespec="seconds"))
            return Occurrence(job.name, when, "skipped")
        late = now - due >= LATE
        log.info("%s: %s: %s (%s)", self.profile, job.name,
                 f"catching up on the run due at {when.isoformat(timespec='seconds')}" if late
                 else "running", job.schedule.describe())
        if self.background:
            t = threading.Thread(target=self._execute, args=(job, when, key), daemon=True,
                                 name=f"schedule-{self.profile}-{job.name}")
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()
            return Occurrence(job.name, when, "started")
        return self._execute(job, when, key)

    def _execute(self, job: ScheduledJob, when: datetime,
                 key: tuple[str, str, str]) -> Occurrence:
        status, error = "done", None
        try:
            try:
                job.run(when)
            except LedgerError:
                raise
            except Exception as e:
                status, error = "failed", f"{type(e).__name__}: {e}"
                log.exception("%s: %s: the run due at %s failed", self.profile, job.name,
                              when.isoformat(timespec="seconds"))
            with self._lock:
                self.store.finished(job.name, self.clock(), status, error)
        except LedgerError as e:
            if not self.background:
                raise
            self._ledger_error = e  # raised by the next run_due or join
        finally:
            with _running_lock:
                _running.discard(key)
        return Occurrence(job.name, when, status, error)

    # the ledger ---------------------------------------------------------------
    def _key(self, name: str) -> tuple[str, str, str]:
        return (str(getattr(self.ledger, "where", id(self.ledger))), self.profile, name)

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else float(now)

    def _raise_thread_error(self) -> None:
        if self._ledger_error is not None:
            e, self._ledger_error = self._ledger_error, None
            raise e

    def _row(self, job: ScheduledJob, now: float) -> tuple[float, float | None]:
        """(anchor, through) of a job; a job seen for the first time is anchored now."""
        with self._lock:
            return self.store.anchor(job.name, now)

    def _pending(self, job: ScheduledJob, now: float) -> float | None:
        """The latest occurrence due and not yet taken care of, or None."""
        anchor, through = self._row(job, now)
        first = job.schedule.next_after(through if through is not None else anchor - 1, anchor)
        if first is None or first > now:
            return None
        return job.schedule.latest(now, anchor)
