"""A profile made ready to run (:class:`Job`): its source, reader, mapping, sinks,
ledger and lease, built once and reused for every file; the restart sweep and what
a scan of the inbox connects once. The per-file flow is filebridge/pipeline.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from filebridge import rawskip
from filebridge.destinations.delivery import Delivery
from filebridge.digest import digest
from filebridge.errors import Bug, TransferError
from filebridge.followup import write_due
from filebridge.keys import UniqueKeys
from filebridge.ledger import open_ledger
from filebridge.ledger.leases import Lease
from filebridge.ledger.sqlite import Ledger
from filebridge.mapping import Mapper
from filebridge.outputs import Outbox, sweep
from filebridge.processes import pid_alive
from filebridge.profile import ProfileBase
from filebridge.rawskip import Delivered, Skip
from filebridge.records import Batch, FileReport
from filebridge.registry import REGISTRY
from filebridge.sinks.base import SCRATCH, JobInfo, Sink, SinkContext, output_vars

__all__ = ["Job", "Progress"]

Progress = Callable[[int], None]


class Job:
    """A profile made ready to run: source, reader, mapping and every sink built
    once, reused for every file."""

    def __init__(self, profile: ProfileBase, ledger: Ledger | None = None):
        reg = REGISTRY
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
            from filebridge.photos.store import store_path

            store = store_path(profile.photos, self.ledger.home, profile.name)
            self.photos = Photos(profile.photos, self.ledger, profile.name, self.delivery,
                                 self.scratch_root, store)
        stock = getattr(profile, "stock", None)
        self.inventory = None
        if stock is not None:
            from filebridge.orders import load_pullers
            from filebridge.stock.inventory import Inventory

            self.inventory = Inventory(self.ledger, stock)
            load_pullers()
        # Profiles of one inventory share what each shop acknowledged: a store sale
        # pushed by one is not pushed again by the next ERP file.
        info = JobInfo(profile.name, f"inventory:{stock.inventory}" if stock is not None
                       else profile.name, self.ledger, profile.map, profile.base,
                       self.mapper, _photo_store(profile, self.ledger))
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
        # The stock outputs of the other profiles of the inventory (filebridge/stock/share.py):
        # a store's or an orders file's outputs too; told after pulls and webhooks.
        self.shared: list[Sink] = []
        if stock is not None and self.inventory is not None and stock.role != "acks":
            from filebridge.stock.share import shared_sinks

            self.shared = shared_sinks(profile, self.inventory, self.ledger, reg,
                                       {s.id for s in self.sinks})
            if stock.role in ("movements", "orders"):
                self.sinks.extend(self.shared)
        self.skip_stamp = self._skip_stamp()

    def _skip_stamp(self) -> str | None:
        """The fingerprint records are skipped under (filebridge/rawskip.py), or None
        when this profile's records are always decoded."""
        p = self.profile
        if not (p.map.key and self.sinks and getattr(self.reader, "skips", False)
                and self.related is None and self.photos is None and self.inventory is None
                and getattr(p, "shipments", None) is None
                and not any(s.needs_unchanged() for s in self.sinks)):
            return None
        return rawskip.fingerprint(p.read, p.map)

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
            write_due(self)
        return errors

    # Shared stock: orders in, movement files out, the timetable (filebridge.stock.jobs).
    def pull_orders(self, push: bool = True, moved: set[str] | None = None) -> int:
        from filebridge.stock.jobs import pull_orders

        return pull_orders(self, push, moved)

    def movement_writer(self) -> Any:
        from filebridge.stock.jobs import movement_writer

        return movement_writer(self)

    def scheduled(self) -> list[Any]:
        from filebridge.stock.jobs import timetable

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
        ctx = SinkContext(self.profile.base, output_vars(Path("x"), self.name, 0), Outbox())
        paths = [ctx.path(p).parent for s in self.sinks for p in s.paths()]
        fb = self.profile.feedback
        paths += [ctx.path(o.path).parent for o in (fb.ack, fb.rejects) if o is not None]
        if self.photos is not None:  # a photo's copy cut short by a crash
            paths.append(self.photos.target)
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

    def batches(self, path: Path, report: FileReport, today: date | None = None,
                skip: Skip | None = None) -> Iterator[Batch]:
        """The file's records, joined with its tables (``join:``), mapped; ``today``:
        the run date expressions see (the claim's, so a file redone after a crash maps
        as it did; default: now); ``skip``: records known unchanged, left undecoded."""
        # A batch a filter emptied is left out: the mapper returns an empty batch as it
        # came (input fields), which outputs would take for mapped records.
        if self.related is None:
            raws = self.reader.read(path, report) if skip is None else \
                self.reader.read(path, report, skip=skip)
            for raw in raws:
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
        dig = digest(path, self.ledger.digest_kind)
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
            from filebridge.stock.feed import stock_feed

            yield from stock_feed(self, path, ctx, progress)
            return
        if ctx.report is None:
            raise Bug("expected ctx.report is not None")
        key = self.profile.map.key
        # Started outputs: a mode: changes snapshot of the key is loaded by now.
        known = next((k for s in self.sinks if (k := s.known_keys(key)) is not None), None) \
            if key else None
        unique = UniqueKeys(key, known) if key else None
        skip = ctx.skip = self._skip(ctx, unique)
        photos = self.photos.scan(ctx.report) if self.photos is not None else None
        for batch in self.batches(path, ctx.report, ctx.today, skip):
            if unique is not None:
                batch = unique.check(batch, ctx.report)
            if photos is not None:
                batch = photos.apply(batch, ctx.report)
            if skip is not None and ctx.rows is not None:
                batch = skip.fed_batch(batch, ctx.rows.n)
            ctx.report.flush()
            if progress:
                progress(ctx.report.tally.read)
            yield batch, None
        if skip is not None and ctx.rows is not None:
            ctx.rows.unlisted += skip.count  # read, and unchanged: as the outputs would say

    def _skip(self, ctx: SinkContext, unique: UniqueKeys | None) -> Skip | None:
        """Records this file may leave undecoded (filebridge/rawskip.py), when the
        profile qualifies: a reader that can, every output a ``mode: changes`` file on
        the map key, nothing else that reads each row."""
        if self.skip_stamp is None or unique is None or ctx.rows is None \
                or ctx.report is None or ctx.forced or not rawskip.ENABLED:
            return None
        found = [s.known_keys(unique.field) for s in self.sinks]
        indexes = [i for i in found if i is not None]
        # Every output's snapshot is needed to check an entry against: without one
        # the entries are not even loaded.
        delivered = Delivered.load(self.ledger, self.name, self.skip_stamp) \
            if len(indexes) == len(found) else None
        return Skip(self.skip_stamp, delivered, indexes, unique, ctx.rows, ctx.report)


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


def _photo_store(profile: ProfileBase, ledger: Ledger) -> Path | None:
    """The store the API sinks read ``photo:`` references from (photos without a
    public folder), else None."""
    spec = profile.photos
    if spec is None or spec.public is not None:
        return None
    from filebridge.photos.store import store_path

    return store_path(spec, ledger.home, profile.name)
