"""Running profiles: one pass over an inbox (``run``) and the shared bits that
``watch`` uses: progress display, exit codes, per-run ledger bookkeeping."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from filebridge import alerts
from filebridge.errors import Refused, SinkError, TransferError, Waiting, disk_full
from filebridge.exitcodes import (  # noqa: F401  (the exit codes, documented in README.md's CLI section)
    CONFIG_ERROR,
    DISK_FULL,
    FILES_REJECTED,
    HELD,
    LEDGER_ERROR,
    OK,
    ROWS_REJECTED,
    TRANSFER_FAILED,
    USAGE,
    WAITING,
)
from filebridge.job import Job, Progress
from filebridge.ledger.leases import LeaseLost
from filebridge.outcome import Outcome
from filebridge.pipeline import process
from filebridge.records import Tally

log = logging.getLogger("filebridge")


def unsent(job: Job) -> list[Outcome]:
    """What the run leaves unsent, as outcomes that make it exit 6: changes still queued
    for a shop that failed, and changes queued under an id no output has any more."""
    from filebridge.ledger.changelog import stranded

    out = []
    for s in job.shops.values():
        n = s.log.queued()
        if n:
            why = getattr(s, "last_error", None) or "not sent yet"
            out.append(Outcome(s.id, "failed", reason=f"{n} changes stay queued: {why}",
                               shop=True))
    stock = getattr(job.profile, "stock", None)
    state = f"inventory:{stock.inventory}" if stock is not None else job.name
    for old, n in stranded(job.ledger, state, {*job.shops, *(s.id for s in job.shared)}).items():
        out.append(Outcome(old, "failed", reason=(
            f"{n} changes are queued for {old}, which no output of this profile goes by any "
            "more (its url or id changed, or it was removed); to send them through the "
            f"output that now serves that shop: filebridge rekey PROFILE '{old}' ITS_ID (or "
            f"give it id: '{old}'); to give them up: filebridge rekey PROFILE '{old}' --drop"),
            shop=True))
    for o in out:
        log.error("%s: %s: %s", job.name, o.file, o.reason)
    return out


def exit_code(outcomes: list[Outcome]) -> int:
    if any(o.status == "disk_full" for o in outcomes):
        return DISK_FULL
    if any(o.status == "failed" for o in outcomes):
        return TRANSFER_FAILED
    if any(o.status in ("rejected", "refused") for o in outcomes):
        return FILES_REJECTED
    if any(o.status == "held" for o in outcomes):
        return HELD
    if any(o.status == "waiting" for o in outcomes):
        return WAITING
    if any(o.tally.queued for o in outcomes):
        return TRANSFER_FAILED
    if any(o.tally.rejected for o in outcomes):
        return ROWS_REJECTED
    return OK


@contextmanager
def progress_for(name: str, live: bool = True) -> Iterator[Progress]:
    """A live bar on a terminal; a log line every few seconds otherwise."""
    if live and sys.stderr.isatty():
        from rich.progress import Progress as Bar
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        with Bar(SpinnerColumn(), TextColumn("{task.description}"),
                 TextColumn("{task.completed:,.0f} rows"), TimeElapsedColumn(),
                 transient=True) as bar:
            task = bar.add_task(name, total=None)
            yield lambda n: bar.update(task, completed=n)
        return
    last = [time.monotonic()]

    def tick(n: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 5:
            last[0] = now
            log.info("%s: %s rows read", name, f"{n:,}")
    yield tick


LEASE_WAIT = 300.0  # a run waits this long for another process working the profile


def run_files(job: Job, files: list[Path], *, force: bool = False,
              wait: bool = True) -> list[Outcome]:
    """Process the given files (or, with none given, every complete inbox file).

    A file whose transfer fails is reported as ``failed`` and left where it was;
    the others go on. A source that cannot even be listed raises TransferError.
    Another process working the profile is waited for (``LEASE_WAIT``), then
    ``Busy`` is raised: its files are left to it."""
    with job.lease.hold(wait=LEASE_WAIT):
        job.sweep()
        with job.poll():
            return _run(job, files, force=force, wait=wait)


def _say_waiting(job: Job, c: Path) -> None:
    """An on-demand run that blocks says on what (else it looks hung)."""
    ready = getattr(getattr(job.source, "o", None), "ready", None)
    if ready is None:
        return
    rule = f"unchanged for {ready.stable_for:g}s (source.ready.stable_for)"
    if ready.done_file:
        rule += f" and its done-file {ready.done_file!r}"
    log.info("%s: %s: waiting until it is %s", job.name, c.name, rule)


def idle_reason(job: Job) -> str:
    """Why a run found nothing: the inbox is missing, or nothing in it matches."""
    o = getattr(job.source, "o", None)
    inbox = getattr(job.source, "inbox", None)
    if not isinstance(inbox, Path) or o is None:
        return "nothing to do"
    if not inbox.is_dir():
        return (f"nothing to do: the inbox {inbox} does not exist (create it, or correct "
                "source.path)")
    return (f"nothing to do: no complete file matching {', '.join(o.pattern)} in {inbox}")


def _run(job: Job, files: list[Path], *, force: bool, wait: bool) -> list[Outcome]:
    explicit = bool(files)
    candidates = list(files) if explicit else job.source.candidates()
    run_id = job.ledger.start_run(job.name)
    outcomes: list[Outcome] = []
    total = Tally()
    try:
        for error in job.drain():  # what earlier runs left queued goes first
            log.error("%s: %s; the changes stay queued", job.name, error)
        for c in candidates:
            if job.lease.lost:
                break  # another process took the profile over: it does the rest
            if explicit and not c.exists():
                log.error("%s: no such file", c)
                continue
            try:
                if not explicit and wait and not job.source.is_ready(c):
                    _say_waiting(job, c)
                if not explicit and not (job.source.wait_ready(c) if wait
                                         else job.source.is_ready(c)):
                    log.info("%s: still being written; left for later", c.name)
                    continue
                # The source hands over a complete local file; one named on the
                # command line is local already.
                with (nullcontext(c) if explicit else job.source.fetch(c)) as path, \
                        progress_for(c.name) as tick:
                    outcome = process(job, path, run_id, force=force, progress=tick)
            except (TransferError, SinkError) as e:
                log.error("%s: %s: %s; left in place for the next run", job.name, c.name, e)
                alerts.trouble(job, "transfer" if isinstance(e, TransferError) else "output", e)
                outcome = Outcome(c.name, "failed", reason=str(e))
            except Refused as e:
                log.warning("%s: %s", job.name, e)
                outcome = Outcome(c.name, "refused", reason=str(e))
            except Waiting as e:
                job.waiting(c.name, str(e))
                log.warning("%s: %s: waits: %s", job.name, c.name, e)
                outcome = Outcome(c.name, "waiting", reason=str(e))
            except LeaseLost as e:
                log.error("%s: %s: %s", job.name, c.name, e)
                outcomes.append(Outcome(c.name, "failed", reason=str(e)))
                break
            except Exception as e:
                full = disk_full(e)
                if full is None:
                    raise
                log.error("%s: %s: the disk is full (%s); the file stays where it is and is "
                          "redone when there is room", job.name, c.name, full)
                outcomes.append(Outcome(c.name, "disk_full", reason=f"disk full: {full}"))
                break  # every other file would need room too
            outcomes.append(outcome)
            for k, v in outcome.tally.as_dict().items():
                setattr(total, k, getattr(total, k) + v)
        alerts.after_run(job, outcomes)  # a shop or server failing past down_after
        outcomes += unsent(job)
    finally:
        status = "failed" if any(o.status in ("rejected", "refused", "failed", "disk_full")
                                 for o in outcomes) else "done"
        job.ledger.end_run(run_id, status, sum(not o.shop for o in outcomes), total.as_dict())
    return outcomes
