"""A loopback Shopify Admin GraphQL API for the shopify_api sink's tests.

It is not a GraphQL engine: it recognises the root field of the operation
(``productSet(``, ``inventorySetQuantities(`` …) in the document, works on the
``variables`` the way Shopify does, and always answers the full payload shape.
What it implements, because the sink depends on it:

- ``POST /admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``; a wrong
  token is Shopify's 401 ``{"errors": "[API] Invalid API key or access token …"}``;
  a body without ``query`` is a 400.
- Two error layers: top-level ``errors[]`` (HTTP 200): INVALID_VARIABLE for missing
  or ill-typed variables, MAX_INPUT_SIZE_EXCEEDED for an input array over 250
  items, THROTTLED; and per-mutation ``userErrors {code field message}``.
- The calculated-cost leaky bucket for real (``maximum_available``,
  ``restore_rate``): requested cost 10 + input items for mutations, 2 + page size
  for connections; refunded down to the actual cost; every answer carries
  ``extensions.cost``; a request the bucket cannot cover is THROTTLED.
- ``productSet`` (identifier id / handle upsert; the variant list replaces the
  product's: unlisted variants are deleted; ``optionValues`` required; option
  values must exist in ``productOptions``; title required on create);
  ``productUpdate``, ``productDelete``, ``productVariantsBulkDelete``;
  ``productVariants(query: "sku:… OR sku:…")``, ``locations``/``location``,
  ``nodes(ids)`` on inventory items (``inventoryLevel.quantities``).
- ``inventorySetQuantities``: all-or-nothing, ``changeFromQuantity`` (2026-01+,
  mandatory from 2026-04) and the older ``compareQuantity``/``ignoreCompareQuantity``,
  ``@idempotent(key:)`` (mandatory from 2026-04; same key + same input returns the
  first answer without applying again; same key + other input is
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH; after a failed attempt,
  IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED).
- Bulk: ``stagedUploadsCreate`` (target ``{url}/staged-uploads``, a multipart POST),
  ``bulkOperationRunMutation`` of productSet, ``node(id)`` of the BulkOperation
  (RUNNING for ``bulk_polls`` polls, then COMPLETED with ``url``) and the result
  JSONL at ``{url}/bulk-results/N.jsonl`` (``{"data": …, "__lineNumber": i}``).

Codes and messages not in Shopify's docs (marked "invented" below) are plausible
stand-ins. Faults: ``server.faults.fail(n, status, retry_after)``, ``slow(n, s)``,
``drop(n, after=False)`` (``after=True``: apply, then drop the answer). Read-back:
``server.catalog()``, ``server.applied`` / ``server.created`` (per SKU),
``server.requests``, ``server.throttled``, ``server.largest``; ``set_stock`` plays a
web sale behind the sink's back.

Orders: ``orders(first, after, sortKey, query: "updated_at:>='…'")`` with
``lineItems(first: $lines)`` and ``order(id) { lineItems(first, after) }`` (see
``_orders``); tests place and change them with ``add_order``, ``cancel``, ``refund``
and the clock ``now``.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import re
import threading
import time
import uuid
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

TOKEN = "shpat_test_token"
GRAPHQL = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
ROOTS = ("bulkOperationRunMutation", "stagedUploadsCreate", "productSet",
         "inventorySetQuantities", "productUpdate", "productDelete",
         "productVariantsBulkDelete", "productVariants", "locations", "nodes", "node",
         "orders", "order")
ROOT = re.compile(r"\b(" + "|".join(ROOTS) + r")\s*\(")
IDEMPOTENT = re.compile(r'@idempotent\s*\(\s*key\s*:\s*(?:\$(\w+)|"([^"]*)")')
SKU_TERM = re.compile(r'sku:(?:"((?:[^"\\]|\\.)*)"|(\S+))')
MONEY = re.compile(r"^-?\d+(\.\d+)?$")
REASONS = {"correction", "cycle_count_available", "damaged", "movement_created",
           "movement_updated", "movement_received", "movement_canceled", "other",
           "promotion", "quality_control", "received", "reservation_created",
           "reservation_deleted", "reservation_updated", "restock", "safety_stock",
           "shrinkage"}


ORDER_TERM = re.compile(r"\b(updated_at|created_at):(>=|<=|>|<)('[^']*'|\"[^\"]*\"|\S+)")
COMPARE = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b}


def _encode(cursor: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(cursor).encode()).decode()


def _decode(cursor: str) -> dict[str, Any]:
    try:
        return dict(json.loads(base64.b64decode(cursor)))
    except ValueError:
        raise GqlError("Invalid cursor for current pagination sort.", "BAD_REQUEST") from None


class GqlError(Exception):
    """Top-level ``errors[]``: the request as a whole is refused."""

    def __init__(self, message: str, code: str, **extra: Any):
        super().__init__(message)
        self.error = {"message": message, "locations": [{"line": 1, "column": 1}],
                      "extensions": {"code": code, **extra}}


def invalid(var: str, type_: str, value: Any, path: list[Any], explanation: str) -> GqlError:
    where = ".".join(str(p) for p in path)
    return GqlError(f"Variable ${var} of type {type_} was provided invalid value"
                    + (f" for {where}" if where else "") + f" ({explanation})",
                    "INVALID_VARIABLE", value=value,
                    problems=[{"path": path, "explanation": explanation}])


def too_many(field: str, path: list[str], n: int, limit: int = 250) -> GqlError:
    e = GqlError(f"The input array size of {n} is greater than the maximum allowed of "
                 f"{limit}.", "MAX_INPUT_SIZE_EXCEEDED")
    e.error["path"] = [field, *path]
    return e


def user_error(field: list[str] | None, message: str, code: str | None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


class Faults:
    """Injected failures, consumed one request at a time in the order given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[list[Any]] = []

    def fail(self, n: int, status: int = 503, retry_after: float | None = None) -> None:
        self._add("fail", n, status, retry_after)

    def slow(self, n: int, seconds: float) -> None:
        self._add("slow", n, seconds)

    def drop(self, n: int, after: bool = False) -> None:
        self._add("drop_after" if after else "drop", n)

    def _add(self, kind: str, n: int, *args: Any) -> None:
        with self.lock:
            self.queue.append([kind, n, *args])

    def take(self) -> list[Any] | None:
        with self.lock:
            if not self.queue:
                return None
            head = self.queue[0]
            head[1] -= 1
            if head[1] <= 0:
                self.queue.pop(0)
            return head


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per answer, sent at once: no Nagle/delayed-ACK stalls on keep-alive
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.server.shop.handle(self, "POST")

    def do_GET(self) -> None:
        self.server.shop.handle(self, "GET")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    shop: ShopifyServer


