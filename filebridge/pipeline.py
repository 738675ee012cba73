"""One input file, start to finish:

    (fetch from the source) -> claim by digest -> read -> map -> one row per key
      -> sinks (one contract: filebridge.sinks.base.Sink) -> feedback
      -> publish every output atomically -> deliver to destinations
      -> commit the ledger -> archive the file

Nothing is committed before the outputs are durable and delivered, so a crash at
any point leaves the file in the inbox to be processed again, with the same
output names (re-delivery replaces the same names atomically).
A file that cannot be read goes to the error folder with a report, and the ERP
gets an acknowledgement saying so.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from filebridge import alerts
from filebridge.crashpoints import crash_point
from filebridge.delivery import Delivery
from filebridge.errors import Bug, DiskFull, LedgerError, RejectedFile, TransferError, disk_full
from filebridge.feedback import ack_values, erp_zone, write_ack, write_rejects
from filebridge.keys import UniqueKeys
from filebridge.ledger import open_ledger
from filebridge.ledger.leases import Lease
from filebridge.ledger.sqlite import FileRow, Ledger
from filebridge.mapping import Mapper
from filebridge.outputs import Outbox, sweep
from filebridge.processes import pid_alive
from filebridge.profile import ProfileBase
from filebridge.records import Batch, FileReport, Rows, Tally
from filebridge.registry import load_plugins
from filebridge.sinks.base import SCRATCH, JobInfo, Sink, SinkContext, sink_id

log = logging.getLogger("filebridge")

__all__ = ["Job", "Outcome", "Progress", "digest", "process", "sink_id"]


def digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=32)  # faster than sha256 here, as strong
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Outcome:
    file: str
    # done | held | duplicate | rejected | failed (a transfer failed) | refused (a link) |
    # disk_full | waiting: the last four from the runner only
    status: str
    tally: Tally = field(default_factory=Tally)
    outputs: list[Path] = field(default_factory=list)
    reason: str = ""
    moved_to: Path | str | None = None  # str: a remote place (sftp://…)
    notes: dict[Path, str] = field(default_factory=dict)  # what an output holds, in words
    shop: bool = False  # not a file: a shop's changes left unsent (runner.unsent)


Progress = Callable[[int], None]


class Job:
    """A profile made ready to run: source, reader, mapping and every sink built
    once, reused for every file."""

    def __init__(self, profile: ProfileBase, ledger: Ledger | None = None):
        reg = load_plugins()
        self.profile = profile
        self.reader = reg.get("reader", profile.read.format)(profile.read)
        self.mapper = Mapper(profile.map)
        self.ledger = ledger or open_ledger(profile)
        # Only one process works the profile at a time (filebridge/ledger/leases.py).
        self.lease = Lease(self.ledger, profile.name)
        self.source, self.related = _related(profile, self.ledger, reg, self.scratch_root)
        self.delivery = Delivery(getattr(profile, "destinations", None) or {}, profile.name)
        self.photos = None
        if profile.photos is not None:
            from filebridge.photos.folder import Photos

            self.photos = Photos(profile.photos, self.ledger, profile.name, self.delivery,
                                 self.scratch_root)
        stock = getattr(profile, "stock", None)
        self.inventory = None
        if stock is not None:
            from filebridge.orders import load_pullers
            from filebridge.stock import Inventory

            self.inventory = Inventory(self.ledger, stock)
            load_pullers()
        # Profiles of one inventory share what each shop acknowledged: a store sale
        # pushed by one is not pushed again by the next ERP file.
        info = JobInfo(profile.name, f"inventory:{stock.inventory}" if stock is not None
                       else profile.name, self.ledger, profile.map, profile.base,
                       self.mapper)
        self.sinks: list[Sink] = []
        if self.inventory is not None:
            self.inventory.bind_outputs(list(profile.write))
        shipments = getattr(profile, "shipments", None)
        for options in profile.write:
            if self.inventory is not None:
                options = self.inventory.sink_options(options)
            if shipments is not None:  # the shop's fulfilments, not its catalog
                from filebridge.shipments.sink import build

                sink = build(options, shipments)
            else:
                sink = reg.get("sink", options.format)(options)
            sink.bind(info)
            self.sinks.append(sink)
        # The stock outputs of the other profiles of the inventory (filebridge/stock_share.py):
        # a store's or an orders file's outputs too; told after pulls and webhooks.
        self.shared: list[Sink] = []
        if stock is not None and self.inventory is not None and stock.role != "acks":
            from filebridge.stock_share import shared_sinks

            self.shared = shared_sinks(profile, self.inventory, self.ledger, reg,
                                       {s.id for s in self.sinks})
            if stock.role in ("movements", "orders"):
                self.sinks.extend(self.shared)

    @property
    def shops(self) -> dict[str, Any]:
        """The job's shop API sinks by id (they have a client and an outbox), those of
        profiles sharing its inventory that its files are sent to included."""
        return {s.id: s for s in self.sinks if hasattr(s, "client")}

    @property
    def own_shops(self) -> dict[str, Any]:
        """The shop API sinks the profile itself lists: the shops whose orders it pulls."""
        return {i: s for i, s in self.shops.items() if not hasattr(s, "shared_from")}

    def drain(self) -> list[str]:
        """Send changes earlier runs left queued; the errors of shops still failing.
        Inputs whose queued changes are all settled now get their follow-up ack."""
        errors = [f"{s.id}: {e}" for s in self.shops.values() if (e := s.drain())]
        if self.shops:
            from filebridge.followup import write_due

            write_due(self)
        return errors

    # Shared stock: orders in, movement files out, the timetable (filebridge.stock_jobs).
    def pull_orders(self, push: bool = True, moved: set[str] | None = None) -> int:
        from filebridge.stock_jobs import pull_orders

        return pull_orders(self, push, moved)

    def movement_writer(self) -> Any:
        from filebridge.stock_jobs import movement_writer

        return movement_writer(self)

    def scheduled(self) -> list[Any]:
        from filebridge.stock_jobs import timetable

        return timetable(self)

    def close(self) -> None:
        for s in {id(s): s for s in [*self.shops.values(), *self.shared]}.values():
            s.shutdown()
        for s in self.sinks:
            if self.profile.shipments is not None and hasattr(s, "shipper"):
                s.shipper.close()

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def scratch_root(self) -> Path:
        return self.ledger.home / SCRATCH / self.name

    def output_folders(self) -> list[Path]:
        ctx = SinkContext(self.profile.base, _vars(Path("x"), self.name, 0), Outbox())
        paths = [ctx.path(p).parent for s in self.sinks for p in s.paths()]
        fb = self.profile.feedback
        paths += [ctx.path(o.path).parent for o in (fb.ack, fb.rejects) if o is not None]
        if self.photos is not None:  # a photo's copy cut short by a crash
            paths.append(self.photos.spec.public.path)
        return paths

    def sweep(self) -> int:
        """Leftovers of a crashed run: temporary outputs and scratch folders (and its
        ledger run, marked interrupted)."""
        self.ledger.end_dead_runs(self.name)
        self._rejections_seen_through()
        self._archives_seen_through()
        return sweep(self.output_folders()) + self.source.sweep() + _sweep_scratch(
            self.scratch_root) + (self.related.sweep() if self.related else 0)

    def _rejections_seen_through(self) -> None:
        """Rejected files a dead process moved but did not mark: marked now."""
        rows = self.ledger.rejecting(self.name)
        if not rows:
            return
        try:
            with self.source.poll():
                for r in rows:
                    if r.moved_to and self.source.holds(r.moved_to):
                        self.ledger.rejected(r.id, r.moved_to)
        except TransferError:
            pass  # the server is away: the next sweep, or the file's next sighting

    def _archives_seen_through(self) -> None:
        """Files a dead process archived but did not record as archived: recorded now
        (one still in the inbox is archived at its next sighting instead)."""
        for r in self.ledger.unmoved_done(self.name):
            where = self.source.archived(r.name, r.digest)
            if where is not None:
                self.ledger.moved(r.id, where)

    @contextmanager
    def poll(self) -> Iterator[None]:
        """One scan's worth of work: remote sources and destinations connect once."""
        with self.source.poll(), self.delivery.poll():
            yield

    def batches(self, path: Path, report: FileReport, today: date | None = None
                ) -> Iterator[Batch]:
        """The file's records, joined with its tables (``join:``), mapped; ``today``:
        the run date expressions see (the claim's, so a file redone after a crash maps
        as it did; default: now)."""
        # A batch a filter emptied is left out: the mapper returns an empty batch as it
        # came (input fields), which outputs would take for mapped records.
        if self.related is None:
            for raw in self.reader.read(path, report):
                if len(raw):
                    yield self.mapper.apply(raw, report, today=today)
            return
        members = self.source.members(path) if hasattr(self.source, "members") else {}
        with self.related.open(members) as joiner:
            for raw in self.reader.read(path, report):
                if len(raw):
                    yield self.mapper.apply(joiner.apply(raw, report), report, today=today)

    def digest(self, path: Path) -> str:
        """What the ledger knows the input by: the file's content, or its set's."""
        dig = digest(path)
        return self.source.digest(path, dig) if hasattr(self.source, "digest") else dig

    def waiting(self, name: str, reason: str | None) -> bool:
        """Note in the ledger that ``name`` waits (for ``status``), or no longer does
        (``reason`` None); true when the waiting is news (worth a log line)."""
        if self.related is None:
            return reason is not None
        from filebridge.ledger import tables as tl

        if reason is None:
            tl.clear_waiting(self.ledger, self.name, name)
            return False
        return tl.note_waiting(self.ledger, self.name, name, reason)

    def feed(self, path: Path, ctx: SinkContext, progress: Progress | None
             ) -> Iterator[tuple[Batch, pa.Array | None]]:
        """The batches the outputs get, with the input rows behind each row (None:
        one each): the mapped records, one per key, or for a stock profile what may
        be sold of each SKU the file touched."""
        if self.inventory is not None:
            from filebridge.stock_files import stock_feed

            yield from stock_feed(self, path, ctx, progress)
            return
        if ctx.report is None:
            raise Bug("expected ctx.report is not None")
        unique = UniqueKeys(self.profile.map.key) if self.profile.map.key else None
        photos = self.photos.scan(ctx.report) if self.photos is not None else None
        for batch in self.batches(path, ctx.report, ctx.today):
            if unique is not None:
                batch = unique.check(batch, ctx.report)
            if photos is not None:
                batch = photos.apply(batch, ctx.report)
            ctx.report.flush()
            if progress:
                progress(ctx.report.tally.read)
            yield batch, None


