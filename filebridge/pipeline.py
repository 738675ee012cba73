"""One input file, start to finish:

    (fetch from the source) -> claim by digest -> read -> map -> delta -> sinks
      -> feedback -> publish every output atomically -> deliver to destinations
      -> commit the ledger -> archive the file

Nothing is committed before the outputs are durable and delivered, so a crash at
any point leaves the file in the inbox to be processed again, with the same
output names (re-delivery replaces the same names atomically).
A file that cannot be read goes to the error folder with a report, and the ERP
gets an acknowledgement saying so.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.apisync import ApiSync, client_for, drain
from filebridge.delivery import Delivery
from filebridge.delta import Delta
from filebridge.errors import RejectedFile
from filebridge.feedback import ack_values, write_ack, write_rejects
from filebridge.ledger.sqlite import FileRow, SqliteLedger
from filebridge.mapping import Mapper
from filebridge.orders import load_pullers
from filebridge.outbox import ChangeLog
from filebridge.outputs import Outbox, sweep
from filebridge.profile import ProfileBase
from filebridge.records import Batch, FileReport, Reject, Tally
from filebridge.registry import load_plugins
from filebridge.sinks.api.base import ApiSink, ShopClient
from filebridge.sinks.base import SinkContext
from filebridge.stock import Inventory
from filebridge.stock_files import Oversold, ack_columns, availability_batches, ingest

log = logging.getLogger("filebridge")


def digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=32)  # faster than sha256 here, as strong
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Outcome:
    file: str
    status: str  # done | held | duplicate | rejected | failed (a transfer failed; runner only)
    tally: Tally = field(default_factory=Tally)
    outputs: list[Path] = field(default_factory=list)
    reason: str = ""
    moved_to: Path | str | None = None  # str: a remote place (sftp://…)


def sink_id(options: Any) -> str:
    """Names an output in the ledger: its format and file, or its shop (and location)."""
    where = getattr(options, "path", None) or getattr(options, "url", "")
    location = getattr(options, "location", None)
    return f"{options.format}:{where}" + (f"#{location}" if location else "")


@dataclass
class Shop:
    """A shop API sink of a job: its options, outbox and client, built once."""

    id: str
    sink: ApiSink
    log: ChangeLog
    client: ShopClient

    def drain(self) -> str | None:
        """Send what is queued; the error that stopped it, if any."""
        return drain(self.log, self.client, self.sink.o).error


class Job:
    """A profile made ready to run: plugins built once, reused for every file."""

    def __init__(self, profile: ProfileBase, ledger: SqliteLedger | None = None):
        reg = load_plugins()
        self.profile = profile
        self.source = reg.get("source", profile.source.kind)(profile.source)
        self.reader = reg.get("reader", profile.read.format)(profile.read)
        self.mapper = Mapper(profile.map)
        self.ledger = ledger or SqliteLedger(profile.ledger_path())
        self.delivery = Delivery(getattr(profile, "destinations", None) or {}, profile.name)
        stock = getattr(profile, "stock", None)
        self.inventory = Inventory(self.ledger, stock) if stock is not None else None
        if stock is not None:
            load_pullers()
        # Profiles of one inventory share what each shop acknowledged: a store sale
        # pushed by one is not pushed again by the next ERP file.
        state = f"inventory:{stock.inventory}" if stock is not None else profile.name
        self.shops: dict[str, Shop] = {}
        for options in profile.write:
            cls = reg.get("sink", options.format)
            if issubclass(cls, ApiSink):
                loc = getattr(options, "location", None)
                if self.inventory is not None and loc in self.inventory.spec.locations:
                    # This sink sells from one location: it reads that location's figure.
                    options = options.model_copy(update={"fields": options.fields | {
                        "stock": f"stock@{loc}"}})
                sink, sid = cls(options), sink_id(options)
                clog = ChangeLog(self.ledger, state, sid)
                self.shops[sid] = Shop(sid, sink, clog, client_for(sink, clog))

    def drain(self) -> list[str]:
        """Send changes earlier runs left queued; the errors of shops still failing."""
        return [f"{s.id}: {e}" for s in self.shops.values() if (e := s.drain())]

    # Shared stock: orders in, movement files out, the timetable (filebridge.stock_jobs).
    def pull_orders(self) -> int:
        from filebridge.stock_jobs import pull_orders

        return pull_orders(self)

    def movement_writer(self) -> Any:
        from filebridge.stock_jobs import movement_writer

        return movement_writer(self)

    def scheduled(self) -> list[Any]:
        from filebridge.stock_jobs import timetable

        return timetable(self)

    def close(self) -> None:
        for s in self.shops.values():
            s.client.close()

    @property
    def name(self) -> str:
        return self.profile.name

    def output_folders(self) -> list[Path]:
        ctx = SinkContext(self.profile.base, _vars(Path("x"), self.name, 0), Outbox())
        paths = [ctx.path(s.path).parent for s in self.profile.write if hasattr(s, "path")]
        fb = self.profile.feedback
        paths += [ctx.path(o.path).parent for o in (fb.ack, fb.rejects) if o is not None]
        return paths

    def sweep(self) -> int:
        return sweep(self.output_folders()) + self.source.sweep()

    @contextmanager
    def poll(self) -> Iterator[None]:
        """One scan's worth of work: remote sources and destinations connect once."""
        with self.source.poll(), self.delivery.poll():
            yield

    def batches(self, path: Path, report: FileReport) -> Iterator[Batch]:
        for raw in self.reader.read(path, report):
            yield self.mapper.apply(raw, report)


