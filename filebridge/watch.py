"""The long-running loop behind ``filebridge watch``.

Filesystem events (watchdog; a polling observer for network mounts) only *wake*
the loop: the loop itself asks each source which files are complete and
processes those, oldest first, so a missed or repeated event costs nothing. A
timer rescans too, since a file's ``stable_for`` window ends without any event.

Several watchers (and ``run``) may share a ledger: each pass over a profile holds
the profile's lease (filebridge/ledger/leases.py), so a file is processed by one
process only, and watchers share the work across profiles.

Processing is synchronous, in the main thread. A file that fails unexpectedly is
logged with its traceback, left in place and retried later with backoff; other
files and profiles go on. A transfer that fails (server down, dropped, refused)
is logged without a traceback and backed off the same way; a source that cannot
even be listed backs off as a whole, so a dead server costs the other profiles
only its bounded timeouts, now and then. A ledger error stops everything.
SIGINT/SIGTERM stop the loop after the current file; a second signal exits at
once, which is safe: outputs are published atomically and the ledger commits
only after them.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from filebridge import alerts, syncnow
from filebridge.errors import (
    DiskFull,
    LedgerError,
    Refused,
    SinkError,
    TransferError,
    Waiting,
    disk_full,
)
from filebridge.job import Job
from filebridge.ledger.leases import Busy, LeaseLost
from filebridge.outcome import Outcome
from filebridge.pipeline import process
from filebridge.records import Tally
from filebridge.runner import (
    FILES_REJECTED,
    LEASE_WAIT,
    LEDGER_ERROR,
    OK,
    exit_code,
    progress_for,
    unsent,
)
from filebridge.schedule import Scheduler

log = logging.getLogger("filebridge")

DRAIN_RETRY = (5.0, 300.0)  # a shop that failed: try its queued changes again after
                            # 5 s, doubling while it keeps failing, up to 5 minutes
RESCAN = 1.0             # events mode: look anyway this often (a missed event costs 1 s)
DEBOUNCE = 0.1           # let a burst of events pass before scanning
BACKOFF = (10.0, 600.0)  # a file that failed unexpectedly: first and longest wait
WAIT_RECHECK = 1.0       # a file waiting for a table or a set member: look again after
QUIET = {"opened", "closed_no_write"}  # reading a file must not wake us


class _Wake(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, index: int):
        self.watcher, self.index = watcher, index

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in QUIET:
            self.watcher.poke(self.index)


@dataclass
class _Failed:
    stat: Hashable | None  # the file's fingerprint when it failed (None: a whole source)
    until: float
    delay: float


class _Run:
    """One ledger run per batch of files, opened only when a file is ready."""

    def __init__(self, job: Job):
        self.job, self.id = job, 0
        self.outcomes: list[Outcome] = []
        self.errors = 0

    def start(self) -> int:
        if not self.id:
            self.id = self.job.ledger.start_run(self.job.name)
        return self.id

    def end(self) -> None:
        if not self.id:
            return
        total = Tally()
        for o in self.outcomes:
            for k, v in o.tally.as_dict().items():
                setattr(total, k, getattr(total, k) + v)
        bad = self.errors or any(o.status in ("rejected", "refused", "disk_full", "failed")
                                 for o in self.outcomes)
        self.job.ledger.end_run(self.id, "failed" if bad else "done",
                                sum(not o.shop for o in self.outcomes),
                                total.as_dict())


class Watcher:
    def __init__(self, jobs: list[Job]):
        self.jobs = jobs
        self._wakes = [threading.Event() for _ in jobs]  # one per profile
        self._stop = False
        self._ledger_error: LedgerError | None = None
        self._failed: dict[tuple[int, Any], _Failed] = {}
        self._down: dict[int, _Failed] = {}  # sources that could not be listed
        # Shops: when to send queued changes again, and the current wait.
        self._drain_due: dict[int, tuple[float, float]] = {}
        self._observers: list[BaseObserver] = []
        self._watched: set[int] = set()
        self._warned: set[str] = set()
        self._swept: set[int] = set()

    def poke(self, index: int) -> None:
        """Something changed in job ``index``'s folder (called from observer threads)."""
        self._wakes[index].set()

    def stop(self) -> None:
        """Stop after the current file (thread-safe; not for signal handlers)."""
        self._stop = True
        for wake in self._wakes:
            wake.set()

    def serve(self, once: bool = False) -> int:
        """Watch until stopped (0), or with ``once`` process what is ready and return
        the exit code ``run`` would. A ledger error returns LEDGER_ERROR."""
        previous = self._trap_signals()
        try:
            return self._once() if once else self._loop()
        except LedgerError as e:
            log.error("ledger error, stopping: %s", e)
            return LEDGER_ERROR
        finally:
            for obs in self._observers:
                obs.stop()
            for obs in self._observers:
                obs.join(timeout=5)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # the loops ----------------------------------------------------------------
    def _loop(self) -> int:
        """Each profile in a thread of its own: a slow file or a hung server in one
        profile never holds up the others. Signals stay with the main thread."""
        if len(self.jobs) == 1:
            self._job_loop(0)
        else:
            threads = [threading.Thread(target=self._job_loop, args=(i,), daemon=True,
                                        name=f"watch-{job.name}")
                       for i, job in enumerate(self.jobs)]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                if self._stop:  # set by a signal handler: wake the sleeping loops
                    for wake in self._wakes:
                        wake.set()
                for t in threads:
                    t.join(timeout=0.2)
        if self._ledger_error is not None:
            raise self._ledger_error
        log.info("stopped")
        return OK

    def _job_loop(self, i: int) -> None:
        job = self.jobs[i]
        timetable: Scheduler | None = None
        made = False
        listener = syncnow.Listener(job.ledger.sibling(), job.name, self._wakes[i].set,
                                    lambda: self._stop)  # "sync now" from the console
        listener.start()
        try:
            while not self._stop:
                self._wakes[i].clear()
                if i not in self._watched:
                    self._observe(i)
                try:
                    # One pass holds the profile's lease; a pass of another process
                    # makes this one skip (looked at again next period).
                    with job.lease.hold(wait=0):
                        self._sweep(i)
                        if not made:  # under the lease: its 'running' rows are stale
                            timetable, made = self._timetable(i), True
                        asked = syncnow.take(job.ledger, job.name)
                        if asked:
                            self._forget_backoffs(i)
                        ran = syncnow.run_jobs(job) if asked else []
                        settling = self._scan(i)
                        syncnow.done(job.ledger, job.name, asked, settling, ran)
                        if timetable is not None:
                            timetable.run_due()
                except Busy:
                    settling = False
                except LeaseLost as e:
                    log.error("%s: %s", job.name, e)
                    settling = False
                except DiskFull as e:  # the ledger's own disk: wait, then look again
                    self._warn(f"{job.name}: the disk is full ({e}); waiting for room")
                    self._sleep(i, BACKOFF[0])
                    continue
                period = self._period(i)
                settle = self.jobs[i].source.settle_every
                due = time.monotonic() + (min(settle, period) if settling else period)
                if i in self._down:
                    due = max(due, self._down[i].until)
                if timetable is not None:
                    due = min(due, time.monotonic() + timetable.next_wake())
                self._sleep(i, due - time.monotonic())
        except LedgerError as e:  # the state store failed: everything stops
            self._ledger_error = e
            self.stop()
        finally:
            listener.close()

    def _sweep(self, i: int) -> None:
        """Leftovers of a crashed process, the first time this process holds the
        profile (a process that dies later is swept by whoever takes over its lease)."""
        job = self.jobs[i]
        if i in self._swept and not job.lease.took_over:
            return
        self._swept.add(i)
        if n := job.sweep():
            log.info("%s: removed %d leftover temporary output(s)", job.name, n)

    def _timetable(self, i: int) -> Scheduler | None:
        """The profile's time-based jobs (pull orders, feedback, reconcile), if any."""
        jobs = self.jobs[i].scheduled()
        if not jobs:
            return None
        for j in jobs:
            log.info("%s: %s %s", self.jobs[i].name, j.name, j.schedule.describe())
        return Scheduler(self.jobs[i].ledger, self.jobs[i].name, jobs)

    def _once(self) -> int:
        outcomes: list[Outcome] = []
        errors = 0
        for i, job in enumerate(self.jobs):
            try:
                with job.lease.hold(wait=LEASE_WAIT):
                    self._sweep(i)
                    run = self._once_job(i)
            except Busy as busy:
                log.warning("%s", busy)
                outcomes.append(Outcome(job.name, "waiting", reason=str(busy)))
                continue
            outcomes += run.outcomes
            errors += run.errors
        return FILES_REJECTED if errors else exit_code(outcomes)

    def _once_job(self, i: int) -> _Run:
        """One pass over job ``i``, its lease held."""
        job = self.jobs[i]
        run = _Run(job)
        asked = syncnow.take(job.ledger, job.name)  # a pass over everything is the sync
        try:
            for error in job.drain():
                log.error("%s: %s; the changes stay queued", job.name, error)
            alerts.shops(job)
            timetable = self._timetable(i)
            if timetable is not None:
                timetable.run_due()
            ran = syncnow.run_jobs(job) if asked else []
            with job.poll():
                for path in self._candidates(i):
                    if self._stop:
                        break
                    try:
                        ready = job.source.wait_ready(path)
                    except TransferError as e:
                        log.error("%s: %s: %s", job.name, path.name, e)
                        run.errors += 1
                        continue
                    if not ready:
                        log.info("%s: still being written; left for later", path.name)
                        continue
                    self._process(i, path, run)
                if i in self._down:  # the source could not be listed
                    run.errors += 1
            alerts.shops(job)
            run.outcomes += unsent(job)
            syncnow.done(job.ledger, job.name, asked, notes=ran)
        except LeaseLost as lost:
            log.error("%s: %s", job.name, lost)
            run.errors += 1
        finally:
            run.end()
        return run

    def _sleep(self, i: int, seconds: float) -> None:
        end = time.monotonic() + max(seconds, 0.0)
        while not self._stop and (left := end - time.monotonic()) > 0:
            if self._wakes[i].wait(min(left, 0.2)):  # short slices: a signal only sets a flag
                time.sleep(DEBOUNCE)
                return

    # one job --------------------------------------------------------------
    def _period(self, i: int) -> float:
        opts = self.jobs[i].profile.source
        return RESCAN if getattr(opts, "watch", None) == "events" else \
            float(getattr(opts, "poll_interval", RESCAN))

    def _observe(self, i: int) -> None:
        job = self.jobs[i]
        opts = job.profile.source
        mode = getattr(opts, "watch", None)
        folders: list[Path] = job.source.folders() if hasattr(job.source, "folders") else []
        if mode not in ("events", "polling") or not folders:
            log.info("%s: checking its source every %gs", job.name, self._period(i))
            self._watched.add(i)
            return
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:  # no observer until it appears: a failed one leaks its inotify fd
            self._warn(f"{job.name}: {', '.join(missing)} does not exist; checking every "
                       f"{self._period(i):g}s, watching when it appears")
            return
        interval = float(getattr(opts, "poll_interval", RESCAN))
        obs = Observer() if mode == "events" else PollingObserver(timeout=interval)
        try:
            obs.start()
            for folder in folders:
                obs.schedule(_Wake(self, i), str(folder), recursive=False)
        except OSError as e:
            obs.stop()
            obs.join(timeout=5)
            self._warn(f"{job.name}: cannot watch {', '.join(map(str, folders))} ({e}); "
                       f"checking every {self._period(i):g}s, watching when it appears")
            return
        self._observers.append(obs)
        self._watched.add(i)
        how = "events" if mode == "events" else f"polling every {interval:g}s"
        log.info("%s: watching %s (%s)", job.name, ", ".join(map(str, folders)), how)

    def _candidates(self, i: int) -> list[Any]:
        job = self.jobs[i]
        try:
            found = job.source.candidates()
        except OSError as e:
            self._warn(f"{job.name}: cannot list the inbox: {e}")
            return []
        except TransferError as e:
            prev = self._down.get(i)
            delay = min(prev.delay * 2, BACKOFF[1]) if prev else BACKOFF[0]
            self._down[i] = _Failed(None, time.monotonic() + delay, delay)
            log.error("%s: cannot list the inbox: %s; next try in %gs", job.name, e, delay)
            alerts.trouble(job, "source", e)
            return []
        if self._down.pop(i, None) is not None:
            log.info("%s: the inbox can be listed again", job.name)
            alerts.fine(job, "source")
        return found

    def _scan(self, i: int) -> bool:
        """Process every ready file of job ``i``; true if some file is still settling."""
        job, run, settling = self.jobs[i], _Run(self.jobs[i]), False
        down = self._down.get(i)
        if down is not None and time.monotonic() < down.until:
            return False
        due, wait = self._drain_due.get(i, (0.0, 0.0))
        if job.shops and time.monotonic() >= due:
            # Changes an outage left queued go out as soon as the shop answers again.
            failing = job.drain()
            wait = min(max(wait * 2, DRAIN_RETRY[0]), DRAIN_RETRY[1]) if failing else 0.0
            self._drain_due[i] = (time.monotonic() + wait, wait)
            if failing:
                log.error("%s: %s; queued changes retried in %gs", job.name,
                            "; ".join(failing), wait)
            alerts.shops(job)
        try:
            with job.poll():  # a remote source: one connection for the whole scan
                for path in self._candidates(i):
                    if self._stop or job.lease.lost:
                        break
                    if self._backing_off(i, path):
                        continue
                    try:
                        ready = job.source.is_ready(path)
                    except (OSError, TransferError):
                        ready = False
                    if ready:
                        self._process(i, path, run)
                    elif job.source.fingerprint(path) is not None:
                        settling = True
        finally:
            run.end()
        return settling

    def _process(self, i: int, path: Any, run: _Run) -> None:
        job = self.jobs[i]
        try:
            # The source hands over a complete local file (a local one is its own).
            live = len(self.jobs) == 1  # one live bar at a time: threads log instead
            with job.source.fetch(path) as local, progress_for(path.name, live) as tick:
                outcome = process(job, local, run.start(), progress=tick)
        except (LedgerError, LeaseLost):
            raise
        except Waiting as e:
            # Not an error: looked at again soon (a member arriving does not change the
            # main file, so its fingerprint cannot tell), logged when the reason is news.
            if job.waiting(path.name, str(e)):
                log.warning("%s: %s: waits: %s", job.name, path.name, e)
            wait = max(self._period(i), WAIT_RECHECK)
            self._failed[(i, path)] = _Failed(job.source.fingerprint(path),
                                              time.monotonic() + wait, wait)
            run.outcomes.append(Outcome(path.name, "waiting", reason=str(e)))
            return
        except Refused as e:  # moved aside (or it could not be: then logged just once)
            self._fail(i, path)
            self._warn(f"{job.name}: {e}")
            run.outcomes.append(Outcome(path.name, "refused", reason=str(e)))
            return
        except (TransferError, SinkError) as e:
            run.errors += 1
            delay = self._fail(i, path)
            alerts.trouble(job, "transfer" if isinstance(e, TransferError) else "output", e)
            log.error("%s: %s: %s; left in place, next try in %gs", job.name, path.name, e,
                      delay)
            return
        except Exception as e:
            delay = self._fail(i, path)
            full = disk_full(e)
            if full is not None:  # not the file's fault: no traceback, retried
                run.outcomes.append(Outcome(path.name, "disk_full", reason=str(full)))
                log.error("%s: %s: the disk is full (%s); left in place, next try in %gs",
                          job.name, path.name, full, delay)
                return
            run.errors += 1
            log.exception("%s: %s: unexpected error; file left in place, next try in %gs",
                          job.name, path.name, delay)
            return
        self._failed.pop((i, path), None)
        alerts.fine(job, "transfer")
        alerts.fine(job, "output")
        run.outcomes.append(outcome)
        if outcome.status == "done" and outcome.reason:
            log.info("%s: %s", path.name, outcome.reason)

    # failures ---------------------------------------------------------------
    def _forget_backoffs(self, i: int) -> None:
        """Sync now: files, source and shops that failed are tried again at once."""
        self._down.pop(i, None)
        self._drain_due.pop(i, None)
        for key in [k for k in self._failed if k[0] == i]:
            del self._failed[key]

    def _backing_off(self, i: int, path: Any) -> bool:
        """A file that failed waits out its delay, unless it has been replaced since."""
        f = self._failed.get((i, path))
        if f is None:
            return False
        if f.stat != self.jobs[i].source.fingerprint(path):  # replaced or gone since
            del self._failed[(i, path)]
            return False
        return time.monotonic() < f.until

    def _fail(self, i: int, path: Any) -> float:
        prev = self._failed.get((i, path))
        delay = min(prev.delay * 2, BACKOFF[1]) if prev else BACKOFF[0]
        self._failed[(i, path)] = _Failed(self.jobs[i].source.fingerprint(path),
                                          time.monotonic() + delay, delay)
        return delay

    def _warn(self, message: str) -> None:
        if message not in self._warned:  # once, not every rescan
            self._warned.add(message)
            log.warning("%s", message)

    # signals ------------------------------------------------------------------
    def _trap_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self._on_signal)
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag and a raw write here: a lock taken in a handler can deadlock.
        if self._stop:
            os.write(2, b"filebridge: second signal, exiting now\n")
            os._exit(128 + signum)
        self._stop = True
        os.write(2, b"filebridge: stopping after the current file "
                    b"(signal again to exit now)\n")
