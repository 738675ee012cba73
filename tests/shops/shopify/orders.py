"""Orders of the loopback Shopify: tests place and change them (``add_order``,
``cancel``, ``refund``, the clock ``now``); clients read them with
``orders(first, after, sortKey, reverse, query)`` and ``order(id) { lineItems(first,
after) }`` [doc: shopify.dev admin-graphql ``orders``, ``Order``, ``LineItem``].

``updated_at`` and ``created_at`` comparisons in the search string are applied
(others are ignored, as Shopify ignores what it cannot parse, with a search
warning); sortKey UPDATED_AT, CREATED_AT or ID (default) with the id as tie break;
cursors are a keyset on (sort value, id), as Shopify's are.

Stock moves as Shopify moves it [doc: shopify.dev "Inventory states" (apps/build/
orders-fulfillment/inventory-management-apps, available / committed / on_hand);
admin-graphql ``orderCancel`` (``restock: Boolean!``), ``RefundLineItemInput``
(``restockType``, ``locationId``), ``RefundLineItemRestockType``]:

- an order takes its units from ``available`` (they become ``committed``) at the
  location that fulfils it, for every variant whose inventory is tracked there (this
  shop tracks a variant where it has a level); available may go below 0 (oversold);
- ``cancel(restock=True)`` puts the units still on the order back into available;
  ``restock=False`` leaves them out. Either way the cancellation removes the units
  still on the lines (``currentQuantity`` 0: the line's quantity "minus the removed
  quantity") and records them as the refund line items of a refund, ``restockType``
  ``CANCEL`` (restocked) or ``NO_RESTOCK`` with ``restocked`` saying which, the way a
  refund that cancels unfulfilled units is recorded [doc: admin-graphql
  ``RefundLineItemRestockType`` "CANCEL: The refund line item was canceled. Use this
  when restocking unfulfilled line items", ``RefundLineItem.restocked``,
  ``LineItem.currentQuantity``; REST ``Refund.refund_line_items[].restock_type``
  ``cancel`` / ``no_restock``]. So a client can tell a cancellation without restock
  only from the refunds, as with the real shop;
- a refund line restocks its units only with ``restock_type`` ``RETURN`` (fulfilled
  units) or ``CANCEL`` (unfulfilled ones), at ``location`` (default: the order's);
  ``NO_RESTOCK``, the default here as an omitted restockType is, returns nothing;
  the order's ``refunds`` list each refund's ``refundLineItems`` with ``quantity``,
  ``restockType``, ``restocked`` and the ``lineItem``.
"""

from __future__ import annotations

import base64
import calendar
import json
import re
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from shops.shopify import order_money
from shops.shopify.base import Call, GqlError, ShopState

ORDER_TERM = re.compile(r"\b(updated_at|created_at):(>=|<=|>|<)('[^']*'|\"[^\"]*\"|\S+)")
COMPARE = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b}


def _encode(cursor: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(cursor).encode()).decode()


def _decode(cursor: str) -> dict[str, Any]:
    try:
        return dict(json.loads(base64.b64decode(cursor)))
    except ValueError:
        raise GqlError("Invalid cursor for current pagination sort.", "BAD_REQUEST") from None


