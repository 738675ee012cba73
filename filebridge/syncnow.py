"""Sync now: asked in the web console (a row in ``sync_requests``, see
filebridge/ledger/console.py), carried out by the watcher that works the profile.

A :class:`Listener` thread per profile looks for a request every second on a
connection of its own and wakes the profile's loop; the loop, holding the
profile's lease, takes the requests (so one watcher does each), forgets its
backoffs, runs the profile's scheduled jobs once (a stock profile pulls the shops'
orders and pushes availability), sends the queued shop changes and processes every
ready file at once, then records the outcome on the request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from filebridge.errors import LedgerError
from filebridge.ledger import console as asks
from filebridge.ledger.sqlite import Ledger

log = logging.getLogger("filebridge")

LISTEN_EVERY = 1.0  # seconds between two looks for a request


class Listener(threading.Thread):
    """Calls ``wake`` when a sync of ``profile`` is asked, until ``stopped()``."""

    def __init__(self, ledger: Ledger, profile: str, wake: Callable[[], None],
                 stopped: Callable[[], bool]):
        super().__init__(daemon=True, name=f"syncnow-{profile}")
        self.ledger, self.profile, self.wake, self.stopped = ledger, profile, wake, stopped
        self._quit = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped() and not self._quit.wait(LISTEN_EVERY):
                if asks.sync_asked(self.ledger, self.profile):
                    self.wake()
        except LedgerError as e:  # the loop itself meets the ledger's trouble and stops
            log.debug("%s: sync-now listener stopped: %s", self.profile, e)
        finally:
            self.ledger.close()

    def close(self) -> None:
        self._quit.set()


def take(ledger: Ledger, profile: str) -> list[int]:
    """The requests this pass carries out (marked taken). A read first: most passes
    find none and take no write lock."""
    if not asks.sync_asked(ledger, profile):
        return []
    ids = asks.take_syncs(ledger, profile)
    if ids:
        log.info("%s: sync now, as asked in the console", profile)
    return ids


def run_jobs(job: Any) -> list[str]:
    """The profile's scheduled jobs (pull the shops' orders and push availability, the
    movement file, reconcile), run once now, besides their timetable, in the watcher's
    thread under the profile's lease as the timetable runs them; what each did."""
    notes = []
    for j in job.scheduled():
        try:
            j.run(datetime.now(j.schedule.zone()))
            notes.append(f"{j.name} run")
        except LedgerError:
            raise
        except Exception as e:  # as a scheduled run's failure: logged, noted, not fatal
            log.exception("%s: %s (sync now) failed", job.name, j.name)
            notes.append(f"{j.name} failed: {type(e).__name__}: {e}")
    return notes


def done(ledger: Ledger, profile: str, ids: list[int], settling: bool = False,
         notes: list[str] | None = None) -> None:
    """Record on the requests what the pass did: the jobs it ran and the files it
    took, by outcome."""
    if not ids:
        return
    since = asks.taken_at(ledger, ids[0])
    files = asks.files_since(ledger, profile, since) if since is not None else []
    outcome = "done: " + (", ".join(f"{name} {status}" for name, status in files[:20])
                          + (f" and {len(files) - 20} more" if len(files) > 20 else "")
                          if files else "no file was ready")
    if notes:
        outcome += "; " + "; ".join(notes)
    if settling:
        outcome += "; a file is still being written"
    asks.syncs_done(ledger, ids, outcome)
