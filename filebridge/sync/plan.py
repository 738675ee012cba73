"""``filebridge plan``: what a file would do to every output, sending nothing.

The file is read and mapped exactly as a run would, and compared with what each
shop acknowledged; nothing is staged, sent or recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.delta import differs, row_hashes
from filebridge.delta_index import load
from filebridge.job import Job
from filebridge.records import Batch, FileReport
from filebridge.sync.changes import ApiSync, Plan, refused_keys


@dataclass
class FileOutput:
    """What one file output would get: ``records`` written; for ``mode: changes``,
    the file's records against the last delivery (its snapshot in the ledger)."""

    changes: bool
    shipments: bool = False  # a shipments profile's shop: rows, not records
    records: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0  # delivered before, absent from this file (the output keeps quiet)
    _known: pa.Table | None = None
    _keys: list[pa.Array] = field(default_factory=list)

    def add(self, batch: Batch, key: str) -> None:
        if not self.changes:
            self.records += len(batch)
            return
        keys = pc.cast(batch.column(key), pa.string())
        changed, new = differs(self._known, keys, row_hashes(batch))
        n_changed, n_new = pc.sum(changed).as_py() or 0, pc.sum(new).as_py() or 0
        self.records += n_changed
        self.new += n_new
        self.changed += n_changed - n_new
        self.unchanged += len(batch) - n_changed
        self._keys.append(keys)  # keys only: bounded by the catalog, not by its rows

    def finish(self) -> None:
        if self.changes and self._known is not None and self._known.num_rows:
            seen = pa.concat_arrays(self._keys) if self._keys else pa.array([], pa.string())
            kept = pc.sum(pc.is_in(self._known["key"], value_set=seen)).as_py() or 0
            self.removed = self._known.num_rows - kept
        self._keys = []

    def describe(self) -> str:
        if self.shipments:
            return (f"{self.records} shipment rows; which orders, lines and units the shop "
                    "takes is known only when run (plan asks the shop nothing)")
        if not self.changes:
            return f"{self.records} records (mode: full, every record)"
        return (f"{self.records} records (new {self.new}, changed {self.changed}, "
                f"unchanged {self.unchanged}, removed {self.removed}; mode: changes)")


@dataclass
class FilePlan:
    shops: list[Plan] = field(default_factory=list)
    files: dict[str, FileOutput] = field(default_factory=dict)  # file output -> its plan
    queued: dict[str, dict[str, int]] = field(default_factory=dict)  # left by earlier runs
    report: FileReport | None = None


def plan(job: Job, path: Path) -> FilePlan:
    """Read ``path`` through ``job`` and count what would happen. The caller closes
    ``result.report``. Raises RejectedFile when the file would be rejected."""
    report = FileReport(path.name)
    product = job.profile.map.product
    syncs = [ApiSync(s, s.id, s.log, product, None, None) for s in job.shops.values()]
    key = job.profile.map.key or ""
    files = {}
    for s in job.sinks:
        if s.id not in job.shops:
            changes = getattr(s.o, "mode", "full") == "changes"
            files[s.id] = FileOutput(changes, hasattr(s, "shipper"),
                                     _known=load(job.ledger, job.name, s.id).table
                                     if changes else None)
    out = FilePlan(report=report, files=files)
    for batch in job.batches(path, report):
        report.flush()
        if not len(batch):
            continue
        for sync in syncs:
            sync.write(batch, report)
        for output in files.values():
            output.add(batch, key)
    for output in files.values():
        output.finish()
    last = job.ledger.last_read(job.name)
    for sync in syncs:
        sync.missing(refused_keys(job, report, sync.o.fields.get("sku", "sku"))
                     if sync.o.missing != "ignore" else None)
        sync.verdict(report.tally.read, last)
        out.shops.append(sync.plan)
    for s in job.shops.values():
        counts = s.log.counts()
        waiting = {k: v for k, v in counts.items() if k in ("queued", "held")}
        if waiting:
            out.queued[s.id] = waiting
    report.flush()
    return out
