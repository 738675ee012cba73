"""WooCommerce orders as documents for the ERP: the order puller's ``_fields`` with
those of a whole order [code: woocommerce/woocommerce plugins/woocommerce/includes/
rest-api/Controllers/Version2/class-wc-rest-orders-v2-controller.php
``get_item_schema``: number, currency, prices_include_tax, discount_total,
shipping_total, shipping_tax, total, total_tax, billing, shipping, payment_method,
payment_method_title, line_items (subtotal, total, total_tax, taxes), tax_lines
(rate_id, rate_percent: WooCommerce 5.7+), refunds (id, reason, total)].

How the amounts add up in WooCommerce: a line's ``subtotal`` (before coupons) and
``total`` (after) are kept without tax whatever ``prices_include_tax`` says, its tax
beside them, and the order's ``total`` is the lines' totals + shipping + fees + all
taxes [code: includes/abstracts/abstract-wc-order.php ``calculate_totals``]. So a
line's unit price is subtotal / quantity, its discount subtotal - total, its VAT
total_tax and its rate the ``rate_percent`` of the tax lines it is taxed by. The
refunded units of a line are read from ``/orders/<id>/refunds`` (only for an order
that lists refunds, as the stock pull does), the money refunded from the order's
``refunds`` totals (negative). Fees (``fee_lines``) are not carried: an order with
fees does not balance and is logged so.
"""

from __future__ import annotations

from typing import Any

from filebridge.orders.base import OrderLine
from filebridge.orders.cursor import epoch
from filebridge.orders.document import ZERO, Captures, DocLine, OrderDoc, Party, money
from filebridge.orders.woocommerce import FIELDS, WooOrders
from filebridge.registry import REGISTRY

DOC_FIELDS = (FIELDS + ",number,currency,prices_include_tax,discount_total,shipping_total,"
              "shipping_tax,total,total_tax,billing,shipping,payment_method,"
              "payment_method_title,tax_lines")


@REGISTRY.documents("woocommerce_api")
class WooDocuments(Captures, WooOrders):
    FIELDS = DOC_FIELDS

    def _lines(self, o: dict[str, Any], changed: float) -> list[OrderLine]:
        refunded = self._refunded(o) if o.get("refunds") else {}
        self.documents = getattr(self, "documents", [])
        self.documents.append(document(o, changed, refunded))
        return super()._lines(o, changed)


def _name(a: dict[str, Any]) -> str:
    return " ".join(x for x in (a.get("first_name") or "", a.get("last_name") or "") if x)


def _address(a: dict[str, Any] | None) -> Party:
    a = a or {}
    return Party(name=_name(a), company=a.get("company") or "",
                 street=a.get("address_1") or "", street2=a.get("address_2") or "",
                 city=a.get("city") or "", zip=a.get("postcode") or "",
                 region=a.get("state") or "", country=a.get("country") or "",
                 phone=a.get("phone") or "")


def document(o: dict[str, Any], changed: float, refunded: dict[int, int]) -> OrderDoc:
    """A WooCommerce order (REST v3 with the fields above) as a document; ``refunded``:
    order line id -> units refunded."""
    rates = {int(t["rate_id"]): money(t.get("rate_percent")) for t in o.get("tax_lines") or []
             if t.get("rate_id") is not None}
    lines = []
    for li in o.get("line_items") or []:
        qty = int(li.get("quantity") or 0)
        sub, tot = money(li.get("subtotal")), money(li.get("total"))
        taxed = [int(t["id"]) for t in li.get("taxes") or [] if money(t.get("total"))]
        lines.append(DocLine(
            line=str(li["id"]), sku=str(li.get("sku") or ""), qty=qty,
            unit_price=sub / qty if qty else sub, discount=sub - tot,
            vat_rate=sum((rates.get(r, ZERO) for r in taxed), ZERO),
            vat=money(li.get("total_tax")), refunded=refunded.get(int(li["id"]), 0)))
    bill = o.get("billing") or {}
    return OrderDoc(
        order=str(o["id"]), number=str(o.get("number") or o["id"]),
        placed=epoch(o.get("date_created_gmt")) or changed,
        currency=str(o.get("currency") or ""), lines=tuple(lines),
        customer=Party(name=_name(bill), email=bill.get("email") or "",
                       phone=bill.get("phone") or ""),
        bill_to=_address(bill), ship_to=_address(o.get("shipping")),
        payment=str(o.get("payment_method_title") or o.get("payment_method") or ""),
        shipping=money(o.get("shipping_total")), discount=money(o.get("discount_total")),
        vat=money(o.get("total_tax")), total=money(o.get("total")),
        refunded=-sum((money(r.get("total")) for r in o.get("refunds") or []), ZERO),
        cancelled=o.get("status") == "cancelled", changed=changed)
