"""One input file, start to finish:

    (fetch from the source) -> claim by digest -> read -> map -> one row per key
      -> sinks (one contract: filebridge.sinks.base.Sink) -> feedback
      -> publish every output atomically -> deliver to destinations
      -> commit the ledger -> archive the file

Nothing is committed before the outputs are durable and delivered, so a crash at
any point leaves the file in the inbox to be processed again, with the same
output names (re-delivery replaces the same names atomically).
A file that cannot be read goes to the error folder with a report, and the ERP
gets an acknowledgement saying so (filebridge/quarantine.py). What is built once per
profile and reused for every file is the Job (filebridge/job.py); the Outcome and the
ERP's feedback files are filebridge/outcome.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from filebridge import alerts
from filebridge.crashpoints import crash_point
from filebridge.errors import Bug, RejectedFile
from filebridge.job import Job, Progress
from filebridge.ledger.sqlite import SnapshotPatch
from filebridge.outcome import Outcome, counts, feedback, routed
from filebridge.outputs import Outbox
from filebridge.quarantine import already_processed, raise_if_disk_full, reject
from filebridge.records import FileReport, Rows
from filebridge.sinks.base import Sink, SinkContext, output_vars

log = logging.getLogger("filebridge")

__all__ = ["process"]


def process(job: Job, path: Path, run_id: int, *, force: bool = False,
            progress: Progress | None = None) -> Outcome:
    """Process one complete file. Never raises for bad input; ledger errors propagate."""
    ledger, name = job.ledger, path.name
    dig = job.digest(path)
    size = path.stat().st_size
    seen, redo = already_processed(job, path, dig, size, run_id, force)
    if seen is not None:
        return seen
    if job.related is not None:
        job.related.refresh()  # code tables: newest versions, between files (or Waiting)
    row = ledger.claim(job.name, dig, name, size, run_id, redo=redo)
    outbox = Outbox()
    report = FileReport(name)
    ctx = SinkContext(job.profile.base, output_vars(path, job.name, row.claimed), outbox,
                      key=job.profile.map.key, product=job.profile.map.product,
                      rows=Rows(report), report=report, file_id=row.id, run_id=run_id,
                      today=datetime.fromtimestamp(row.claimed).date(),
                      scratch_root=job.scratch_root, forced=force)
    try:
        job.source.verify(path)
        hold, state = _convert(job, path, ctx, progress)
        tally = report.tally
        feedback(job, ctx, name, "held" if hold else "done", tally, report, hold or "")
        outputs = outbox.publish()
        job.delivery.send(outbox.files)
        for done in ctx.published:
            done()
    except RejectedFile as e:
        outbox.abort()
        for shop in job.shops.values():
            shop.log.unstage(row.id)
        rejected = reject(job, path, row.id, row.claimed, report, e, run_id)
        alerts.file_outcome(job, rejected)
        return rejected
    except BaseException as e:
        outbox.abort()
        report.close()
        raise_if_disk_full(job, row.id, e)
        raise
    ledger.finish(row.id, job.name, "done", tally.as_dict(), hold, snapshots=state,
                  queued=_queued(ctx.rows) if tally.queued else None)
    crash_point("done.finished")
    job.waiting(name, None)
    where = job.source.archive(path)
    crash_point("done.archived")
    ledger.moved(row.id, where)
    report.close()
    if hold:
        log.warning("%s: %s: held for approval (filebridge approve %d --profile ...): %s",
                    job.name, name, run_id, hold)
        held = Outcome(name, "held", tally, outputs, hold, moved_to=where, notes=ctx.notes)
        alerts.file_outcome(job, held)
        return held
    log.info("%s: %s: done: %s", job.name, name, counts(tally))
    for out, note in ctx.notes.items():
        log.info("%s: %s: %s: %s", job.name, name, out.name, note)
    return Outcome(name, "done", tally, outputs, moved_to=where, notes=ctx.notes)


def _convert(job: Job, path: Path, ctx: SinkContext, progress: Progress | None
             ) -> tuple[str | None, dict[str, pa.Table | SnapshotPatch]]:
    """Every row through every sink; returns why the run is held (if it is) and the
    state the sinks keep for the next file. The report's tally adds up after it.
    An output that cannot render these records raises OutputError, which rejects the
    file; any other exception is a bug and stops the run with its traceback."""
    report, rows = ctx.report, ctx.rows
    if not (report is not None and rows is not None):
        raise Bug("expected report is not None and rows is not None")
    started: list[Sink] = []
    try:
        for sink in job.sinks:
            sink.start(routed(ctx, sink.o))
            started.append(sink)
        for batch, weights in job.feed(path, ctx, progress):
            batch = rows.add(batch, weights)
            for sink in job.sinks:
                sink.write(batch)
            report.flush()
        for sink in job.sinks:
            sink.finish()
        report.flush()
        last = job.ledger.last_read(job.name)
        read = report.tally.read
        hold = "; ".join(f"{s.id}: {r}" for s in job.sinks if (r := s.verdict(read, last))) \
            or None
        for sink in job.sinks:
            sink.settle(hold is not None)
        state = {k: v for s in job.sinks for k, v in s.state().items()}
        if ctx.skip is not None:  # the records delivered, for the next file's skip
            state.update(ctx.skip.state())
    finally:
        for sink in started:  # scratch files of a sink that stopped half-way
            sink.close()
    if progress:
        progress(report.tally.read)
    rows.count(nothing_to_send=not job.sinks)
    report.flush()
    tally = report.tally
    if tally.read == 0 and tally.rejected == 0:
        raise RejectedFile("the file holds no records")
    if not tally.balanced():
        raise RuntimeError(f"{job.name}: {path.name}: counts do not add up: {tally}")
    return hold, state


def _queued(rows: Rows | None) -> tuple[bytes, bytes | None] | None:
    """The rows the ack counts queued, for the follow-up ack (filebridge/followup.py)."""
    if rows is None:
        return None
    ordinals, weights = rows.queued()
    return (ordinals.astype("<i8").tobytes(),
            weights.astype("<i8").tobytes() if weights is not None else None)

