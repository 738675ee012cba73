"""What a loopback Shopify order says about money and people, as the Admin GraphQL
``Order`` and ``LineItem`` show it [doc: shopify.dev admin-graphql ``Order``
(name, email, phone, currencyCode, taxesIncluded, paymentGatewayNames, customer,
billingAddress, shippingAddress, total*Set), ``LineItem`` (originalUnitPriceSet,
discountAllocations, taxLines), ``TaxLine``, ``MailingAddress``, ``MoneyBag``].

Computed the way Shopify adds an order up: each line's tax on its amount after
discounts (rounded per line, to the cent, half up), extracted from it when
``taxesIncluded``; the shipping's tax likewise; ``totalTax`` their sum;
``totalPrice`` = lines after discounts + shipping + taxes not already included;
``totalDiscounts`` the lines' discounts; ``totalRefunded`` what refunds gave back
(a refunded unit: its price after its share of the discount, with its tax).
Amounts are ``Decimal`` scalars, sent as text without trailing zeros ("25.0" as
Shopify writes "25.0"); ``ratePercentage`` a Float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def bag(amount: Decimal, currency: str) -> dict[str, Any]:
    m = {"__typename": "MoneyV2", "amount": _text(amount), "currencyCode": currency}
    return {"__typename": "MoneyBag", "shopMoney": m, "presentmentMoney": dict(m)}


def _text(d: Decimal) -> str:
    t = format(d.normalize(), "f")
    return t if "." in t else t + ".0"


def tax(amount: Decimal, rate: Decimal, included: bool) -> Decimal:
    if included:
        return cents(amount - amount / (1 + rate / 100))
    return cents(amount * rate / 100)


def address(a: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None:
        return None
    keys = ("name", "company", "address1", "address2", "city", "zip", "provinceCode",
            "countryCodeV2", "phone")
    return {"__typename": "MailingAddress", **{k: a.get(k) for k in keys}}


def line_fields(o: dict[str, Any], li: dict[str, Any]) -> dict[str, Any]:
    cur = o["money"]["currency"]
    price, disc, rate = li["price"], li["discount"], li["vat_rate"]
    amount = price * li["quantity"] - disc
    t = tax(amount, rate, o["money"]["included"])
    return {"originalUnitPriceSet": bag(price, cur),
            "discountAllocations": [{"__typename": "DiscountAllocation",
                                     "allocatedAmountSet": bag(disc, cur)}] if disc else [],
            "taxLines": [{"__typename": "TaxLine", "title": "VAT", "rate": float(rate / 100),
                          "ratePercentage": float(rate), "priceSet": bag(t, cur)}]
            if rate else []}


def order_fields(o: dict[str, Any]) -> dict[str, Any]:
    m = o["money"]
    cur, included = m["currency"], m["included"]
    line_tax = sum((tax(li["price"] * li["quantity"] - li["discount"], li["vat_rate"],
                        included) for li in o["lines"]), Decimal(0))
    ship_tax = tax(m["shipping"], m["shipping_vat_rate"], included)
    subtotal = sum((li["price"] * li["quantity"] - li["discount"] for li in o["lines"]),
                   Decimal(0))
    total_tax = line_tax + ship_tax
    total = subtotal + m["shipping"] + (0 if included else total_tax)
    return {"name": m["name"], "email": m["email"], "phone": m["phone"],
            "currencyCode": cur, "taxesIncluded": included,
            "paymentGatewayNames": list(m["gateways"]),
            "customer": {"__typename": "Customer", "displayName": m["customer"]}
            if m["customer"] else None,
            "billingAddress": address(m["bill"]), "shippingAddress": address(m["ship"]),
            "subtotalPriceSet": bag(subtotal, cur),
            "totalShippingPriceSet": bag(m["shipping"], cur),
            "totalDiscountsSet": bag(sum((li["discount"] for li in o["lines"]), Decimal(0)),
                                     cur),
            "totalTaxSet": bag(total_tax, cur), "totalPriceSet": bag(total, cur),
            "totalRefundedSet": bag(m["refunded"], cur)}


def refunded(o: dict[str, Any], li: dict[str, Any], q: int) -> Decimal:
    """What refunding ``q`` units of a line gives back."""
    included = o["money"]["included"]
    each = li["price"] - li["discount"] / li["quantity"]
    if not included:
        each += each * li["vat_rate"] / 100
    return cents(each * q)
