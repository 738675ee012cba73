"""What a file would become, without writing anything: its first mapped records and
its rejects. Behind ``filebridge preview`` and the console's upload preview."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filebridge.errors import RejectedFile, Waiting
from filebridge.records import FileReport, Reject, Tally, plain


@dataclass
class Preview:
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line, record)
    rejects: list[Reject] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    rejected: str | None = None  # the whole file would be rejected: why
    waits: str | None = None     # the file would wait (a code table, a set member): why

    def record_json(self, rec: dict[str, Any]) -> str:
        return json.dumps({k: plain(v) for k, v in rec.items()}, ensure_ascii=False)


def preview(job: Any, path: Path, rows: int = 10, rejects: int = 20,
            whole: bool = False) -> Preview:
    """The first ``rows`` mapped records of ``path`` and its first ``rejects`` rejects.
    Reading stops once both are found unless ``whole`` (then the tally counts the whole
    file). Records stream through; nothing is kept beyond what is shown."""
    out = Preview()
    report = FileReport(path.name)
    try:
        if job.related is not None:
            job.related.refresh()  # code tables, as a run would load them
        for batch in job.batches(path, report):
            for line, rec in zip(batch.lines.to_pylist(), batch.rows(), strict=True):
                if len(out.records) >= rows:
                    break
                out.records.append((line, rec))
            if not whole and len(out.records) >= rows and report.tally.rejected >= rejects:
                break
        report.flush()
        out.rejects = list(itertools.islice(report.rejects(), rejects))
    except RejectedFile as e:
        out.rejected = str(e)
    except Waiting as e:
        out.waits = str(e)
    finally:
        out.tally = report.tally
        report.close()
    return out
