"""Orders of the loopback Magento: tests place and change them (``add_order``,
``cancel``, ``refund``, ``ship``, ``set_state``, ``touch``, with the times given);
clients read them with ``GET /V1/orders?searchCriteria`` (OrderRepository::getList):
filters on ``updated_at``/``created_at``/``entity_id``/``state``/``status`` with
``eq``, ``neq``, ``gt``, ``gteq``, ``lt``, ``lteq`` (OR within a group, AND across
groups), ``sortOrders``, ``pageSize``/``currentPage`` (a page past the last answers the
last page again, as Magento's collections do), ``total_count`` and the ``fields``
response filter. Items as Magento stores them: a configurable is a parent item (the
simple's SKU, the counters) and a child item (``parent_item_id``, a "dummy" that is
never cancelled, invoiced or refunded itself).

Stock moves as Magento's multi-source inventory moves it [code: magento/inventory
e9d6e33c, InventorySales/Plugin/Sales/OrderManagement/
AppendReservationsAfterOrderPlacementPlugin.php, Observer/CatalogInventory/
CancelOrderItemObserver.php, Plugin/Sales/OrderManagement/
DeductSourceItemQuantityOnRefundPlugin.php, Plugin/SalesInventory/
ProcessReturnQtyOnCreditMemoPlugin.php, Model/ReturnProcessor/ProcessRefundItems.php;
AmpersandHQ/magento2-disable-stock-reservation README: "MSI will not decrement stock
on order placement - it will only do so on order shipment and refund"]:

- placing an order appends a reservation of minus the ordered units per SKU: the
  source items keep their quantity, the salable quantity (sources + reservations,
  ``GET /V1/inventory/get-product-salable-quantity/{sku}/{stockId}``) drops;
- cancelling appends a reservation giving the cancelled units back;
- a shipment deducts the source item (``source``, default ``default``) and appends a
  compensating reservation;
- a credit memo "consumes" the refunded units not shipped, taken first (source
  deducted, reservation compensated); with "Return to Stock" (``return_to_stock``; unticked by
  default, as is "Automatically Return Credit Memo Item to Stock") every refunded
  unit goes back to the source.
"""

from __future__ import annotations

import copy
import math
import re
import time
from operator import itemgetter
from typing import Any, ClassVar

from shops.magento import order_money
from shops.magento.base import MagentoError, ShopState
from shops.magento.stores import Scope


