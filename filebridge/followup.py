"""Follow-up acks: the ERP learns what became of rows an ack called *queued*.

An input's ack says ``queued N`` when some of its shop changes could not be sent
yet (the shop was down, refused the login, or the circuit breaker held the run).
Once the last of them is settled, by a later run, a watch cycle or ``approve``, the
ERP gets one more ack for that input, written atomically beside the first (the ack's
path with ``.followup`` before its extension, or ``feedback.ack.followup``):

- the same columns and layout as the ack, ``file`` the input's name, ``status``
  done, the counts of the whole input again with ``queued`` 0: the rows that were
  queued now counted as ``sent``, ``rejected`` (the shop refused them) or
  ``unchanged`` (a later file changed the same SKU first and its value went out);
- ``reason``: ``follow-up: …`` with those three numbers;
- the rows the shop refused in a follow-up rejects file (``.followup`` likewise).

Exactly once per input: the rows counted queued are saved with the file's outcome
(ledger table ``followups``), the files are published, then the ledger notes them
written; a crash in between writes the same names again.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from filebridge.errors import FilebridgeError
from filebridge.feedback import ack_values, erp_zone, write_ack, write_rejects
from filebridge.ledger import followups
from filebridge.outputs import Outbox
from filebridge.records import FileReport, Reject, Tally
from filebridge.sinks.base import SinkContext, output_vars

log = logging.getLogger("filebridge")

SUFFIX = ".followup"
_RANK = {"superseded": 1, "sent": 2, "rejected": 3}  # the strongest mark decides


def followup_path(final: Path) -> Path:
    """``feedback/A.ack.csv`` -> ``feedback/A.ack.followup.csv``."""
    return final.with_name(final.stem + SUFFIX + final.suffix)


def write_due(job: Any) -> int:
    """Write the follow-up acks now due for ``job``'s inputs; how many."""
    ledger = job.ledger
    written = 0
    for d in followups.due(ledger, job.name):
        try:
            path = _write(job, d.file_id, np.frombuffer(d.ordinals, "<i8"),
                          np.frombuffer(d.weights, "<i8") if d.weights else None, d.name,
                          d.claimed, Tally(**d.tally))
        except (OSError, FilebridgeError) as e:  # the disk, a destination: next time
            log.warning("%s: %s: the follow-up ack could not be written yet: %s", job.name,
                        d.name, e)
            continue
        followups.written(ledger, d.file_id, path)
        written += 1
    return written


def _write(job: Any, file_id: int, ordinals: np.ndarray, weights: np.ndarray | None,
           name: str, claimed: float, tally: Tally) -> Path | None:
    fb = job.profile.feedback
    final: dict[int, tuple[str, tuple[Any, ...]]] = {}
    for ord_, status, sink, key, error, line, record in ledger_rows(job.ledger, file_id):
        if ord_ is None or status not in _RANK:
            continue
        if ord_ not in final or _RANK[status] > _RANK[final[ord_][0]]:
            final[ord_] = (status, (sink, key, error, line, record))
    report = FileReport(name)
    counts = {"sent": 0, "rejected": 0, "unchanged": 0}
    try:
        for i, ord_ in enumerate(ordinals.tolist()):
            w = int(weights[i]) if weights is not None else 1
            status, (sink, key, error, line, record) = final.get(ord_, ("superseded", (
                None, None, None, None, None)))
            what = {"sent": "sent", "rejected": "rejected"}.get(status, "unchanged")
            counts[what] += w
            if status == "rejected":
                report.reject(Reject(line or 0, None, f"{sink}: the shop refused {key}: {error}",
                                     json.loads(record) if record else {}), count=False)
        report.tally.rejected = counts["rejected"]
        total = sum(counts.values())
        tally.queued = max(tally.queued - total, 0)
        tally.sent += counts["sent"]
        tally.rejected += counts["rejected"]
        tally.unchanged += counts["unchanged"]
        if fb.ack is None:
            return None
        outbox = Outbox()
        ctx = SinkContext(job.profile.base, output_vars(Path(name), job.name, claimed), outbox)
        ack_final = ctx.path(fb.ack.followup) if fb.ack.followup else \
            followup_path(ctx.path(fb.ack.path))
        reason = (f"follow-up: of the {total} rows queued, {counts['sent']} sent, "
                  f"{counts['rejected']} refused by the shop, {counts['unchanged']} overtaken "
                  "by a later change to the same key")
        deliver = getattr(fb.ack, "deliver", None)
        write_ack(fb.ack.model_copy(update={"path": str(ack_final)}),
                  _routed(ctx, deliver), ack_values(name, "done", tally, reason,
                                                         zone=erp_zone(job.profile)))
        if fb.rejects is not None and counts["rejected"]:
            rej_final = followup_path(ctx.path(fb.rejects.path))
            write_rejects(fb.rejects.model_copy(update={"path": str(rej_final)}),
                          _routed(ctx, fb.rejects.deliver), report)
        try:
            outbox.publish()
            job.delivery.send(outbox.files)
        except BaseException:
            outbox.abort()
            raise
    finally:
        report.close()
    log.info("%s: %s: follow-up ack %s (%s)", job.name, name, ack_final, reason)
    return ack_final


def _routed(ctx: SinkContext, deliver: list[str] | None) -> SinkContext:
    from dataclasses import replace

    return replace(ctx, outbox=ctx.outbox.routed(deliver)) if deliver else ctx


def ledger_rows(ledger: Any, file_id: int) -> list[tuple[Any, ...]]:
    return followups.changes(ledger, file_id)
