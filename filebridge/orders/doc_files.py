"""Order documents as files for the ERP (``stock.documents``): sequence-numbered files
in the ERP's layout, written the way movement files are (filebridge/stock/movements.py):

- fixed: one header record per document, one record per line, one trailer per file
  with the control totals (documents, lines, records, goods, shipping, VAT, total),
  each record type told by the field ``record`` (``record_types``: H, L, T by
  default), what an AS400 program reads;
- csv: one row per document line, the header's columns repeated on each;
- xml: a Jinja2 template given every document of the file and the control totals.

Exactly once, whatever crashes: the documents are tied to the file's number and the
file recorded as pending in one transaction before it is written, and a pending file
is written again (same number, same content, atomic replace) until published
(filebridge/ledger/documents.py). Every file is staged in an :class:`Outbox` and
published atomically, then delivered. The ERP acknowledges files by number through
an acks profile (``stock.role: acks`` with ``acks_of: documents``).

Personal data go into the file (the ERP needs the addresses) but never into a log
line: what is logged is numbers, kinds and counts.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from filebridge import erpfile
from filebridge.layouts.fixed import FixedField
from filebridge.ledger.documents import DocumentRows, StoredDoc
from filebridge.options import Deliver, Encoding, Model, ProfilePath
from filebridge.orders.document import KINDS, ZERO, OrderDoc, Party, digest, kind_of
from filebridge.outputs import Outbox

log = logging.getLogger("filebridge")

_ADDRESS = ("name", "company", "street", "street2", "city", "zip", "region", "country",
            "phone")
HEADER_FIELDS = ("record", "seq", "kind", "version", "order", "number", "date", "time",
                 "placed", "currency", "payment", "customer_name", "customer_email",
                 "customer_phone",
                 *(f"bill_{p}" for p in _ADDRESS), *(f"ship_{p}" for p in _ADDRESS),
                 "lines", "goods", "shipping", "discount", "vat", "total", "refunded",
                 "cancelled")
LINE_FIELDS = ("record", "seq", "kind", "version", "order", "number", "line_no", "line",
               "sku", "qty", "refunded_qty", "unit_price", "line_discount", "vat_rate",
               "line_vat", "line_net")
TRAILER_FIELDS = ("record", "seq", "documents", "lines", "records", "goods", "shipping",
                  "vat", "total")
CSV_DEFAULT = ["seq", "kind", "version", "number", "date", "currency", "payment",
               "customer_name", "customer_email", "ship_name", "ship_street", "ship_zip",
               "ship_city", "ship_country", "line_no", "sku", "qty", "unit_price",
               "line_discount", "vat_rate", "line_vat", "line_net", "shipping", "vat",
               "total"]


class RecordTypes(Model):
    """The value of the field ``record`` in each kind of fixed-width record."""

    header: str = Field("H", min_length=1, description="a document's header record")
    line: str = Field("L", min_length=1, description="a document line's record")
    trailer: str = Field("T", min_length=1, description="the file's trailer (control totals)")


class DocumentFiles(Model):
    """Whole orders as documents for the ERP: header, lines and (fixed) a trailer with
    control totals, in sequence-numbered files. Each version of an order once; a
    change, a cancellation or a refund is a document of its own (field kind)."""

    path: str = Field(description="where, relative to the profile's folder; needs {seq} "
                      "(e.g. {seq:06d}); may use {date}, {time}, {inventory}")
    format: Literal["fixed", "csv", "xml"] = Field(
        "csv", description="fixed: header/line/trailer records (an AS400 reads them); csv: "
        "a row per document line; xml: through a Jinja2 template")
    header: dict[str, FixedField] | None = Field(
        None, description="fixed: the header record's layout; names among "
        + ", ".join(HEADER_FIELDS) + " (date and time: when the order was placed, in the "
        "ERP's zone, feedback.timezone; goods: the lines' net amounts; amounts without "
        "VAT except vat and total)")
    line: dict[str, FixedField] | None = Field(
        None, description="fixed: the line record's layout; names among "
        + ", ".join(LINE_FIELDS) + " (line_no: 1, 2, ... within the document; line_net: "
        "after discount, without VAT)")
    trailer: dict[str, FixedField] | None = Field(
        None, description="fixed: the trailer record's layout; names among "
        + ", ".join(TRAILER_FIELDS) + " (sums over the file: the control totals)")
    record_types: RecordTypes = Field(default_factory=lambda: RecordTypes.model_validate({}),
                                      description="fixed: the record field's values")
    columns: list[str] = Field(default_factory=lambda: list(CSV_DEFAULT),
                               description="csv: the columns, among the header's and the "
                               "line's field names")
    delimiter: str = Field(";", min_length=1, max_length=1, description="for csv")
    template: ProfilePath | None = Field(None, description="xml: a Jinja2 template, given "
                                         "documents (each with header and lines) and totals")
    kinds: dict[str, str] = Field(default_factory=dict, description="the ERP's code for a "
                                  "document kind, e.g. {order: N, change: V, cancel: A, "
                                  "refund: R} (unset: the kind's name)")
    encoding: Encoding = Field("utf-8", description="output encoding")
    done_file: str | None = Field(None, description="empty marker written after the file")
    deliver: Deliver = []  # noqa: RUF012  (as in stock.spec.MovementFiles)
    max_documents: int = Field(5000, ge=1, description="documents per file at most; a "
                               "backlog is written as several files, in order (memory stays "
                               "bounded)")
    drop_personal: bool = Field(False, description="forget a document's personal data "
                                "(names, addresses, e-mail, phone) in the ledger once the ERP "
                                "acknowledged its file")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return erpfile.numbered_path(v, "document")

    @model_validator(mode="after")
    def _layout(self) -> DocumentFiles:
        if self.format == "fixed":
            for part, known in (("header", HEADER_FIELDS), ("line", LINE_FIELDS),
                                ("trailer", TRAILER_FIELDS)):
                layout = getattr(self, part)
                if not layout:
                    raise ValueError(f"format: fixed needs {part} (the ERP's {part} record "
                                     "layout)")
                for name in layout:
                    if name not in known:
                        raise ValueError(f"unknown {part} field {name!r}; known: "
                                         + ", ".join(known))
                if "record" not in layout:
                    raise ValueError(f"{part} needs the field record (its record type)")
        if self.format == "csv":
            columns = set(HEADER_FIELDS) | set(LINE_FIELDS)
            for name in self.columns:
                if name not in columns:
                    raise ValueError(f"unknown document column {name!r}; known: "
                                     + ", ".join(sorted(columns)))
        if self.format == "xml" and self.template is None:
            raise ValueError("format: xml needs template (a Jinja2 template)")
        for k in self.kinds:
            if k not in KINDS:
                raise ValueError(f"kinds: unknown kind {k!r}; known: {', '.join(KINDS)}")
        return self


def _party(prefix: str, p: Party) -> dict[str, Any]:
    return {f"{prefix}_{k}": getattr(p, k) for k in _ADDRESS}


def header_values(o: DocumentFiles, doc: OrderDoc, kind: str, version: int, seq: int,
                  zone: tzinfo | None) -> dict[str, Any]:
    when = datetime.fromtimestamp(doc.placed, zone) if zone is not None else \
        datetime.fromtimestamp(doc.placed).astimezone()
    c = doc.customer
    return {"record": o.record_types.header, "seq": seq, "kind": o.kinds.get(kind, kind),
            "version": version, "order": doc.order, "number": doc.number,
            "date": date(when.year, when.month, when.day), "time": when.strftime("%H%M%S"),
            "placed": when.isoformat(timespec="seconds"), "currency": doc.currency,
            "payment": doc.payment, "customer_name": c.name, "customer_email": c.email,
            "customer_phone": c.phone, **_party("bill", doc.bill_to),
            **_party("ship", doc.ship_to), "lines": len(doc.lines), "goods": doc.goods,
            "shipping": doc.shipping, "discount": doc.discount, "vat": doc.vat,
            "total": doc.total, "refunded": doc.refunded,
            "cancelled": "Y" if doc.cancelled else "N"}


def line_values(o: DocumentFiles, head: dict[str, Any], doc: OrderDoc) -> list[dict[str, Any]]:
    keep = {k: head[k] for k in ("seq", "kind", "version", "order", "number")}
    return [keep | {"record": o.record_types.line, "line_no": i, "line": ln.line,
                    "sku": ln.sku, "qty": ln.qty, "refunded_qty": ln.refunded,
                    "unit_price": ln.unit_price, "line_discount": ln.discount,
                    "vat_rate": ln.vat_rate, "line_vat": ln.vat, "line_net": ln.net}
            for i, ln in enumerate(doc.lines, start=1)]


# Text people typed (names, addresses, e-mail, phone, the payment method's name): the
# ERP matches on none of it, so it is fitted to the code page (erpfile.fit) and, in a
# fixed-width field, cut to the field's width, rather than failing the whole file;
# data the ERP matches on (order number, SKU) still fails loudly.
FREE_TEXT = frozenset({"payment", "customer_name", "customer_email", "customer_phone",
                       *(f"{p}_{k}" for p in ("bill", "ship") for k in _ADDRESS)})


def _fitted(o: DocumentFiles, head: dict[str, Any]) -> dict[str, Any]:
    widths = {k: f.length for k, f in (o.header or {}).items()} if o.format == "fixed" else {}
    return {k: (erpfile.fit(str(v), o.encoding)[:widths.get(k, len(str(v)))]
                if k in FREE_TEXT else v) for k, v in head.items()}


def render(o: DocumentFiles, docs: list[tuple[OrderDoc, str, int]], seq: int,
           zone: tzinfo | None = None, base: Path | None = None) -> bytes:
    """The file's bytes for ``docs`` (document, kind, version), in the layout ``o``."""
    heads = [_fitted(o, header_values(o, d, kind, version, seq, zone))
             for d, kind, version in docs]
    lines = [line_values(o, h, d) for h, (d, _, _) in zip(heads, docs, strict=True)]
    totals = {"record": o.record_types.trailer, "seq": seq, "documents": len(docs),
              "lines": sum(len(x) for x in lines),
              "records": len(docs) + sum(len(x) for x in lines) + 1,
              "goods": sum((h["goods"] for h in heads), ZERO),
              "shipping": sum((h["shipping"] for h in heads), ZERO),
              "vat": sum((h["vat"] for h in heads), ZERO),
              "total": sum((h["total"] for h in heads), ZERO)}
    if o.format == "fixed":
        out = b"".join(erpfile.fixed([h], o.header or {}, o.encoding)
                       + erpfile.fixed(ls, o.line or {}, o.encoding)
                       for h, ls in zip(heads, lines, strict=True))
        return out + erpfile.fixed([totals], o.trailer or {}, o.encoding)
    if o.format == "csv":
        rows = [{k: _text(k, v) for k, v in (h | ln).items()}
                for h, ls in zip(heads, lines, strict=True) for ln in ls]
        return erpfile.delimited(rows, o.columns, o.delimiter, o.encoding)
    return _xml(o, heads, lines, totals, base)


