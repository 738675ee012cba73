"""What a loopback Magento order says about money and people, as ``GET /V1/orders``
shows it [code: magento/magento2 app/code/Magento/Sales/Api/Data/OrderInterface.php,
OrderItemInterface.php, OrderAddressInterface.php, OrderPaymentInterface.php;
ShippingAssignmentInterface for the shipping address].

Computed as Magento totals an order with prices without tax and tax applied after
discounts (the defaults): an item's ``row_total`` = price x qty, its
``discount_amount`` positive, its ``tax_amount`` (row_total - discount) x
``tax_percent`` rounded to the cent; the order's ``subtotal`` the rows' totals,
``discount_amount`` minus the items' discounts, ``tax_amount`` items' and shipping's
tax, ``grand_total`` = subtotal + shipping + discount_amount + tax_amount. A credit
memo adds what its units were charged, tax included, to ``total_refunded``. Amounts
are JSON numbers, as Magento's REST serializer writes the decimal columns.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def address(a: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"address_type": kind, "firstname": a.get("firstname", ""),
            "lastname": a.get("lastname", ""), "company": a.get("company"),
            "street": list(a.get("street", [])), "city": a.get("city", ""),
            "postcode": a.get("postcode", ""), "region_code": a.get("region_code"),
            "country_id": a.get("country_id", ""), "telephone": a.get("telephone", ""),
            "email": a.get("email", "")}


def item(it: dict[str, Any], price: Any, discount: Any, rate: Any) -> None:
    p, d, r = Decimal(str(price)), Decimal(str(discount)), Decimal(str(rate))
    row = cents(p * Decimal(str(it["qty_ordered"])))
    t = cents((row - d) * r / 100)
    it.update({"price": float(p), "original_price": float(p), "row_total": float(row),
               "discount_amount": float(d), "tax_percent": float(r), "tax_amount": float(t),
               "price_incl_tax": float(cents(p * (1 + r / 100)))})


def order(o: dict[str, Any], **money: Any) -> None:
    items = [i for i in o["items"] if "parent_item_id" not in i]
    ship = Decimal(str(money.get("shipping", "0")))
    ship_tax = cents(ship * Decimal(str(money.get("shipping_vat_rate", "0"))) / 100)
    subtotal = sum((Decimal(str(i.get("row_total", 0))) for i in items), Decimal(0))
    discount = -sum((Decimal(str(i.get("discount_amount", 0))) for i in items), Decimal(0))
    tax = sum((Decimal(str(i.get("tax_amount", 0))) for i in items), Decimal(0)) + ship_tax
    bill = money.get("billing")
    o.update({
        "order_currency_code": money.get("currency", "EUR"),
        "base_currency_code": money.get("currency", "EUR"),
        "customer_firstname": (bill or {}).get("firstname"),
        "customer_lastname": (bill or {}).get("lastname"),
        "customer_email": (bill or {}).get("email"),
        "subtotal": float(subtotal), "discount_amount": float(discount),
        "shipping_amount": float(ship), "shipping_tax_amount": float(ship_tax),
        "tax_amount": float(tax), "grand_total": float(subtotal + discount + ship + tax),
        "total_refunded": 0.0, "billing_address": address(bill, "billing"),
        "payment": {"method": money.get("payment", "checkmo"), "additional_information": []},
        "extension_attributes": {"shipping_assignments": [{"shipping": {
            "address": address(money.get("shipping_address"), "shipping"),
            "method": "flatrate_flatrate"}, "items": []}]}})


def refunded(it: dict[str, Any], qty: float) -> float:
    """What ``qty`` units of the item were charged, tax included."""
    n = Decimal(str(it["qty_ordered"]))
    charged = (Decimal(str(it.get("row_total", 0))) - Decimal(str(it.get("discount_amount", 0)))
               + Decimal(str(it.get("tax_amount", 0))))
    return float(cents(charged * Decimal(str(qty)) / n))
