"""What became of one input file (:class:`Outcome`), and the files that tell the ERP
so: the acknowledgement, the rejects file and the run report."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filebridge.feedback import ack_values, erp_zone, write_ack, write_rejects
from filebridge.records import FileReport, Tally
from filebridge.sinks.base import SinkContext

if TYPE_CHECKING:
    from filebridge.job import Job

__all__ = ["Outcome", "counts", "feedback", "routed"]


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


def feedback(job: Job, ctx: SinkContext, name: str, status: str, tally: Tally,
              report: FileReport, reason: str = "") -> None:
    fb = job.profile.feedback
    stock: dict[str, Any] = {}
    if job.inventory is not None:
        from filebridge.stock.files import ack_columns

        stock = ack_columns(job.inventory, ctx.oversold, ctx.movements, ctx.documents)
    if fb.ack is not None:
        values = ack_values(name, status, tally, reason, report.warnings,
                            zone=erp_zone(job.profile)) | stock
        if fb.report is not None:  # the ack names the run report beside it
            from filebridge.report import report_path

            values["report"] = ctx.path(report_path(fb)).name
        write_ack(fb.ack, routed(ctx, fb.ack), values)
    if fb.rejects is not None:
        write_rejects(fb.rejects, routed(ctx, fb.rejects), report)
    if fb.report is not None:
        from filebridge.report import write_report

        write_report(fb, routed(ctx, fb.report), job, name, status, tally, report, reason,
                     stock)


def routed(ctx: SinkContext, options: Any) -> SinkContext:
    """The context one output writes through: its files carry its ``deliver:``."""
    deliver = getattr(options, "deliver", None)
    return replace(ctx, outbox=ctx.outbox.routed(deliver)) if deliver else ctx


def counts(t: Tally) -> str:
    return ", ".join(f"{k} {v}" for k, v in t.as_dict().items())