def _related(profile: ProfileBase, ledger: Ledger, reg: Any, scratch: Path
             ) -> tuple[Any, Any]:
    """The job's source (wrapped to take sets whole when tables have members) and its
    related tables, if the profile has any."""
    src_cls = reg.get("source", profile.source.kind)
    tables = getattr(profile, "tables", None) or {}
    if not tables:
        return src_cls(profile.source), None
    from filebridge.tables.related import Related
    from filebridge.tables.sets import SetSource

    members = {n: t.member for n, t in tables.items() if t.is_member}
    source = SetSource(src_cls, profile.source, getattr(profile, "set", None), members,
                       ledger, profile.name) if members else src_cls(profile.source)
    return source, Related(profile, ledger, reg, scratch)


def _vars(path: Path, profile: str, claimed: float) -> dict[str, str]:
    t = datetime.fromtimestamp(claimed)
    return {"stem": path.stem, "name": path.name, "profile": profile,
            "date": t.strftime("%Y%m%d"), "time": t.strftime("%H%M%S")}


def _sweep_scratch(root: Path) -> int:
    """Scratch folders of processes that are gone (``<what>-<pid>-…``)."""
    n = 0
    if root.is_dir():
        for d in root.iterdir():
            parts = d.name.split("-")
            pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
            if pid is not None and pid_alive(pid):
                continue
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


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
            return _quarantine_again(job, path, rejecting), None
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
    ctx = SinkContext(job.profile.base, _vars(path, job.name, row.claimed), outbox,
                      key=job.profile.map.key, product=job.profile.map.product,
                      rows=Rows(report), report=report, file_id=row.id, run_id=run_id,
                      today=datetime.fromtimestamp(row.claimed).date(),
                      scratch_root=job.scratch_root, forced=force)
    try:
        job.source.verify(path)
        hold, state = _convert(job, path, ctx, progress)
        tally = report.tally
        _feedback(job, ctx, name, "held" if hold else "done", tally, report, hold or "")
        outputs = outbox.publish()
        job.delivery.send(outbox.files)
        for done in ctx.published:
            done()
    except RejectedFile as e:
        outbox.abort()
        for shop in job.shops.values():
            shop.log.unstage(row.id)
        rejected = _reject(job, path, row.id, row.claimed, report, e, run_id)
        alerts.file_outcome(job, rejected)
        return rejected
    except BaseException as e:
        outbox.abort()
        report.close()
        _raise_if_disk_full(job, row.id, e)
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
    log.info("%s: %s: done: %s", job.name, name, _counts(tally))
    for out, note in ctx.notes.items():
        log.info("%s: %s: %s: %s", job.name, name, out.name, note)
    return Outcome(name, "done", tally, outputs, moved_to=where, notes=ctx.notes)


