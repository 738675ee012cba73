"""Orders changed through the REST API, as a shipments client changes them:
``PUT /orders/<id>`` (``status``, ``meta_data``) and ``/orders/<id>/notes``.

Rules [code: woocommerce/woocommerce includes/rest-api/Controllers/Version2/
class-wc-rest-orders-v2-controller.php ``prepare_object_for_database`` (meta_data:
``update_meta_data(key, value)`` for an entry without an id, so a key keeps one
value; ``status`` through ``$order->set_status``), ``get_item_schema`` (``status``
an enum of the registered statuses, ``meta_data`` an array of objects),
Version2/class-wc-rest-order-notes-v2-controller.php (``note`` required,
``customer_note`` default false, ``added_by_user``; answers 201 with the note;
``type`` any | customer | internal on the list); WP_REST_Server's argument checks]:

- an unknown order id is 404 ``woocommerce_rest_shop_order_invalid_id``;
- a status outside the enum is 400 ``rest_invalid_param``; entering a status runs
  the stock hooks of :class:`shops.woocommerce.orders.Orders` (completing a paid
  order moves no stock again);
- a meta_data entry that is not an object with a ``key`` is 400;
- every change saves the order with a new modification time, as ``$order->save()``
  does.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .base import WooError, fields, invalid, missing, no_route, page
from .orders import ORDER_STATUSES, Orders


class ShippableOrders(Orders):
    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.notes: dict[int, list[dict[str, Any]]] = {}
        self.updates = 0  # PUT /orders/<id> applied

    def meta(self, oid: int, key: str) -> Any:
        with self.lock:
            return next((m["value"] for m in self.order(oid).get("meta_data", [])
                         if m["key"] == key), None)

    def view(self, o: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        o.setdefault("meta_data", [])
        return super().view(o, query)

    def handle(self, method: str, parts: list[str], query: dict[str, str],
               data: Any = None) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and not (len(parts) == 3 and parts[2] == "notes"):
            return super().handle(method, parts, query)
        if len(parts) < 2 or not parts[1].isdigit():
            raise no_route()
        with self.lock:
            o = self.order(int(parts[1]))
            if len(parts) == 2 and method in ("PUT", "POST", "PATCH"):
                return 200, {}, self._update(o, data or {}, query)
            if len(parts) == 3 and parts[2] == "notes":
                if method == "GET":
                    kind = query.get("type", "any")
                    if kind not in ("any", "customer", "internal"):
                        raise invalid("type", "type is not one of any, customer, internal.")
                    items = [n for n in reversed(self.notes.get(o["id"], []))
                             if kind == "any" or n["customer_note"] == (kind == "customer")]
                    return page([fields(copy.deepcopy(n), query) for n in items], query)
                if method == "POST":
                    return 201, {}, self._note(o, data or {})
        raise no_route()

    def _update(self, o: dict[str, Any], data: Any, query: dict[str, str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        status = data.get("status")
        if status is not None and status not in ORDER_STATUSES:
            raise invalid("status", "status is not one of " + ", ".join(ORDER_STATUSES) + ".")
        metas = data.get("meta_data")
        if metas is not None:
            if not isinstance(metas, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("key"), str) for m in metas):
                raise invalid("meta_data", "meta_data[0] is not of type object.")
            have = o.setdefault("meta_data", [])
            for m in metas:
                old = next((x for x in have if x["key"] == m["key"]), None)
                if old is None:
                    have.append({"id": self._id(), "key": m["key"],
                                 "value": copy.deepcopy(m.get("value"))})
                else:
                    old["value"] = copy.deepcopy(m.get("value"))
        if status is not None:
            self._enter(o, status)
        o["modified"] = self.time()
        self.updates += 1
        return self.view(o, query)

    def _note(self, o: dict[str, Any], data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not data.get("note"):
            raise missing("note")
        t = self.time()
        note = {"id": self._id(), "author": "system",
                "date_created": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + self.OFFSET)),
                "date_created_gmt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)),
                "note": str(data["note"]), "customer_note": bool(data.get("customer_note")),
                "added_by_user": bool(data.get("added_by_user"))}
        self.notes.setdefault(o["id"], []).append(note)
        return copy.deepcopy(note)
