"""Shipments into Shopify: fulfillment orders, through the Admin GraphQL API (the API
the Shopify sink and order puller use).

Shop facts relied on [doc: shopify.dev admin-graphql ``FulfillmentOrder``,
``FulfillmentOrderLineItem`` (``remainingQuantity``, ``totalQuantity``, ``lineItem``),
``FulfillmentOrderStatus``, ``fulfillmentCreate`` and ``FulfillmentInput``
(``lineItemsByFulfillmentOrder``: pairs of ``fulfillmentOrderId`` and
``fulfillmentOrderLineItems {id quantity}``; ``trackingInfo {company number}``;
``notifyCustomer``, default false), ``Fulfillment`` (``trackingInfo``,
``fulfillmentLineItems``); guide "Build fulfillment solutions" /
order-management-apps: a merchant-managed order is fulfilled by creating a
fulfillment against its fulfillment orders]:

- An order's units are shipped from its fulfillment orders: what is left to ship on
  a line is the sum of ``remainingQuantity`` of its fulfillment order line items in
  fulfillment orders still OPEN or IN_PROGRESS (a CLOSED, CANCELLED, INCOMPLETE or
  ON_HOLD one cannot be fulfilled).
- ``fulfillmentCreate`` answers ``userErrors`` when it refuses (a quantity above
  what remains, a closed fulfillment order): the shipment's rows are rejected with
  Shopify's message.
- The shipments the shop already has are read off ``order.fulfillments``: their
  tracking numbers and the line items each holds.

The token needs ``read_orders`` and ``write_merchant_managed_fulfillment_orders``
(``write_assigned_fulfillment_orders`` for an app's own locations).
"""

from __future__ import annotations

from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.shipments.base import (
    Shipment,
    Shipper,
    ShopLine,
    ShopOrder,
    ShopRefused,
    shipper,
)
from filebridge.sinks.api.shopify import Refused, ShopifyClient, ShopifyOptions

# Costs stay under 1000 points a query: 2 + 50 lines; 2 + 5 × (2 + 50) fulfillment
# order lines; 20 × (2 + 30) fulfillment lines. Larger orders are refused by name
# rather than shipped on half a picture.
LINES, FOS, FO_LINES, FULFILLMENTS, F_LINES = 50, 5, 50, 20, 30
ORDER = ("query ShipOrder($id: ID!) { order(id: $id) { id cancelledAt "
         f"lineItems(first: {LINES}) {{ nodes {{ id sku quantity }} pageInfo {{ hasNextPage }} }} "
         f"fulfillmentOrders(first: {FOS}) {{ nodes {{ id status "
         f"lineItems(first: {FO_LINES}) {{ nodes {{ id remainingQuantity lineItem {{ id }} }} "
         "pageInfo { hasNextPage } } } pageInfo { hasNextPage } } } }")
FULFILLED = ("query ShipFulfillments($id: ID!) { order(id: $id) { "
             f"fulfillments(first: {FULFILLMENTS}) {{ id status trackingInfo {{ number }} "
             f"fulfillmentLineItems(first: {F_LINES}) {{ nodes {{ quantity lineItem {{ id }} }} "
             "pageInfo { hasNextPage } } } } }")
CREATE = ("mutation Ship($fulfillment: FulfillmentInput!) { fulfillmentCreate(fulfillment: "
          "$fulfillment) { fulfillment { id status } userErrors { field message } } }")
SHIPPABLE = ("OPEN", "IN_PROGRESS")


def order_gid(ref: str) -> str:
    return ref if ref.startswith("gid://") else f"gid://shopify/Order/{ref}"


