"""A loopback Magento 2 REST server for the magento_api tests: the routes the sink
uses, with Magento's answers, and state that a test can read back.

Routes (under ``/rest/<store_code>``; any store code is accepted):

- ``PUT /V1/products/{sku}`` and ``POST /V1/products``: ProductRepository::save, an
  upsert by the body's ``product.sku`` (creates when absent). Answers the saved
  product. ``GET`` and ``DELETE /V1/products/{sku}``; ``GET /V1/products?searchCriteria``
  with one ``sku`` filter (``eq`` or ``in``, comma-separated).
- ``POST /V1/inventory/source-items``: validates every item first and fails the
  whole request with 400 on the first invalid one (``SourceItemsSaveHandler``),
  otherwise saves them all and answers ``[]``. An unknown SKU, by ``unknown_skus``:
  ``"validate"`` (default) is invalid, as with magento/inventory's
  ``ExistentSkuValidator`` (``Validation Failed: Product with requested "sku": "X"
  was was not found.``); ``"store"`` stores an orphan row silently, as released
  versions do (magento/magento2#38154); ``"fk"`` fails the save with ``Could not
  save Source Item``, naming no SKU (reported on 2.4.6-p3, magento/inventory#889).
  An unknown source is ``Could not save Source Item`` too (the foreign key
  fails). ``GET /V1/inventory/sources/{code}``.
- ``POST /async/bulk/V1/products`` and ``/async/bulk/V1/inventory/source-items``:
  202 with ``bulk_uuid`` and ``request_items``; a worker thread applies the
  operations (``hold_bulk()`` keeps them open); ``GET /V1/bulk/{uuid}/detailed-status``.
- Web API input limits (off by default as in Magento): ``input_limit=N`` answers a
  request array longer than N with 400 ``Maximum items of type "…" is N``.
- ``GET /V1/orders?searchCriteria``: OrderRepository::getList over orders a test
  adds (``add_order``, ``cancel``, ``refund``, ``ship``, with the times given): filters
  on ``updated_at``/``created_at``/``entity_id``/``state``/``status`` with ``eq``,
  ``neq``, ``gt``, ``gteq``, ``lt``, ``lteq`` (OR within a group, AND across groups),
  ``sortOrders``, ``pageSize``/``currentPage`` (a page past the last answers the last
  page again, as Magento's collections do), ``total_count`` and the ``fields``
  response filter. Items as Magento stores them: a configurable is a parent item
  (the simple's SKU, the counters) and a child item (``parent_item_id``, a "dummy"
  that is never cancelled, invoiced or refunded itself).

Errors are Magento's ``{"message": "…%1…", "parameters": …}``. A wrong bearer
token is 401. ``faults.fail/slow/drop/drop_after`` act on the next requests;
``rate_limit(burst, per_second)`` answers 429 with Retry-After (hosts do this,
core Magento does not). Counters: ``requests``, ``applied[sku]`` (writes applied
to a SKU), ``creates[sku]`` (products created), ``oversized`` (requests refused by
the input limit), ``throttled`` (429s from the rate limit).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import queue
import re
import socket
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

TOKEN = "magento-test-token-never-logged"
SOURCE_ITEM = "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"
PRODUCT = "\\Magento\\Catalog\\Api\\Data\\ProductInterface"
NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."


class MagentoError(Exception):
    def __init__(self, status: int, message: str, parameters: Any = None):
        super().__init__(message)
        self.status, self.message, self.parameters = status, message, parameters

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            out["parameters"] = self.parameters
        return out

    def rendered(self) -> str:
        msg, p = self.message, self.parameters
        for k, v in (p.items() if isinstance(p, dict) else enumerate(p or [], 1)):
            msg = msg.replace(f"%{k}", str(v))
        return msg


def _required(name: str) -> MagentoError:
    return MagentoError(400, '"%fieldName" is required. Enter and try again.',
                        {"fieldName": name})


class Faults:
    """Faults for the next requests, consumed in order of arrival."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[tuple[str, Any]] = []

    def fail(self, n: int, status: int = 503, retry_after: float | None = None) -> None:
        self._add(n, ("fail", (status, retry_after)))

    def slow(self, n: int, seconds: float) -> None:
        self._add(n, ("slow", seconds))

    def drop(self, n: int) -> None:
        """Close the socket without answering; the request is not applied."""
        self._add(n, ("drop", None))

    def drop_after(self, n: int) -> None:
        """Apply the request, then close the socket without answering."""
        self._add(n, ("drop_after", None))

    def _add(self, n: int, fault: tuple[str, Any]) -> None:
        with self.lock:
            self.queue.extend([fault] * n)

    def next(self) -> tuple[str, Any] | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None


