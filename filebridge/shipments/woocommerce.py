"""Shipments into WooCommerce through the REST API v3: WooCommerce has no shipment of
its own, so a shipment is recorded on the order itself.

- ``meta_data`` key ``filebridge_shipments`` (no leading underscore, so the REST API
  and the admin show it): the list of shipments sent, each ``{shipment, tracking,
  carrier, date, lines: {line id: units}}``. What a line has shipped is the sum over
  it; it is the shop's own record that a re-sent shipment is found in.
- An order note with the carrier and tracking number (a customer note with
  ``notify``), so people see it in the admin.
- The status becomes ``completed`` once every line has shipped all its units
  (less the units refunded); a partial shipment leaves it as it is (processing).

Shop facts relied on [code: woocommerce/woocommerce includes/rest-api/Controllers/
Version2/class-wc-rest-orders-v2-controller.php ``prepare_object_for_database``: a
``meta_data`` entry without an id is ``update_meta_data(key, value)``, one value per
key; Version2/class-wc-rest-order-notes-v2-controller.php ``create_item``: ``note``
required, ``customer_note``]. The meta is written before the note: a run cut short
between the two has the shipment recorded (it is not sent again) and lacks only
the note.

Statuses that cannot ship: pending (not paid), cancelled, refunded, failed, trash,
drafts.
"""

from __future__ import annotations

import json
from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.options import expand_env
from filebridge.shipments.base import (
    Shipment,
    Shipper,
    ShopLine,
    ShopOrder,
    ShopRefused,
    shipper,
)
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.woocommerce import WooOptions

META = "filebridge_shipments"
CLOSED = ("pending", "cancelled", "refunded", "failed", "trash", "checkout-draft", "draft",
          "auto-draft")
FIELDS = "id,status,line_items,meta_data,refunds"


@shipper("woocommerce_api")
class WooShipper(Shipper):
    name = "woocommerce_api"
    o: WooOptions

    def __init__(self, options: WooOptions):
        super().__init__(options)
        self.http = Http(expand_env(options.url).rstrip("/") + "/wp-json/wc/v3", options.limits,
                         name="woocommerce shipments",
                         auth=(options.consumer_key.reveal(), options.consumer_secret.reveal()))
        self.state: dict[str, tuple[list[dict[str, Any]], dict[str, int]]] = {}

    def close(self) -> None:
        self.http.close()

    def order(self, ref: str) -> ShopOrder | None:
        if not ref.isdigit():
            return None
        resp = self.http.request("GET", f"/orders/{int(ref)}", params={"_fields": FIELDS},
                                 ok=lambda r: r.status_code == 404)
        if resp.status_code == 404:
            return None
        o = resp.json()
        sent = _shipments(o)
        refunded = self._refunded(o) if o.get("refunds") else {}
        shipped: dict[str, int] = {}
        tracked: dict[str, dict[str, int]] = {}
        for s in sent:
            for line, n in (s.get("lines") or {}).items():
                shipped[str(line)] = shipped.get(str(line), 0) + int(n)
                if s.get("tracking"):
                    have = tracked.setdefault(str(s["tracking"]), {})
                    have[str(line)] = have.get(str(line), 0) + int(n)
        lines = []
        for li in o.get("line_items") or []:
            lid = str(li["id"])
            qty = int(li.get("quantity") or 0)
            lines.append(ShopLine(lid, str(li.get("sku") or ""), qty,
                                  max(qty - shipped.get(lid, 0) - refunded.get(lid, 0), 0)))
        status = str(o.get("status") or "")
        closed = f"its status is {status}" if status in CLOSED else None
        self.state[str(o["id"])] = (sent, refunded)
        return ShopOrder(str(o["id"]), lines, closed, tracked)

    def _refunded(self, o: dict[str, Any]) -> dict[str, int]:
        """Order line id -> units refunded (GET /orders/<id>/refunds)."""
        out: dict[str, int] = {}
        page, pages = 1, 1
        while page <= pages:
            resp = self.http.request("GET", f"/orders/{o['id']}/refunds",
                                     params={"per_page": 100, "page": page})
            pages = int(resp.headers.get("X-WP-TotalPages") or 1)
            for refund in resp.json() or []:
                for rl in refund.get("line_items") or []:
                    target = next((str(m.get("value")) for m in rl.get("meta_data") or []
                                   if m.get("key") == "_refunded_item_id"), None)
                    if target:
                        out[target] = out.get(target, 0) + abs(int(rl.get("quantity") or 0))
            page += 1
        return out

    def ship(self, order: ShopOrder, shipment: Shipment) -> str:
        sent, refunded = self.state.get(order.id, ([], {}))
        entry = {"shipment": shipment.key, "tracking": shipment.tracking,
                 "carrier": shipment.carrier, "date": shipment.date,
                 "lines": {li.id: qty for li, qty in shipment.lines}}
        after = [*sent, entry]
        shipped: dict[str, int] = {}
        for s in after:
            for line, n in s["lines"].items():
                shipped[str(line)] = shipped.get(str(line), 0) + int(n)
        complete = all(shipped.get(li.id, 0) + refunded.get(li.id, 0) >= li.ordered
                       for li in order.lines)
        body: dict[str, Any] = {"meta_data": [{"key": META, "value": after}]}
        if complete:
            body["status"] = "completed"
        try:
            self.http.json("PUT", f"/orders/{int(order.id)}", body)
        except PermanentSinkError as e:
            raise ShopRefused(str(e)) from None
        self.state[order.id] = (after, refunded)
        what = ", ".join(f"{qty} x {li.sku or li.id}" for li, qty in shipment.lines)
        note = f"Shipped {what}" + (f" with {shipment.carrier}" if shipment.carrier else "") + \
            (f", tracking number {shipment.tracking}" if shipment.tracking else "") + \
            (f", on {shipment.date}" if shipment.date else "") + "."
        self.http.json("POST", f"/orders/{int(order.id)}/notes",
                       {"note": note, "customer_note": shipment.notify})
        return f"{order.id}:{shipment.key}"


def _shipments(o: dict[str, Any]) -> list[dict[str, Any]]:
    for m in o.get("meta_data") or []:
        if m.get("key") == META:
            v = m.get("value")
            if isinstance(v, str):  # a plugin or an export stored it as text
                try:
                    v = json.loads(v)
                except ValueError:
                    return []
            return [s for s in v or [] if isinstance(s, dict)]
    return []