def _convert(job: Job, path: Path, ctx: SinkContext, progress: Progress | None
             ) -> tuple[str | None, dict[str, pa.Table]]:
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
            sink.start(_routed(ctx, sink.o))
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


def _feedback(job: Job, ctx: SinkContext, name: str, status: str, tally: Tally,
              report: FileReport, reason: str = "") -> None:
    fb = job.profile.feedback
    stock: dict[str, Any] = {}
    if job.inventory is not None:
        from filebridge.stock_files import ack_columns

        stock = ack_columns(job.inventory, ctx.oversold, ctx.movements, ctx.documents)
    if fb.ack is not None:
        values = ack_values(name, status, tally, reason, report.warnings,
                            zone=erp_zone(job.profile)) | stock
        if fb.report is not None:  # the ack names the run report beside it
            from filebridge.report import report_path

            values["report"] = ctx.path(report_path(fb)).name
        write_ack(fb.ack, _routed(ctx, fb.ack), values)
    if fb.rejects is not None:
        write_rejects(fb.rejects, _routed(ctx, fb.rejects), report)
    if fb.report is not None:
        from filebridge.report import write_report

        write_report(fb, _routed(ctx, fb.report), job, name, status, tally, report, reason,
                     stock)


def _routed(ctx: SinkContext, options: Any) -> SinkContext:
    """The context one output writes through: its files carry its ``deliver:``."""
    deliver = getattr(options, "deliver", None)
    return replace(ctx, outbox=ctx.outbox.routed(deliver)) if deliver else ctx


