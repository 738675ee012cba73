"""Spool reports: CPYSPLF output, 132 or 198 columns, optionally FCFC in column 1.

A report is a printout, so the profile tells its lines apart with regexes searched
in each line as printed (FCFC column and form feeds removed). In order: FCFC ``+``
(overprint) lines go; a page starts at FCFC ``1``, a form feed, or a ``page_header``
match outside a header, and its first ``page_header_lines`` non-blank lines go;
blank lines go; then a line is a total (checked), a group heading (its named groups
tag the detail lines below), a ``skip`` line (dropped), a detail line (a row, cut at
fixed positions), or furniture: dropped uncounted (``unmatched: drop``) or rejected.
Only detail lines count as rows. Totals are exact sums of the typed values before
``filter`` (a row refused by typing makes its total fail). A mismatch raises
RejectedFile. Outputs are staged until the file is read, so nothing is published.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import AfterValidator, Field, model_validator

from filebridge.errors import RejectedFile
from filebridge.layouts.bytes import not_valid
from filebridge.layouts.fixed import FixedField
from filebridge.layouts.types import parse
from filebridge.options import Condition, Encoding, Model
from filebridge.readers.base import apply_filters, sniff, type_columns
from filebridge.records import Batch, FileReport, Reject
from filebridge.registry import REGISTRY

FCFC = set(" 0-+123456789ABC")  # ANSI forms controls; 2-9 and A-C skip to a channel


def _regex(v: str) -> str:
    try:
        re.compile(v)
    except re.error as e:
        raise ValueError(f"invalid regular expression {v!r} ({e})") from None
    return v


Regex = Annotated[str, AfterValidator(_regex)]


def _names(regex: str) -> list[str]:
    return list(re.compile(regex).groupindex)


class GroupRule(Model):
    """A group heading. Its named groups become fields of the detail lines below it."""

    match: Regex = Field(description=r"regex with named groups, e.g. "
                         r"'Magazzino:\s+(?P<MAGAZZINO>\d+)'")
    reset_on_page: bool = Field(False, description="clear the values at each new page")


class TotalCheck(Model):
    """A printed total, checked against the sum of the detail lines it covers."""

    match: Regex = Field(description="regex of the total line with a named group per printed "
                         "total; other named groups label the messages")
    sum: list[str] = Field(min_length=1, description="numeric fields (named groups of match)"
                           " summed since this rule's previous total line")


class SpoolOptions(Model):
    """Spool report text (CPYSPLF); detail lines cut at fixed positions."""

    format: Literal["spool"] = Field(description="spool report text (CPYSPLF)")
    encoding: Encoding = Field("cp1252", description="text encoding of the file")
    fcfc: bool = Field(False, description="column 1 is an FCFC forms control: 1 new page, + "
                       "overprint (dropped); it is cut off first, so every rule "
                       "(page_header, skip, detail, groups, totals) and every field position "
                       "sees the line without it")
    page_header: Regex | None = Field(None, description=r"regex of a page's first header "
                                      r"line, e.g. '(PAG\.?|PAGINA|Page)\s+\d+' (searched "
                                      r"in the line without its FCFC column)")
    page_header_lines: int = Field(0, ge=0, description="non-blank lines in each page header, "
                                   "its first line included; dropped on every page")
    check_headers: bool = Field(False, description="refuse the file when a page header "
                                "differs from page 1's (digits such as page numbers ignored)")
    skip: list[Regex] = Field([], description="lines to drop: titles, rules, end markers "
                              "(regexes, like all rules searched in the line without its FCFC "
                              "column)")
    detail: Regex | None = Field(None, description="regex of a detail line (default: all "
                                 "left); ^ anchors at the first printed column, after FCFC")
    unmatched: Literal["drop", "reject"] = Field("drop", description="a line no rule "
                                                 "matches: drop it uncounted, or reject it")
    fields: dict[str, FixedField] = Field(description="detail columns; positions as printed, "
                                          "without the FCFC column")
    groups: list[GroupRule] = Field([], description="group headings, outer first; a heading "
                                    "clears the groups after it")
    totals: list[TotalCheck] = Field([], description="printed control totals; a mismatch "
                                     "rejects the whole file")
    decimal: Literal[",", "."] = Field(",", description="decimal mark of edited numbers")
    thousands: Literal[".", ",", " ", "'"] | None = Field(".", description="thousands "
                                                           "separator of edited numbers")
    filter: list[Condition] = Field([], description="keep only detail lines passing every "
                                    "condition; others count as skipped")

    @model_validator(mode="after")
    def _consistent(self) -> SpoolOptions:
        if self.decimal == self.thousands:
            raise ValueError("decimal and thousands must differ")
        seen = set(self.fields)
        for name, f in self.fields.items():
            if f.storage != "text" or f.encoding is not None:
                raise ValueError(f"field {name}: a report is printed text (no storage or "
                                 "encoding per field)")
        for g in self.groups:
            if not _names(g.match):
                raise ValueError(f"group {g.match!r} needs a named group, e.g. (?P<NAME>...)")
        for n in (n for g in self.groups for n in _names(g.match)):
            if n in seen:
                raise ValueError(f"group field {n} is defined twice")
            seen.add(n)
        for t in self.totals:
            for n in t.sum:
                if n not in self.fields or self.fields[n].type not in ("integer", "decimal"):
                    raise ValueError(f"total {n}: not an integer or decimal field")
                if n not in _names(t.match):
                    raise ValueError(f"total {n}: match has no named group (?P<{n}>...)")
        return self


def _edited(arr: pa.Array) -> pa.Array:
    # Edit codes A-D print 'CR' for a negative, some put a blank before the sign, and
    # asterisk protection fills on the left: make them the forms the parsers know.
    arr = pc.replace_substring_regex(arr, r"^[\s*]+", "")
    return pc.replace_substring_regex(arr, r"\s*(?:CR|-)\s*$", "-")


def _shape(line: str) -> str:
    """A header line without what changes from page to page: digits, runs of blanks."""
    return " ".join(re.sub(r"\d+", "#", line).split())


class _Total:
    def __init__(self, rule: TotalCheck):
        self.rule, self.rx, self.count = rule, re.compile(rule.match), 0
        self.sums = {n: Decimal(0) for n in rule.sum}
        self.pending: list[tuple[int, dict[str, str | None]]] = []  # (line, named groups)


@REGISTRY.reader("spool")
class SpoolReader:
    Options = SpoolOptions
    BATCH = 20_000  # detail rows per batch: memory stays bounded however long the report

    def __init__(self, options: SpoolOptions):
        o = self.o = options
        self.typed = {n: f for n, f in o.fields.items() if f.type != "text"}
        self.numeric = [n for n, f in o.fields.items() if f.type in ("integer", "decimal")]
        self.cuts = [(n, f.start - 1, f.end, f.trim, f.length) for n, f in o.fields.items()]
        self.page_rx = re.compile(o.page_header) if o.page_header else None
        self.skip = [re.compile(s) for s in o.skip]
        self.detail = re.compile(o.detail) if o.detail else None
        self.groups = [(re.compile(g.match), g) for g in o.groups]

    def read(self, path: Path, report: FileReport) -> Iterator[Batch]:
        sniff(path)
        self.totals = [_Total(t) for t in self.o.totals]  # fresh sums for every file
        values: dict[str, str | None] = {n: None for rx, _ in self.groups for n in rx.groupindex}
        cols: dict[str, list[str | None]] = {n: [] for n in [*values, *self.o.fields]}
        lines: list[int] = []
        for number, text, bad in self._body(path, values):
            if bad is not None and not self._is_detail(text):
                # Furniture (a heading, a total, a rule) with bytes the encoding lacks:
                # read with U+FFFD in their place, and said, since a heading's value or a
                # total may now be off.
                report.warn(number, None, f"{not_valid(bad, self.o.encoding)}; this line "
                            "is not a detail line and was read with U+FFFD in their place",
                            {"text": text})
            if self._total(text, number) or self._group(text, values) \
                    or any(rx.search(text) for rx in self.skip):
                continue
            if self.detail is not None and not self.detail.search(text):
                if self.o.unmatched == "reject":
                    report.tally.read += 1
                    report.reject(Reject(number, None, "not a detail line (no skip, group, "
                                         "total or detail rule matches)", {"text": text}))
                continue
            if bad is not None:  # a detail line that does not decode: its row only
                report.tally.read += 1
                report.reject(Reject(number, None, not_valid(bad, self.o.encoding),
                                     {"text": text}))
                continue
            for n, v in values.items():
                cols[n].append(v)
            for n, start, end, trim, length in self.cuts:
                cols[n].append(text[start:end].rstrip(" ") if trim
                               else text[start:end].ljust(length))
            lines.append(number)
            if len(lines) >= self.BATCH:
                yield self._flush(cols, lines, report)
                cols, lines = {n: [] for n in cols}, []
        batch = self._flush(cols, lines, report)  # also checks the last totals
        if len(batch):
            yield batch
        for t in self.totals:
            if t.count:
                raise RejectedFile(f"the last {t.count} detail lines have no printed total "
                                   f"matching {t.rule.match!r}: is the report truncated?")

    def _is_detail(self, text: str) -> bool:
        return not (any(t.rx.search(text) for t in self.totals)
                    or any(rx.search(text) for rx, _ in self.groups)
                    or any(rx.search(text) for rx in self.skip)) and (
            self.detail is None or self.detail.search(text) is not None)

    def _body(self, path: Path, values: dict[str, str | None]
              ) -> Iterator[tuple[int, str, bytes | None]]:
        """(physical line, text, invalid bytes or None) of the lines that are neither
        page headers, overprints nor blank; a line with bytes that are not valid in the
        encoding has U+FFFD in their place. Groups marked reset_on_page are cleared in
        ``values`` at a new page."""
        o = self.o
        header_left, header_no, page, started = o.page_header_lines, 0, 1, False
        first: list[str] = []  # page 1's header, to compare the others with
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):  # binary: only b"\n" ends a line, not FF
                bad = None
                try:
                    text = raw.decode(o.encoding)
                except UnicodeDecodeError:
                    escaped = raw.decode(o.encoding, "surrogateescape")
                    bad = bytes(ord(c) - 0xDC00 for c in escaped if 0xDC80 <= ord(c) <= 0xDCFF)
                    text = raw.decode(o.encoding, "replace")
                new_page = "\f" in text
                text = text.replace("\f", "").rstrip(" \t\r\n")
                if o.fcfc and text:
                    cc, text = text[0], text[1:]
                    if cc == "+":
                        continue
                    if cc not in FCFC:
                        raise RejectedFile(f"column 1 holds {cc!r}, not an FCFC forms control:"
                                           " is the report copied with CTLCHAR(*FCFC)?",
                                           line=number)
                    new_page = new_page or cc == "1"
                # Only outside a header: the pattern may match a later header line too.
                if not new_page and not header_left and self.page_rx is not None:
                    new_page = self.page_rx.search(text) is not None
                if new_page and started:
                    page, header_left, header_no = page + 1, o.page_header_lines, 0
                    for rx, g in self.groups:
                        if g.reset_on_page:
                            values.update(dict.fromkeys(rx.groupindex))
                if not text:
                    continue
                started = True
                if not header_left:
                    yield number, text, bad
                    continue
                header_left, header_no = header_left - 1, header_no + 1
                if page == 1:
                    first.append(_shape(text))
                elif o.check_headers and header_no <= len(first) \
                        and _shape(text) != first[header_no - 1]:
                    raise RejectedFile(f"page {page}: header line {header_no} {text.strip()!r} "
                                       "differs from page 1's: is page_header_lines right?",
                                       line=number)

    def _total(self, text: str, number: int) -> bool:
        for t in self.totals:
            m = t.rx.search(text)
            if m:
                t.pending.append((number, m.groupdict()))  # checked once its rows are typed
                return True
        return False

    def _group(self, text: str, values: dict[str, str | None]) -> bool:
        for i, (rx, _) in enumerate(self.groups):
            m = rx.search(text)
            if m:
                for inner, _ in self.groups[i + 1:]:  # a new outer group ends the inner ones
                    values.update(dict.fromkeys(inner.groupindex))
                values.update({k: v.strip() if v else None for k, v in m.groupdict().items()})
                return True
        return False

    def _flush(self, cols: dict[str, list[str | None]], lines: list[int],
               report: FileReport) -> Batch:
        table = pa.table({n: pa.array(v, pa.string()) for n, v in cols.items()})
        for n in self.numeric:
            table = table.set_column(table.schema.get_field_index(n), n,
                                     _edited(table.column(n).combine_chunks()))
        report.tally.read += len(lines)
        typed = type_columns(Batch(table, pa.array(lines, pa.int64())), self.typed, report,
                             decimal=self.o.decimal, thousands=self.o.thousands)
        self._account(typed)
        return apply_filters(typed, self.o.filter, report)

    def _account(self, typed: Batch) -> None:
        """Add the typed rows to each rule's running sums and check the totals printed
        since the last batch: the rows they cover are the ones on earlier lines."""
        lines = typed.lines.to_pylist()
        for t in self.totals:
            printed = {n: self._printed(n, t.pending) for n in t.sums} if t.pending else {}
            start = 0
            for i, (line, groups) in enumerate([*t.pending, (None, None)]):
                end = len(lines) if line is None else bisect_left(lines, line)
                for n in t.sums:  # the rows since the previous check
                    t.sums[n] += pc.sum(typed.table.column(n)[start:end]).as_py() or 0
                t.count, start = t.count + end - start, end
                if line is not None and groups is not None:
                    self._compare(t, line, groups, {n: v[i] for n, v in printed.items()})
            t.pending.clear()

    def _printed(self, name: str, pending: list[tuple[int, dict[str, str | None]]]) -> list:
        """The printed totals, parsed by the same rules as the detail values."""
        spec, texts = self.o.fields[name], [(g[name] or "").strip() for _, g in pending]
        values, bad = parse(_edited(pa.array(texts, pa.string())), spec.type, scale=spec.scale,
                            decimal=self.o.decimal, thousands=self.o.thousands)
        if bad is not None:
            i = bad.to_pylist().index(True)
            raise RejectedFile(f"control total {name}: {texts[i]!r} is not a valid "
                               f"{spec.type}", line=pending[i][0])
        return [v or 0 for v in values.to_pylist()]  # blank: a zero the edit code hid

    def _compare(self, t: _Total, line: int, groups: dict[str, str | None],
                 printed: dict[str, Decimal | int]) -> None:
        label = ", ".join(f"{k}={v.strip()}" for k, v in groups.items()
                          if k not in t.sums and v is not None)
        # The sum is shown edited like the report's numbers, to compare at a glance.
        edit = str.maketrans({",": self.o.thousands or "", ".": self.o.decimal})
        for n, total in t.sums.items():
            if printed[n] != total:
                raise RejectedFile(f"control total {n}{' for group ' if label else ''}{label}: "
                                   f"printed {(groups[n] or '').strip() or 'blank'}, sum of "
                                   f"{t.count} detail lines "
                                   f"{format(Decimal(total), ',f').translate(edit)}", line=line)
        t.sums, t.count = dict.fromkeys(t.sums, Decimal(0)), 0

