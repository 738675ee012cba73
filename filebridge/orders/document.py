"""A whole order as a document for the ERP: header (number, date, customer, bill-to and
ship-to, currency, totals, shipping, discounts, payment method, VAT) and lines (SKU,
quantity, unit price, discount, VAT rate).

Each shop's converter (filebridge/orders/doc_<shop>.py) fills one from the order as
its API returns it. Amounts are Decimals in the order's currency, as the shop states
them; ``net`` of a line and ``shipping`` are without VAT, so that for every document

    goods (Σ line net) + shipping + vat == total

which :meth:`OrderDoc.balanced` checks and the fixed-width trailer's control totals
rely on. A document is one *version* of its order: :func:`digest` is taken over
everything the ERP reads (personal data included, times of change not), so an
unchanged order re-read makes no new document, and :func:`kind_of` names what a new
version is (order, change, cancel, refund).

Personal data (names, addresses, e-mail, phone) sit in :class:`Party` values only, so
:meth:`OrderDoc.personal` / :meth:`OrderDoc.without_personal` can split them off
(the ledger keeps them apart and may drop them once the ERP acknowledged the
document) and nothing that logs a document has to know which fields they are.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)
KINDS = ("order", "change", "cancel", "refund")


def money(value: Any) -> Decimal:
    """An amount as the shop gives it ("12.50", 12.5, None) as a Decimal."""
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None


@dataclass(frozen=True)
class Party:
    """A person and an address: all of it personal data."""

    name: str = ""
    company: str = ""
    street: str = ""
    street2: str = ""
    city: str = ""
    zip: str = ""
    region: str = ""
    country: str = ""  # ISO 3166-1 alpha-2 where the shop gives it
    email: str = ""
    phone: str = ""

    def __repr__(self) -> str:  # personal data never in a log or a traceback
        return "Party(...)" if any(vars(self).values()) else "Party()"


@dataclass(frozen=True)
class DocLine:
    line: str  # the line's id in the shop
    sku: str
    qty: int  # units ordered
    unit_price: Decimal  # per unit, before discounts, as the shop prices (see vat_included)
    discount: Decimal = ZERO  # the line's discount, same basis as unit_price
    vat_rate: Decimal = ZERO  # percent, e.g. 22
    vat: Decimal = ZERO  # the line's VAT
    refunded: int = 0  # units refunded or taken off the order since
    vat_included: bool = False  # unit_price and discount include VAT (the shop's setting)

    @property
    def net(self) -> Decimal:
        """The line's amount after discounts, without VAT."""
        gross = self.unit_price * self.qty - self.discount
        return gross - self.vat if self.vat_included else gross


@dataclass(frozen=True)
class OrderDoc:
    order: str  # the shop's order id (the one order lines are recorded under)
    number: str  # the number people see (#1001, 1001, 000000012)
    placed: float  # epoch seconds, UTC
    currency: str
    lines: tuple[DocLine, ...]
    customer: Party = field(default_factory=Party)
    bill_to: Party = field(default_factory=Party)
    ship_to: Party = field(default_factory=Party)
    payment: str = ""  # the payment method as the shop names it
    shipping: Decimal = ZERO  # shipping charged, without VAT
    discount: Decimal = ZERO  # discounts over the order, as the shop totals them
    vat: Decimal = ZERO  # all VAT of the order (lines and shipping)
    total: Decimal = ZERO  # the order's total as the shop states it
    refunded: Decimal = ZERO  # money given back so far
    cancelled: bool = False
    changed: float = 0.0  # when the shop last changed it (not part of the digest)

    @property
    def goods(self) -> Decimal:
        return sum((ln.net for ln in self.lines), ZERO)

    def balanced(self) -> bool:
        """Whether goods + shipping + VAT make the total the shop states."""
        return self.goods + self.shipping + self.vat == self.total

    def personal(self) -> dict[str, Any]:
        """The personal data, apart (see :meth:`without_personal`)."""
        return {k: asdict(getattr(self, k)) for k in PERSONAL}

    def without_personal(self) -> OrderDoc:
        return replace(self, **{k: Party() for k in PERSONAL})  # type: ignore[arg-type]

    def with_personal(self, data: dict[str, Any] | None) -> OrderDoc:
        if not data:
            return self
        return replace(self, **{k: Party(**data[k]) for k in PERSONAL if k in data})  # type: ignore[arg-type]

    def body(self) -> dict[str, Any]:
        """The document without personal data, as JSON-ready values (Decimals as text)."""
        return _plain(asdict(self.without_personal()))

    @classmethod
    def from_body(cls, body: dict[str, Any], personal: dict[str, Any] | None = None
                  ) -> OrderDoc:
        money_fields = {f.name for f in fields(cls) if f.type == "Decimal"}
        line_money = {f.name for f in fields(DocLine) if f.type == "Decimal"}
        lines = tuple(DocLine(**_typed(ln, line_money)) for ln in body["lines"])
        head: dict[str, Any] = {k: Party(**v) if k in PERSONAL else v
                                for k, v in _typed(body, money_fields).items() if k != "lines"}
        return cls(lines=lines, **head).with_personal(personal)

    def __repr__(self) -> str:  # never personal data in a log or a traceback
        return (f"OrderDoc(order={self.order!r}, number={self.number!r}, "
                f"lines={len(self.lines)}, total={self.total} {self.currency})")


PERSONAL = ("customer", "bill_to", "ship_to")


def _typed(data: dict[str, Any], amounts: set[str]) -> dict[str, Any]:
    return {k: money(v) if k in amounts else v for k, v in data.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def digest(doc: OrderDoc) -> str:
    """What the ERP would read of this version, hashed: the same digest, no new document.
    Amounts are normalised (12.5 and 12.50 are one amount); times of change are left out."""
    data = asdict(replace(doc, changed=0.0))
    text = json.dumps(_plain(_normal(data)), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize() if value else ZERO
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


def kind_of(before: OrderDoc | None, now: OrderDoc) -> str | None:
    """What a new version of an order is for the ERP: ``order`` (first seen), ``cancel``
    (cancelled since), ``refund`` (more money given back), ``change`` (anything else).
    None: nothing to tell (first seen already cancelled: the ERP never had it)."""
    if before is None:
        return None if now.cancelled else "order"
    if now.cancelled and not before.cancelled:
        return "cancel"
    if now.refunded > before.refunded:
        return "refund"
    return "change"  # units taken off without money back (an order edit) included


class Captures:
    """Mixin for an order puller that also keeps each order it reads as a document:
    its ``_lines`` (which converts every order a pull reads) appends to
    ``self.documents``; the caller takes them after each page (:meth:`take`)."""

    documents: list[OrderDoc]

    def take(self) -> list[OrderDoc]:
        """The documents read since the last call."""
        out, self.documents = getattr(self, "documents", []), []
        return out
