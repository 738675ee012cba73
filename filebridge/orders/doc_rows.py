"""An orders file's rows as whole order documents for the ERP (``stock.documents`` on a
profile with ``stock.role: orders``).

The file holds one row per order line, the order's header fields repeated on each
(``stock.document_fields`` names them among the mapped fields). The consecutive rows
of one order number are one order (:class:`OrderGroups`: one order in memory at a
time); each becomes an :class:`~filebridge.orders.document.OrderDoc`, the model the
shop pullers fill, and is recorded by the same code (filebridge/orders/doc_files.py
``record``: digest, version, kind), so a resent file or an unchanged order makes no
new document, a changed total a ``change``, a cancelled status a ``cancel``.

An order that cannot be a document (an amount that is not one, lines that do not add
up to the total the file states, rows of one order apart from each other) is
rejected whole, each of its rows naming its line and the field: an order is never
sent half. Reasons name the order number and amounts, never personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from pydantic import Field, model_validator

from filebridge.options import Model
from filebridge.orders.document import ZERO, DocLine, OrderDoc, Party, money

_PARTY = ("name", "company", "street", "street2", "city", "zip", "region", "country",
          "email", "phone")
# The document fields a file may hold (names as in the document files' layouts,
# filebridge/orders/doc_files.py); the order number, SKU, quantity, line and time are the
# stock fields (stock.order, stock.sku, stock.quantity, stock.line, stock.at).
HEADER = ("number", "currency", "payment", "shipping", "discount", "vat", "total",
          *(f"customer_{p}" for p in ("name", "email", "phone")),
          *(f"bill_{p}" for p in _PARTY), *(f"ship_{p}" for p in _PARTY))
LINE = ("unit_price", "line_discount", "vat_rate", "line_vat")
CENT = Decimal("0.01")


class OrderColumns(Protocol):
    """The ``stock:`` options naming an orders file's columns (filebridge.stock.spec's
    StockSpec has them; orders do not depend on the stock package)."""

    @property
    def sku(self) -> str: ...
    @property
    def quantity(self) -> str: ...
    @property
    def order(self) -> str: ...
    @property
    def line(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def cancelled(self) -> list[str]: ...


class DocumentFields(Model):
    """Where an orders file's rows hold the document's header and line fields: document
    field -> mapped field. The order id, time, status, SKU, quantity and line id are
    stock.order, stock.at, stock.status, stock.sku, stock.quantity and stock.line."""

    header: dict[str, str] = Field(default_factory=dict, description="header fields, "
                                   "repeated on each row of the order; names among "
                                   + ", ".join(HEADER) + " (number unset: the order id; "
                                   "total set: the lines must add up to it)")
    line: dict[str, str] = Field(default_factory=dict, description="line fields; names "
                                 "among " + ", ".join(LINE) + " (line_vat unset: worked "
                                 "out from vat_rate, to the cent)")
    currency: str = Field("EUR", description="the currency when the file names none")
    vat_included: bool = Field(False, description="unit prices and discounts include VAT")

    @model_validator(mode="after")
    def _names(self) -> DocumentFields:
        for part, known in (("header", HEADER), ("line", LINE)):
            for name in getattr(self, part):
                if name not in known:
                    raise ValueError(f"document_fields.{part}: unknown field {name!r}; "
                                     "known: " + ", ".join(known))
        return self


def personal_values(f: DocumentFields, rec: dict[str, Any]) -> frozenset[str]:
    """The values of a row's personal fields (customer, bill-to, ship-to), to keep them
    out of the rejects file."""
    return frozenset(_text(rec, field) for name, field in f.header.items()
                     if name.startswith(("customer_", "bill_", "ship_"))
                     and _text(rec, field)) - {""}


class Refused(Exception):
    """A row of an order that cannot be a document: its line, field and reason."""

    def __init__(self, line: int, field: str, reason: str):
        super().__init__(reason)
        self.line, self.field, self.reason = line, field, reason


@dataclass
class Row:
    """One valid row of an order, kept until its order is complete."""

    line: int  # the input line
    rec: dict[str, Any]
    placed: float
    ref: Any  # what the caller needs to reject or record the row (batch and index)


def _maybe(row: Row, field: str | None) -> Decimal | None:
    """The amount in ``field`` (None: the file has no such field)."""
    if field is None:
        return None
    value = row.rec.get(field)
    try:
        amount = money(value)
    except ValueError:
        amount = None
    if amount is None or not amount.is_finite():  # Decimal reads "NaN" and "Infinity"
        raise Refused(row.line, field, f"{value!r} is not an amount")
    return amount


def _amount(row: Row, field: str | None) -> Decimal:
    """The amount in ``field``, 0 where the file has none."""
    amount = _maybe(row, field)
    return ZERO if amount is None else amount


def _text(rec: dict[str, Any], field: str | None) -> str:
    value = rec.get(field) if field else None
    return "" if value is None else str(value).strip()


def document(spec: OrderColumns, f: DocumentFields, rows: list[Row]) -> OrderDoc:
    """The rows of one order as its document; :class:`Refused` for the first row and
    field that cannot be read, or the total's field when the lines do not add up."""
    head, h = rows[0], f.header
    lines = []
    for i, row in enumerate(rows, start=1):
        qty_text = row.rec.get(spec.quantity)
        try:
            qty = int(qty_text or 0)
        except (TypeError, ValueError):
            raise Refused(row.line, spec.quantity, f"{qty_text!r} is not a quantity") from None
        price = _amount(row, f.line.get("unit_price"))
        discount = _amount(row, f.line.get("line_discount"))
        rate = _amount(row, f.line.get("vat_rate"))
        gross = price * qty - discount
        vat = _maybe(row, f.line.get("line_vat"))
        if vat is None:  # from the rate, to the cent, on the net (or within the gross)
            vat = (gross * rate / (100 + rate) if f.vat_included else gross * rate / 100
                   ).quantize(CENT)
        lines.append(DocLine(line=_text(row.rec, spec.line) or str(i),
                             sku=_text(row.rec, spec.sku), qty=qty, unit_price=price,
                             discount=discount, vat_rate=rate, vat=vat,
                             vat_included=f.vat_included))

    def party(prefix: str) -> Party:
        return Party(**{k: _text(head.rec, h.get(f"{prefix}_{k}")) for k in _PARTY
                        if f"{prefix}_{k}" in h})

    status = _text(head.rec, spec.status).lower()
    shipping = _amount(head, h.get("shipping"))
    stated = _maybe(head, h.get("vat"))
    vat = sum((ln.vat for ln in lines), ZERO) if stated is None else stated
    discounts = _maybe(head, h.get("discount"))
    total = _maybe(head, h.get("total"))
    goods = sum((ln.net for ln in lines), ZERO)
    order = _text(head.rec, spec.order)
    doc = OrderDoc(
        order=order, number=_text(head.rec, h.get("number")) or order,
        placed=min(r.placed for r in rows),
        currency=_text(head.rec, h.get("currency")) or f.currency, lines=tuple(lines),
        customer=party("customer"), bill_to=party("bill"), ship_to=party("ship"),
        payment=_text(head.rec, h.get("payment")), shipping=shipping,
        discount=sum((ln.discount for ln in lines), ZERO) if discounts is None else discounts,
        vat=vat, total=goods + shipping + vat if total is None else total,
        cancelled=status in {c.lower() for c in spec.cancelled},
        changed=max(r.placed for r in rows))
    if "total" in h and not doc.balanced():
        raise Refused(head.line, h["total"], f"order {doc.number}: the lines {doc.goods} + "
                      f"shipping {doc.shipping} + VAT {doc.vat} do not make the total "
                      f"{doc.total}")
    return doc


