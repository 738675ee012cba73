"""Fulfillment orders and fulfillments of the loopback Shopify: an order's
``fulfillmentOrders`` and ``fulfillments``, and ``fulfillmentCreate``.

Rules, as Shopify documents them [doc: shopify.dev admin-graphql ``FulfillmentOrder``,
``FulfillmentOrderStatus``, ``FulfillmentOrderLineItem`` (``id``, ``totalQuantity``,
``remainingQuantity``, ``lineItem``), ``fulfillmentCreate`` / ``FulfillmentInput``
(``lineItemsByFulfillmentOrder`` required; "if the fulfillment order line items are
left blank then all the fulfillment order line items of the associated fulfillment
order ID will be fulfilled"; ``notifyCustomer`` default false; ``trackingInfo``),
``Fulfillment`` (``status``, ``trackingInfo``, ``fulfillmentLineItems``); community
thread "Fulfilling a particular lines of an order using graphql" (the line ids a
fulfillment takes are the fulfillment order's line item ids, not the order's)]:

- every order gets one fulfillment order at its location, one line item per order
  line, with ids of their own (``FulfillmentOrderLineItem``): a LineItem id in their
  place is refused;
- what remains on a fulfillment order line is its order line's current quantity
  (less removed and refunded units) minus what fulfillments took; the fulfillment
  order is OPEN until a fulfillment takes units, IN_PROGRESS while units remain,
  CLOSED when none remain or the order is cancelled;
- ``fulfillmentCreate`` refuses (``userErrors``, nothing made) an unknown fulfillment
  order, one that is not OPEN or IN_PROGRESS, a line item not on it, and a quantity
  that is not above 0 or is above what remains; arrays hold at most 250 items.

The userErrors' wording is invented where the docs give none.
"""

from __future__ import annotations

from typing import Any

from shops.shopify.base import Call, too_many, user_error
from shops.shopify.orders import Orders, _iso


