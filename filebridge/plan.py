"""``filebridge plan``: what a file would do to every output, sending nothing.

The file is read and mapped exactly as a run would, and compared with what each
shop acknowledged; nothing is staged, sent or recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from filebridge.apisync import ApiSync, Plan, refused_keys
from filebridge.delta import Delta
from filebridge.pipeline import Job
from filebridge.records import FileReport


@dataclass
class FilePlan:
    shops: list[Plan] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # file output -> records it would get
    queued: dict[str, dict[str, int]] = field(default_factory=dict)  # left by earlier runs
    report: FileReport | None = None


def plan(job: Job, path: Path) -> FilePlan:
    """Read ``path`` through ``job`` and count what would happen. The caller closes
    ``result.report``. Raises RejectedFile when the file would be rejected."""
    report = FileReport(path.name)
    product = job.profile.map.product
    syncs = [ApiSync(s, s.id, s.log, product, None, None) for s in job.shops.values()]
    deltas = {s.id: (Delta(job.ledger, job.name, s.id, job.profile.map.key or "")
                     if getattr(s.o, "mode", "full") == "changes" else None)
              for s in job.sinks if s.id not in job.shops}
    out = FilePlan(report=report, files=dict.fromkeys(deltas, 0))
    for batch in job.batches(path, report):
        report.flush()
        if not len(batch):
            continue
        for sync in syncs:
            sync.write(batch, report)
        for sid, delta in deltas.items():
            out.files[sid] += len(batch) if delta is None else \
                sum(delta.changed(batch).to_pylist())
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
