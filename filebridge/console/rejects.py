"""A file's rejects, as the ERP got them: the rejects file the run wrote
(``feedback.rejects``, named from the file's claim time as the run named it), read
as a stream, filtered by reason or field."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filebridge.outputs import Outbox
from filebridge.sinks.base import SinkContext, output_vars

MAX_KINDS = 100  # distinct reasons or fields offered as filters


def rejects_file(job: Any, f: dict[str, Any]) -> Path | None:
    """Where the run wrote the rejects of file row ``f`` (None: the profile writes none)."""
    o = job.profile.feedback.rejects
    if o is None:
        return None
    ctx = SinkContext(job.profile.base,
                      output_vars(Path(f["name"]), job.name, f["claimed"]), Outbox())
    return ctx.path(o.path)


def rows(job: Any, path: Path) -> Iterator[dict[str, str]]:
    o = job.profile.feedback.rejects
    with open(path, encoding=o.encoding, errors="replace", newline="") as fh:
        yield from csv.DictReader(fh, delimiter=o.delimiter)


@dataclass
class Rejects:
    shown: list[dict[str, str]] = field(default_factory=list)
    matching: int = 0
    total: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)


def _kind(reason: str) -> str:
    """A reason without the row's own value, so rows group by it ("SKU00005: ..." and
    quoted values differ per row)."""
    return reason.split(": ", 1)[0][:120] if len(reason) > 120 else reason


def read(job: Any, path: Path, reason: str = "", fld: str = "", limit: int = 200) -> Rejects:
    out = Rejects()
    for row in rows(job, path):
        out.total += 1
        r, f = row.get("reason") or "", row.get("field") or ""
        if len(out.reasons) < MAX_KINDS or _kind(r) in out.reasons:
            out.reasons[_kind(r)] += 1
        if len(out.fields) < MAX_KINDS or f in out.fields:
            out.fields[f] += 1
        if (reason and reason not in r) or (fld and f != fld):
            continue
        out.matching += 1
        if len(out.shown) < limit:
            out.shown.append(row)
    return out
