"""Files for the ERP about each input: an acknowledgement (status and counts) and
a rejects file (one line per rejected row: line, field, reason, original values).

Both go through the same outbox as the shop outputs, so the ERP sees them only
once everything for that input is in place. Counts always add up:
read = sent + unchanged + rejected + skipped + queued. A stock profile's ack adds
two figures that are not row counts: ``oversold`` (units sold beyond the stock among
the SKUs the file touched) and ``oversold_skus``; an orders profile with movement
files a third, ``movements``: the lines written into them with the file's outputs;
one with order documents ``documents``: the new documents its orders made.
Times are written in the ERP's zone (``feedback.timezone``, see :func:`erp_zone`).
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from filebridge import erpfile
from filebridge.erpfile import fit
from filebridge.layouts.fixed import FixedField
from filebridge.options import Deliver, Encoding, Model, OutputPath
from filebridge.records import FileReport, Tally
from filebridge.report.options import ReportOptions
from filebridge.sinks.base import SinkContext

ACK_FIELDS = ["file", "status", "read", "sent", "unchanged", "rejected", "skipped", "queued",
              "reason", "processed", "warnings", "oversold", "oversold_skus", "movements",
              "documents", "report"]


class AckOptions(Model):
    """The acknowledgement written for every input file."""

    format: Literal["csv", "fixed"] = Field("csv", description="csv, or fixed for an ERP "
                                            "that reads fixed-width records")
    path: OutputPath = Field("feedback/{stem}.ack.csv", description="where, relative to the "
                      "profile's folder")
    delimiter: str = Field(";", min_length=1, max_length=1, description="for csv")
    encoding: Encoding = Field("utf-8", description="output encoding")
    fields: dict[str, FixedField] | None = Field(
        None, description="for fixed: the record layout; field names among " +
        ", ".join(ACK_FIELDS) + ". A stock profile's csv ack ends with oversold (units sold "
        "beyond the stock among the file's SKUs) and oversold_skus, an orders profile's with "
        "movement files then with movements (the lines written into them with the file), one "
        "with order documents with documents (the new documents the file's orders made); "
        "figures beside the row counts, not part of them; blank when nothing was worked out "
        "(a rejected file, acks). With feedback.report, the csv ack ends with report: the "
        "run report's file name. processed is the time in feedback.timezone: ISO 8601 with "
        "its offset in csv, local wall time in fixed (a date field in its format)")
    done_file: str | None = Field(None, description="empty marker written after the file")
    deliver: Deliver = []
    followup: OutputPath | None = Field(
        None, description="where the follow-up ack goes once the shop changes an ack "
        "counted as queued are settled (sent, refused, or overtaken): same columns, the "
        "input's counts with queued 0 and a reason 'follow-up: ...'; default: the ack's path "
        "with .followup before its extension (feedback/A.ack.followup.csv)")

    @model_validator(mode="after")
    def _layout(self) -> AckOptions:
        if self.format == "fixed" and not self.fields:
            raise ValueError("format: fixed needs fields (the ERP's record layout)")
        for name in self.fields or {}:
            if name not in ACK_FIELDS:
                raise ValueError(f"unknown ack field {name!r}; known: {', '.join(ACK_FIELDS)}")
        return self


class RejectsOptions(Model):
    """The rejected rows of an input file."""

    path: OutputPath = Field("feedback/{stem}.rejects.csv", description="where, relative to the "
                      "profile's folder")
    delimiter: str = Field(";", min_length=1, max_length=1, description="field separator")
    encoding: Encoding = Field("utf-8", description="output encoding")
    always: bool = Field(False, description="write the file (header only) even without "
                         "rejects")
    deliver: Deliver = []


class FeedbackOptions(Model):
    """What goes back to the ERP for each input file."""

    ack: AckOptions | None = Field(default_factory=AckOptions, description="the "
                                   "acknowledgement; null for none")
    rejects: RejectsOptions | None = Field(default_factory=RejectsOptions, description="the "
                                           "rejects file (with warnings, level: warning); "
                                           "null for none")
    report: ReportOptions | None = Field(
        None, description="an HTML run report per input file, for people (counts, rejects "
        "by reason with examples, changes by field, stock, timings, charts), beside the ack; "
        "{} to turn it on. Off by default: it adds a report column to the csv ack, which an "
        "ERP importing a fixed set of columns may not expect")
    timezone: str | None = Field(
        None, description="the ERP's time zone, an IANA name such as Europe/Rome: times in "
        "the files for the ERP (the ack's processed, stock.feedback's movement files and "
        "their {date} {time} names) are written in it, fixed-width fields as local wall "
        "time in the layout's format, CSV as ISO 8601 with the offset; default: "
        "stock.as_of.timezone when set, else this machine's local time (TZ, /etc/localtime)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            zone_named(v)
        return v


def zone_named(name: str) -> tzinfo:
    """An IANA zone, or a ValueError naming what would have been valid."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (an IANA name such as Europe/Rome, "
                         "America/New_York or UTC)") from None