def _vars(path: Path, profile: str, claimed: float) -> dict[str, str]:
    t = datetime.fromtimestamp(claimed)
    return {"stem": path.stem, "name": path.name, "profile": profile,
            "date": t.strftime("%Y%m%d"), "time": t.strftime("%H%M%S")}


Progress = Callable[[int], None]


def already_processed(job: Job, path: Path, dig: str, size: int, run_id: int, force: bool
                      ) -> tuple[Outcome | None, FileRow | None]:
    """Whether the file was processed already, by the profile's rule of once
    (``once:``, content or name and content): its outcome if so (archived, or
    skipped as a duplicate); otherwise the claim a crashed run left in flight, to be
    redone with its claim time and so its output names (None: a new file)."""
    ledger, name = job.ledger, path.name
    by_name = job.profile.once_rule == "name_and_content"
    prior = ledger.find(job.name, dig, name if by_name else None)
    if prior is not None and prior.status == "done" and not force:
        if prior.moved_to is None and prior.name == name:
            # Processed, but the crash came before the archive move: just finish it.
            where = job.source.archive(path)
            ledger.moved(prior.id, where)
            return Outcome(name, "done", reason="already processed; archived",
                           moved_to=where), None
        where = job.source.archive(path)
        reason = ("same name and content as a file already processed" if by_name
                  else f"same content as {prior.name}, already processed")
        ledger.record(job.name, dig, name, size, run_id, "duplicate", reason, where)
        log.info("%s: %s: %s: skipped", job.name, name, reason)
        return Outcome(name, "duplicate", reason=reason, moved_to=where), None
    return None, prior if prior is not None and prior.status == "processing" else None


def process(job: Job, path: Path, run_id: int, *, force: bool = False,
            progress: Progress | None = None) -> Outcome:
    """Process one complete file. Never raises for bad input; ledger errors propagate."""
    ledger, name = job.ledger, path.name
    dig = digest(path)
    size = path.stat().st_size
    seen, redo = already_processed(job, path, dig, size, run_id, force)
    if seen is not None:
        return seen
    row = ledger.claim(job.name, dig, name, size, run_id, redo=redo)
    outbox = Outbox()
    ctx = SinkContext(job.profile.base, _vars(path, job.name, row.claimed), outbox,
                      key=job.profile.map.key, product=job.profile.map.product)
    report = FileReport(name)
    ctx.extra.update(file_id=row.id, run_id=run_id)
    hold: str | None = None
    try:
        job.source.verify(path)
        tally, snapshots, syncs = _convert(job, path, ctx, report, progress)
        if syncs:
            hold = _send(job, syncs, row.id, run_id, tally, report)
        _feedback(job, ctx, name, "held" if hold else "done", tally, report, hold or "")
        outputs = outbox.publish()
        job.delivery.send(outbox.files)
        for done in ctx.extra.get("published", []):
            done()
    except RejectedFile as e:
        outbox.abort()
        for shop in job.shops.values():
            shop.log.unstage(row.id)
        return _reject(job, path, row.id, row.claimed, report, e, run_id)
    except BaseException:
        outbox.abort()
        report.close()
        raise
    ledger.finish(row.id, job.name, "done", tally.as_dict(), hold, snapshots=snapshots)
    where = job.source.archive(path)
    ledger.moved(row.id, where)
    report.close()
    if hold:
        log.warning("%s: %s: held for approval (filebridge approve %d --profile ...): %s",
                    job.name, name, run_id, hold)
        return Outcome(name, "held", tally, outputs, hold, moved_to=where)
    log.info("%s: %s: done: %s", job.name, name, _counts(tally))
    return Outcome(name, "done", tally, outputs, moved_to=where)