def _iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Orders(ShopState):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.orders: dict[str, dict[str, Any]] = {}

    # -- tests play the customers and clerks -------------------------------------------

    def add_order(self, lines: Sequence[tuple[Any, ...]], created: float | None = None,
                  financial: str = "PAID", updated: float | None = None,
                  location: str | None = None, **money: Any) -> str:
        """An order of (sku, quantity) lines, or (sku, quantity, unit price, discount,
        VAT rate), fulfilled from ``location`` (None: the primary); returns its GID.
        Tracked variants' available drops. ``money``: name, email, phone, customer,
        bill, ship (MailingAddress fields), gateways, currency, taxes_included,
        shipping, shipping_vat_rate (shops/shopify/order_money.py)."""
        with self.lock:
            oid = self._gid("Order")
            c = self._time(created)
            loc = self.location_id(location)
            self.orders[oid] = {
                "id": oid, "createdAt": c, "updatedAt": self._time(updated) if updated
                is not None else c, "cancelledAt": None, "displayFinancialStatus": financial,
                "location": loc, "refunds": [], "money": {
                    "name": money.get("name", "#" + oid.rsplit("/", 1)[-1]),
                    "email": money.get("email"), "phone": money.get("phone"),
                    "customer": money.get("customer"), "bill": money.get("bill"),
                    "ship": money.get("ship"), "gateways": money.get("gateways", ["manual"]),
                    "currency": money.get("currency", "EUR"),
                    "included": bool(money.get("taxes_included", False)),
                    "shipping": Decimal(str(money.get("shipping", "0"))),
                    "shipping_vat_rate": Decimal(str(money.get("shipping_vat_rate", "0"))),
                    "refunded": Decimal(0)},
                "lines": [{"id": self._gid("LineItem"), "sku": ln[0], "quantity": ln[1],
                           "currentQuantity": ln[1],
                           "price": Decimal(str(ln[2] if len(ln) > 2 else "0")),
                           "discount": Decimal(str(ln[3] if len(ln) > 3 else "0")),
                           "vat_rate": Decimal(str(ln[4] if len(ln) > 4 else "0"))}
                          for ln in lines]}
            for sku, q, *_ in lines:
                self._commit(sku, loc, -q)
            return oid

    def _commit(self, sku: str, location: str, delta: int) -> None:
        """Move a tracked variant's available at ``location`` (untracked: nothing)."""
        item = next((v["item"] for v in self.variants.values() if v["sku"] == sku), None)
        if item is not None and (item, location) in self.levels:
            self.levels[(item, location)] += delta

    def cancel(self, order_id: str, at: float | None = None, *, restock: bool = True) -> None:
        """orderCancel(restock:): the order is cancelled; the units still on its
        lines are removed (currentQuantity 0) by a refund whose lines say CANCEL
        (back into available) with ``restock``, NO_RESTOCK (left out) without."""
        with self.lock:
            o = self.orders[order_id]
            if o["cancelledAt"] is not None:
                raise ValueError(f"order {order_id} is cancelled already")
            o["cancelledAt"] = o["updatedAt"] = self._time(at)
            kind = "CANCEL" if restock else "NO_RESTOCK"
            refund: dict[str, Any] = {"__typename": "Refund", "id": self._gid("Refund"),
                                      "lines": []}
            for li in o["lines"]:
                q, li["currentQuantity"] = li["currentQuantity"], 0
                if not q:
                    continue
                if restock:
                    self._commit(li["sku"], o["location"], q)
                refund["lines"].append({
                    "__typename": "RefundLineItem", "id": self._gid("RefundLineItem"),
                    "quantity": q, "restockType": kind, "restocked": restock,
                    "lineItem": {"__typename": "LineItem", "id": li["id"], "sku": li["sku"]}})
            if refund["lines"]:
                o["refunds"].append(refund)

    def update_address(self, order_id: str, ship: dict[str, Any], at: float | None = None
                       ) -> None:
        """orderUpdate(input: {id, shippingAddress}): the order's shipping address is
        replaced; nothing else moves [doc: admin-graphql ``orderUpdate``,
        ``OrderInput.shippingAddress``]."""
        with self.lock:
            o = self.orders[order_id]
            o["money"]["ship"] = ship
            o["updatedAt"] = self._time(at)

    def refund(self, order_id: str, quantities: dict[str, int], at: float | None = None, *,
               restock_type: str = "NO_RESTOCK", location: str | None = None) -> None:
        """refundCreate with refundLineItems, by SKU or LineItem GID: currentQuantity
        drops; the financial status becomes (PARTIALLY_)REFUNDED; RETURN and CANCEL
        put the units back into available at ``location`` (default: the order's)."""
        if restock_type not in ("NO_RESTOCK", "RETURN", "CANCEL"):
            raise ValueError(f"restockType {restock_type} is not accepted on new refunds")
        with self.lock:
            o = self.orders[order_id]
            loc = self.location_id(location) if location else o["location"]
            refund: dict[str, Any] = {"__typename": "Refund", "id": self._gid("Refund"),
                                      "lines": []}
            for key, q in quantities.items():
                li = next(li for li in o["lines"] if key in (li["id"], li["sku"]))
                if q > li["currentQuantity"]:
                    raise ValueError(f"{li['sku']}: {q} is more than the "
                                     f"{li['currentQuantity']} left on the line")
                li["currentQuantity"] -= q
                o["money"]["refunded"] += order_money.refunded(o, li, q)
                if restock_type != "NO_RESTOCK":
                    self._commit(li["sku"], loc, q)
                refund["lines"].append({
                    "__typename": "RefundLineItem", "id": self._gid("RefundLineItem"),
                    "quantity": q, "restockType": restock_type,
                    "restocked": restock_type != "NO_RESTOCK",
                    "lineItem": {"__typename": "LineItem", "id": li["id"], "sku": li["sku"]}})
            o["refunds"].append(refund)
            left = sum(li["currentQuantity"] for li in o["lines"])
            o["displayFinancialStatus"] = "PARTIALLY_REFUNDED" if left else "REFUNDED"
            o["updatedAt"] = self._time(at)

    # -- queries -----------------------------------------------------------------------

    def _order_node(self, o: dict[str, Any], lines: int, after: str | None = None
                    ) -> dict[str, Any]:
        start = 0
        if after:
            start = next((i + 1 for i, li in enumerate(o["lines"])
                          if li["id"] == _decode(after).get("last_id")), len(o["lines"]))
        page = o["lines"][start:start + lines]
        more = start + lines < len(o["lines"])
        items = {"nodes": [{"__typename": "LineItem", **li, **order_money.line_fields(o, li)}
                           for li in page], "pageInfo": {
            "hasNextPage": more, "endCursor": _encode({"last_id": page[-1]["id"]})
            if page else None}}
        # Order.refunds(first:) is a plain list; RefundLineItem a connection
        # [doc: admin-graphql Order.refunds, Refund.refundLineItems, RefundLineItem].
        refunds = [{"__typename": "Refund", "id": r["id"], "refundLineItems": {
            "nodes": r["lines"], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
            for r in o["refunds"]]
        return {"__typename": "Order", "id": o["id"], "createdAt": _iso(o["createdAt"]),
                "updatedAt": _iso(o["updatedAt"]),
                "cancelledAt": _iso(o["cancelledAt"]) if o["cancelledAt"] else None,
                "displayFinancialStatus": o["displayFinancialStatus"], "lineItems": items,
                "refunds": refunds, **order_money.order_fields(o)}

    def query_orders(self, call: Call) -> dict[str, Any]:
        first = call.arg("first")
        lines = call.nested_arg(("nodes", "lineItems"), "first", 0)
        sort = call.arg("sortKey", "ID")
        field = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt"}.get(sort)
        reverse = bool(call.arg("reverse", False))
        items = list(self.orders.values())
        for name, op, value in ORDER_TERM.findall(str(call.arg("query", ""))):
            t = calendar.timegm(time.strptime(value.strip("'\"").rstrip("Z")[:19],
                                              "%Y-%m-%dT%H:%M:%S"))
            key = "updatedAt" if name == "updated_at" else "createdAt"
            items = [o for o in items if COMPARE[op](o[key], t)]

        def position(o: dict[str, Any]) -> tuple[int, int]:
            n = int(o["id"].rsplit("/", 1)[-1])
            return (o[field] if field else n, n)
        items.sort(key=position, reverse=reverse)
        if call.arg("after"):
            c = _decode(call.arg("after"))
            mark = (c.get("last_value"), c.get("last_id"))
            items = [o for o in items if (position(o) < mark if reverse else position(o) > mark)]
        page = items[:first]
        end = _encode({"last_value": position(page[-1])[0], "last_id": position(page[-1])[1]}) \
            if page else None
        return {"nodes": [self._order_node(o, lines) for o in page],
                "pageInfo": {"hasNextPage": len(items) > first, "endCursor": end}}

    def query_order(self, call: Call) -> dict[str, Any] | None:
        o = self.orders.get(str(call.arg("id")))
        if o is None:
            return None
        return self._order_node(o, call.nested_arg(("lineItems",), "first", 0),
                                call.nested_arg(("lineItems",), "after"))