def _text(name: str, value: Any) -> Any:
    """An amount as text the same whatever the shop wrote (25.0, 25, 25.00): two
    decimals, more only where the amount has them; a rate without trailing zeros."""
    if not isinstance(value, Decimal):
        return value
    if name == "vat_rate":
        return format(value.normalize(), "f") if value else "0"
    cents = value.quantize(Decimal("0.01"))
    return format(cents if cents == value else value.normalize(), "f")


def _xml(o: DocumentFiles, heads: list[dict[str, Any]], lines: list[list[dict[str, Any]]],
         totals: dict[str, Any], base: Path | None) -> bytes:
    import jinja2

    if o.template is None:
        raise ValueError("format: xml needs template")
    path = Path(o.template)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(path.parent)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    env.filters["amount"] = lambda d: format(Decimal(d).quantize(Decimal("0.01")), "f")
    text = env.get_template(path.name).render(
        documents=[{"header": h, "lines": ls} for h, ls in zip(heads, lines, strict=True)],
        totals=totals)
    return text.encode(o.encoding)


class DocumentWriter:
    """Writes an inventory's document files; times in the ERP's ``zone``."""

    def __init__(self, inventory: str, rows: DocumentRows, o: DocumentFiles, base: Any,
                 delivery: Any, zone: tzinfo | None = None):
        self.inventory, self.rows, self.o = inventory, rows, o
        self.base, self.delivery, self.zone = base, delivery, zone

    def path(self, seq: int, when: float) -> Path:
        import os

        t = datetime.fromtimestamp(when, self.zone)
        p = Path(self.o.path.format(seq=seq, date=t.strftime("%Y%m%d"),
                                    time=t.strftime("%H%M%S"), inventory=self.inventory))
        return Path(os.path.normpath(p if p.is_absolute() else Path(self.base) / p))

    def write(self, outbox: Outbox | None = None) -> list[tuple[int, Path, int]]:
        """Write pending files again, then a new one with the documents no file carried
        yet; (seq, path, documents) of each file written. With ``outbox`` (an orders
        file's outputs) the files are only staged there: the caller publishes them with
        its other outputs and then calls :meth:`published`, as for movement files."""
        done = [self._publish(seq, path, outbox) for seq, path in self.rows.pending_files()]
        while ids := self.rows.unexported_ids(self.o.max_documents):
            seq, path = self.rows.export(ids, lambda seq, now: str(self.path(seq, now)),
                                         self.o.drop_personal)
            done.append(self._publish(seq, path, outbox))
        return done

    def published(self, seqs: list[int]) -> None:
        self.rows.published(seqs, time.time())

    def _publish(self, seq: int, path: str, into: Outbox | None = None
                 ) -> tuple[int, Path, int]:
        stored = self.rows.in_file(seq)
        docs = [(_doc(s), s.kind, s.version) for s in stored]
        data = render(self.o, docs, seq, self.zone, Path(self.base))
        if not erpfile.publish_numbered(data, Path(path), self.o.deliver, self.o.done_file,
                                        self.delivery, into):
            return seq, Path(path), len(stored)
        self.published([seq])
        kinds: dict[str, int] = {}
        for s in stored:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        log.info("%s: documents file %d: %s (%d documents: %s)", self.inventory, seq, path,
                 len(stored), ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        return seq, Path(path), len(stored)


def _doc(s: StoredDoc) -> OrderDoc:
    if s.personal is None:
        # Dropped after the ERP acknowledged the file: a file is rewritten only while
        # pending, so this is a bug, not a state to write around.
        from filebridge.errors import Bug

        raise Bug(f"expected the personal data of document {s.id} (file {s.seq}) to be kept "
                  "until the ERP acknowledged it")
    return OrderDoc.from_body(s.body, s.personal)


def record(rows: DocumentRows, source: str, docs: list[OrderDoc]) -> int:
    """Each order as read now -> a new version when it differs from the one recorded
    (by digest); the number of new documents. An order that does not add up is logged
    by number and amounts, never with its personal data."""
    n = 0
    for doc in docs:
        if not doc.balanced():
            log.warning("%s: order %s: goods %s + shipping %s + VAT %s is not the total %s "
                        "the shop states (fees or duties not carried?)", source, doc.number,
                        doc.goods, doc.shipping, doc.vat, doc.total)

        def kind(last: StoredDoc | None, doc: OrderDoc = doc) -> str | None:
            return kind_of(None if last is None else OrderDoc.from_body(last.body), doc)

        n += rows.add(source, doc.order, digest(doc), doc.body(), doc.personal(),
                      doc.changed, kind)
    return n
