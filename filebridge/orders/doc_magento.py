"""Magento orders as documents for the ERP: the order puller's ``fields=`` with those
of a whole order [code: magento/magento2 app/code/Magento/Sales/Api/Data/
OrderInterface.php (increment_id, order_currency_code, customer_firstname,
customer_lastname, customer_email, subtotal, discount_amount, shipping_amount,
tax_amount, grand_total, total_refunded, billing_address, payment,
extension_attributes.shipping_assignments), OrderItemInterface.php (price,
discount_amount, tax_percent, tax_amount, qty_refunded), OrderAddressInterface.php
(firstname, lastname, company, street[], city, postcode, region_code, country_id,
telephone), OrderPaymentInterface.php (method)]. The shipping address is not a field
of the order itself in REST: it is ``extension_attributes.shipping_assignments[0].
shipping.address`` (Magento/Sales/Model/Order/ShippingAssignmentBuilder).

How the amounts add up in Magento (prices entered without tax): ``grand_total`` =
``subtotal`` + ``shipping_amount`` + ``discount_amount`` (negative on the order,
positive on items) + ``tax_amount``; an item's ``price`` is per unit without tax and
its ``discount_amount`` the item's share of the discounts [code: Magento/SalesRule/
Model/Quote/Discount.php, Magento/Tax/Model/Sales/Total/Quote/Tax.php]. A line is each
item that has no parent: a configurable's parent carries the price and the simple's
SKU (its child is a dummy at 0); a bundle is one line at its parent's price. The
money refunded is ``total_refunded``, the units each item's ``qty_refunded``; a
``canceled`` state is a cancellation.
"""

from __future__ import annotations

from typing import Any

from filebridge.orders.base import OrderLine
from filebridge.orders.cursor import epoch
from filebridge.orders.document import Captures, DocLine, OrderDoc, Party, money
from filebridge.orders.magento import ITEM_FIELDS, MagentoOrders
from filebridge.registry import REGISTRY

ADDRESS = "firstname,lastname,company,street,city,postcode,region_code,country_id,telephone"
DOC_FIELDS = (
    f"items[entity_id,increment_id,state,status,created_at,updated_at,"
    f"order_currency_code,customer_firstname,customer_lastname,customer_email,subtotal,"
    f"discount_amount,shipping_amount,tax_amount,grand_total,total_refunded,"
    f"billing_address[{ADDRESS}],payment[method],extension_attributes[shipping_assignments"
    f"[shipping[address[{ADDRESS}]]]],"
    f"items[{ITEM_FIELDS},price,discount_amount,tax_percent,tax_amount]],total_count")


@REGISTRY.documents("magento_api")
class MagentoDocuments(Captures, MagentoOrders):
    FIELDS = DOC_FIELDS

    def lines(self, o: dict[str, Any], changed: float) -> list[OrderLine]:  # type: ignore[override]
        self.documents = getattr(self, "documents", [])
        self.documents.append(document(o, changed))
        return MagentoOrders.lines(o, changed)


def _address(a: dict[str, Any] | None) -> Party:
    a = a or {}
    street = list(a.get("street") or [])
    return Party(name=" ".join(x for x in (a.get("firstname"), a.get("lastname")) if x),
                 company=a.get("company") or "", street=street[0] if street else "",
                 street2=", ".join(street[1:]), city=a.get("city") or "",
                 zip=a.get("postcode") or "", region=a.get("region_code") or "",
                 country=a.get("country_id") or "", phone=a.get("telephone") or "")


def document(o: dict[str, Any], changed: float) -> OrderDoc:
    """A Magento order (``/V1/orders`` item with the fields above) as a document."""
    lines = tuple(DocLine(
        line=str(it["item_id"]), sku=str(it.get("sku") or ""),
        qty=int(money(it.get("qty_ordered"))), unit_price=money(it.get("price")),
        discount=money(it.get("discount_amount")), vat_rate=money(it.get("tax_percent")),
        vat=money(it.get("tax_amount")), refunded=int(money(it.get("qty_refunded"))))
        for it in o.get("items") or [] if not it.get("parent_item_id"))
    assignments = (o.get("extension_attributes") or {}).get("shipping_assignments") or []
    ship = ((assignments[0].get("shipping") or {}).get("address")) if assignments else None
    bill = o.get("billing_address") or {}
    name = " ".join(x for x in (o.get("customer_firstname"), o.get("customer_lastname")) if x)
    return OrderDoc(
        order=str(o["entity_id"]), number=str(o.get("increment_id") or o["entity_id"]),
        placed=epoch(o.get("created_at")) or changed,
        currency=str(o.get("order_currency_code") or ""), lines=lines,
        customer=Party(name=name or _address(bill).name, email=o.get("customer_email") or "",
                       phone=bill.get("telephone") or ""),
        bill_to=_address(bill), ship_to=_address(ship),
        payment=str((o.get("payment") or {}).get("method") or ""),
        shipping=money(o.get("shipping_amount")), discount=-money(o.get("discount_amount")),
        vat=money(o.get("tax_amount")), total=money(o.get("grand_total")),
        refunded=money(o.get("total_refunded")), cancelled=o.get("state") == "canceled",
        changed=changed)
