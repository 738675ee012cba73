"""Orders as the REST API v3 shows them, for the order pullers' tests.

See :class:`Orders`; tests place and change them with ``add_order``, ``set_status``,
``refund`` and the clock ``now`` of the server.
"""

from __future__ import annotations

import calendar
import copy
import re
import time
from decimal import Decimal
from typing import Any

from . import order_money
from .base import State, WooError, fields, invalid, no_route, page
from .products import SITE_OFFSET, Shop

ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                  "failed", "checkout-draft")
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
REDUCES = ("processing", "on-hold", "completed")  # wc_maybe_reduce_stock_levels' hooks
RESTORES = ("cancelled", "pending")  # wc_maybe_increase_stock_levels' hooks
REST_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(\.\d+)?"
                       r"(Z|[+-]\d{2}(:?\d{2})?)?$")


class Orders:
    """Orders as the REST API v3 shows them (includes/rest-api/Controllers/Version3/
    class-wc-rest-crud-controller.php and the orders controllers):

    - ``GET /orders`` with ``per_page``, ``page``, ``offset``, ``include``, ``exclude``
      (comma lists), ``status`` (comma list; default ``any``, which leaves out
      ``trash``), ``after``/``before`` (created) and ``modified_after``/
      ``modified_before``, exclusive, compared with the site's local times unless
      ``dates_are_gmt=true``; ``orderby`` date/modified/id with the id as tie break,
      ``order`` asc/desc (default desc); ``_fields``; X-WP-Total/X-WP-TotalPages.
    - ``GET /orders/<id>`` and ``GET /orders/<id>/refunds`` (refund lines with negative
      ``quantity`` and the refunded line in their ``_refunded_item_id`` meta).
    - A refund saves the order with a new modification time; refunding every unit
      makes the order ``refunded``, as ``wc_create_refund`` does.

    Stock moves as WooCommerce moves it [code: WordPress/WordPress
    wp-content/plugins/woocommerce/includes/wc-stock-functions.php (commit 57a41f62)
    ``wc_maybe_reduce_stock_levels``, ``wc_maybe_increase_stock_levels``,
    ``wc_reduce_stock_levels``, ``wc_increase_stock_levels``; includes/wc-order-functions.php
    ``wc_restock_refunded_items``]:

    - entering ``processing``, ``on-hold`` or ``completed`` reduces the stock of every
      line whose product manages stock, once per order (the order's "stock reduced"
      flag) and once per line (its ``_reduced_stock`` meta: the units taken); stock
      may go below 0, as ``wc_update_product_stock`` does not check;
    - entering ``cancelled`` or ``pending`` gives back each line's ``_reduced_stock``
      (what is still taken after restocked refunds) and clears the flag; ``refunded``,
      ``failed`` and the rest move nothing;
    - a refund restocks only when asked (``restock``: the REST API's ``api_restock``,
      the admin's "Restock refunded items"; ``wc_create_refund``'s ``restock_items``):
      each refunded unit of a line that had stock reduced goes back, ``_reduced_stock``
      drops by it and ``_restock_refunded_items`` counts it.

    Both metas are shown in the line's ``meta_data``, as the REST API shows them
    (woocommerce/woocommerce#51024 reads ``_reduced_stock`` off an order's answer).

    Times are whole seconds; the site's zone is UTC+2 (``OFFSET``), so the local and
    GMT dates differ as they do in real shops."""

    OFFSET = SITE_OFFSET

    def __init__(self, shop: Shop, state: State):
        self.shop = shop  # ids come from the posts' sequence, as without HPOS
        self.state = state
        self.lock = state.lock
        self.orders: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, list[dict[str, Any]]] = {}
        self.next_item = 0

    @property
    def now(self) -> float | None:
        return self.state.now

    def time(self, at: float | None = None) -> int:
        return int(at if at is not None else self.now if self.now is not None else time.time())

    def _id(self) -> int:
        return self.state.new_id()

    def _item(self) -> int:
        self.next_item += 1
        return self.next_item

    def add(self, lines: list[tuple[Any, ...]], status: str = "processing",
            created: float | None = None, modified: float | None = None, **money: Any) -> int:
        """An order of (sku, quantity) lines, or (sku, quantity, unit price, discount, VAT
        rate); ``money``: billing, shipping_address, payment_method(_title), currency,
        shipping, shipping_vat_rate (shops/woocommerce/order_money.py)."""
        with self.lock:
            oid = self._id()
            c = self.time(created)
            items: list[dict[str, Any]] = []
            for sku, qty, *amounts in lines:
                pid = self.shop.skus.get(sku, 0)
                obj = self.shop.item(pid) if pid else None
                parent = obj.get("parent_id", 0) if obj else 0
                items.append({"id": self._item(), "name": f"Product {sku}",
                              "product_id": parent or pid, "variation_id": pid if parent else 0,
                              "quantity": qty, "sku": sku, "total": "0.00", "meta_data": []})
                order_money.line(items[-1], *(list(amounts) + ["0", "0", "0"])[:3])
            self.orders[oid] = {"id": oid, "parent_id": 0, "number": str(oid),
                                "status": "pending", "currency": "EUR", "created": c,
                                "modified": self.time(modified) if modified is not None else c,
                                "line_items": items, "stock_reduced": False}
            order_money.order(self.orders[oid], **money)
            self.refunds[oid] = []
            self._enter(self.orders[oid], status)  # created pending, then its status
            return oid

    def order(self, oid: int) -> dict[str, Any]:
        o = self.orders.get(oid)
        if o is None:
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return o

    def set_status(self, oid: int, status: str, at: float | None = None) -> None:
        with self.lock:
            o = self.order(oid)
            self._enter(o, status)
            o["modified"] = self.time(at)

    def update_shipping(self, oid: int, shipping: dict[str, Any], at: float | None = None
                        ) -> None:
        """PUT /orders/<id> {shipping: {...}}: the given address fields replace the old
        ones (the controller sets each prop it is sent); the order is saved."""
        with self.lock:
            o = self.order(oid)
            o["shipping"] = {**o["shipping"], **{k: str(v) for k, v in shipping.items()}}
            o["modified"] = self.time(at)

    # -- stock, as the order's status hooks move it ---------------------------------

    def _enter(self, o: dict[str, Any], status: str) -> None:
        """The status transition and its stock hooks (woocommerce_order_status_<to>)."""
        if status == o["status"]:
            return
        o["status"] = status
        if status in REDUCES and not o["stock_reduced"]:
            for li in o["line_items"]:
                product = self._managed(li)
                if product is None or _meta(li, "_reduced_stock"):
                    continue
                self._move(product, -li["quantity"])
                _set_meta(li, "_reduced_stock", li["quantity"])
            o["stock_reduced"] = True
        elif status in RESTORES and o["stock_reduced"]:
            for li in o["line_items"]:
                product, taken = self._managed(li), _meta(li, "_reduced_stock")
                if product is None or not taken:
                    continue
                self._move(product, taken)
                _del_meta(li, "_reduced_stock")
            o["stock_reduced"] = False

    def _managed(self, li: dict[str, Any]) -> dict[str, Any] | None:
        """The line's product (the variation, for one) if it manages its stock."""
        obj = self.shop.item(li["variation_id"] or li["product_id"])
        return obj if obj is not None and obj.get("manage_stock") else None

    def _move(self, product: dict[str, Any], delta: int) -> None:
        """wc_update_product_stock(increase/decrease): no floor at 0."""
        product["stock_quantity"] = (product.get("stock_quantity") or 0) + delta
        product["stock_status"] = "instock" if product["stock_quantity"] > 0 else "outofstock"

    def stock(self, sku: str) -> int | None:
        """The product's stock quantity now (None: not managing stock)."""
        with self.lock:
            obj = self.shop.item(self.shop.skus.get(sku, 0))
            return obj.get("stock_quantity") if obj and obj.get("manage_stock") else None

    def refund(self, oid: int, quantities: dict[str | int, int], at: float | None = None, *,
               restock: bool = True) -> int:
        """Refund units of lines given by SKU or line id; returns the refund's id.
        ``restock`` is the REST API's ``api_restock`` (default true in
        class-wc-rest-order-refunds-controller's schema)."""
        with self.lock:
            o = self.order(oid)
            lines = []
            amount = Decimal(0)
            for key, qty in quantities.items():
                li = next(li for li in o["line_items"] if key in (li["id"], li["sku"]))
                product, taken = self._managed(li), _meta(li, "_reduced_stock")
                if restock and product is not None and taken and qty:
                    self._move(product, qty)  # wc_restock_refunded_items
                    _set_meta(li, "_reduced_stock", taken - qty)
                    _set_meta(li, "_restock_refunded_items",
                              _meta(li, "_restock_refunded_items") + qty)
                amount += order_money.refund_amount(li, qty)
                lines.append({"id": self._item(), "name": li["name"],
                              "product_id": li["product_id"], "variation_id": li["variation_id"],
                              "quantity": -qty, "sku": li["sku"], "total": "0.00",
                              "meta_data": [{"id": self._item(), "key": "_refunded_item_id",
                                             "value": str(li["id"]),
                                             "display_key": "_refunded_item_id",
                                             "display_value": str(li["id"])}]})
            t = self.time(at)
            rid = self._id()
            self.refunds[oid].append({"id": rid, "created": t, "amount": format(amount, "f"),
                                      "reason": "",
                                      "refunded_by": 1, "refunded_payment": False,
                                      "meta_data": [], "line_items": lines})
            done = {li["id"]: 0 for li in o["line_items"]}
            for r in self.refunds[oid]:
                for rl in r["line_items"]:
                    done[int(rl["meta_data"][0]["value"])] += -rl["quantity"]
            if all(done[li["id"]] >= li["quantity"] for li in o["line_items"]):
                self._enter(o, "refunded")
            o["modified"] = t
            return rid

    # -- REST ---------------------------------------------------------------------

    def _dates(self, t: int, name: str) -> dict[str, str]:
        def fmt(x: int) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(x))
        return {name: fmt(t + self.OFFSET), name + "_gmt": fmt(t)}

    def view(self, o: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in o.items()
               if k not in ("created", "modified", "stock_reduced")}
        for li in out["line_items"]:
            li.pop("_rate", None)  # the loopback's own note
        out.update(self._dates(o["created"], "date_created"))
        out.update(self._dates(o["modified"], "date_modified"))
        out["refunds"] = [{"id": r["id"], "reason": r["reason"], "total": "-" + r["amount"]}
                          for r in self.refunds[o["id"]]]
        return fields(out, query)

    def handle(self, method: str, parts: list[str], query: dict[str, str]
               ) -> tuple[int, dict[str, str], Any]:
        if method != "GET":
            raise no_route()
        with self.lock:
            if len(parts) == 1:
                return self._list(query)
            if not parts[1].isdigit():
                raise no_route()
            o = self.order(int(parts[1]))
            if len(parts) == 2:
                return 200, {}, self.view(o, query)
            if len(parts) == 3 and parts[2] == "refunds":
                items = []
                for r in sorted(self.refunds[o["id"]], key=lambda r: -r["id"]):
                    view = {k: v for k, v in r.items() if k != "created"}
                    view.update(self._dates(r["created"], "date_created"))
                    items.append(fields(copy.deepcopy(view), query))
                return page(items, query)
        raise no_route()

    def _list(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        orderby, order = query.get("orderby", "date"), query.get("order", "desc")
        if orderby not in ORDERBY:
            raise invalid("orderby", "orderby is not one of " + ", ".join(ORDERBY) + ".")
        if order not in ("asc", "desc"):
            raise invalid("order", "order is not one of asc, desc.")
        gmt = query.get("dates_are_gmt", "false").lower() in ("1", "true")
        statuses = [s for s in query.get("status", "any").split(",") if s]
        for s in statuses:
            if s not in ("any", "trash", *ORDER_STATUSES):
                raise invalid("status", "status[0] is not one of any, trash, "
                              + ", ".join(ORDER_STATUSES) + ".")
        items = [o for o in self.orders.values() if o["status"] in statuses
                 or ("any" in statuses and o["status"] != "trash")]
        shift = 0 if gmt else self.OFFSET
        for param, field, keep in (("after", "created", 1), ("before", "created", -1),
                                   ("modified_after", "modified", 1),
                                   ("modified_before", "modified", -1)):
            if param in query:
                limit = _rest_date(param, query[param])
                items = [o for o in items if (o[field] + shift - limit) * keep > 0]
        for param, keep in (("include", True), ("exclude", False)):
            if query.get(param):
                ids = {int(i) for i in query[param].split(",") if i.strip().isdigit()}
                items = [o for o in items if (o["id"] in ids) == keep]
        key = {"date": lambda o: (o["created"], o["id"]),
               "modified": lambda o: (o["modified"], o["id"])}.get(orderby,
                                                                   lambda o: (o["id"],))
        items.sort(key=key, reverse=order == "desc")
        return page([self.view(o, query) for o in items], query)


def _meta(li: dict[str, Any], key: str) -> int:
    return int(next((m["value"] for m in li["meta_data"] if m["key"] == key), 0) or 0)


def _set_meta(li: dict[str, Any], key: str, value: int) -> None:
    for m in li["meta_data"]:
        if m["key"] == key:
            m["value"] = m["display_value"] = str(value)
            return
    li["meta_data"].append({"id": len(li["meta_data"]) + 1000 * li["id"], "key": key,
                            "value": str(value), "display_key": key,
                            "display_value": str(value)})


def _del_meta(li: dict[str, Any], key: str) -> None:
    li["meta_data"] = [m for m in li["meta_data"] if m["key"] != key]


def _rest_date(param: str, value: str) -> int:
    """A REST date-time argument as epoch seconds; one without a zone is taken as
    written (the caller's frame: local or GMT)."""
    m = REST_DATE.match(value.strip())
    if not m:
        raise invalid(param, "Invalid date.")
    t = calendar.timegm(time.strptime(m.group(1).replace("t", "T").replace(" ", "T"),
                                      "%Y-%m-%dT%H:%M:%S"))
    zone = m.group(3)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone.replace(":", "")[3:5] or 0)
        t -= sign * (hh * 3600 + mm * 60)
    return t


