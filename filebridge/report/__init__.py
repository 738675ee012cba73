"""The HTML run report: one page per input file, for the people who look after the
flow rather than the ERP. Written through the same outbox as the ack (so it appears
atomically, with the file's other outputs) and named in the ack's ``report`` column.

Self-contained: the styles are inline, the charts are inline SVG drawn by pygal with
its scripts and comments removed, nothing is loaded from the network. Every text
from the file or the ERP goes through Jinja2's autoescaping. Examples of rejects show
the line and the refused value only, never the whole record, and never a value of a
field that looks personal (or is listed in ``hide_fields``). Memory is bounded:
rejects are read from the report's spool and only a few per group are kept.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filebridge.records import FileReport, Tally
from filebridge.report.options import ReportOptions, beside_ack

log = logging.getLogger("filebridge")

# Field names whose values may identify a person or open an account: never shown.
PERSONAL = re.compile(r"name|nome|mail|phone|tel|fax|mobile|address|indirizzo|street|via|"
                      r"city|citt|zip|cap|postcode|birth|nasc|iban|card|vat|piva|fiscal|"
                      r"codfis|tax|passw|secret|token|customer|cliente|user", re.IGNORECASE)
MAX_GROUPS = 200  # reasons beyond these are counted together (a file of random errors)
MAX_FIELDS = 200


@dataclass
class Group:
    level: str
    field: str
    reason: str
    count: int = 0
    lines: list[int] = dataclasses.field(default_factory=list)
    examples: list[tuple[int, str]] = dataclasses.field(default_factory=list)


@dataclass
class ShopChanges:
    sink: str
    ops: Counter[str] = dataclasses.field(default_factory=Counter)
    new: int = 0
    fields: Counter[str] = dataclasses.field(default_factory=Counter)
    keys: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # field -> a few keys


def report_path(fb: Any) -> str:
    """The report's path template for feedback options ``fb``."""
    o: ReportOptions = fb.report
    return o.path or beside_ack(fb.ack.path if fb.ack is not None else None)


