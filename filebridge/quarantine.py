"""A file that cannot be used: rejected as a whole, the ERP told, the file moved to
the error folder with a report beside it, each step recorded first so a process
killed half-way finishes the move next time; and what a file already seen (done,
a duplicate, or a rejection still to be moved) comes to before it is claimed."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from filebridge.crashpoints import crash_point
from filebridge.errors import Bug, DiskFull, LedgerError, RejectedFile, disk_full
from filebridge.ledger.sqlite import FileRow
from filebridge.outcome import Outcome, counts, feedback
from filebridge.outputs import Outbox
from filebridge.records import FileReport, Tally
from filebridge.sinks.base import SinkContext, output_vars

if TYPE_CHECKING:
    from filebridge.job import Job

log = logging.getLogger("filebridge")

__all__ = ["already_processed", "raise_if_disk_full", "reject"]


def already_processed(job: Job, path: Path, dig: str, size: int, run_id: int, force: bool
                      ) -> tuple[Outcome | None, FileRow | None]:
    """Whether the file was processed already, by the profile's rule of once
    (``once:``, content or name and content): its outcome if so (archived, or
    skipped as a duplicate); otherwise the claim a crashed run left in flight, to be
    redone with its claim time and so its output names (None: a new file).

    Each of these steps is recorded in the ledger before the file moves, so a
    process killed between the two finishes the move next time, exactly once."""
    ledger, name = job.ledger, path.name
    by_name = job.profile.once_rule == "name_and_content"
    for rejecting in ledger.rejecting(job.name, dig, name):
        if rejecting.moved_to is None:
            raise Bug("expected rejecting.moved_to is not None")
        if not job.source.holds(rejecting.moved_to):  # the move never happened
            return quarantine_again(job, path, rejecting), None
        ledger.rejected(rejecting.id, rejecting.moved_to)  # it did: this is a new copy
    prior = ledger.find(job.name, dig, name if by_name else None)
    if prior is not None and prior.status == "done" and not force:
        if prior.moved_to is None and prior.name == name:
            # Processed, but the crash came before the archive move: just finish it.
            where = job.source.archive(path)
            ledger.moved(prior.id, where)
            return Outcome(name, "done", reason="already processed; archived",
                           moved_to=where), None
        reason = ("same name and content as a file already processed" if by_name
                  else f"same content as {prior.name}, already processed")
        dup = ledger.unmoved_duplicate(job.name, dig, name) or \
            ledger.record(job.name, dig, name, size, run_id, "duplicate", reason)
        crash_point("duplicate.recorded")
        where = job.source.archive(path)
        ledger.moved(dup, where)
        log.info("%s: %s: %s: skipped", job.name, name, reason)
        return Outcome(name, "duplicate", reason=reason, moved_to=where), None
    return None, prior if prior is not None and prior.status in ("processing", "failed") \
        else None


def reject(job: Job, path: Path, file_id: int, claimed: float, report: FileReport,
            err: RejectedFile, run_id: int) -> Outcome:
    name = path.name
    # The file counts as read-and-rejected as a whole: nothing of it was sent.
    t = report.tally
    tally = Tally(read=t.read, rejected=t.read - t.skipped, skipped=t.skipped)
    reason = str(err)
    outbox = Outbox()
    # The claim time, as for outputs: a redone rejection writes the same names.
    ctx = SinkContext(job.profile.base, output_vars(path, job.name, claimed), outbox)
    published: list[Path] = []
    try:
        feedback(job, ctx, name, "rejected", tally, report, reason)
        published = outbox.publish()
    except (OSError, ValueError) as e:
        outbox.abort()
        raise_if_disk_full(job, file_id, e, report)  # the ERP is told once there is room
    except BaseException:
        report.close()
        raise
    try:
        # Before the ledger: if the ERP cannot be told, the file is redone later.
        job.delivery.send([f for f in outbox.files if f.final in published])
    finally:
        report.close()
    # Recorded first ('rejecting', with where the file goes); the report lands beside
    # that place before the file moves there; then 'rejected'. A process killed at any
    # step leaves that row: the next sighting of the file in the inbox finishes the
    # move with the same report (already_processed), and a move that did happen is
    # seen by the restart sweep (Job.sweep).
    target = job.source.error_target(path, claimed)
    job.ledger.finish(file_id, job.name, "rejecting", tally.as_dict(), reason, moved_to=target)
    crash_point("reject.recorded")
    where = job.source.quarantine(path, report_text(name, job.name, reason, tally), target)
    job.waiting(name, None)
    job.ledger.rejected(file_id, where)
    log.warning("%s: %s: rejected: %s", job.name, name, reason)
    return Outcome(name, "rejected", tally, reason=reason, moved_to=where)


def raise_if_disk_full(job: Job, file_id: int, e: BaseException,
                        report: FileReport | None = None) -> None:
    """A full disk is nobody's fault in the file: its row says so (if the ledger still
    has room) and it is redone, with the same claim time and output names, later."""
    full = disk_full(e)
    if full is None:
        return
    if report is not None:
        report.close()
    try:
        job.ledger.failed(file_id, f"disk full: {full}; redone when there is room")
    except (DiskFull, LedgerError):
        pass  # the ledger's disk is full too: the row stays in flight, redone all the same
    raise full from e


def report_text(name: str, profile: str, reason: str, tally: Tally) -> str:
    return (f"file: {name}\nprofile: {profile}\nstatus: rejected\nreason: {reason}\n"
            f"when: {datetime.now().isoformat(timespec='seconds')}\n"
            f"counts: {counts(tally)}\n")


def quarantine_again(job: Job, path: Path, row: FileRow) -> Outcome:
    """A rejection whose file was still to be moved when the process died: the same
    report beside the same place, then the move (feedback went out before)."""
    reason, counts = job.ledger.verdict(row.id)
    tally = Tally(**counts)
    if row.moved_to is None:
        raise Bug("expected row.moved_to is not None")
    where = job.source.quarantine(path, report_text(path.name, job.name, reason, tally),
                                  row.moved_to)
    job.ledger.rejected(row.id, where)
    log.warning("%s: %s: rejected: %s (moved to the error folder now)", job.name, path.name,
                reason)
    return Outcome(path.name, "rejected", tally, reason=reason, moved_to=where)