class MagentoServer:
    def __init__(self, token: str = TOKEN, *, unknown_skus: str = "validate",
                 input_limit: int | None = None, async_input_limit: int = 5000,
                 sources: tuple[str, ...] = ("default", "warehouse_b")):
        self.token = token
        self.unknown_skus = unknown_skus
        self.input_limit = input_limit
        self.async_input_limit = async_input_limit
        self.sources = set(sources)
        self.lock = threading.RLock()
        self.products: dict[str, dict[str, Any]] = {}
        self.source_items: dict[tuple[str, str], dict[str, Any]] = {}
        self.bulks: dict[str, list[dict[str, Any]]] = {}
        self.next_id = 1
        self.requests = 0
        self.oversized = 0
        self.throttled = 0
        self.applied: Counter[str] = Counter()
        self.creates: Counter[str] = Counter()
        self.orders: dict[int, dict[str, Any]] = {}
        self.next_order = 1
        self.next_item = 1
        self.order_queries: list[dict[str, str]] = []  # the query of every /V1/orders
        self.faults = Faults()
        self._bucket: tuple[float, float] | None = None  # (burst, per second)
        self._tokens = 0.0
        self._refilled = 0.0
        self._open = threading.Event()
        self._open.set()
        self._work: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.shop = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._threads = [threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                         daemon=True),
                         threading.Thread(target=self._worker, daemon=True)]

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Self:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._open.set()
        self._work.put(None)
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers ----------------------------------------------------------

    def rate_limit(self, burst: int, per_second: float) -> None:
        with self.lock:
            self._bucket = (float(burst), per_second)
            self._tokens, self._refilled = float(burst), time.monotonic()

    def hold_bulk(self) -> None:
        """Keep queued bulk operations open until ``release_bulk()``."""
        self._open.clear()

    def release_bulk(self) -> None:
        self._open.set()

    def add_product(self, sku: str, name: str = "", price: str = "1.00", qty: float = 0,
                    source: str = "default") -> None:
        """Seed a product (not counted in ``applied``/``creates``)."""
        with self.lock:
            self._save_product({"sku": sku, "name": name or sku, "price": price,
                                "type_id": "simple", "attribute_set_id": 4}, count=False)
            self.source_items[(sku, source)] = {"quantity": float(qty),
                                                "status": int(qty > 0)}

    def catalog(self) -> dict[str, dict[str, Any]]:
        """Every product by SKU: its fields (price as Decimal), custom attributes by
        code, and ``stock`` by source code as (quantity, status)."""
        with self.lock:
            out = {sku: {**copy.deepcopy(p), "stock": {}} for sku, p in self.products.items()}
            for (sku, src), si in self.source_items.items():
                if sku in out:
                    out[sku]["stock"][src] = (si["quantity"], si["status"])
            return out

    def orphans(self) -> list[tuple[str, str]]:
        """Source items whose SKU is no product (what lenient Magento stores)."""
        with self.lock:
            return [k for k in self.source_items if k[0] not in self.products]

    # -- the shop --------------------------------------------------------------

    def _admit(self) -> float | None:
        """Rate limit: None when admitted, else seconds until a token is free."""
        if self._bucket is None:
            return None
        burst, rate = self._bucket
        with self.lock:
            now = time.monotonic()
            self._tokens = min(burst, self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return (1 - self._tokens) / rate

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        segs = [unquote(s) for s in parts.path.split("/")[1:]]
        if len(segs) < 3 or segs[0] != "rest":
            raise MagentoError(404, "Request does not match any route.")
        route = segs[2:]
        bulk = route[:2] == ["async", "bulk"]
        if bulk:
            route = route[2:]
        if route[:1] != ["V1"]:
            raise MagentoError(404, "Request does not match any route.")
        route = route[1:]
        resource = ("Magento_InventoryApi::source" if route[:1] == ["inventory"]
                    else "Magento_Catalog::products")
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise MagentoError(401, "The consumer isn't authorized to access %resources.",
                               {"resources": resource})
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                raise MagentoError(400, "Decoding error: \nSyntax error") from None
        if bulk:
            if method != "POST" or route not in (["products"], ["inventory", "source-items"]):
                raise MagentoError(404, "Request does not match any route.")
            return self._bulk(route[0], body)
        query = dict(parse_qsl(parts.query))
        if route == ["products"] and method == "GET":
            return 200, self._search(query)
        if route == ["products"] and method == "POST":
            return 200, self._save_request(body)
        if len(route) == 2 and route[0] == "products":
            return self._product_route(method, route[1], body)
        if route == ["inventory", "source-items"] and method == "POST":
            if not isinstance(body, dict) or not isinstance(body.get("sourceItems"), list):
                raise _required("sourceItems")
            self._limit(body["sourceItems"], self.input_limit, SOURCE_ITEM)
            self._save_source_items(body["sourceItems"])
            return 200, []
        if len(route) == 3 and route[:2] == ["inventory", "sources"] and method == "GET":
            if route[2] not in self.sources:
                raise MagentoError(404, 'Source with code "%value" does not exist.',
                                   {"value": route[2]})
            return 200, {"source_code": route[2], "name": route[2], "enabled": True}
        if len(route) == 3 and route[0] == "bulk" and route[2] == "detailed-status":
            return 200, self._detailed_status(route[1])
        if route == ["orders"] and method == "GET":
            return 200, self._orders(query)
        if route == ["inventory", "source-items"] and method == "GET":  # stock_of
            return 200, self._search_source_items(query)
        raise MagentoError(404, "Request does not match any route.")

    def _limit(self, items: list[Any], limit: int | None, kind: str) -> None:
        if limit is not None and len(items) > limit:
            with self.lock:
                self.oversized += 1
            raise MagentoError(400, 'Maximum items of type "%type" is %max',
                               {"type": kind, "max": limit})

    def _product_route(self, method: str, sku: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            if method == "GET":
                if sku not in self.products:
                    raise MagentoError(404, NO_PRODUCT)
                return 200, self._render(self.products[sku])
            if method == "DELETE":
                if self.products.pop(sku, None) is None:
                    raise MagentoError(404, NO_PRODUCT)
                for key in [k for k in self.source_items if k[0] == sku]:
                    del self.source_items[key]
                self.applied[sku] += 1
                return 200, True
            if method == "PUT":
                return 200, self._save_request(body)
        raise MagentoError(404, "Request does not match any route.")

    def _save_request(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("product"), dict):
            raise _required("product")
        with self.lock:
            return self._render(self._save_product(body["product"]))

    def _save_product(self, data: dict[str, Any], count: bool = True) -> dict[str, Any]:
        """ProductRepository::save: merge into the product with that SKU, or create."""
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            raise _required("sku")
        if len(sku) > 64:
            raise MagentoError(400, "SKU length should be %1 characters maximum.", [64])
        fields: dict[str, Any] = {}
        for name, kind in (("name", str), ("type_id", str), ("status", int),
                           ("visibility", int), ("attribute_set_id", int)):
            if name in data:
                fields[name] = _typed(data[name], kind)
        for name in ("price", "weight"):
            if name in data:
                fields[name] = _decimal(data[name])
        attrs = {}
        for a in data.get("custom_attributes") or []:
            if not isinstance(a, dict) or "attribute_code" not in a:
                raise _required("attribute_code")
            attrs[a["attribute_code"]] = a.get("value")
        existing = self.products.get(sku)
        if existing is None:
            for name in ("name", "price"):
                if fields.get(name) in (None, ""):
                    raise MagentoError(400, 'The "%1" attribute value is empty. Set the '
                                       'attribute and try again.', [name])
            if fields.get("type_id", "simple") not in ("simple", "virtual", "configurable"):
                raise MagentoError(400, 'Invalid value of "%value" provided for the '
                                   '%fieldName field.',
                                   {"value": fields["type_id"], "fieldName": "type_id"})
            existing = {"id": self.next_id, "sku": sku, "type_id": "simple",
                        "attribute_set_id": 4, "status": 1, "visibility": 4,
                        "weight": None, "custom_attributes": {}}
            self.next_id += 1
            self.products[sku] = existing
            if count:
                self.creates[sku] += 1
        existing.update(fields)
        existing["custom_attributes"].update(attrs)
        stock = (data.get("extension_attributes") or {}).get("stock_item")
        if isinstance(stock, dict) and "qty" in stock:  # legacy stock: the default source
            qty = float(_decimal(stock["qty"]) or 0)
            self.source_items[(sku, "default")] = {
                "quantity": qty, "status": int(bool(stock.get("is_in_stock", qty > 0)))}
        if count:
            self.applied[sku] += 1
        return existing

    def _render(self, p: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in p.items() if k != "custom_attributes"}
        for k in ("price", "weight"):
            if out.get(k) is not None:
                out[k] = float(out[k])
        out["extension_attributes"] = {"website_ids": [1]}
        out["custom_attributes"] = [{"attribute_code": k, "value": v}
                                    for k, v in p["custom_attributes"].items()]
        return out

    def _search(self, query: dict[str, str]) -> dict[str, Any]:
        filters: dict[str, dict[str, str]] = {}
        for key, value in query.items():
            if key.startswith("searchCriteria[filter_groups][0][filters]["):
                idx, _, field = key[len("searchCriteria[filter_groups][0][filters]["):] \
                    .partition("][")
                filters.setdefault(idx, {})[field.rstrip("]")] = value
        with self.lock:
            found = list(self.products.values())
            for f in filters.values():
                if f.get("field") != "sku":
                    raise MagentoError(400, '"%fieldName" is not supported here',
                                       {"fieldName": f.get("field")})
                cond = f.get("condition_type", "eq")
                wanted = set(f.get("value", "").split(",")) if cond == "in" \
                    else {f.get("value", "")}
                found = [p for p in found if p["sku"] in wanted]
            size = int(query.get("searchCriteria[pageSize]", 0) or 0)
            items = [self._render(p) for p in (found[:size] if size else found)]
        return {"items": items, "search_criteria": {}, "total_count": len(found)}

    def _check_item(self, item: Any) -> MagentoError | None:
        if not isinstance(item, dict):
            return _required("sourceItems")
        sku, qty, status = item.get("sku"), item.get("quantity"), item.get("status")
        if not str(sku or "").strip():
            return MagentoError(400, 'Validation Failed: "sku" can not be empty.')
        if not str(item.get("source_code") or "").strip():
            return MagentoError(400, 'Validation Failed: "source_code" can not be empty.')
        if isinstance(qty, bool) or not isinstance(qty, int | float):
            try:
                float(str(qty))
            except ValueError:
                return MagentoError(400, 'Validation Failed: "quantity" should be numeric.')
        if status not in (0, 1):
            return MagentoError(400, 'Validation Failed: "status" should a known status.')
        if self.unknown_skus == "validate" and sku not in self.products:
            return MagentoError(400, 'Validation Failed: Product with requested "sku": '
                                f'"{sku}" was was not found.')
        return None

    def _save_source_items(self, items: list[Any]) -> None:
        """SourceItemsSaveHandler: all items valid, or nothing is saved."""
        if not items:
            raise MagentoError(400, "Input data is empty")
        with self.lock:
            for item in items:
                error = self._check_item(item)
                if error:
                    raise error
            if any(i["source_code"] not in self.sources or self.unknown_skus == "fk"
                   and i["sku"] not in self.products for i in items):
                raise MagentoError(400, "Could not save Source Item")
            for i in items:
                self.source_items[(i["sku"], i["source_code"])] = {
                    "quantity": float(i["quantity"]), "status": int(i["status"])}
                self.applied[i["sku"]] += 1

    # -- stock_of: GET /V1/inventory/source-items?searchCriteria ---------------------
    # SourceItemRepositoryInterface::getList: filters on the source item's own columns
    # (OR within a group, AND across groups) with eq/in (comma list), pageSize and
    # currentPage (a page past the last answers the last again), total_count.

    _SI_FILTER = re.compile(r"searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]"
                            r"\[(\d+)\]\[(\w+)\]")

    def _search_source_items(self, query: dict[str, str]) -> dict[str, Any]:
        groups: dict[str, dict[str, dict[str, str]]] = {}
        for key, value in query.items():
            m = self._SI_FILTER.fullmatch(key)
            if m:
                groups.setdefault(m[1], {}).setdefault(m[2], {})[m[3]] = value
        with self.lock:
            rows = [{"sku": sku, "source_code": src, "quantity": si["quantity"],
                     "status": si["status"]} for (sku, src), si in self.source_items.items()]
            for filters in groups.values():
                tests = []
                for f in filters.values():
                    field, cond = f.get("field"), f.get("condition_type", "eq")
                    if field not in ("sku", "source_code", "quantity", "status") \
                            or cond not in ("eq", "in"):  # invented wording
                        raise MagentoError(400, '"%fieldName" is not supported here',
                                           {"fieldName": f"{field} {cond}"})
                    wanted = set(f.get("value", "").split(",")) if cond == "in" \
                        else {f.get("value", "")}
                    tests.append((field, wanted))
                rows = [r for r in rows if any(str(r[fd]) in w for fd, w in tests)]
            size = int(query.get("searchCriteria[pageSize]") or 0) or len(rows) or 1
            last = max(1, math.ceil(len(rows) / size))
            page = min(max(1, int(query.get("searchCriteria[currentPage]") or 1)), last)
            items = rows[(page - 1) * size:page * size]
        return {"items": items, "search_criteria": {}, "total_count": len(rows)}

    # -- asynchronous bulk -----------------------------------------------------

    def _bulk(self, kind: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, list):
            raise MagentoError(400, "Request body is expected to be an array.")
        self._limit(body, self.async_input_limit,
                    PRODUCT if kind == "products" else SOURCE_ITEM)
        bulk_id = str(uuid.uuid4())
        topic = ("async.magento.catalog.api.productrepositoryinterface.save.post"
                 if kind == "products" else
                 "async.magento.inventoryapi.api.sourceitemssaveinterface.execute.post")
        ops = [{"id": i, "bulk_uuid": bulk_id, "topic_name": topic, "kind": kind,
                "data": entry, "status": 4, "result_message": None, "error_code": None,
                "result_serialized_data": None} for i, entry in enumerate(body)]
        with self.lock:
            self.bulks[bulk_id] = ops
        for op in ops:
            self._work.put((bulk_id, op["id"]))
        items = [{"id": op["id"], "status": "accepted",
                  "data_hash": hashlib.sha256(json.dumps(op["data"]).encode()).hexdigest()}
                 for op in ops]
        return 202, {"bulk_uuid": bulk_id, "request_items": items, "errors": False}

    def _worker(self) -> None:
        while (job := self._work.get()) is not None:
            self._open.wait()
            bulk_id, op_id = job
            with self.lock:
                op = self.bulks[bulk_id][op_id]
                try:
                    data = op["data"]
                    if op["kind"] == "products":
                        if not isinstance(data, dict) or not isinstance(data.get("product"), dict):
                            raise _required("product")
                        saved = self._render(self._save_product(data["product"]))
                        op["result_serialized_data"] = json.dumps(saved)
                    else:
                        if not isinstance(data, dict) or not isinstance(data.get("sourceItems"), list):
                            raise _required("sourceItems")
                        self._save_source_items(data["sourceItems"])
                    op["status"] = 1
                    op["result_message"] = f"Service execution success {op['topic_name']}"
                except MagentoError as e:
                    op["status"], op["result_message"], op["error_code"] = 3, e.rendered(), 0

    def _detailed_status(self, bulk_id: str) -> dict[str, Any]:
        with self.lock:
            ops = self.bulks.get(bulk_id)
            if ops is None:
                raise MagentoError(404, "Bulk uuid %bulkUuid not exist", {"bulkUuid": bulk_id})
            listed = [{k: v for k, v in op.items() if k not in ("kind", "data")} for op in ops]
        return {"operations_list": listed, "user_type": 2, "bulk_id": bulk_id,
                "description": f"Topic {ops[0]['topic_name'] if ops else ''}",
                "start_time": time.strftime("%Y-%m-%d %H:%M:%S"), "user_id": 1,
                "operation_count": len(ops)}

    # -- orders (GET /V1/orders) -----------------------------------------------

    def add_order(self, lines: list[tuple[Any, ...]], created: float, *,
                  invoiced: bool = False) -> int:
        """Place an order at ``created`` (epoch seconds). Each line is ``(sku, qty)``
        for a simple product or ``(sku, qty, "configurable")`` for a configurable's
        simple ``sku``: a parent item (type configurable, the simple's SKU, as Magento
        books it) and its child. ``invoiced`` invoices every unit (state processing)."""
        with self.lock:
            oid = self.next_order
            self.next_order += 1
            items: list[dict[str, Any]] = []
            for sku, qty, *kind in lines:
                item = self._order_item(oid, sku, qty, kind[0] if kind else "simple")
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
            return oid

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
                i["qty_canceled"] += max(0.0, min(to_invoice, to_ship))
                refundable |= i["qty_invoiced"] - i["qty_refunded"] > 0
            o["state"] = o["status"] = "processing" if refundable else "canceled"
            o["updated_at"] = _stamp(at)

    def refund(self, order: int, qtys: dict[str, float], at: float) -> None:
        """A credit memo for invoiced units of the given SKUs; every unit refunded or
        canceled closes the order."""
        with self.lock:
            o, live = self.orders[order], self._live_items(order)
            for sku, qty in qtys.items():
                item = next(i for i in live if i["sku"] == sku)
                if item["qty_invoiced"] - item["qty_refunded"] < qty:
                    raise ValueError(f"order {order}: {sku} has fewer than {qty} invoiced "
                                     "units left to refund")
                item["qty_refunded"] += qty
            if all(i["qty_canceled"] + i["qty_refunded"] >= i["qty_ordered"] for i in live):
                o["state"] = o["status"] = "closed"
            o["updated_at"] = _stamp(at)

    def ship(self, order: int, qtys: dict[str, float], at: float) -> None:
        with self.lock:
            for sku, qty in qtys.items():
                next(i for i in self._live_items(order) if i["sku"] == sku)["qty_shipped"] += qty
            self.orders[order]["updated_at"] = _stamp(at)

    def set_state(self, order: int, state: str, status: str, at: float) -> None:
        """Change the state without touching the items (an extension, a script)."""
        with self.lock:
            o = self.orders[order]
            o["state"], o["status"], o["updated_at"] = state, status, _stamp(at)

    def touch(self, order: int, at: float) -> None:
        """Save the order unchanged at ``at`` (a comment, an address edit)."""
        with self.lock:
            self.orders[order]["updated_at"] = _stamp(at)

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
                found.sort(key=lambda o, f=field: o[f],
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


def _typed(value: Any, kind: type) -> Any:
    """Magento's service input processor: scalars cast, anything else refused."""
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise MagentoError(400, "The \"%value\" value's type is invalid. The \"%type\" type was "
                       "expected. Verify and try again.", {"value": value,
                                                          "type": kind.__name__})


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or isinstance(value, bool):
        raise MagentoError(400, "The \"%value\" value's type is invalid. The \"%type\" type "
                           "was expected. Verify and try again.",
                           {"value": value, "type": "float"})
    return d


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write (no Nagle/delayed-ACK stall)
    server: ThreadingHTTPServer

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        shop: MagentoServer = self.server.shop  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with shop.lock:
            shop.requests += 1
        fault: tuple[str, Any] = shop.faults.next() or ("", None)
        kind, arg = fault
        if kind == "drop":
            return self._drop()
        if kind == "fail":
            status, retry_after = arg
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return self._send(status, {"message": f"injected HTTP {status}"}, headers)
        if kind == "slow":
            time.sleep(arg)
        wait = shop._admit()
        if wait is not None:
            with shop.lock:
                shop.throttled += 1
            return self._send(429, {"message": "Too Many Requests"},
                              {"Retry-After": str(max(1, math.ceil(wait)))})
        try:
            status, body = shop.handle(self.command, self.path, self.headers, raw)
        except MagentoError as e:
            status, body = e.status, e.body()
        if kind == "drop_after":
            return self._drop()
        self._send(status, body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
