"""The run report's options (kept apart from the report's code, which imports Jinja2
and pygal: the profile model is loaded by every command, the report only by a run)."""

from __future__ import annotations

import re

from pydantic import Field

from filebridge.options import Deliver, Model, OutputPath


class ReportOptions(Model):
    """An HTML page per input file for people: counts, rejects by reason, changes,
    stock, timings, with charts; one self-contained file (no network, no scripts)."""

    path: OutputPath | None = Field(None, description="where, relative to the profile's "
                                    "folder; default: beside the ack, its name with "
                                    ".report.html for .ack.csv (feedback/{stem}.report.html)")
    charts: bool = Field(True, description="draw the counts and the main reject reasons as "
                         "inline SVG charts")
    examples: int = Field(3, ge=0, le=20, description="example lines shown per reject "
                          "group")
    hide_fields: list[str] = Field(default_factory=list, description="fields whose values "
                                   "are never shown in examples, besides those whose names "
                                   "look personal (name, mail, phone, address, iban, ...)")
    deliver: Deliver = []


def beside_ack(ack_path: str | None) -> str:
    """The report's path template when the profile gives none: the ack's, with
    ``.report.html`` for its ``.ack.csv`` (or its extension)."""
    if ack_path is None:
        return "feedback/{stem}.report.html"
    head, sep, tail = ack_path.rpartition("/")
    tail = re.sub(r"(\.ack)?(\.[A-Za-z0-9]+)?$", ".report.html", tail, count=1)
    return head + sep + tail