def _send(job: Job, syncs: list[ApiSync], file_id: int, run_id: int, tally: Tally,
          report: FileReport) -> str | None:
    """Queue (or hold) the file's API changes, send them, and account for every row
    by what the shops answered. Returns why the run is held, if it is."""
    last = job.ledger.last_read(job.name)
    reasons = [f"{s.sink_id}: {r}" for s in syncs if (r := s.verdict(tally.read, last))]
    hold = "; ".join(reasons) or None
    for s in syncs:
        s.commit(hold is not None)
    if hold is None:
        for s in syncs:
            error = job.shops[s.sink_id].drain()
            if error:
                log.warning("%s: %s: %s", job.name, s.sink_id, error)
    rejected: dict[int, list[str]] = {}
    waiting: set[int] = set()
    for s in syncs:
        for line, key, status, error, record in s.log.outcomes(file_id):
            if line is None:  # the missing-products policy: no input row
                continue
            if status == "rejected":
                first = line not in rejected
                rejected.setdefault(line, []).append(s.sink_id)
                report.reject(Reject(line, None, f"{s.sink_id}: the shop refused {key}: {error}",
                                     json.loads(record)), count=first)
            elif status in ("queued", "held"):
                waiting.add(line)
    waiting -= rejected.keys()
    tally.sent -= len(rejected) + len(waiting)
    tally.queued += len(waiting)
    report.flush()
    assert tally.balanced(), tally
    return hold


def _convert(job: Job, path: Path, ctx: SinkContext, report: FileReport,
             progress: Progress | None) -> tuple[Tally, dict[str, pa.Table], list[ApiSync]]:
    sinks = []
    syncs: list[ApiSync] = []
    reg = load_plugins()
    for options in job.profile.write:
        shop = job.shops.get(sink_id(options))
        if shop is not None:
            syncs.append(ApiSync(shop.sink, shop.id, shop.log, ctx.product,
                                 ctx.extra.get("file_id"), ctx.extra.get("run_id")))
            continue
        sink = reg.get("sink", options.format)(options)
        delta = (Delta(job.ledger, job.name, sink_id(options), job.profile.map.key or "")
                 if options.mode == "changes" else None)
        sinks.append((sink, delta))
    tally = report.tally
    started = []
    try:
        file_outputs = [o for o in job.profile.write if sink_id(o) not in job.shops]
        for (sink, _), options in zip(sinks, file_outputs, strict=True):
            sink.start(_routed(ctx, options))
            started.append(sink)
        for batch, weights in _feed(job, path, report, ctx, progress):
            report.flush()
            if progress:
                progress(tally.read)
            if not sinks and not syncs:  # a stock profile that only records (orders, acks)
                tally.sent += len(batch) if weights is None else pc.sum(weights).as_py() or 0
                continue
            if not len(batch):
                if weights is not None:  # stock rows with nothing to tell the shops
                    tally.unchanged += pc.sum(weights).as_py() or 0
                continue
            rejected_before = tally.rejected
            sent = None
            bad = None
            for sync in syncs:
                mask, refused = sync.write(batch, report)
                sent = mask if sent is None else pc.or_(sent, mask)
                bad = refused if bad is None else pc.or_(bad, refused)
            for sink, delta in sinks:
                if delta is None:
                    sink.write(batch)
                    sent = pa.array([True] * len(batch)) if sent is None else sent
                    continue
                mask = delta.changed(batch)
                sink.write(batch.filter(mask))
                sent = mask if sent is None else pc.or_(sent, mask)
            if bad is not None and sent is not None:
                sent = pc.and_(sent, pc.invert(bad))
            n_bad = _rows(bad, weights)
            n_sent = _rows(sent, weights)
            # A refused stock row stands for every input row of its SKU.
            tally.rejected = rejected_before + n_bad if bad is not None else tally.rejected
            total = len(batch) if weights is None else pc.sum(weights).as_py()
            tally.sent += n_sent
            tally.unchanged += total - n_sent - n_bad
        for sink, _ in sinks:
            sink.finish()
        for sync in syncs:
            if sync.o.missing != "ignore":
                sync.missing(refused_keys(job, report, sync.o.fields.get("sku", "sku")))
    except (ValueError, KeyError) as e:  # a sink that cannot render these records
        raise RejectedFile(f"output: {e}") from None
    finally:
        for sink in started:  # scratch files of a sink that stopped half-way
            close = getattr(sink, "close", None)
            if close is not None:
                close()
    if progress:
        progress(tally.read)
    if tally.read == 0 and tally.rejected == 0:
        raise RejectedFile("the file holds no records")
    assert tally.balanced(), tally
    snapshots = {d.sink: t for _, d in sinks if d is not None
                 for t in [d.merged()] if t is not None}
    return tally, snapshots, syncs