class Fulfillments(Orders):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.fo_of: dict[str, str] = {}  # order -> its fulfillment order
        self.fo_lines: dict[str, dict[str, str]] = {}  # FO -> {FO line item: LineItem}
        self.fulfillments: dict[str, list[dict[str, Any]]] = {}  # order -> fulfillments
        self.fulfillment_calls = 0

    # -- state -------------------------------------------------------------------------

    def _fo(self, order_id: str) -> str:
        """The order's fulfillment order (made when first needed, with ids of its own)."""
        if order_id not in self.fo_of:
            fo = self._gid("FulfillmentOrder")
            self.fo_of[order_id] = fo
            self.fo_lines[fo] = {self._gid("FulfillmentOrderLineItem"): li["id"]
                                 for li in self.orders[order_id]["lines"]}
            self.fulfillments.setdefault(order_id, [])
        return self.fo_of[order_id]

    def fulfilled(self, order_id: str, line_id: str) -> int:
        """Units of an order line the order's fulfillments hold."""
        return sum(fl["quantity"] for f in self.fulfillments.get(order_id, [])
                   for fl in f["lines"] if fl["lineItem"] == line_id)

    def _remaining(self, order_id: str, line_id: str) -> int:
        o = self.orders[order_id]
        if o["cancelledAt"] is not None:
            return 0
        li = next(li for li in o["lines"] if li["id"] == line_id)
        return max(li["currentQuantity"] - self.fulfilled(order_id, line_id), 0)

    def _fo_status(self, order_id: str) -> str:
        if self.orders[order_id]["cancelledAt"] is not None:
            return "CLOSED"
        left = sum(self._remaining(order_id, li["id"]) for li in self.orders[order_id]["lines"])
        if not left:
            return "CLOSED"
        return "IN_PROGRESS" if self.fulfillments.get(order_id) else "OPEN"

    def fulfillment_status(self, order_id: str) -> str:
        """Order.displayFulfillmentStatus: UNFULFILLED, PARTIALLY_FULFILLED, FULFILLED."""
        with self.lock:
            lines = self.orders[order_id]["lines"]
            done = sum(self.fulfilled(order_id, li["id"]) for li in lines)
            left = sum(self._remaining(order_id, li["id"]) for li in lines)
            return "UNFULFILLED" if not done else "PARTIALLY_FULFILLED" if left \
                else "FULFILLED"

    def tracking_numbers(self, order_id: str) -> list[str]:
        with self.lock:
            return [t["number"] for f in self.fulfillments.get(order_id, [])
                    for t in f["trackingInfo"]]

    # -- the order's node --------------------------------------------------------------

    def _order_node(self, o: dict[str, Any], lines: int, after: str | None = None
                    ) -> dict[str, Any]:
        node = super()._order_node(o, lines, after)
        oid = o["id"]
        fo = self._fo(oid)
        fo_lines = [{"__typename": "FulfillmentOrderLineItem", "id": fl,
                     "totalQuantity": next(li["quantity"] for li in o["lines"]
                                           if li["id"] == line),
                     "remainingQuantity": self._remaining(oid, line),
                     "lineItem": {"__typename": "LineItem", "id": line}}
                    for fl, line in self.fo_lines[fo].items()]
        node["fulfillmentOrders"] = {"nodes": [{
            "__typename": "FulfillmentOrder", "id": fo, "status": self._fo_status(oid),
            "lineItems": {"nodes": fo_lines, "pageInfo": {"hasNextPage": False}}}],
            "pageInfo": {"hasNextPage": False}}
        node["fulfillments"] = [{
            "__typename": "Fulfillment", "id": f["id"], "status": f["status"],
            "createdAt": _iso(f["createdAt"]), "trackingInfo": f["trackingInfo"],
            "fulfillmentLineItems": {"nodes": [
                {"__typename": "FulfillmentLineItem", "quantity": fl["quantity"],
                 "lineItem": {"__typename": "LineItem", "id": fl["lineItem"]}}
                for fl in f["lines"]], "pageInfo": {"hasNextPage": False}}}
            for f in self.fulfillments.get(oid, [])]
        node["displayFulfillmentStatus"] = self.fulfillment_status(oid)
        return node

    # -- fulfillmentCreate ---------------------------------------------------------------

    def mutation_fulfillmentCreate(self, call: Call) -> dict[str, Any]:
        inp = call.arg("fulfillment")
        if not isinstance(inp, dict):
            raise call.invalid("fulfillment", [], "Expected value to not be null")
        pairs = inp.get("lineItemsByFulfillmentOrder")
        if not isinstance(pairs, list):
            raise call.invalid("fulfillment", ["lineItemsByFulfillmentOrder"],
                               "Expected value to not be null")
        if len(pairs) > 250:
            raise too_many("fulfillmentCreate", ["fulfillment", "lineItemsByFulfillmentOrder"],
                           len(pairs))
        self.fulfillment_calls += 1

        def refuse(path: list[Any], message: str) -> dict[str, Any]:
            return {"fulfillment": None, "userErrors": [user_error(
                ["fulfillment", "lineItemsByFulfillmentOrder", *path], message, None)]}

        if not pairs:
            return refuse([], "Line items by fulfillment order can't be blank.")
        take: list[tuple[str, str, int]] = []  # order, line item, units
        orders = set()
        for i, pair in enumerate(pairs):
            fo = pair.get("fulfillmentOrderId") if isinstance(pair, dict) else None
            if not isinstance(fo, str):
                raise call.invalid("fulfillment", ["lineItemsByFulfillmentOrder", i,
                                                   "fulfillmentOrderId"],
                                   "Expected value to not be null")
            order_id = next((o for o, f in self.fo_of.items() if f == fo), None)
            if order_id is None:
                return refuse([i, "fulfillmentOrderId"], "Fulfillment order does not exist.")
            orders.add(order_id)
            status = self._fo_status(order_id)
            if status not in ("OPEN", "IN_PROGRESS"):
                return refuse([i, "fulfillmentOrderId"], f"Fulfillment order {fo} has an "
                              f"unfulfillable status= {status.lower()}.")
            items = pair.get("fulfillmentOrderLineItems")
            if items is None or items == []:  # blank: all that remains
                for line in self.fo_lines[fo].values():
                    n = self._remaining(order_id, line)
                    if n:
                        take.append((order_id, line, n))
                continue
            if len(items) > 250:
                raise too_many("fulfillmentCreate", ["fulfillment", "lineItemsByFulfillmentOrder",
                                                     i, "fulfillmentOrderLineItems"], len(items))
            asked: dict[str, int] = {}
            for j, item in enumerate(items):
                fl, q = item.get("id"), item.get("quantity")
                if not isinstance(fl, str) or not isinstance(q, int) or isinstance(q, bool):
                    raise call.invalid("fulfillment", ["lineItemsByFulfillmentOrder", i,
                                                       "fulfillmentOrderLineItems", j],
                                       "Expected value to not be null")
                known = self.fo_lines[fo].get(fl)
                if known is None:
                    return refuse([i, "fulfillmentOrderLineItems", j, "id"],
                                  "Fulfillment order line item does not exist.")
                line = known
                asked[line] = asked.get(line, 0) + q
                if q <= 0 or asked[line] > self._remaining(order_id, line):
                    return refuse([i, "fulfillmentOrderLineItems", j, "quantity"],
                                  "Invalid fulfillment order line item quantity requested.")
                take.append((order_id, line, q))
        if len(orders) > 1:
            return refuse([], "Fulfillment orders must belong to the same order.")
        if not take:
            return refuse([], "Fulfillment must contain at least one line item.")
        order_id = orders.pop()
        tracking = inp.get("trackingInfo") or {}
        numbers = [n for n in [tracking.get("number"), *(tracking.get("numbers") or [])] if n]
        f = {"id": self._gid("Fulfillment"), "status": "SUCCESS",
             "createdAt": self._time(), "notifyCustomer": bool(inp.get("notifyCustomer")),
             "trackingInfo": [{"__typename": "FulfillmentTrackingInfo", "number": n,
                               "company": tracking.get("company"), "url": tracking.get("url")}
                              for n in numbers],
             "lines": [{"lineItem": line, "quantity": q} for _, line, q in take]}
        self.fulfillments.setdefault(order_id, []).append(f)
        self.orders[order_id]["updatedAt"] = self._time()
        return {"fulfillment": {"__typename": "Fulfillment", "id": f["id"],
                                "status": f["status"], "trackingInfo": f["trackingInfo"]},
                "userErrors": []}
