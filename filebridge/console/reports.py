"""A file's HTML run report (``feedback.report``), served by the console: only files
inside the profile's report folder (the fixed part of the report path, before any
``{placeholder}``), so a name in a URL cannot reach the ledger, a profile or a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filebridge.outputs import Outbox
from filebridge.sinks.base import SinkContext, output_vars


def _template(job: Any) -> str | None:
    fb = job.profile.feedback
    if fb.report is None:
        return None
    from filebridge.report import report_path

    return report_path(fb)


def folder(job: Any) -> Path | None:
    """The folder reports are served from (None: the profile writes no report)."""
    t = _template(job)
    if t is None:
        return None
    fixed = t.split("{", 1)[0].rpartition("/")[0]
    return (job.profile.base / fixed).resolve()


def report_file(job: Any, f: dict[str, Any]) -> Path | None:
    """Where the run wrote the report of file row ``f`` (None: the profile writes none)."""
    t = _template(job)
    if t is None:
        return None
    ctx = SinkContext(job.profile.base,
                      output_vars(Path(f["name"]), job.name, f["claimed"]), Outbox())
    return ctx.path(t)


def link(job: Any, f: dict[str, Any]) -> str | None:
    """The report's name below :func:`folder`, if the run wrote it and it is still there."""
    top, path = folder(job), report_file(job, f)
    if top is None or path is None:
        return None
    path = path.resolve()
    if not path.is_file() or not path.is_relative_to(top):
        return None
    return path.relative_to(top).as_posix()


def served(job: Any, name: str) -> Path | None:
    """The report file ``name`` names below the folder; None for anything else (a path
    that leaves the folder, through ``..`` or a link, or no such file)."""
    top = folder(job)
    if top is None or not name or "\x00" in name or name.startswith("/"):
        return None
    path = (top / name).resolve()
    if not path.is_relative_to(top) or path == top or not path.is_file():
        return None
    if not path.name.endswith(".html"):
        return None
    return path
