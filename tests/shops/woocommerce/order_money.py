"""What a loopback WooCommerce order says about money and people, as the REST API v3
shows it [code: woocommerce/woocommerce plugins/woocommerce/includes/rest-api/
Controllers/Version2/class-wc-rest-orders-v2-controller.php ``get_item_schema``
(number, currency, prices_include_tax, discount_total, discount_tax, shipping_total,
shipping_tax, cart_tax, total, total_tax, billing, shipping, payment_method,
payment_method_title, line_items[].subtotal/subtotal_tax/total/total_tax/taxes/price,
tax_lines[].rate_id/rate_percent/tax_total/shipping_tax_total); includes/abstracts/
abstract-wc-order.php ``calculate_totals``, ``get_discount_total``].

Computed as WooCommerce computes an order with prices entered without tax: a line's
``subtotal`` is price x quantity, ``total`` that less the line's coupon discount, both
without tax; its tax rounded per line to the store's 2 decimals (the default "round
at line level"); ``total`` of the order = lines' totals + shipping + all taxes
(discounts are already out of the lines' totals); ``discount_total`` the lines'
subtotal - total. Amounts are strings with 2 decimals, ``price`` a number
(``total / quantity``), ``rate_percent`` a float. A refund's ``amount`` is what its
units were charged, tax included.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
BILLING = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
           "postcode", "country", "email", "phone")
SHIPPING = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state",
            "postcode", "country", "phone")


def cents(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def s2(d: Decimal) -> str:
    return format(cents(d), "f")


def rate_id(rate: Decimal) -> int:
    """The tax rate's id in the store (one rate per percentage here)."""
    return int(rate * 100) + 1


def line(li: dict[str, Any], price: Any, discount: Any, rate: Any) -> None:
    """Fill a line's amounts (``li`` has quantity)."""
    p, d, r = Decimal(str(price)), Decimal(str(discount)), Decimal(str(rate))
    sub = cents(p * li["quantity"])
    tot = sub - cents(d)
    sub_tax, tot_tax = cents(sub * r / 100), cents(tot * r / 100)
    li.update({"subtotal": s2(sub), "subtotal_tax": s2(sub_tax), "total": s2(tot),
               "total_tax": s2(tot_tax), "tax_class": "",
               "price": float(tot / li["quantity"]) if li["quantity"] else 0.0,
               "taxes": [{"id": rate_id(r), "total": s2(tot_tax), "subtotal": s2(sub_tax)}]
               if r else [], "_rate": r})


def order(o: dict[str, Any], **money: Any) -> None:
    """Fill the order's totals, people and payment from its lines."""
    ship = cents(Decimal(str(money.get("shipping", "0"))))
    ship_rate = Decimal(str(money.get("shipping_vat_rate", "0")))
    ship_tax = cents(ship * ship_rate / 100)
    lines = o["line_items"]
    cart_tax = sum((Decimal(li["total_tax"]) for li in lines), Decimal(0))
    rates: dict[Decimal, list[Decimal]] = {}
    for li in lines:
        if li["_rate"]:
            rates.setdefault(li["_rate"], [Decimal(0), Decimal(0)])[0] += Decimal(li["total_tax"])
    if ship_rate:
        rates.setdefault(ship_rate, [Decimal(0), Decimal(0)])[1] += ship_tax
    bill = money.get("billing") or {}
    to = money.get("shipping_address") or {}
    o.update({
        "currency": money.get("currency", "EUR"), "prices_include_tax": False,
        "discount_total": s2(sum((Decimal(li["subtotal"]) - Decimal(li["total"])
                                  for li in lines), Decimal(0))),
        "discount_tax": s2(sum((Decimal(li["subtotal_tax"]) - Decimal(li["total_tax"])
                                for li in lines), Decimal(0))),
        "shipping_total": s2(ship), "shipping_tax": s2(ship_tax), "cart_tax": s2(cart_tax),
        "total_tax": s2(cart_tax + ship_tax),
        "total": s2(sum((Decimal(li["total"]) for li in lines), Decimal(0)) + ship + cart_tax
                    + ship_tax),
        "billing": {k: str(bill.get(k, "")) for k in BILLING},
        "shipping": {k: str(to.get(k, "")) for k in SHIPPING},
        "payment_method": money.get("payment_method", "bacs"),
        "payment_method_title": money.get("payment_method_title", "Direct bank transfer"),
        "tax_lines": [{"id": 900 + rate_id(r), "rate_code": f"IT-VAT-{r}-1", "rate_id": rate_id(r),
                       "label": "VAT", "compound": False, "tax_total": s2(c),
                       "shipping_tax_total": s2(sh), "rate_percent": float(r), "meta_data": []}
                      for r, (c, sh) in sorted(rates.items())],
        "shipping_lines": [{"id": 800, "method_title": "Flat rate", "method_id": "flat_rate",
                            "total": s2(ship), "total_tax": s2(ship_tax), "taxes": [],
                            "meta_data": []}] if ship else []})


def refund_amount(li: dict[str, Any], qty: int) -> Decimal:
    """What ``qty`` units of the line were charged, tax included."""
    n = li["quantity"] or 1
    return cents((Decimal(li["total"]) + Decimal(li["total_tax"])) * qty / n)
