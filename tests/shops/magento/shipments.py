"""Shipments of the loopback Magento: ``POST /V1/order/{orderId}/ship``
(ShipOrderInterface), ``GET /V1/orders/{id}`` and ``GET /V1/shipments``.

Rules [code: magento/magento2 app/code/Magento/Sales/Model/ShipOrder.php (validation
messages joined under "Shipment Document Validation Error(s):", a 400);
Model/Order/Validation/CanShip.php (payment_review, holded, canceled or virtual:
"A shipment cannot be created when an order has a status of %1"; nothing left to
ship: "The order does not allow a shipment to be created.");
Model/Order/Shipment/Validation/QuantityValidator.php@05b64184 ("We can not found
item \"%1\" in order.", "We found an invalid quantity to ship for item \"%1\"." when
the quantity is above ``getQtyToShip``, "You can't create a shipment without
products."); Model/Order/Item.php ``getSimpleQtyToShip``: ordered − shipped −
refunded − canceled, never below 0; a configurable's child is a dummy whose parent
carries the counters]:

- the shipment's items name order items by ``order_item_id`` with a ``qty``; an item
  of another order, or a configurable's child (stricter than Magento, which lets a
  dummy through and ships nothing on it), is refused;
- a track needs ``track_number`` and ``carrier_code`` (TrackValidator's required
  fields; wording invented);
- a shipment deducts its units from the source and compensates the reservation, as
  :meth:`shops.magento.orders.Orders.ship`; the order's ``qty_shipped`` grows; an
  order with nothing left to ship becomes ``complete`` once invoiced, else stays
  ``processing`` (Magento's OrderStateResolver);
- the answer is the new shipment's id.
"""

from __future__ import annotations

import copy
import time
from typing import Any, ClassVar

from shops.magento.base import MagentoError
from shops.magento.orders import Orders, _stamp
from shops.magento.stores import Scope

NOT_FOUND = "The entity that was requested doesn't exist. Verify the entity and try again."
NOT_READY = ("payment_review", "holded", "canceled")


class Shipments(Orders):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/orders/{id}", "get_order"),
        ("POST", "V1/order/{orderId}/ship", "post_ship"),
        ("GET", "V1/shipments", "get_shipments")]

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.shipments: list[dict[str, Any]] = []
        self.ship_calls = 0

    def _order_of(self, ref: str) -> dict[str, Any]:
        o = self.orders.get(int(ref)) if ref.isdigit() else None
        if o is None:
            raise MagentoError(404, NOT_FOUND)
        return o

    def get_order(self, scope: Scope, params: list[str], query: dict[str, str],
                  body: Any) -> tuple[int, Any]:
        with self.lock:
            return 200, self._render_order(self._order_of(params[0]))

    def get_shipments(self, scope: Scope, params: list[str], query: dict[str, str],
                      body: Any) -> tuple[int, Any]:
        """searchCriteria on ``order_id`` (eq) only: the one filter a client needs."""
        with self.lock:
            found = list(self.shipments)
            for key, value in query.items():
                if key.endswith("[field]") and value == "order_id":
                    stem = key[: -len("[field]")]
                    kind = query.get(stem + "[condition_type]", "eq")
                    if kind != "eq":
                        raise MagentoError(400, "Invalid condition type: %1", [kind])
                    found = [s for s in found if str(s["order_id"]) == query[stem + "[value]"]]
                elif key.endswith("[field]"):
                    raise MagentoError(400, "Filter on %1 is not modelled", [value])
            return 200, {"items": copy.deepcopy(found), "search_criteria": {},
                         "total_count": len(found)}

    def post_ship(self, scope: Scope, params: list[str], query: dict[str, str],
                  body: Any) -> tuple[int, Any]:
        with self.lock:
            o = self._order_of(params[0])
            self.ship_calls += 1
            body = body if isinstance(body, dict) else {}
            live = {i["item_id"]: i for i in self._live_items(o["entity_id"])}
            every = {i["item_id"]: i for i in o["items"]}
            errors = []
            if o["state"] in NOT_READY:
                errors.append(f"A shipment cannot be created when an order has a status of "
                              f"{o['status']}")
            elif not any(_to_ship(i) > 0 for i in live.values()):
                errors.append("The order does not allow a shipment to be created.")
            items = body.get("items") or []
            take: list[tuple[dict[str, Any], float]] = []
            total = 0.0
            for it in items:
                iid, qty = it.get("order_item_id"), float(it.get("qty") or 0)
                item = live.get(iid)
                if item is None:
                    errors.append(f'We can not found item "{iid}" in order.')
                    continue
                if qty > _to_ship(item) or qty < 0:
                    errors.append(f'We found an invalid quantity to ship for item '
                                  f'"{every[iid]["name"]}".')
                    continue
                total += qty
                take.append((item, qty))
            if total <= 0:
                errors.append("You can't create a shipment without products.")
            tracks = body.get("tracks") or []
            for t in tracks:
                for field in ("track_number", "carrier_code"):
                    if not t.get(field):
                        errors.append(f"{field} is a required field.")
            if errors:
                raise MagentoError(400, "Shipment Document Validation Error(s):\n"
                                   + "\n".join(errors))
            sid = len(self.shipments) + 1
            for item, qty in take:
                item["qty_shipped"] += qty
                self._deduct(item["sku"], qty)
                self._reserve(item["sku"], qty, "shipment_created", o["entity_id"])
            if not any(_to_ship(i) > 0 for i in live.values()):
                invoiced = all(i["qty_invoiced"] + i["qty_canceled"] >= i["qty_ordered"]
                               for i in live.values())
                o["state"] = o["status"] = "complete" if invoiced else "processing"
            elif o["state"] == "new":
                o["state"], o["status"] = "processing", "processing"
            o["updated_at"] = _stamp(time.time())  # saved now, as Magento saves it
            self.shipments.append({
                "entity_id": sid, "order_id": o["entity_id"],
                "increment_id": f"{sid:09d}", "notify": bool(body.get("notify")),
                "items": [{"order_item_id": i["item_id"], "sku": i["sku"], "qty": q}
                          for i, q in take],
                "tracks": [{"track_number": t["track_number"], "title": t.get("title"),
                            "carrier_code": t["carrier_code"]} for t in tracks]})
            return 200, sid


def _to_ship(item: dict[str, Any]) -> float:
    return max(item["qty_ordered"] - item["qty_shipped"] - item["qty_refunded"]
               - item["qty_canceled"], 0.0)