def erp_zone(profile: Any) -> tzinfo:
    """The zone the ERP reads times in: ``feedback.timezone``, else the zone the ERP's
    own times are read in (``stock.as_of.timezone``), else this machine's."""
    from filebridge.schedule import local_zone

    stock = getattr(profile, "stock", None)
    name = profile.feedback.timezone or (stock.as_of.timezone if stock is not None else None)
    return zone_named(name) if name else local_zone()


def ack_values(name: str, status: str, tally: Tally, reason: str = "",
               warnings: int = 0, zone: tzinfo | None = None) -> dict[str, object]:
    """The ack's values; ``processed`` is now in the ERP's ``zone`` (default: this
    machine's), rendered by :func:`write_ack` for the ack's format."""
    if zone is None:
        from filebridge.schedule import local_zone

        zone = local_zone()
    return {"file": name, "status": status, **tally.as_dict(), "reason": reason,
            "processed": datetime.now(zone).replace(microsecond=0), "warnings": warnings}


def erp_time(value: datetime, fixed: FixedField | None = None) -> object:
    """A time for the ERP: in a fixed-width field, its local wall time (a date field
    formats it in the layout's format; a text field gets 2026-03-29T03:30:00); in CSV,
    ISO 8601 with the offset (2026-03-29T03:30:00+02:00)."""
    if fixed is None:
        return value.isoformat(timespec="seconds")
    wall = value.replace(tzinfo=None)
    return wall if fixed.type == "date" else wall.isoformat(timespec="seconds")


def write_ack(o: AckOptions, ctx: SinkContext, values: dict[str, object]) -> None:
    staged = ctx.stage(o.path, o.done_file)
    # The input's name and our reason are text the ERP reads, not data it matches on:
    # fitted to its code page (erpfile.fit) rather than refused.
    values = {k: fit(v, o.encoding) if isinstance(v, str) else v for k, v in values.items()}
    fields = o.fields or {}
    values = {k: erp_time(v, fields.get(k) if o.format == "fixed" else None)
              if isinstance(v, datetime) else v for k, v in values.items()}
    if o.format == "fixed":
        data = erpfile.fixed([values], o.fields or {}, o.encoding)
    else:
        data = erpfile.delimited([values], [k for k in ACK_FIELDS if k in values],
                                 o.delimiter, o.encoding)
    with staged.open("wb") as f:
        f.write(data)


# level: reject (the row was not sent) or warning (it was, but look at it).
REJECT_COLUMNS = ["line", "field", "reason", "value", "record", "level"]


def write_rejects(o: RejectsOptions, ctx: SinkContext, report: FileReport) -> None:
    """The rows refused (and the warnings), a report the ERP's people read: every cell
    is fitted to the code page (erpfile.fit) rather than refused."""
    if not report.tally.rejected and not report.warnings and not o.always:
        return
    staged = ctx.stage(o.path)
    with staged.open("wb") as f:
        chunk: list[dict[str, str]] = []
        header = True

        def flush() -> None:
            nonlocal header
            f.write(erpfile.delimited(chunk, REJECT_COLUMNS, o.delimiter, o.encoding, header))
            header = False
            chunk.clear()

        for rej in report.rejects():
            value = rej.value if rej.value is not None else \
                rej.values.get(rej.field) if rej.field else rej.values.get("text")
            cells = [str(rej.line), rej.field or "", rej.reason,
                     "" if value is None else str(value),
                     json.dumps(rej.values, ensure_ascii=False, default=str), rej.level]
            chunk.append({c: fit(v, o.encoding) for c, v in zip(REJECT_COLUMNS, cells,
                                                                strict=True)})
            if len(chunk) >= 10_000:
                flush()
        if chunk or header:
            flush()


def where_notes(profile: Any) -> list[str]:
    """For ``filebridge check`` of a stock profile: where the files for the ERP go when
    the profile leaves them to a default (the ack and rejects beside the profiles, in a
    feedback folder), and where its movement files go, or that none are written."""
    out: list[str] = []
    stock = getattr(profile, "stock", None)
    if stock is None:
        return out
    base = Path(profile.base)
    fb = profile.feedback
    for name, o in (("ack", fb.ack), ("rejects", fb.rejects)):
        if o is not None and "path" not in o.model_fields_set:
            out.append(f"feedback.{name} not set: written to {base / o.path} (beside the "
                       f"profile; set feedback.{name}.path, or null for none)")
    documents = getattr(stock, "documents", None)
    if stock.role in ("figures", "orders"):
        if stock.feedback is None:
            out.append("stock.feedback not set: no movement files are written for the ERP; "
                       "the web's sales wait in the ledger (to_erp in filebridge status) and "
                       + ("filebridge feedback writes only the order documents"
                          if documents is not None else
                          "filebridge feedback refuses this profile"))
        else:
            out.append(f"movement files for the ERP: {base / stock.feedback.path}")
    if documents is not None:
        import os

        out.append(f"order documents for the ERP ({documents.format}): "
                   f"{os.path.normpath(base / documents.path)}")
    return out