def _reject(job: Job, path: Path, file_id: int, claimed: float, report: FileReport,
            err: RejectedFile, run_id: int) -> Outcome:
    name = path.name
    # The file counts as read-and-rejected as a whole: nothing of it was sent.
    t = report.tally
    tally = Tally(read=t.read, rejected=t.read - t.skipped, skipped=t.skipped)
    reason = str(err)
    outbox = Outbox()
    # The claim time, as for outputs: a redone rejection writes the same names.
    ctx = SinkContext(job.profile.base, _vars(path, job.name, claimed), outbox)
    published: list[Path] = []
    try:
        _feedback(job, ctx, name, "rejected", tally, report, reason)
        published = outbox.publish()
    except (OSError, ValueError) as e:
        outbox.abort()
        _raise_if_disk_full(job, file_id, e, report)  # the ERP is told once there is room
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
    where = job.source.quarantine(path, _report_text(name, job.name, reason, tally), target)
    job.waiting(name, None)
    job.ledger.rejected(file_id, where)
    log.warning("%s: %s: rejected: %s", job.name, name, reason)
    return Outcome(name, "rejected", tally, reason=reason, moved_to=where)


def _queued(rows: Rows | None) -> tuple[bytes, bytes | None] | None:
    """The rows the ack counts queued, for the follow-up ack (filebridge/followup.py)."""
    if rows is None:
        return None
    ordinals, weights = rows.queued()
    return (ordinals.astype("<i8").tobytes(),
            weights.astype("<i8").tobytes() if weights is not None else None)


def _raise_if_disk_full(job: Job, file_id: int, e: BaseException,
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


def _report_text(name: str, profile: str, reason: str, tally: Tally) -> str:
    return (f"file: {name}\nprofile: {profile}\nstatus: rejected\nreason: {reason}\n"
            f"when: {datetime.now().isoformat(timespec='seconds')}\n"
            f"counts: {_counts(tally)}\n")


def _quarantine_again(job: Job, path: Path, row: FileRow) -> Outcome:
    """A rejection whose file was still to be moved when the process died: the same
    report beside the same place, then the move (feedback went out before)."""
    reason, counts = job.ledger.verdict(row.id)
    tally = Tally(**counts)
    if row.moved_to is None:
        raise Bug("expected row.moved_to is not None")
    where = job.source.quarantine(path, _report_text(path.name, job.name, reason, tally),
                                  row.moved_to)
    job.ledger.rejected(row.id, where)
    log.warning("%s: %s: rejected: %s (moved to the error folder now)", job.name, path.name,
                reason)
    return Outcome(path.name, "rejected", tally, reason=reason, moved_to=where)


def _counts(t: Tally) -> str:
    return ", ".join(f"{k} {v}" for k, v in t.as_dict().items())