@shipper("shopify_api")
class ShopifyShipper(Shipper):
    name = "shopify_api"
    o: ShopifyOptions

    def __init__(self, options: ShopifyOptions):
        super().__init__(options)
        self.client = ShopifyClient(options, None)
        # fulfillmentCreate is not repeated blindly (a lost answer may hide a fulfilment
        # made): the run fails, and the next finds it by its tracking number.
        self.once = ShopifyClient(options.model_copy(update={
            "limits": options.limits.model_copy(update={"retries": 0})}), None)
        # order -> [fulfillment order, its line item, order line, units remaining], as
        # the last order() read them: ship() spreads a line's units over them
        self.slots: dict[str, list[list[Any]]] = {}

    def close(self) -> None:
        self.client.close()
        self.once.close()

    def order(self, ref: str) -> ShopOrder | None:
        gid = order_gid(ref)
        try:
            o = self.client.must("order", ORDER, {"id": gid}).get("order")
        except PermanentSinkError as e:
            if "invalid id" in str(e).lower():  # not an order GID at all
                return None
            raise
        if not o:
            return None
        items = o.get("lineItems") or {}
        fos = o.get("fulfillmentOrders") or {}
        if (items.get("pageInfo") or {}).get("hasNextPage") or \
                (fos.get("pageInfo") or {}).get("hasNextPage"):
            raise ShopRefused(f"it has more than {LINES} lines or {FOS} fulfillment "
                              "orders: ship it in the Shopify admin")
        left: dict[str, int] = {}
        slots: list[list[Any]] = []
        for fo in fos.get("nodes") or []:
            conn = fo.get("lineItems") or {}
            if (conn.get("pageInfo") or {}).get("hasNextPage"):
                raise ShopRefused(f"its fulfillment order {fo['id']} has more than "
                                  f"{FO_LINES} lines: ship it in the Shopify admin")
            if fo.get("status") not in SHIPPABLE:
                continue
            for fl in conn.get("nodes") or []:
                line = str((fl.get("lineItem") or {}).get("id"))
                n = int(fl.get("remainingQuantity") or 0)
                left[line] = left.get(line, 0) + n
                if n > 0:
                    slots.append([fo["id"], fl["id"], line, n])
        self.slots[o["id"]] = slots
        lines = [ShopLine(str(li["id"]), str(li.get("sku") or ""), int(li.get("quantity") or 0),
                          left.get(str(li["id"]), 0))
                 for li in items.get("nodes") or []]
        closed = "it is cancelled" if o.get("cancelledAt") else None
        return ShopOrder(o["id"], lines, closed, self._tracked(o["id"]) if not closed else {})

    def _tracked(self, gid: str) -> dict[str, dict[str, int]]:
        o = self.client.must("order", FULFILLED, {"id": gid}).get("order") or {}
        out: dict[str, dict[str, int]] = {}
        for f in o.get("fulfillments") or []:
            if f.get("status") not in ("SUCCESS", "OPEN", "PENDING"):
                continue  # cancelled or failed: its units are back to ship
            lines: dict[str, int] = {}
            for fl in (f.get("fulfillmentLineItems") or {}).get("nodes") or []:
                line = str((fl.get("lineItem") or {}).get("id"))
                lines[line] = lines.get(line, 0) + int(fl.get("quantity") or 0)
            for t in f.get("trackingInfo") or []:
                if t.get("number"):
                    have = out.setdefault(str(t["number"]), {})
                    for line, n in lines.items():
                        have[line] = have.get(line, 0) + n
        return out

    def ship(self, order: ShopOrder, shipment: Shipment) -> str:
        by_fo: dict[str, list[dict[str, Any]]] = {}
        slots = self.slots.get(order.id, [])
        for li, qty in shipment.lines:
            need = qty
            for slot in slots:
                fo, fo_line, line, n = slot
                if line != li.id or n <= 0 or need <= 0:
                    continue
                take = min(n, need)
                by_fo.setdefault(fo, []).append({"id": fo_line, "quantity": take})
                slot[3] = n - take
                need -= take
            if need:
                raise ShopRefused(f"{need} units of line {li.id} are on no open fulfillment "
                                  "order")
        tracking: dict[str, Any] = {}
        if shipment.tracking:
            tracking["number"] = shipment.tracking
        if shipment.carrier:
            tracking["company"] = shipment.carrier
        fulfillment: dict[str, Any] = {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": fls}
                for fo, fls in by_fo.items()],
            "notifyCustomer": shipment.notify}
        if tracking:
            fulfillment["trackingInfo"] = tracking
        try:
            data = self.once.call("fulfillmentCreate", CREATE, {"fulfillment": fulfillment})
        except Refused as e:
            raise ShopRefused(str(e)) from None
        answer = data.get("fulfillmentCreate") or {}
        errors = answer.get("userErrors") or []
        if errors:
            raise ShopRefused("; ".join(str(e.get("message")) for e in errors))
        made = answer.get("fulfillment") or {}
        if not made.get("id"):
            raise PermanentSinkError(f"shopify shipments: fulfillmentCreate made nothing for "
                                     f"order {order.id}: {answer!r:.200}")
        return str(made["id"])