class Orders(ShopState):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/orders", "get_orders"),
        ("GET", "V1/inventory/get-product-salable-quantity/{sku}/{stockId}", "get_salable")]

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.reservations: list[tuple[str, float, str, int]] = []  # sku, qty, event, order
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_order = 1
        self.next_item = 1
        self.order_queries: list[dict[str, str]] = []  # the query of every /V1/orders

    # -- orders (GET /V1/orders) -----------------------------------------------

    def add_order(self, lines: list[tuple[Any, ...]], created: float, *,
                  invoiced: bool = False, prices: dict[str, tuple[Any, Any, Any]] | None = None,
                  **money: Any) -> int:
        """Place an order at ``created`` (epoch seconds). Each line is ``(sku, qty)``
        for a simple product or ``(sku, qty, "configurable")`` for a configurable's
        simple ``sku``: a parent item (type configurable, the simple's SKU, as Magento
        books it) and its child. ``invoiced`` invoices every unit (state processing).
        ``prices``: SKU -> (unit price, discount, VAT rate); ``money``: billing,
        shipping_address (OrderAddress fields), payment, currency, shipping,
        shipping_vat_rate (shops/magento/order_money.py)."""
        with self.lock:
            oid = self.next_order
            self.next_order += 1
            items: list[dict[str, Any]] = []
            for sku, qty, *kind in lines:
                item = self._order_item(oid, sku, qty, kind[0] if kind else "simple")
                order_money.item(item, *(prices or {}).get(sku, (0, 0, 0)))
                items.append(item)
                if kind and kind[0] == "configurable":
                    child = self._order_item(oid, sku, qty, "simple")
                    child["parent_item_id"] = item["item_id"]
                    items.append(child)
                if invoiced:
                    item["qty_invoiced"] = float(qty)
            self.orders[oid] = {
                "entity_id": oid, "increment_id": f"{oid:09d}",
                "state": "processing" if invoiced else "new",
                "status": "processing" if invoiced else "pending",
                "created_at": _stamp(created), "updated_at": _stamp(created), "items": items}
            order_money.order(self.orders[oid], **money)
            for item in self._live_items(oid):
                self._reserve(item["sku"], -item["qty_ordered"], "order_placed", oid)
            return oid

    # -- stock: reservations and source deductions ----------------------------------

    def _reserve(self, sku: str, qty: float, event: str, order: int) -> None:
        if qty:
            self.reservations.append((sku, float(qty), event, order))

    def _deduct(self, sku: str, qty: float, source: str = "default") -> None:
        """SourceDeductionService: a source item's quantity moves (none: nothing)."""
        item = getattr(self, "source_items", {}).get((sku, source))
        if item is not None and qty:
            item["quantity"] -= qty

    def salable(self, sku: str) -> float:
        """Sources in stock plus reservations (one stock holding every source)."""
        with self.lock:
            have = sum(si["quantity"] for (s, _), si in getattr(self, "source_items", {})
                       .items() if s == sku and si["status"] == 1)
            return have + sum(q for s, q, _, _ in self.reservations if s == sku)

    def get_salable(self, scope: Scope, params: list[str], query: dict[str, str],
                    body: Any) -> tuple[int, Any]:
        return 200, self.salable(params[0])

    def _order_item(self, oid: int, sku: str, qty: float, kind: str) -> dict[str, Any]:
        item = {"item_id": self.next_item, "order_id": oid, "sku": sku, "name": sku,
                "product_type": kind, "qty_ordered": float(qty), "qty_canceled": 0.0,
                "qty_invoiced": 0.0, "qty_refunded": 0.0, "qty_shipped": 0.0}
        self.next_item += 1
        return item

    def _live_items(self, order: int) -> list[dict[str, Any]]:
        """The items that carry the counters: all but a configurable's child."""
        return [i for i in self.orders[order]["items"] if "parent_item_id" not in i]

    def cancel(self, order: int, at: float) -> None:
        """Order::registerCancellation: each item cancels the units neither invoiced
        nor shipped; the state becomes canceled unless something is left to refund."""
        with self.lock:
            o, live = self.orders[order], self._live_items(order)
            if o["state"] in ("canceled", "closed", "complete") or not any(
                    i["qty_ordered"] - i["qty_invoiced"] - i["qty_canceled"] > 0 for i in live):
                raise ValueError(f"order {order} cannot be canceled")
            refundable = False
            for i in live:
                to_invoice = i["qty_ordered"] - i["qty_invoiced"] - i["qty_canceled"]
                to_ship = (i["qty_ordered"] - i["qty_shipped"] - i["qty_refunded"]
                           - i["qty_canceled"])
                cancelled = max(0.0, min(to_invoice, to_ship))
                i["qty_canceled"] += cancelled
                self._reserve(i["sku"], cancelled, "order_canceled", order)
                refundable |= i["qty_invoiced"] - i["qty_refunded"] > 0
            o["state"] = o["status"] = "processing" if refundable else "canceled"
            o["updated_at"] = _stamp(at)

    def refund(self, order: int, qtys: dict[str, float], at: float, *,
               return_to_stock: bool = False) -> None:
        """A credit memo for invoiced units of the given SKUs; every unit refunded or
        canceled closes the order. Units not shipped are consumed from the source;
        with ``return_to_stock`` every refunded unit goes back to it."""
        with self.lock:
            o, live = self.orders[order], self._live_items(order)
            for sku, qty in qtys.items():
                item = next(i for i in live if i["sku"] == sku)
                if item["qty_invoiced"] - item["qty_refunded"] < qty:
                    raise ValueError(f"order {order}: {sku} has fewer than {qty} invoiced "
                                     "units left to refund")
                unshipped = max(0.0, min(qty, item["qty_ordered"] - item["qty_shipped"]
                                         - item["qty_canceled"] - item["qty_refunded"]))
                self._deduct(sku, unshipped)
                self._reserve(sku, unshipped, "creditmemo_created", order)
                if return_to_stock:
                    self._deduct(sku, -qty)
                item["qty_refunded"] += qty
                o["total_refunded"] += order_money.refunded(item, qty)
            if all(i["qty_canceled"] + i["qty_refunded"] >= i["qty_ordered"] for i in live):
                o["state"] = o["status"] = "closed"
            o["updated_at"] = _stamp(at)

    def ship(self, order: int, qtys: dict[str, float], at: float,
             source: str = "default") -> None:
        """A shipment from ``source``: deducted there, the reservation compensated."""
        with self.lock:
            for sku, qty in qtys.items():
                next(i for i in self._live_items(order) if i["sku"] == sku)["qty_shipped"] += qty
                self._deduct(sku, qty, source)
                self._reserve(sku, qty, "shipment_created", order)
            self.orders[order]["updated_at"] = _stamp(at)

    def invoice(self, order: int, qtys: dict[str, float], at: float) -> None:
        """POST /V1/order/{id}/invoice for these units: invoiced, state processing."""
        with self.lock:
            o = self.orders[order]
            for sku, qty in qtys.items():
                next(i for i in self._live_items(order) if i["sku"] == sku)["qty_invoiced"] += qty
            o["state"] = o["status"] = "processing"
            o["updated_at"] = _stamp(at)

    def set_shipping_address(self, order: int, address: dict[str, Any], at: float) -> None:
        """PUT /V1/orders/{parent_id} (an OrderAddress): the shipping address replaced."""
        with self.lock:
            o = self.orders[order]
            shipping = o["extension_attributes"]["shipping_assignments"][0]["shipping"]
            shipping["address"] = order_money.address(address, "shipping")
            o["updated_at"] = _stamp(at)

    def set_state(self, order: int, state: str, status: str, at: float) -> None:
        """Change the state without touching the items (an extension, a script)."""
        with self.lock:
            o = self.orders[order]
            o["state"], o["status"], o["updated_at"] = state, status, _stamp(at)

    def touch(self, order: int, at: float) -> None:
        """Save the order unchanged at ``at`` (a comment, an address edit)."""
        with self.lock:
            self.orders[order]["updated_at"] = _stamp(at)

    def get_orders(self, scope: Scope, params: list[str], query: dict[str, str],
                   body: Any) -> tuple[int, Any]:
        return 200, self._orders(query)

    def _orders(self, query: dict[str, str]) -> dict[str, Any]:
        groups: dict[str, dict[str, dict[str, str]]] = {}
        sorts: dict[str, dict[str, str]] = {}
        for key, value in query.items():
            m = _FILTER.fullmatch(key)
            if m:
                groups.setdefault(m[1], {}).setdefault(m[2], {})[m[3]] = value
            elif m := _SORT.fullmatch(key):
                sorts.setdefault(m[1], {})[m[2]] = value
        with self.lock:
            self.order_queries.append(dict(query))
            found = [o for o in self.orders.values()
                     if all(any(_match(o, f) for f in g.values()) for g in groups.values())]
            for _, s in sorted(sorts.items(), key=lambda kv: int(kv[0]), reverse=True):
                field = s.get("field", "")
                if field not in _ORDER_FIELDS:
                    raise MagentoError(400, 'Column not found: 1054 Unknown column '
                                       "'%1' in 'order clause'", [field])
                found.sort(key=itemgetter(field),
                           reverse=s.get("direction", "ASC").upper() == "DESC")
            total = len(found)
            size = int(query.get("searchCriteria[pageSize]") or 0)
            if size:
                last_page = max(1, math.ceil(total / size))
                page = min(max(1, int(query.get("searchCriteria[currentPage]") or 1)),
                           last_page)
                found = found[(page - 1) * size: page * size]
            body = {"items": [self._render_order(o) for o in found],
                    "search_criteria": {}, "total_count": total}
        fields = query.get("fields")
        return _pick(body, _parse_fields(fields)) if fields else body

    def _render_order(self, o: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(o)
        by_id = {i["item_id"]: i for i in o["items"]}
        for item in out["items"]:
            if "parent_item_id" in item:
                item["parent_item"] = copy.deepcopy(by_id[item["parent_item_id"]])
        return out


# -- orders: searchCriteria and the fields filter ----------------------------------------

_FILTER = re.compile(r"searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]")
_SORT = re.compile(r"searchCriteria\[sortOrders\]\[(\d+)\]\[(\w+)\]")
_ORDER_FIELDS = ("entity_id", "increment_id", "state", "status", "created_at", "updated_at")
_STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def _match(order: dict[str, Any], f: dict[str, str]) -> bool:
    field, value, cond = f.get("field", ""), f.get("value", ""), f.get("condition_type", "eq")
    if field not in _ORDER_FIELDS:
        raise MagentoError(400, "Column not found: 1054 Unknown column '%1' in 'where "
                           "clause'", [field])
    have: Any = order[field]
    want: Any = value
    if field == "entity_id":
        want = int(value)
    elif field.endswith("_at") and not _STAMP.fullmatch(value):
        raise MagentoError(400, "Invalid date %1", [value])
    ops = {"eq": have == want, "neq": have != want, "gt": have > want, "gteq": have >= want,
           "lt": have < want, "lteq": have <= want}
    if cond not in ops:
        raise MagentoError(400, 'Condition type "%1" is not supported here', [cond])
    return ops[cond]


def _parse_fields(spec: str) -> dict[str, Any]:
    """``items[entity_id,items[sku]],total_count`` -> {"items": {...}, "total_count": None}."""
    tree: dict[str, Any] = {}
    stack: list[dict[str, Any]] = []
    cur, name = tree, ""
    for ch in spec:
        if ch == "[":
            node: dict[str, Any] = {}
            cur[name.strip()] = node
            stack.append(cur)
            cur, name = node, ""
        elif ch in ",]":
            if name.strip():
                cur[name.strip()] = None
            name = ""
            if ch == "]":
                cur = stack.pop()
        else:
            name += ch
    if name.strip():
        cur[name.strip()] = None
    return tree


def _pick(data: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None:
        return data
    if isinstance(data, list):
        return [_pick(d, tree) for d in data]
    if isinstance(data, dict):
        return {k: _pick(data[k], sub) for k, sub in tree.items() if k in data}
    return data
