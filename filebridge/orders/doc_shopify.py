"""Shopify orders as documents for the ERP: the order puller's queries with the fields
of a whole order [doc: shopify.dev admin-graphql ``Order`` (name, email, phone,
currencyCode, taxesIncluded, paymentGatewayNames, customer, billingAddress,
shippingAddress, totalShippingPriceSet, totalDiscountsSet, totalTaxSet,
totalPriceSet, totalRefundedSet), ``LineItem`` (originalUnitPriceSet,
discountAllocations, taxLines), ``TaxLine`` (ratePercentage, priceSet),
``MailingAddress``; amounts of a ``MoneyBag`` in the shop's currency, shopMoney].

How the amounts add up in Shopify: ``totalPrice`` = line items after discounts +
shipping + taxes, the taxes already inside the prices when ``taxesIncluded``. Lines
are read as ordered (``quantity``, ``originalUnitPrice``), the totals as placed
(``totalPriceSet``, not ``currentTotalPriceSet``): refunds are told apart, in
``totalRefundedSet`` and each line's ``quantity - currentQuantity``. The shipping's
VAT is the order's tax less its lines' taxes. Fewer orders per page than a stock
pull: the extra objects cost about 8 points a line and 13 an order (5 orders of 15
lines: about 750 of the 1000 a query may cost).
"""

from __future__ import annotations

from typing import Any

from filebridge.orders.base import OrderLine
from filebridge.orders.cursor import epoch
from filebridge.orders.document import ZERO, Captures, DocLine, OrderDoc, Party, money
from filebridge.orders.shopify import (
    LINE_FIELDS,
    ONE_ORDER,
    ORDER_LINES,
    ORDERS,
    ShopifyOrders,
)
from filebridge.registry import REGISTRY

MONEY = "{ shopMoney { amount } }"
ADDRESS = "{ name company address1 address2 city zip provinceCode countryCodeV2 phone }"
DOC_LINE = (LINE_FIELDS + " originalUnitPriceSet " + MONEY + " discountAllocations { "
            "allocatedAmountSet " + MONEY + " } taxLines { ratePercentage priceSet " + MONEY
            + " }")
DOC_ORDER = ("name email phone currencyCode taxesIncluded paymentGatewayNames customer { "
             "displayName } billingAddress " + ADDRESS + " shippingAddress " + ADDRESS
             + "".join(f" {f} {MONEY}" for f in ("totalShippingPriceSet", "totalDiscountsSet",
                                                  "totalTaxSet", "totalPriceSet",
                                                  "totalRefundedSet")) + " ")


def _with_documents(query: str) -> str:
    """A puller query asking also for what a document needs (whatever else it asks)."""
    out = query.replace("lineItems(", DOC_ORDER + "lineItems(", 1) if "orders(" in query \
        or "order(id: $id) { id" in query else query
    return out.replace("{ " + LINE_FIELDS + " }", "{ " + DOC_LINE + " }")


@REGISTRY.documents("shopify_api")
class ShopifyDocuments(Captures, ShopifyOrders):
    PAGE = 5
    ORDERS = _with_documents(ORDERS)
    ONE_ORDER = _with_documents(ONE_ORDER)
    ORDER_LINES = _with_documents(ORDER_LINES)

    def _lines(self, o: dict[str, Any], changed: float) -> list[OrderLine]:
        # Every line read first (and handed on as one page), so they are read once.
        items = self._all_lines(o)
        o = o | {"lineItems": {"nodes": items, "pageInfo": {"hasNextPage": False}}}
        self.documents = getattr(self, "documents", [])
        self.documents.append(document(o, changed, items))
        return super()._lines(o, changed)

    def _all_lines(self, o: dict[str, Any]) -> list[dict[str, Any]]:
        """Every line item of the order (read again past the first page: rare)."""
        items = o.get("lineItems") or {}
        nodes = list(items.get("nodes") or [])
        page = items.get("pageInfo") or {}
        while page.get("hasNextPage") and page.get("endCursor"):
            data = self.client.must("orderLines", self.ORDER_LINES, {
                "id": o["id"], "after": page["endCursor"], "lines": 250})
            more = (data.get("order") or {}).get("lineItems") or {}
            nodes += more.get("nodes") or []
            page = more.get("pageInfo") or {}
        return nodes


def _amount(bag: Any) -> Any:
    return ((bag or {}).get("shopMoney") or {}).get("amount")


def _address(a: dict[str, Any] | None) -> Party:
    a = a or {}
    return Party(name=a.get("name") or "", company=a.get("company") or "",
                 street=a.get("address1") or "", street2=a.get("address2") or "",
                 city=a.get("city") or "", zip=a.get("zip") or "",
                 region=a.get("provinceCode") or "", country=a.get("countryCodeV2") or "",
                 phone=a.get("phone") or "")


def document(o: dict[str, Any], changed: float, items: list[dict[str, Any]]) -> OrderDoc:
    """A Shopify order (GraphQL ``Order`` with the fields above) as a document."""
    included = bool(o.get("taxesIncluded"))
    lines = []
    for li in items:
        taxes = li.get("taxLines") or []
        lines.append(DocLine(
            line=str(li["id"]), sku=str(li.get("sku") or ""), qty=int(li.get("quantity") or 0),
            unit_price=money(_amount(li.get("originalUnitPriceSet"))),
            discount=sum((money(_amount(d.get("allocatedAmountSet")))
                          for d in li.get("discountAllocations") or []), ZERO),
            vat_rate=sum((money(t.get("ratePercentage")) for t in taxes), ZERO),
            vat=sum((money(_amount(t.get("priceSet"))) for t in taxes), ZERO),
            refunded=max(0, int(li.get("quantity") or 0) - int(li.get("currentQuantity") or 0)),
            vat_included=included))
    vat = money(_amount(o.get("totalTaxSet")))
    shipping = money(_amount(o.get("totalShippingPriceSet")))
    if included:  # the shipping's own VAT is inside its price
        shipping -= vat - sum((ln.vat for ln in lines), ZERO)
    customer = o.get("customer") or {}
    return OrderDoc(
        order=str(o["id"]), number=str(o.get("name") or o["id"]),
        placed=epoch(o.get("createdAt")) or changed, currency=str(o.get("currencyCode") or ""),
        lines=tuple(lines),
        customer=Party(name=customer.get("displayName") or "", email=o.get("email") or "",
                       phone=o.get("phone") or ""),
        bill_to=_address(o.get("billingAddress")), ship_to=_address(o.get("shippingAddress")),
        payment=",".join(o.get("paymentGatewayNames") or []), shipping=shipping,
        discount=money(_amount(o.get("totalDiscountsSet"))), vat=vat,
        total=money(_amount(o.get("totalPriceSet"))),
        refunded=money(_amount(o.get("totalRefundedSet"))),
        cancelled=bool(o.get("cancelledAt")), changed=changed)