class ShopifyServer:
    """One store. ``with ShopifyServer() as shop:`` or ``start()``/``stop()``."""

    def __init__(self, token: str = TOKEN, *, maximum_available: float = 1e9,
                 restore_rate: float = 1e9, locations: tuple[str, ...] = ("Warehouse",
                 "High Street"), bulk_polls: int = 1):
        self.token = token
        self.faults = Faults()
        self.lock = threading.RLock()
        self.requests = 0
        self.throttled = 0
        self.largest = 0  # most quantities in one accepted inventorySetQuantities
        self.applied: Counter[str] = Counter()  # SKU -> changes actually applied
        self.created: Counter[str] = Counter()  # SKU -> variants created with it
        self.maximum, self.restore = float(maximum_available), float(restore_rate)
        self.available, self.refilled = self.maximum, time.monotonic()
        self.seq = 0
        self.locations = {self._gid("Location"): name for name in locations}
        self.products: dict[str, dict[str, Any]] = {}
        self.handles: dict[str, str] = {}  # handle -> Product
        self.variants: dict[str, dict[str, Any]] = {}
        self.items: dict[str, str] = {}  # InventoryItem -> ProductVariant
        self.levels: dict[tuple[str, str], int] = {}  # (item, location) -> available
        self.idempotency: dict[str, tuple[str, dict[str, Any] | None]] = {}
        self.uploads: dict[str, bytes] = {}
        self.bulk: dict[str, dict[str, Any]] = {}
        self.bulk_polls = bulk_polls
        self.httpd: _Server | None = None
        self.orders: dict[str, dict[str, Any]] = {}
        self.now: float | None = None  # the clock of order changes (None: real time)

    # -- life cycle ------------------------------------------------------------

    def start(self) -> ShopifyServer:
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.shop = self
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.httpd, "server not started"
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    # -- read-back and test helpers ------------------------------------------

    def catalog(self) -> dict[str, dict[str, Any]]:
        """handle -> product fields, options and ``variants`` {sku: fields, with
        ``options`` {name: value} and ``inventory`` {location name: available}}."""
        with self.lock:
            out = {}
            for p in self.products.values():
                variants = {}
                for vid in p["variants"]:
                    v = self.variants[vid]
                    inventory = {self.locations[loc]: q for (item, loc), q in self.levels.items()
                                 if item == v["item"]}
                    variants[v["sku"]] = {k: v[k] for k in ("id", "price", "compareAtPrice",
                                                            "barcode", "weight", "options")}
                    variants[v["sku"]]["inventory"] = inventory
                out[p["handle"]] = {**{k: p[k] for k in ("id", "title", "descriptionHtml",
                                                         "vendor", "productType", "tags",
                                                         "status")},
                                    "options": {o["name"]: o["values"] for o in p["options"]},
                                    "variants": variants}
            return out

    def location_id(self, name: str | None = None) -> str:
        return next(i for i, n in self.locations.items() if name in (None, n))

    def variant(self, sku: str) -> dict[str, Any]:
        with self.lock:
            return next(v for v in self.variants.values() if v["sku"] == sku)

    def set_stock(self, sku: str, quantity: int, location: str | None = None) -> None:
        """What a web sale or a clerk does behind the sink's back."""
        with self.lock:
            self.levels[(self.variant(sku)["item"], self.location_id(location))] = quantity

    def stock(self, sku: str, location: str | None = None) -> int | None:
        with self.lock:
            return self.levels.get((self.variant(sku)["item"], self.location_id(location)))

    # -- orders: tests play the customers and clerks ----------------------------

    def _time(self, at: float | None = None) -> int:
        return int(at if at is not None else self.now if self.now is not None else time.time())

    def add_order(self, lines: list[tuple[str, int]], created: float | None = None,
                  financial: str = "PAID", updated: float | None = None) -> str:
        """An order of (sku, quantity) lines; returns its GID."""
        with self.lock:
            oid = self._gid("Order")
            c = self._time(created)
            self.orders[oid] = {
                "id": oid, "createdAt": c, "updatedAt": self._time(updated) if updated
                is not None else c, "cancelledAt": None, "displayFinancialStatus": financial,
                "lines": [{"id": self._gid("LineItem"), "sku": sku, "quantity": q,
                           "currentQuantity": q} for sku, q in lines]}
            return oid

    def cancel(self, order_id: str, at: float | None = None) -> None:
        """orderCancel: the lines keep their quantities; the order is cancelled."""
        with self.lock:
            o = self.orders[order_id]
            o["cancelledAt"] = o["updatedAt"] = self._time(at)

    def refund(self, order_id: str, quantities: dict[str, int], at: float | None = None) -> None:
        """refundCreate with refundLineItems, by SKU or LineItem GID: currentQuantity
        drops; the financial status becomes (PARTIALLY_)REFUNDED."""
        with self.lock:
            o = self.orders[order_id]
            for key, q in quantities.items():
                li = next(li for li in o["lines"] if key in (li["id"], li["sku"]))
                li["currentQuantity"] = max(0, li["currentQuantity"] - q)
            left = sum(li["currentQuantity"] for li in o["lines"])
            o["displayFinancialStatus"] = "PARTIALLY_REFUNDED" if left else "REFUNDED"
            o["updatedAt"] = self._time(at)

    # -- HTTP ------------------------------------------------------------------

    def handle(self, h: _Handler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.requests += 1
        fault = self.faults.take()
        if fault and fault[0] == "slow":
            time.sleep(fault[2])
        elif fault and fault[0] == "drop":
            h.close_connection = True
            return
        elif fault and fault[0] == "fail":
            status, retry_after = fault[2], fault[3]
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            message = ("Exceeded 2 calls per second for api client. Reduce request rates to "
                       "resume uninterrupted service." if status == 429 else
                       "Internal Server Error")
            return self._reply(h, status, {"errors": message}, headers)
        path = urlsplit(h.path).path
        m = GRAPHQL.match(path)
        if method == "POST" and m:
            status, payload = self._graphql(h, m.group(1), body)
        elif method == "POST" and path == "/staged-uploads":
            status, payload = self._upload(h, body)
        elif method == "GET" and path.startswith("/bulk-results/"):
            op = self.bulk.get(path.rsplit("/", 1)[-1].removesuffix(".jsonl"))
            status, payload = (200, op["jsonl"]) if op else (404, {"errors": "Not Found"})
        else:
            status, payload = 404, {"errors": "Not Found"}
        if fault and fault[0] == "drop_after":  # applied, but the answer is lost
            h.close_connection = True
            return
        self._reply(h, status, payload)

    def _reply(self, h: _Handler, status: int, payload: Any,
               headers: dict[str, str] | None = None) -> None:
        raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "text/plain" if isinstance(payload, str)
                      else "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(raw)

    def _graphql(self, h: _Handler, version: str, body: bytes) -> tuple[int, Any]:
        if h.headers.get("X-Shopify-Access-Token") != self.token:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized "
                         "login or wrong password)"}
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return 400, {"errors": "Invalid JSON in request body"}  # invented wording
        query = request.get("query") if isinstance(request, dict) else None
        if not isinstance(query, str) or not query.strip():
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}
        variables = request.get("variables") or {}
        m = ROOT.search(query)
        if not m:
            return 200, {"errors": [GqlError("Field is not supported by this test server",
                                             "undefinedField").error]}
        root = m.group(1)
        with self.lock:
            requested = self._cost(root, variables)
            now = time.monotonic()
            self.available = min(self.maximum, self.available
                                 + (now - self.refilled) * self.restore)
            self.refilled = now
            if requested > self.maximum:
                return 200, {"errors": [GqlError(
                    f"Query cost is {requested}, which exceeds the single query max cost "
                    f"limit ({self.maximum:g}).", "MAX_COST_EXCEEDED").error]}
            if requested > self.available:
                self.throttled += 1
                return 200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": self._extensions(requested, None)}
            self.available -= requested
            try:
                data, actual = getattr(self, "_" + root)(version, query, variables)
            except GqlError as e:
                return 200, {"errors": [e.error], "extensions": self._extensions(requested, 0)}
            actual = min(actual, requested)
            self.available += requested - actual  # refund down to the actual cost
            return 200, {"data": data, "extensions": self._extensions(requested, actual)}

    def _extensions(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": {"maximumAvailable": self.maximum,
                                            "currentlyAvailable": int(self.available),
                                            "restoreRate": self.restore}}}

    @staticmethod
    def _cost(root: str, variables: dict[str, Any]) -> int:
        def count(v: Any) -> int:
            return len(v) if isinstance(v, list) else 0
        inp = variables.get("input") if isinstance(variables.get("input"), dict) else {}
        if root == "inventorySetQuantities":
            return 10 + count(inp.get("quantities"))
        if root == "productSet":
            return 10 + count(inp.get("variants"))
        if root == "productVariants":
            return 2 + int(variables.get("n") or 0)
        if root == "nodes":
            return 1 + count(variables.get("ids"))
        if root == "locations":
            return 12
        if root == "node":
            return 1
        if root in ("orders", "order"):  # 2 + orders * (1 + lineItems: 2 + lines + pageInfo)
            lines = int(variables.get("lines") or 0)
            return 2 + int(variables.get("first") or 1) * (4 + lines) + 1
        return 10

    def _gid(self, kind: str) -> str:
        self.seq += 1
        return f"gid://shopify/{kind}/{self.seq}"

    # -- queries ---------------------------------------------------------------

    def _variant_node(self, v: dict[str, Any]) -> dict[str, Any]:
        p = self.products[v["product"]]
        return {"id": v["id"], "sku": v["sku"], "product": {
                "id": p["id"], "handle": p["handle"],
                "variantsCount": {"count": len(p["variants"]), "precision": "EXACT"}},
                "inventoryItem": {"id": v["item"]}}

    def _productVariants(self, version: str, query: str, var: dict[str, Any]
                         ) -> tuple[dict[str, Any], int]:
        n, q = var.get("n"), var.get("q")
        if not isinstance(n, int) or n < 1:
            raise invalid("n", "Int!", n, [], "Expected value to not be null")
        if n > 250:  # invented wording
            raise GqlError("The page size (first) cannot exceed 250.", "BAD_REQUEST")
        skus = {(a.replace('\\"', '"').replace("\\\\", "\\") if a or b == "" else b)
                for a, b in SKU_TERM.findall(str(q or ""))}
        nodes = [self._variant_node(v) for v in self.variants.values() if v["sku"] in skus][:n]
        if "inventoryLevel" in query:  # stock_of: each item's level at $loc
            self._with_levels(nodes, var)
        return {"productVariants": {"nodes": nodes}}, 2 + len(nodes)

    # -- stock_of: productVariants { inventoryItem { inventoryLevel(locationId:) } } --

    def _with_levels(self, nodes: list[dict[str, Any]], var: dict[str, Any]) -> None:
        """Add ``inventoryLevel(locationId: $loc) { quantities }`` to each node's item
        (null where the item is not stocked at the location, as Shopify answers)."""
        loc = var.get("loc")
        if not isinstance(loc, str):
            raise invalid("loc", "ID!", loc, [], "Expected value to not be null")
        for node in nodes:
            q = self.levels.get((node["inventoryItem"]["id"], loc))
            node["inventoryItem"]["inventoryLevel"] = None if q is None else {
                "quantities": [{"name": "available", "quantity": q}]}

    def _locations(self, version: str, query: str, var: dict[str, Any]
                   ) -> tuple[dict[str, Any], int]:
        nodes = [{"id": i, "name": n} for i, n in self.locations.items()]
        return {"location": nodes[0], "locations": {"nodes": nodes}}, 2 + len(nodes)

    def _nodes(self, version: str, query: str, var: dict[str, Any]) -> tuple[dict[str, Any], int]:
        ids, loc = var.get("ids"), var.get("loc")
        if not isinstance(ids, list):
            raise invalid("ids", "[ID!]!", ids, [], "Expected value to not be null")
        if len(ids) > 250:
            raise too_many("nodes", ["ids"], len(ids))
        out: list[dict[str, Any] | None] = []
        for i in ids:
            if i in self.items:
                q = self.levels.get((i, loc))
                level = None if q is None else {"quantities": [{"name": "available",
                                                                "quantity": q}]}
                out.append({"id": i, "inventoryLevel": level})
            else:
                out.append(None)
        return {"nodes": out}, 1 + len(ids)

    def _node(self, version: str, query: str, var: dict[str, Any]) -> tuple[dict[str, Any], int]:
        op = self.bulk.get(str(var.get("id", "")).rsplit("/", 1)[-1])
        if op is None:
            return {"node": None}, 1
        if op["polls"] > 0:
            op["polls"] -= 1
            status, url = "RUNNING", None
        else:
            status, url = "COMPLETED", f"{self.url}/bulk-results/{op['n']}.jsonl"
        return {"node": {"id": op["id"], "status": status, "errorCode": None,
                         "objectCount": str(op["count"]), "url": url,
                         "partialDataUrl": None}}, 1

    # -- orders ----------------------------------------------------------------

    @staticmethod
    def _iso(t: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    def _order_node(self, o: dict[str, Any], lines: int, after: str | None = None
                    ) -> dict[str, Any]:
        start = 0
        if after:
            start = next((i + 1 for i, li in enumerate(o["lines"])
                          if li["id"] == _decode(after).get("last_id")), len(o["lines"]))
        page = o["lines"][start:start + lines]
        more = start + lines < len(o["lines"])
        items = {"nodes": [dict(li) for li in page], "pageInfo": {
            "hasNextPage": more, "endCursor": _encode({"last_id": page[-1]["id"]})
            if page else None}}
        return {"id": o["id"], "createdAt": self._iso(o["createdAt"]),
                "updatedAt": self._iso(o["updatedAt"]),
                "cancelledAt": self._iso(o["cancelledAt"]) if o["cancelledAt"] else None,
                "displayFinancialStatus": o["displayFinancialStatus"], "lineItems": items}

    def _orders(self, version: str, query: str, var: dict[str, Any]
                ) -> tuple[dict[str, Any], int]:
        """``orders(first, after, sortKey, reverse, query)``: ``updated_at`` and
        ``created_at`` comparisons in the search string (others are ignored, as
        Shopify ignores what it cannot parse, with a search warning); sortKey from
        the document (UPDATED_AT, CREATED_AT, ID; default ID) with the id as tie
        break; the cursor is a keyset on (sort value, id), as Shopify's is."""
        first, lines = var.get("first"), int(var.get("lines") or 0)
        if not isinstance(first, int) or first < 1:
            raise invalid("first", "Int!", first, [], "Expected value to not be null")
        if first > 250 or lines > 250:
            raise GqlError("The page size (first) cannot exceed 250.", "BAD_REQUEST")  # invented
        m = re.search(r"sortKey\s*:\s*(\w+)", query)
        sort = m.group(1) if m else "ID"
        field = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt"}.get(sort)
        reverse = bool(re.search(r"reverse\s*:\s*true", query))
        items = list(self.orders.values())
        for name, op, value in ORDER_TERM.findall(str(var.get("query") or "")):
            t = calendar.timegm(time.strptime(value.strip("'\"").rstrip("Z")[:19],
                                              "%Y-%m-%dT%H:%M:%S"))
            key = "updatedAt" if name == "updated_at" else "createdAt"
            items = [o for o in items if COMPARE[op](o[key], t)]

        def position(o: dict[str, Any]) -> tuple[int, int]:
            n = int(o["id"].rsplit("/", 1)[-1])
            return (o[field] if field else n, n)
        items.sort(key=position, reverse=reverse)
        if var.get("after"):
            c = _decode(var["after"])
            mark = (c.get("last_value"), c.get("last_id"))
            items = [o for o in items if (position(o) < mark if reverse else position(o) > mark)]
        page = items[:first]
        nodes = [self._order_node(o, lines) for o in page]
        end = _encode({"last_value": position(page[-1])[0], "last_id": position(page[-1])[1]}) \
            if page else None
        actual = 2 + sum(4 + len(n["lineItems"]["nodes"]) for n in nodes) + 1
        return {"orders": {"nodes": nodes, "pageInfo": {"hasNextPage": len(items) > first,
                                                        "endCursor": end}}}, actual

    def _order(self, version: str, query: str, var: dict[str, Any]
               ) -> tuple[dict[str, Any], int]:
        o = self.orders.get(str(var.get("id")))
        if o is None:
            return {"order": None}, 1
        node = self._order_node(o, int(var.get("lines") or 0), var.get("after"))
        return {"order": node}, 3 + len(node["lineItems"]["nodes"])

    # -- stock -----------------------------------------------------------------

    def _inventorySetQuantities(self, version: str, query: str, var: dict[str, Any]
                                ) -> tuple[dict[str, Any], int]:
        t = "InventorySetQuantitiesInput!"
        inp = var.get("input")
        if not isinstance(inp, dict):
            raise invalid("input", t, inp, [], "Expected value to not be null")
        for field in ("name", "reason"):
            if not isinstance(inp.get(field), str):
                raise invalid("input", t, inp, [field], "Expected value to not be null")
        quantities = inp.get("quantities")
        if not isinstance(quantities, list):
            raise invalid("input", t, inp, ["quantities"], "Expected value to not be null")
        if len(quantities) > 250:
            raise too_many("inventorySetQuantities", ["input", "quantities"], len(quantities))
        for i, q in enumerate(quantities):
            for field, kind in (("inventoryItemId", str), ("locationId", str),
                                ("quantity", int)):
                if not isinstance(q.get(field), kind) or isinstance(q.get(field), bool):
                    raise invalid("input", t, inp, ["quantities", i, field],
                                  "Expected value to not be null" if q.get(field) is None
                                  else f"Could not coerce value {q.get(field)!r}")
            if "changeFromQuantity" in q and version < "2026-01":
                raise invalid("input", t, inp, ["quantities", i, "changeFromQuantity"],
                              "Field is not defined on InventoryQuantityInput")
            if "changeFromQuantity" not in q and version >= "2026-04":
                raise invalid("input", t, inp, ["quantities", i, "changeFromQuantity"],
                              "Expected value to be present")  # invented wording
        m = IDEMPOTENT.search(query)
        key = (var.get(m.group(1)) if m.group(1) else m.group(2)) if m else None
        if key is None and version >= "2026-04":  # invented wording and code
            raise GqlError("The @idempotent directive is required for this mutation.",
                           "BAD_REQUEST")
        digest = hashlib.sha256(json.dumps(inp, sort_keys=True).encode()).hexdigest()
        if key is not None and key in self.idempotency:
            seen, answer = self.idempotency[key]
            if seen != digest:
                errors = [user_error(None, "The same idempotency key cannot be used with "
                                     "different operation parameters.",
                                     "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")]
            elif answer is None:
                errors = [user_error(None, "A previous request with this idempotency key "
                                     "failed. Retry with a new idempotency key.",
                                     "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED")]
            else:
                return answer, 10
            return {"inventorySetQuantities": {"inventoryAdjustmentGroup": None,
                                               "userErrors": errors}}, 10
        errors = self._check_quantities(version, inp, quantities)
        self.largest = max(self.largest, len(quantities))
        if errors:
            group = None
        else:
            group = {"id": self._gid("InventoryAdjustmentGroup")}
            for q in quantities:
                self.levels[(q["inventoryItemId"], q["locationId"])] = q["quantity"]
                self.applied[self.variants[self.items[q["inventoryItemId"]]]["sku"]] += 1
        data = {"inventorySetQuantities": {"inventoryAdjustmentGroup": group,
                                           "userErrors": errors}}
        if key is not None:
            self.idempotency[key] = (digest, None if errors else data)
        return data, 10 + len(quantities)

    def _check_quantities(self, version: str, inp: dict[str, Any],
                          quantities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        errors = []
        if inp["name"] not in ("available", "on_hand"):
            errors.append(user_error(["input", "name"], "The quantity name must be either "
                                     "'available' or 'on_hand'.", "INVALID_NAME"))
        if inp["reason"] not in REASONS:
            errors.append(user_error(["input", "reason"], "The specified reason is invalid.",
                                     "INVALID_REASON"))
        seen = set()
        for i, q in enumerate(quantities):
            at = ["input", "quantities", str(i)]
            item, loc = q["inventoryItemId"], q["locationId"]
            current = self.levels.get((item, loc))
            if (item, loc) in seen:
                errors.append(user_error(at, "The combination of inventoryItemId and "
                                         "locationId must be unique.",
                                         "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
            seen.add((item, loc))
            if item not in self.items:
                errors.append(user_error(at + ["inventoryItemId"], "The specified inventory "
                                         "item could not be found.", "INVALID_INVENTORY_ITEM"))
            elif loc not in self.locations:
                errors.append(user_error(at + ["locationId"], "The specified location could "
                                         "not be found.", "INVALID_LOCATION"))
            elif current is None:
                errors.append(user_error(at + ["locationId"], "The inventory item is not "
                                         "stocked at the location.",
                                         "ITEM_NOT_STOCKED_AT_LOCATION"))
            elif q["quantity"] < 0:
                errors.append(user_error(at + ["quantity"], "The quantity can't be negative.",
                                         "INVALID_QUANTITY_NEGATIVE"))
            elif q["quantity"] > 1_000_000_000:
                errors.append(user_error(at + ["quantity"], "The total quantity can't be "
                                         "higher than 1,000,000,000.",
                                         "INVALID_QUANTITY_TOO_HIGH"))
            elif "changeFromQuantity" in q:  # overrides compareQuantity (2026-01)
                if q["changeFromQuantity"] is not None and q["changeFromQuantity"] != current:
                    errors.append(user_error(at + ["changeFromQuantity"], "The "
                                             "changeFromQuantity value does not match "
                                             "persisted value.", "CHANGE_FROM_QUANTITY_STALE"))
            elif not inp.get("ignoreCompareQuantity"):
                if "compareQuantity" not in q:
                    errors.append(user_error(at + ["compareQuantity"], "The compareQuantity "
                                             "argument must be given to each quantity or "
                                             "ignored using ignoreCompareQuantity.",
                                             "COMPARE_QUANTITY_REQUIRED"))
                elif q["compareQuantity"] != current:
                    errors.append(user_error(at + ["compareQuantity"], "The compareQuantity "
                                             "value does not match persisted value.",
                                             "COMPARE_QUANTITY_STALE"))
        return errors

    # -- products --------------------------------------------------------------

    def _productSet(self, version: str, query: str, var: dict[str, Any]
                    ) -> tuple[dict[str, Any], int]:
        payload = self.product_set(var)
        return {"productSet": payload}, 10 + len((var.get("input") or {}).get("variants") or [])

    def product_set(self, var: dict[str, Any]) -> dict[str, Any]:
        t = "ProductSetInput!"
        inp, ident = var.get("input"), var.get("identifier")
        if not isinstance(inp, dict):
            raise invalid("input", t, inp, [], "Expected value to not be null")
        variants = inp.get("variants") or []
        if len(variants) > 2048:
            raise too_many("productSet", ["input", "variants"], len(variants), 2048)
        for i, v in enumerate(variants):
            if not isinstance(v.get("optionValues"), list):
                raise invalid("input", t, inp, ["variants", i, "optionValues"],
                              "Expected value to not be null")
            for field in ("price", "compareAtPrice"):
                if v.get(field) is not None and not MONEY.match(str(v[field])):
                    raise invalid("input", t, inp, ["variants", i, field],
                                  f"Could not coerce value {v[field]!r} to Money")
        def fail(field: list[str] | None, message: str, code: str) -> dict[str, Any]:
            return {"product": None, "productSetOperation": None,
                    "userErrors": [user_error(field, message, code)]}

        product = None
        if isinstance(ident, dict) and ident.get("id"):
            product = self.products.get(ident["id"])
            if product is None:
                return fail(["identifier", "id"], "Product does not exist",
                            "PRODUCT_DOES_NOT_EXIST")
        elif isinstance(ident, dict) and ident.get("handle"):
            product = self.products.get(self.handles.get(ident["handle"], ""))
        elif isinstance(ident, dict) and ident:
            return fail(["identifier"], "Only id and handle identifiers are supported by "
                        "this test server", "INVALID")
        if product is None and not str(inp.get("title") or "").strip():
            return fail(["input", "title"], "Title can't be blank", "BLANK")  # invented code
        options = inp.get("productOptions")
        if options is None:
            options = [{"name": "Title", "values": [{"name": "Default Title"}]}]
        if len(options) > 3:
            return fail(["input", "productOptions"], "Can only specify a maximum of 3 "
                        "options", "OPTIONS_OVER_LIMIT")  # invented
        names = {o["name"]: [x["name"] for x in o.get("values") or []] for o in options}
        combos = set()
        existing = set(product["variants"]) if product else set()
        for i, v in enumerate(variants):
            at = ["input", "variants", str(i)]
            given = {o.get("optionName"): o.get("name") for o in v["optionValues"]}
            if set(given) != set(names) or any(given[n] not in names[n] for n in names):
                return fail(at + ["optionValues"], "Option values must match the product's "
                            "options: " + ", ".join(names), "INVALID_VARIANT")  # invented
            combo = tuple(sorted(given.items()))
            if combo in combos:
                return fail(at, "The variant '" + " / ".join(given.values()) + "' already "
                            "exists.", "DUPLICATED_VARIANT")  # invented code
            combos.add(combo)
            if v.get("id") and v["id"] not in existing:
                return fail(at + ["id"], "Product variant does not exist",
                            "PRODUCT_VARIANT_DOES_NOT_EXIST")
            for q in v.get("inventoryQuantities") or []:
                if q.get("locationId") not in self.locations:
                    return fail(at + ["inventoryQuantities"], "The specified location could "
                                "not be found.", "INVALID_LOCATION")
        if product is None:
            pid = self._gid("Product")
            handle = inp.get("handle") or (ident or {}).get("handle") or re.sub(
                r"[^a-z0-9]+", "-", str(inp["title"]).lower()).strip("-")
            product = self.products[pid] = {"id": pid, "handle": handle, "title": "",
                                            "descriptionHtml": "", "vendor": "",
                                            "productType": "", "tags": [], "status": "ACTIVE",
                                            "options": [], "variants": []}
        for key in ("title", "descriptionHtml", "vendor", "productType", "tags", "status"):
            if key in inp:
                product[key] = inp[key]
        if inp.get("handle", product["handle"]) != product["handle"]:
            self.handles.pop(product["handle"], None)
            product["handle"] = inp["handle"]
        self.handles[product["handle"]] = product["id"]
        product["options"] = [{"name": n, "values": vs} for n, vs in names.items()]
        if "variants" in inp:
            self._set_variants(product, variants)
        return {"product": {"id": product["id"], "handle": product["handle"], "variants": {
                "nodes": [self._variant_node(self.variants[v])
                          for v in product["variants"][:250]]}},
                "productSetOperation": None, "userErrors": []}

    def _set_variants(self, product: dict[str, Any], variants: list[dict[str, Any]]) -> None:
        keep = []
        for v in variants:
            fields = {"sku": v.get("sku"), "price": v.get("price"),
                      "compareAtPrice": v.get("compareAtPrice"), "barcode": v.get("barcode"),
                      "weight": (((v.get("inventoryItem") or {}).get("measurement") or {})
                                 .get("weight") or {}).get("value"),
                      "options": {o["optionName"]: o["name"] for o in v["optionValues"]}}
            if v.get("id"):  # an existing variant: omitted scalars stay as they are
                current = self.variants[v["id"]]
                fields = {k: f for k, f in fields.items() if f is not None or k == "options"}
                if any(current[k] != fields[k] for k in fields):
                    self.applied[str(fields["sku"])] += 1
                current.update(fields)
            else:
                vid, item = self._gid("ProductVariant"), self._gid("InventoryItem")
                current = self.variants[vid] = {"id": vid, "item": item,
                                                "product": product["id"], **fields}
                self.items[item] = vid
                self.created[str(fields["sku"])] += 1
                self.applied[str(fields["sku"])] += 1
                if not v.get("inventoryQuantities"):
                    self.levels[(item, self.location_id())] = 0
            for q in v.get("inventoryQuantities") or []:
                self.levels[(current["item"], q["locationId"])] = int(q["quantity"])
            keep.append(current["id"])
        for vid in set(product["variants"]) - set(keep):
            self._drop_variant(vid)
        product["variants"] = keep

    def _drop_variant(self, vid: str) -> None:
        v = self.variants.pop(vid)
        self.items.pop(v["item"], None)
        for key in [k for k in self.levels if k[0] == v["item"]]:
            del self.levels[key]
        self.applied[str(v["sku"])] += 1

    def _productUpdate(self, version: str, query: str, var: dict[str, Any]
                       ) -> tuple[dict[str, Any], int]:
        inp = var.get("product")
        if not isinstance(inp, dict) or not inp.get("id"):
            raise invalid("product", "ProductUpdateInput!", inp, ["id"],
                          "Expected value to not be null")
        p = self.products.get(inp["id"])
        if p is None:
            return {"productUpdate": {"product": None, "userErrors": [user_error(
                ["id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]}}, 10
        for key in ("title", "status", "vendor", "productType", "tags", "descriptionHtml"):
            if key in inp:
                p[key] = inp[key]
        for vid in p["variants"]:
            self.applied[self.variants[vid]["sku"]] += 1
        return {"productUpdate": {"product": {"id": p["id"], "status": p["status"]},
                                  "userErrors": []}}, 10

    def _productDelete(self, version: str, query: str, var: dict[str, Any]
                       ) -> tuple[dict[str, Any], int]:
        inp = var.get("input")
        if not isinstance(inp, dict) or not inp.get("id"):
            raise invalid("input", "ProductDeleteInput!", inp, ["id"],
                          "Expected value to not be null")
        p = self.products.pop(inp["id"], None)
        if p is None:
            return {"productDelete": {"deletedProductId": None, "userErrors": [user_error(
                ["id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]}}, 10
        self.handles.pop(p["handle"], None)
        for vid in p["variants"]:
            self._drop_variant(vid)
        return {"productDelete": {"deletedProductId": p["id"], "userErrors": []}}, 10

    def _productVariantsBulkDelete(self, version: str, query: str, var: dict[str, Any]
                                   ) -> tuple[dict[str, Any], int]:
        p = self.products.get(str(var.get("productId")))
        ids = var.get("variantsIds") or []
        if p is None:
            errors = [user_error(["productId"], "Product does not exist",
                                 "PRODUCT_DOES_NOT_EXIST")]
        elif any(i not in p["variants"] for i in ids):
            errors = [user_error(["variantsIds"], "At least one variant does not belong to "
                                 "the product", "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_"
                                 "PRODUCT")]
        elif not set(p["variants"]) - set(ids):  # invented
            errors = [user_error(["variantsIds"], "Cannot delete the last variant of a "
                                 "product; delete the product", "CANNOT_DELETE_LAST_VARIANT")]
        else:
            for vid in ids:
                self._drop_variant(vid)
            p["variants"] = [v for v in p["variants"] if v not in ids]
            errors = []
        return {"productVariantsBulkDelete": {"product": None if errors else {"id": p["id"]},
                                              "userErrors": errors}}, 10

    # -- bulk ------------------------------------------------------------------

    def _stagedUploadsCreate(self, version: str, query: str, var: dict[str, Any]
                             ) -> tuple[dict[str, Any], int]:
        targets, errors = [], []
        for i, inp in enumerate(var.get("input") or []):
            if inp.get("resource") != "BULK_MUTATION_VARIABLES":
                errors.append(user_error(["input", str(i), "resource"], "Only "
                                         "BULK_MUTATION_VARIABLES is supported by this test "
                                         "server", "INVALID"))
                continue
            key = f"tmp/bulk/{uuid.uuid4()}/{inp.get('filename') or 'upload.jsonl'}"
            targets.append({"url": f"{self.url}/staged-uploads", "resourceUrl": None,
                            "parameters": [{"name": "key", "value": key},
                                           {"name": "Content-Type", "value": "text/jsonl"},
                                           {"name": "success_action_status", "value": "201"},
                                           {"name": "policy", "value": "test-policy"}]})
        return {"stagedUploadsCreate": {"stagedTargets": targets, "userErrors": errors}}, 10

    def _upload(self, h: _Handler, body: bytes) -> tuple[int, Any]:
        head = f"Content-Type: {h.headers.get('Content-Type', '')}\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, bytes] = {}
        for part in msg.iter_parts() if msg.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part.get_payload(decode=True) or b""
        if "key" not in fields or "file" not in fields:
            return 400, "<Error><Code>InvalidArgument</Code></Error>"
        if len(fields["file"]) > 20 * 1024 * 1024:
            return 400, "<Error><Code>EntityTooLarge</Code></Error>"
        with self.lock:
            self.uploads[fields["key"].decode()] = fields["file"]
        return 201, "<PostResponse><Key>" + fields["key"].decode() + "</Key></PostResponse>"

    def _bulkOperationRunMutation(self, version: str, query: str, var: dict[str, Any]
                                  ) -> tuple[dict[str, Any], int]:
        mutation, path = str(var.get("mutation") or ""), var.get("path")

        def refused(field: str, message: str, code: str) -> tuple[dict[str, Any], int]:
            return {"bulkOperationRunMutation": {"bulkOperation": None, "userErrors": [
                user_error([field], message, code)]}}, 10
        if ROOT.search(mutation) is None or ROOT.search(mutation).group(1) != "productSet":
            return refused("mutation", "This test server runs only productSet in bulk",
                           "INVALID_MUTATION")
        if path not in self.uploads:
            return refused("stagedUploadPath", "The JSONL file could not be found. Try "
                           "uploading the file again.", "NO_SUCH_FILE")
        lines = []
        for i, line in enumerate(self.uploads.pop(path).decode().splitlines()):
            try:
                row = {"data": {"productSet": self.product_set(json.loads(line))}}
            except GqlError as e:
                row = {"errors": [e.error]}
            except ValueError:
                return refused("stagedUploadPath", f"Invalid JSON on line {i + 1}",
                               "INVALID_STAGED_UPLOAD_FILE")
            lines.append(json.dumps({**row, "__lineNumber": i}))
        op_id = self._gid("BulkOperation")
        n = op_id.rsplit("/", 1)[-1]
        self.bulk[n] = {"id": op_id, "n": n, "polls": self.bulk_polls, "count": len(lines),
                        "jsonl": "\n".join(lines) + "\n"}
        return {"bulkOperationRunMutation": {"bulkOperation": {"id": op_id,
                                                               "status": "CREATED"},
                                             "userErrors": []}}, 10