def _rows(mask: pa.Array | None, weights: pa.Array | None) -> int:
    """Input rows behind the rows of a mask (stock batches: several per SKU)."""
    if mask is None:
        return 0
    if weights is None:
        return pc.sum(mask).as_py() or 0
    return pc.sum(pc.if_else(mask, weights, 0)).as_py() or 0


def _feed(job: Job, path: Path, report: FileReport, ctx: SinkContext,
          progress: Progress | None) -> Iterator[tuple[Batch, pa.Array | None]]:
    """The batches the outputs get: the mapped records, or for a stock profile what
    may be sold of each SKU the file touched."""
    if job.inventory is None:
        for batch in job.batches(path, report):
            yield batch, None
        return

    def read() -> Iterator[Batch]:
        for batch in job.batches(path, report):
            report.flush()
            if progress:
                progress(report.tally.read)
            yield batch

    inv = job.inventory
    role = inv.spec.role
    source = f"web:file:{job.name}" if role == "orders" else f"pos:{job.name}"
    touched = ingest(inv, read(), path, ctx.extra["file_id"], source, report)
    report.flush()
    if role == "figures":
        job.pull_orders()  # sales the shop took since the export: before anything is pushed
    if role == "orders" and inv.spec.feedback is not None:
        # The ERP learns of the orders in this file's outputs, published with them.
        writer = job.movement_writer()
        files = writer.write(ctx.outbox.routed(inv.spec.feedback.deliver)
                             if inv.spec.feedback.deliver else ctx.outbox)
        ctx.extra.setdefault("published", []).append(
            lambda: writer.published([seq for seq, _, _ in files]))
    if inv.spec.role == "acks":  # nothing for the shops; the rows are accounted for
        yield (Batch(pa.table({"sku": pa.array([], pa.string())}), pa.array([], pa.int64())),
               pa.array([report.tally.read - report.tally.rejected - report.tally.skipped]))
        return
    found = ctx.extra["oversold"] = Oversold(f"{job.name}: {path.name}")
    yield from availability_batches(inv, touched, found=found)


def refused_keys(job: Job, report: FileReport, field: str) -> list[pa.Array]:
    """The keys of the file's rejected rows, as far as they can be worked out: a
    full-catalog sync must not take a badly listed product for one that left."""
    out: list[pa.Array] = []
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        keys = job.mapper.values_of(field, chunk)
        out.append(pa.array([None if v is None else str(v) for v in keys], pa.string()))
        chunk.clear()

    for rej in report.rejects():
        chunk.append(rej.values)
        if len(chunk) >= 10_000:
            flush()
    if chunk:
        flush()
    return out


def _feedback(job: Job, ctx: SinkContext, name: str, status: str, tally: Tally,
              report: FileReport, reason: str = "") -> None:
    fb = job.profile.feedback
    if fb.ack is not None:
        write_ack(fb.ack, _routed(ctx, fb.ack), ack_values(name, status, tally, reason)
                  | ack_columns(job.inventory, ctx.extra.get("oversold")))
    if fb.rejects is not None:
        write_rejects(fb.rejects, _routed(ctx, fb.rejects), report)


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
    except (OSError, ValueError):
        outbox.abort()
    except BaseException:
        report.close()
        raise
    try:
        # Before the ledger: if the ERP cannot be told, the file is redone later.
        job.delivery.send([f for f in outbox.files if f.final in published])
    finally:
        report.close()
    text = (f"file: {name}\nprofile: {job.name}\nstatus: rejected\nreason: {reason}\n"
            f"when: {datetime.now().isoformat(timespec='seconds')}\n"
            f"counts: {_counts(tally)}\n")
    where = job.source.quarantine(path, text)
    job.ledger.finish(file_id, job.name, "rejected", tally.as_dict(), reason)
    job.ledger.moved(file_id, where)
    log.warning("%s: %s: rejected: %s", job.name, name, reason)
    return Outcome(name, "rejected", tally, reason=reason, moved_to=where)


def _counts(t: Tally) -> str:
    return ", ".join(f"{k} {v}" for k, v in t.as_dict().items())
