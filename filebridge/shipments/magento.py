"""Shipments into Magento 2 through its REST API: ``POST /V1/order/{orderId}/ship``
(Magento\\Sales\\Api\\ShipOrderInterface) with ``items`` (``order_item_id``, ``qty``)
and ``tracks`` (``track_number``, ``title``, ``carrier_code``).

Shop facts relied on [code: magento/magento2 app/code/Magento/Sales/Model/Order/
Item.php ``getSimpleQtyToShip`` (ordered − shipped − refunded − canceled, never below
0; a configurable's child is a dummy, its parent item carries the counters);
Model/Order/Shipment/Validation/QuantityValidator.php (a quantity above what is left
to ship is refused); Model/Order/Validation/CanShip.php (no shipment of an order in
payment review, on hold or canceled)]:

- the order is read with ``GET /V1/orders/{id}`` (the order's entity id); what is
  left to ship on each item is worked out as Magento does, so a row asking more is
  rejected before anything is sent;
- the shipments Magento already has come from ``GET /V1/shipments`` filtered on the
  order: their tracks' numbers and items;
- the POST is never repeated blindly (no retry on a lost answer): a run that fails
  there is redone later and finds the shipment by its tracking number.

Carrier codes: Magento's own carriers (``ups``, ``usps``, ``fedex``, ``dhl``) by
name, anything else ``custom`` with the carrier's name as the track's title.
"""

from __future__ import annotations

from decimal import Decimal
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
from filebridge.sinks.api.magento import MagentoClient, MagentoOptions

CARRIERS = ("ups", "usps", "fedex", "dhl")
NOT_READY = ("payment_review", "holded", "canceled", "closed")
SC = "searchCriteria"


def _n(item: dict[str, Any], field: str) -> Decimal:
    return Decimal(str(item.get(field) or 0))


@shipper("magento_api")
class MagentoShipper(Shipper):
    name = "magento_api"
    o: MagentoOptions

    def __init__(self, options: MagentoOptions):
        super().__init__(options)
        self.client = MagentoClient(options, State(lambda product: []))

    def close(self) -> None:
        self.client.close()

    def order(self, ref: str) -> ShopOrder | None:
        if not ref.isdigit():
            return None
        resp = self.client.http.request("GET", f"/V1/orders/{int(ref)}",
                                        ok=lambda r: r.status_code == 404)
        if resp.status_code == 404:
            return None
        o = resp.json()
        lines = []
        for it in o.get("items") or []:
            if it.get("parent_item_id"):
                continue  # a configurable's child: its parent item is shipped
            left = _n(it, "qty_ordered") - _n(it, "qty_shipped") - _n(it, "qty_refunded") \
                - _n(it, "qty_canceled")
            lines.append(ShopLine(str(it["item_id"]), str(it.get("sku") or ""),
                                  int(_n(it, "qty_ordered")), max(int(left), 0)))
        state = str(o.get("state") or "")
        closed = f"its state is {state}" if state in NOT_READY else None
        return ShopOrder(str(o["entity_id"]), lines, closed,
                         {} if closed else self._tracked(str(o["entity_id"])))

    def _tracked(self, oid: str) -> dict[str, dict[str, int]]:
        g = f"{SC}[filter_groups][0][filters][0]"
        body = self.client.http.json("GET", "/V1/shipments", params={
            f"{g}[field]": "order_id", f"{g}[value]": oid, f"{g}[condition_type]": "eq"}) or {}
        out: dict[str, dict[str, int]] = {}
        for s in body.get("items") or []:
            lines: dict[str, int] = {}
            for it in s.get("items") or []:
                key = str(it.get("order_item_id"))
                lines[key] = lines.get(key, 0) + int(_n(it, "qty"))
            for t in s.get("tracks") or []:
                if t.get("track_number"):
                    have = out.setdefault(str(t["track_number"]), {})
                    for k, n in lines.items():
                        have[k] = have.get(k, 0) + n
        return out

    def ship(self, order: ShopOrder, shipment: Shipment) -> str:
        body: dict[str, Any] = {
            "items": [{"order_item_id": int(li.id), "qty": qty} for li, qty in shipment.lines],
            "notify": shipment.notify}
        if shipment.tracking:
            code = shipment.carrier.lower() if shipment.carrier.lower() in CARRIERS \
                else "custom"
            body["tracks"] = [{"track_number": shipment.tracking,
                               "title": shipment.carrier or code, "carrier_code": code}]
        try:
            sid = self.client.once.json("POST", f"/V1/order/{int(order.id)}/ship", body)
        except PermanentSinkError as e:
            raise ShopRefused(str(e)) from None
        return str(sid)
