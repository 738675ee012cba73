"""Shipments into Vendure 3.x through the Admin GraphQL API: a fulfilment per
shipment, then its state moved on.

Facts relied on, read in ``@vendure/core`` 3.7.3 and checked against a running 3.7.3
(tests/shops/vendure.py):

- ``addFulfillmentToOrder(input: {lines: [{orderLineId, quantity}], handler: {code,
  arguments}})`` with the default ``manual-fulfillment`` handler, whose arguments are
  ``method`` and ``trackingCode`` (dist/config/fulfillment/manual-fulfillment-handler);
  the fulfilment is made in ``Created`` and moved to ``Pending`` at once
  (OrderService.createFulfillment). Its answer is a union: ``Fulfillment`` or an
  ErrorResult (``ItemsAlreadyFulfilledError`` when a line's quantity less what its
  fulfilments not ``Cancelled`` hold is below the quantity asked,
  ``EmptyOrderLineSelectionError``, ``InsufficientStockOnHandError``…).
- ``method`` must be given: the fulfilment's column is NOT NULL (a fulfilment without
  it is refused with "NOT NULL constraint failed: fulfillment.method"); the carrier
  goes there ("ERP" when the file has none).
- ``createFulfillment`` does not look at the order's state, so this module does: an
  order not placed (``orderPlacedAt`` unset) or ``Cancelled`` is refused by name.
- ``transitionFulfillmentToState(id, "Shipped")`` then, when the file says so,
  ``"Delivered"`` (default fulfilment process: Pending -> Shipped | Delivered,
  Shipped -> Delivered); the order follows by itself to ``PartiallyShipped`` /
  ``Shipped`` and ``PartiallyDelivered`` / ``Delivered``
  (dist/config/fulfillment/default-fulfillment-process).
- What is left to ship on a line: its ``quantity`` (lowered by a partial
  cancellation) less its fulfilment lines in fulfilments not ``Cancelled``.

The order is named by its id (the order puller's) or its code. A fulfilment found
already made (its tracking code) but left ``Pending`` by a run cut short is moved on
to Shipped (and Delivered) when its file comes again; a shipment sent before that a
later file says was delivered is moved on to Delivered.
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
from filebridge.sinks.api.base import State
from filebridge.sinks.api.vendure import ItemError, VendureClient, VendureOptions

ORDER_FIELDS = ("id code state orderPlacedAt lines { id quantity productVariant { sku } } "
                "fulfillments { id state trackingCode lines { orderLineId quantity } }")
BY_ID = "query($id: ID!) { order(id: $id) { " + ORDER_FIELDS + " } }"
BY_CODE = ("query($o: OrderListOptions) { orders(options: $o) { items { " + ORDER_FIELDS
           + " } } }")
ADD = ("mutation($i: FulfillOrderInput!) { addFulfillmentToOrder(input: $i) { "
       "... on Fulfillment { id state } ... on ErrorResult { errorCode message } } }")
MOVE = ("mutation($id: ID!, $s: String!) { transitionFulfillmentToState(id: $id, state: $s) { "
        "... on Fulfillment { id state } ... on ErrorResult { errorCode message } } }")
HANDLER = "manual-fulfillment"


@shipper("vendure_api")
class VendureShipper(Shipper):
    name = "vendure_api"
    o: VendureOptions

    def __init__(self, options: VendureOptions):
        super().__init__(options)
        self.client = VendureClient(options, State(lambda product: []))
        # (order, tracking code) -> (fulfilment, its state), as order() last read them
        self.made: dict[tuple[str, str], tuple[str, str]] = {}

    def close(self) -> None:
        self.client.close()

    def _read(self, ref: str) -> dict[str, Any] | None:
        try:
            if ref.isdigit():
                return self.client.must(BY_ID, {"id": ref}).get("order")
            items = self.client.must(BY_CODE, {"o": {"filter": {"code": {"eq": ref}},
                                                     "take": 1}})["orders"]["items"]
            return items[0] if items else None
        except ItemError as e:
            raise PermanentSinkError(f"vendure shipments: order {ref}: {e}") from None

    def order(self, ref: str) -> ShopOrder | None:
        o = self._read(ref)
        if not o:
            return None
        held: dict[str, int] = {}
        tracked: dict[str, dict[str, int]] = {}
        for f in o.get("fulfillments") or []:
            if f.get("state") == "Cancelled":
                continue
            lines = {str(fl["orderLineId"]): int(fl["quantity"]) for fl in f.get("lines") or []}
            for line, n in lines.items():
                held[line] = held.get(line, 0) + n
            if f.get("trackingCode"):
                have = tracked.setdefault(str(f["trackingCode"]), {})
                for line, n in lines.items():
                    have[line] = have.get(line, 0) + n
                self.made[(str(o["id"]), str(f["trackingCode"]))] = (str(f["id"]),
                                                                      str(f["state"]))
        lines_out = [ShopLine(str(li["id"]), str((li.get("productVariant") or {}).get("sku") or ""),
                              int(li["quantity"]),
                              max(int(li["quantity"]) - held.get(str(li["id"]), 0), 0))
                     for li in o.get("lines") or []]
        closed = None
        if o.get("state") == "Cancelled":
            closed = "it is cancelled"
        elif not o.get("orderPlacedAt"):
            closed = f"it is not placed (state {o.get('state')})"
        return ShopOrder(str(o["id"]), lines_out, closed, tracked)

    def ship(self, order: ShopOrder, shipment: Shipment) -> str:
        args = [{"name": "method", "value": shipment.carrier or "ERP"}]
        if shipment.tracking:
            args.append({"name": "trackingCode", "value": shipment.tracking})
        data = self.client.must(ADD, {"i": {
            "lines": [{"orderLineId": li.id, "quantity": qty} for li, qty in shipment.lines],
            "handler": {"code": HANDLER, "arguments": args}}}, once=True)
        made = data["addFulfillmentToOrder"]
        if made.get("errorCode"):
            raise ShopRefused(f"{made['errorCode']}: {made.get('message')}")
        self._move(str(made["id"]), str(made.get("state") or "Pending"), shipment.delivered)
        return str(made["id"])

    def resume(self, order: ShopOrder, shipment: Shipment) -> None:
        fid, state = self.made.get((order.id, shipment.tracking), ("", ""))
        if fid:
            self._move(fid, state, shipment.delivered)

    def deliver(self, order: ShopOrder, shipment: Shipment) -> bool:
        fid, state = self.made.get((order.id, shipment.tracking), ("", ""))
        if not fid or state in ("Delivered", "Cancelled"):
            return False
        self._move(fid, state, True)
        return True

    def _move(self, fid: str, state: str, delivered: bool) -> None:
        """On from ``state`` to Shipped, and to Delivered when ``delivered``."""
        steps = ["Shipped", "Delivered"] if delivered else ["Shipped"]
        for target in steps[steps.index(state) + 1:] if state in steps else steps:
            moved = self.client.must(MOVE, {"id": fid, "s": target})[
                "transitionFulfillmentToState"]
            if moved.get("errorCode"):
                raise PermanentSinkError(f"vendure shipments: fulfilment {fid} to {target}: "
                                         f"{moved.get('message')}")