def shape(reason: str) -> str:
    """A reason without the values quoted in it, so rows refused for the same cause
    group together (and a value in a reason is not shown as a group's title)."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)


def hidden(field_name: str, o: ReportOptions) -> bool:
    return bool(PERSONAL.search(field_name)) or field_name in o.hide_fields


def reject_groups(report: FileReport, o: ReportOptions) -> tuple[list[Group], int]:
    """Rejects and warnings grouped by (level, field, reason), biggest first; and how
    many rows fell beyond MAX_GROUPS."""
    groups: dict[tuple[str, str, str], Group] = {}
    overflow = 0
    for rej in report.rejects():
        fld = rej.field or ""
        key = (rej.level, fld, shape(rej.reason))
        g = groups.get(key)
        if g is None:
            if len(groups) >= MAX_GROUPS:
                overflow += 1
                continue
            g = groups[key] = Group(*key)
        g.count += 1
        if len(g.lines) < 20:
            g.lines.append(rej.line)
        if len(g.examples) < o.examples:
            value = rej.value if rej.value is not None else rej.values.get(fld) if fld else None
            if fld and hidden(fld, o):
                shown = "(hidden: personal data)"
            elif value is None or value == "":
                shown = "(empty)"
            else:
                text = str(value)
                shown = text if len(text) <= 60 else text[:57] + "…"
            g.examples.append((rej.line, shown))
    out = sorted(groups.values(), key=lambda g: (g.level != "reject", -g.count))
    return out, overflow


def shop_changes(job: Any, file_id: int | None) -> list[ShopChanges]:
    """What the file changes in each shop API, field by field, against what the shop
    last acknowledged (read before the file is committed)."""
    if file_id is None or not getattr(job, "shops", None):
        return []
    import json

    from filebridge.ledger.reports import staged_changes

    out: dict[str, ShopChanges] = {}
    for sink, key, op, record, before in staged_changes(job.ledger, file_id):
        sc = out.setdefault(sink, ShopChanges(sink))
        sc.ops[op] += 1
        if op != "upsert":
            continue
        if before is None:
            sc.new += 1
            continue
        new, old = json.loads(record), json.loads(before)
        for name in new.keys() | old.keys():
            if new.get(name) != old.get(name) and (name in sc.fields
                                                   or len(sc.fields) < MAX_FIELDS):
                sc.fields[name] += 1
                ks = sc.keys.setdefault(name, [])
                if len(ks) < 5:
                    ks.append(key)
    return list(out.values())


def _chart(kind: str, title: str, labels: list[str], values: list[int]) -> str:
    """An inline SVG bar chart (pygal), without its script (tooltips we do not ship)
    and comments (links to pygal's site): nothing in it reaches the network."""
    import pygal  # type: ignore[import-untyped]
    from lxml import etree  # type: ignore[import-untyped]
    from pygal.style import Style  # type: ignore[import-untyped]

    style = Style(background="white", plot_background="white", font_family="sans-serif",
                  colors=("#3F51B5",))
    cls = pygal.HorizontalBar if kind == "hbar" else pygal.Bar
    chart = cls(js=[], disable_xml_declaration=True, show_legend=False, title=title,
                width=720, height=max(160, 40 + 28 * len(labels)), style=style,
                print_values=True, truncate_label=40, explicit_size=True,
                # the values are printed on the bars: no value axis (pygal would tick
                # small counts at 0.2 steps), no guides
                show_y_labels=kind == "hbar", show_x_labels=kind == "bar",
                show_y_guides=False, show_x_guides=False)
    chart.x_labels = labels
    chart.add(title, values)
    tree = chart.render_tree()
    for el in [*tree.iter("{*}script"), *tree.iter(etree.Comment)]:
        el.getparent().remove(el)
    return str(etree.tostring(tree, encoding="unicode"))


def render(*, profile: str, name: str, status: str, reason: str, tally: Tally,
           groups: list[Group], overflow: int, shops: list[ShopChanges],
           notes: dict[str, str], stock: dict[str, Any], started: float, finished: float,
           charts: bool, warnings: int, ack: str | None,
           oversold: list[tuple[str, int]] | None = None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("filebridge.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    counts = tally.as_dict()
    images: dict[str, str] = {}
    if charts:
        images["counts"] = _chart("bar", "Rows", [k for k in counts if k != "read"],
                                  [v for k, v in counts.items() if k != "read"])
        top = [g for g in groups if g.level == "reject"][:10][::-1]  # biggest on top
        if top:
            images["rejects"] = _chart("hbar", "Rejected rows by reason",
                                       [f"{g.field or '(row)'}: {g.reason}" for g in top],
                                       [g.count for g in top])
    seconds = max(finished - started, 0.0)
    fmt = "%Y-%m-%d %H:%M:%S %Z"
    return env.get_template("run.html.j2").render(
        profile=profile, name=name, status=status, reason=reason, counts=counts,
        balanced=tally.balanced(), groups=groups, overflow=overflow, shops=shops,
        notes=notes, stock=stock, warnings=warnings, ack=ack, images=images,
        oversold=oversold or [],
        started=time.strftime(fmt, time.localtime(started)),
        finished=time.strftime(fmt, time.localtime(finished)), seconds=seconds,
        rate=(tally.read / seconds) if seconds > 0 else None)


def write_report(fb: Any, ctx: Any, job: Any, name: str, status: str, tally: Tally,
                 report: FileReport, reason: str = "", stock: dict[str, Any] | None = None
                 ) -> None:
    """Stage the report for ``name`` through ``ctx``'s outbox (published with the ack)."""
    o: ReportOptions = fb.report
    try:
        groups, overflow = reject_groups(report, o)
        shops = shop_changes(job, ctx.file_id) if ctx.rows is not None else []
        notes = {Path(p).name: n for p, n in (ctx.notes or {}).items()}
        ack = ctx.path(fb.ack.path).name if fb.ack is not None else None
        found = getattr(getattr(ctx, "oversold", None), "skus", None) or {}
        oversold = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
        html = render(oversold=oversold, profile=job.name, name=name, status=status,
                      reason=reason, tally=tally, groups=groups, overflow=overflow,
                      shops=shops, notes=notes,
                      stock={k: v for k, v in (stock or {}).items() if v not in (None, "")},
                      started=getattr(report, "started", time.time()), finished=time.time(),
                      charts=o.charts, warnings=report.warnings, ack=ack)
    except (OSError, MemoryError):
        raise  # a full disk is handled by the pipeline (redone later)
    except Exception as e:
        import html as html_

        log.exception("%s: %s: the run report could not be drawn", job.name, name)
        html = (f"<!DOCTYPE html><meta charset=utf-8><title>{html_.escape(name)}</title>"
                f"<p>The report for {html_.escape(name)} could not be drawn "
                f"({html_.escape(type(e).__name__)}); counts: "
                f"{html_.escape(str(tally.as_dict()))}. See the log.</p>")
    staged = ctx.stage(report_path(fb))
    with staged.open("wb") as f:
        f.write(html.encode("utf-8"))