class OrderGroups:
    """Consecutive rows of one order, one order at a time: :meth:`add` each valid row;
    when the order number changes (and at :meth:`close`) the finished order goes to
    ``done(rows, doc)``, or each of its rows to ``refuse(row, field, reason)`` when it
    cannot be a document. The numbers of the orders finished are kept, to refuse an
    order whose rows are apart (it would be sent as two versions)."""

    def __init__(self, spec: OrderColumns, f: DocumentFields,
                 done: Callable[[list[Row], OrderDoc], None],
                 refuse: Callable[[Row, str, str], None]):
        self.spec, self.f, self.done, self.refuse = spec, f, done, refuse
        self.rows: list[Row] = []
        self.order: str | None = None
        self.seen: dict[str, int] = {}  # order -> its first line

    def add(self, row: Row) -> None:
        order = _text(row.rec, self.spec.order)
        if order != self.order:
            self._finish()
            self.order = order
        self.rows.append(row)

    def close(self) -> None:
        self._finish()

    def _finish(self) -> None:
        rows, self.rows = self.rows, []
        if not rows or self.order is None:
            return
        first = self.seen.get(self.order)
        if first is not None:
            for r in rows:
                self.refuse(r, self.spec.order, f"order {self.order} is apart from its rows "
                            f"from line {first} on: an order's rows must follow each other")
            return
        self.seen[self.order] = rows[0].line
        try:
            doc = document(self.spec, self.f, rows)
        except Refused as e:
            for r in rows:
                why = e.reason if r.line == e.line else f"line {e.line}: {e.reason}"
                self.refuse(r, e.field, f"order {self.order} not taken: {why}")
            return
        self.done(rows, doc)


def groups(rows: Iterator[Row], spec: OrderColumns, f: DocumentFields,
           refuse: Callable[[Row, str, str], None]) -> Iterator[tuple[list[Row], OrderDoc]]:
    """The complete orders of ``rows`` (in file order) with their documents."""
    out: list[tuple[list[Row], OrderDoc]] = []
    g = OrderGroups(spec, f, lambda rs, d: out.append((rs, d)), refuse)
    for row in rows:
        g.add(row)
        yield from out
        out.clear()
    g.close()
    yield from out
