"""Vendure orders as documents for the ERP: the order puller's query with the fields of
a whole order [code: vendure-ecommerce/vendure packages/core/src/api/schema/common/
order.type.graphql and admin-api/order.api.graphql (``Order``: code, currencyCode,
customer, shippingAddress, billingAddress (``OrderAddress``), subTotal, shipping,
total, totalWithTax, discounts, payments (method, refunds), ``OrderLine``:
unitPrice, linePrice, proratedLinePrice, lineTax, taxRate, orderPlacedQuantity)].

How the amounts add up in Vendure: money is in minor units (integers; the default
MoneyStrategy, 2 decimals); ``total`` = ``subTotal`` + ``shipping`` without tax,
``totalWithTax`` with it; ``subTotal`` is the lines' ``proratedLinePrice`` (after
order-level discounts, prorated over the lines), each line's tax ``lineTax``. A line
is read as it now stands (``quantity``: a cancellation lowers it and Vendure
recomputes the totals), its units taken off since the order was placed as
``orderPlacedQuantity - quantity``; its discount ``linePrice - proratedLinePrice``.
The VAT of the order is ``totalWithTax - total``, the shipping ``shipping`` (without
tax); the money refunded the sum of the payments' refunds that did not fail; the
payment method the first payment's ``method``.

The puller passes an order on only when its state or lines changed (its digest);
here the digest also covers the document, so an order whose address alone changed
is read as a new version too.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from filebridge.orders.base import OrderLine
from filebridge.orders.document import ZERO, Captures, DocLine, OrderDoc, Party, digest
from filebridge.orders.vendure import ORDERS, VendurePuller, epoch_ms
from filebridge.registry import REGISTRY

ADDRESS = ("{fullName company streetLine1 streetLine2 city province postalCode countryCode "
           "phoneNumber}")
DOC_ORDER = ("code currencyCode subTotal shipping total totalWithTax "
             "customer{firstName lastName emailAddress phoneNumber} "
             f"shippingAddress{ADDRESS} billingAddress{ADDRESS} "
             "discounts{amount} payments{method state refunds{total state}} ")
DOC_LINE = ("unitPrice linePrice proratedLinePrice lineTax taxRate orderPlacedQuantity ")
DOC_ORDERS = ORDERS.replace("updatedAt lines{id ", "updatedAt " + DOC_ORDER + "lines{id "
                            + DOC_LINE, 1)
MINOR = Decimal(100)


@REGISTRY.documents("vendure_api")
class VendureDocuments(Captures, VendurePuller):
    ORDERS = DOC_ORDERS

    def lines(self, o: dict[str, Any]) -> list[OrderLine]:  # type: ignore[override]
        self.documents = getattr(self, "documents", [])
        self.documents.append(document(o))
        return VendurePuller.lines(o)

    def digest(self, o: dict[str, Any], lines: list[OrderLine]) -> str:  # type: ignore[override]
        text = VendurePuller.digest(o, lines) + digest(document(o))
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _m(value: Any) -> Decimal:
    return Decimal(int(value or 0)) / MINOR


def _address(a: dict[str, Any] | None) -> Party:
    a = a or {}
    return Party(name=a.get("fullName") or "", company=a.get("company") or "",
                 street=a.get("streetLine1") or "", street2=a.get("streetLine2") or "",
                 city=a.get("city") or "", zip=a.get("postalCode") or "",
                 region=a.get("province") or "", country=a.get("countryCode") or "",
                 phone=a.get("phoneNumber") or "")


def document(o: dict[str, Any]) -> OrderDoc:
    """A Vendure order (Admin API ``Order`` with the fields above) as a document."""
    lines = tuple(DocLine(
        line=str(li["id"]), sku=str((li.get("productVariant") or {}).get("sku") or ""),
        qty=int(li.get("quantity") or 0), unit_price=_m(li.get("unitPrice")),
        discount=_m(li.get("linePrice")) - _m(li.get("proratedLinePrice")),
        vat_rate=Decimal(str(li.get("taxRate") or 0)), vat=_m(li.get("lineTax")),
        refunded=max(0, int(li.get("orderPlacedQuantity") or 0) - int(li.get("quantity") or 0)))
        for li in o.get("lines") or [])
    c = o.get("customer") or {}
    payments = o.get("payments") or []
    changed = epoch_ms(o["updatedAt"]) / 1000
    placed = o.get("orderPlacedAt")
    return OrderDoc(
        order=str(o["id"]), number=str(o.get("code") or o["id"]),
        placed=epoch_ms(placed) / 1000 if placed else changed,
        currency=str(o.get("currencyCode") or ""), lines=lines,
        customer=Party(name=" ".join(x for x in (c.get("firstName"), c.get("lastName")) if x),
                       email=c.get("emailAddress") or "", phone=c.get("phoneNumber") or ""),
        bill_to=_address(o.get("billingAddress")), ship_to=_address(o.get("shippingAddress")),
        payment=str(payments[0].get("method") or "") if payments else "",
        shipping=_m(o.get("shipping")),
        discount=-sum((_m(d.get("amount")) for d in o.get("discounts") or []), ZERO),
        vat=_m(o.get("totalWithTax")) - _m(o.get("total")), total=_m(o.get("totalWithTax")),
        refunded=sum((_m(r.get("total")) for p in payments for r in p.get("refunds") or []
                      if r.get("state") != "Failed"), ZERO),
        cancelled=o.get("state") == "Cancelled", changed=changed)
