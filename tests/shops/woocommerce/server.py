"""The HTTP side of the loopback WooCommerce: ``/wp-json/wc/v3/...`` routed to the
resource modules, authentication, the shared fault switchboard, a host-style rate
limit, and what the tests read back.

- HTTP Basic with consumer key/secret (or ``consumer_key``/``consumer_secret`` in
  the query); a wrong key answers 401 ``woocommerce_rest_authentication_error``,
  none at all 401 ``woocommerce_rest_cannot_view`` (``_cannot_batch`` on batches).
- ``GET /products`` with ``per_page`` (1..100, else 400), ``page``, ``include``,
  ``sku`` (a comma list; matches variations too, as the v3 controller widens the
  post type when ``sku`` is given), ``category``, ``attribute`` + ``attribute_term``
  (layered navigation's query) and ``_fields``; ``X-WP-Total`` and
  ``X-WP-TotalPages`` headers. ``GET /products/<id>/variations`` likewise.
- Batches of at most 100 items in total (:func:`.base.batch`); batch deletes are
  forced.
- ``/wp-json/wp/v2/media``: WordPress's own media controller (wp_media.py), opened
  by a WordPress user's application password (``wp_users``), not the consumer key.
- ``rate_limit(n)``: 429 with Retry-After beyond ``n`` requests a second, as hosts
  and WAFs in front of WooCommerce do (core has none).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from shops.faults import Faults, hang_up

from .base import BASE, BATCH_LIMIT, State, WooError, batch, fields, no_route, page
from .media import Media
from .products import Shop
from .shipping import ShippableOrders
from .terms import Terms
from .wp_media import WP_BASE, WpMedia


class WooServer:
    """``with WooServer() as shop: ... shop.url ...``; ``shop.catalog()`` reads back."""

    def __init__(self, key: str = "ck_test", secret: str = "cs_test",
                 batch_limit: int = BATCH_LIMIT,
                 wp_users: dict[str, str] | None = None):
        self.key, self.secret, self.batch_limit = key, secret, batch_limit
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.state = State()
        self.media = Media(self.state)
        # login -> application password (WordPress ignores the spaces it shows)
        self.wp = WpMedia(self.media, {u: p.replace(" ", "") for u, p in
                                       (wp_users or {"shopbot": "abcd efgh ijkl mnop"}).items()})
        self.terms = Terms(self.state, lambda tax, tid: self.shop.usage(tax, tid))
        self.shop = Shop(self.state, self.terms, self.media)
        self.orders = ShippableOrders(self.shop, self.state)
        self.faults = Faults()
        self.requests = 0
        self.calls: list[tuple[str, str, int]] = []  # (method, path, batch items)
        self._rate: tuple[float, float | None] | None = None
        self._window = (0.0, 0)
        self._count_lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.media.site = self.url
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what tests read ----------------------------------------------------------

    def catalog(self) -> dict[str, dict[str, Any]]:
        return self.shop.catalog()

    @property
    def created(self) -> Counter[str]:
        return self.shop.created

    @property
    def applied(self) -> Counter[str]:
        return self.shop.applied

    @property
    def fetched(self) -> Counter[str]:
        """Images downloaded (sideloaded), per SKU of the product or variation."""
        return self.shop.fetched

    @property
    def downloads(self) -> Counter[str]:
        """Times each image URL was downloaded."""
        return self.media.downloads

    @property
    def broken_images(self) -> set[str]:
        """Image URLs whose download fails (add to it)."""
        return self.media.broken

    def _product(self, sku: str) -> dict[str, Any]:
        obj = self.shop.item(self.shop.skus[sku])
        assert obj is not None
        return obj

    def category_paths(self) -> list[str]:
        """Every product category as its path ``A > B > C``."""
        with self.state.lock:
            cats = self.terms.categories
            return sorted(" > ".join(cats.path(t)) for t in cats.terms)

    def categories_of(self, sku: str) -> list[str]:
        """The category paths of the product with ``sku`` (a variation's: its parent's)."""
        with self.state.lock:
            obj = self._product(sku)
            if obj["type"] == "variation":
                obj = self.shop.products[obj["parent_id"]]
            return sorted(" > ".join(self.terms.categories.path(t)) for t in obj["categories"])

    def tags_of(self, sku: str) -> list[str]:
        with self.state.lock:
            return sorted(t.label for tid in self._product(sku)["tags"]
                          if (t := self.terms.tags.get(tid)))

    def filter_index(self, label: str) -> dict[str, list[str]]:
        """Layered navigation over the global attribute ``label``: each of its terms
        -> the SKUs of the published products a shopper filtering by it finds."""
        with self.state.lock:
            attribute = next(a for a in self.terms.attributes.values() if a.label == label)
            out: dict[str, list[str]] = {t.label: [] for t in attribute.terms.ordered()}
            for p in self.shop.products.values():
                if p["status"] != "publish":
                    continue
                for a in p["attributes"]:
                    if a["id"] == attribute.id:
                        for tid in a["terms"]:
                            out[attribute.terms.terms[tid].label].append(p["sku"])
            return {k: sorted(v) for k, v in out.items()}

    def images_of(self, sku: str) -> list[tuple[str, str]]:
        """(the URL it was downloaded from, alt text) of a product's images in order
        (the featured one first), or of a variation's image."""
        with self.state.lock:
            obj = self._product(sku)
            ids = [obj["image"]] + ([] if obj["type"] == "variation" else obj["gallery"])
            return [(a.source, a.alt) for aid in ids if aid and (a := self.media.image(aid))]

    def uploaded_of(self, sku: str) -> list[tuple[str, str]]:
        """(SHA-256 of the file uploaded through /wp/v2/media, alt text) of a product's
        images in order, or of a variation's image ("" for a downloaded one)."""
        import hashlib

        with self.state.lock:
            obj = self._product(sku)
            ids = [obj["image"]] + ([] if obj["type"] == "variation" else obj["gallery"])
            return [(hashlib.sha256(a.data).hexdigest() if a.data else "", a.alt)
                    for aid in ids if aid and (a := self.media.image(aid))]

    def scheduled_sales(self) -> None:
        """Run WooCommerce's daily sales cron on the shop's clock."""
        self.shop.scheduled_sales()

    # -- the shop's clock, orders (tests play the shop's customers and clerks) --------

    @property
    def now(self) -> float | None:
        """The shop's clock for sales and order changes (None: the real time)."""
        return self.state.now

    @now.setter
    def now(self, value: float | None) -> None:
        self.state.now = value

    def add_order(self, lines: list[tuple[Any, ...]], status: str = "processing",
                  created: float | None = None, modified: float | None = None,
                  **money: Any) -> int:
        return self.orders.add(lines, status, created, modified, **money)

    def update_shipping(self, order_id: int, shipping: dict[str, Any],
                        at: float | None = None) -> None:
        self.orders.update_shipping(order_id, shipping, at)

    def set_status(self, order_id: int, status: str, at: float | None = None) -> None:
        self.orders.set_status(order_id, status, at)

    def refund(self, order_id: int, quantities: dict[str | int, int],
               at: float | None = None, *, restock: bool = True) -> int:
        return self.orders.refund(order_id, quantities, at, restock=restock)

    def stock(self, sku: str) -> int | None:
        """What the shop shows in stock for ``sku`` (its orders move it too)."""
        return self.orders.stock(sku)

    def rate_limit(self, per_second: float | None, retry_after: float | None = None) -> None:
        """Answer 429 to requests beyond ``per_second`` in a one-second window, with
        Retry-After ``retry_after`` (default: the rest of the window); None lifts it."""
        self._rate = (per_second, retry_after) if per_second else None
        self._window = (time.monotonic(), 0)

    # -- the API ------------------------------------------------------------------

    def _limited(self) -> float | None:
        """None, or the seconds to wait when this request is over the rate."""
        if self._rate is None:
            return None
        with self._count_lock:
            start, n = self._window
            now = time.monotonic()
            if now - start >= 1:
                start, n = now, 0
            self._window = (start, n + 1)
            if n + 1 <= self._rate[0]:
                return None
            return self._rate[1] if self._rate[1] is not None else round(1 - now + start, 3)

    def _authorised(self, method: str, path: str, headers: Any,
                    query: dict[str, str]) -> None:
        got = headers.get("Authorization")
        if got == self.auth:
            return
        key = secret = None
        if got and got.startswith("Basic "):
            try:
                key, _, secret = base64.b64decode(got[6:]).decode().partition(":")
            except ValueError:
                pass
        elif "consumer_key" in query:
            key, secret = query["consumer_key"], query.get("consumer_secret", "")
        if key is None:
            if path.endswith("/batch"):
                what, why = "batch", "batch manipulate this resource."
            elif method == "GET":
                what, why = "view", "list resources."
            else:
                what, why = "create", "create resources."
            raise WooError(401, f"woocommerce_rest_cannot_{what}",
                           "Sorry, you cannot list resources." if what == "view"
                           else f"Sorry, you are not allowed to {why}")
        if key != self.key:
            raise WooError(401, "woocommerce_rest_authentication_error",
                           "Consumer key is invalid.")
        if secret != self.secret:
            raise WooError(401, "woocommerce_rest_authentication_error",
                           "Consumer secret is invalid.")

    def handle(self, method: str, target: str, headers: Any,
               body: bytes) -> tuple[int, dict[str, str], Any]:
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        if path.startswith(WP_BASE + "/"):
            return self.wp.handle(method, path[len(WP_BASE):].strip("/").split("/"), headers,
                                  query, body)
        if not path.startswith(BASE):
            raise no_route()
        self._authorised(method, path, headers, query)
        parts = path[len(BASE):].strip("/").split("/")
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        if parts[0] == "orders":
            return self.orders.handle(method, parts, query, data)
        if parts[0] != "products":
            raise no_route()
        if len(parts) > 1 and parts[1] in ("categories", "tags", "attributes"):
            return self.terms.handle(method, parts[1:], query, data)
        return self._products(method, parts, query, data)

    def _products(self, method: str, parts: list[str], query: dict[str, str], data: Any
                  ) -> tuple[int, dict[str, str], Any]:
        shop = self.shop
        ids = [int(p) if p.isdigit() else None for p in parts]
        if len(parts) == 1 and method == "GET":
            return self._list(query, None)
        if len(parts) == 1 and method == "POST":
            return 201, {}, shop.create(data)
        if len(parts) == 2 and parts[1] == "batch" and method in ("POST", "PUT", "PATCH"):
            return 200, {}, self._batch(data, None)
        if len(parts) == 2 and ids[1] is not None:
            if method == "GET":
                with shop.lock:
                    obj = shop.products.get(ids[1])
                    if obj is None:
                        raise WooError(404, "woocommerce_rest_product_invalid_id",
                                       "Invalid ID.")
                    return 200, {}, fields(shop.view(obj), query)
            if method in ("PUT", "POST", "PATCH"):
                return 200, {}, shop.update(ids[1], data)
            if method == "DELETE":
                return 200, {}, shop.delete(ids[1])
        if len(parts) >= 3 and ids[1] is not None and parts[2] == "variations":
            pid = ids[1]
            if len(parts) == 3 and method == "GET":
                with shop.lock:
                    items = [shop.variations[v] for v in shop.parent(pid)["variations"]]
                return self._list(query, items)
            if len(parts) == 3 and method == "POST":
                return 201, {}, shop.create(data, pid)
            if len(parts) == 4 and parts[3] == "batch" and method in ("POST", "PUT", "PATCH"):
                with shop.lock:
                    shop.parent(pid)
                return 200, {}, self._batch(data, pid)
            if len(parts) == 4 and ids[3] is not None:
                if method == "GET":
                    with shop.lock:
                        obj = shop.variations.get(ids[3])
                        if obj is None or obj["parent_id"] != pid:
                            raise WooError(404, "woocommerce_rest_product_variation_invalid_id",
                                           "Invalid ID.")
                        return 200, {}, fields(shop.view(obj), query)
                if method in ("PUT", "POST", "PATCH"):
                    return 200, {}, shop.update(ids[3], data, pid)
                if method == "DELETE":
                    return 200, {}, shop.delete(ids[3], pid)
        raise no_route()

    def _list(self, query: dict[str, str], items: list[dict[str, Any]] | None
              ) -> tuple[int, dict[str, str], Any]:
        with self.shop.lock:
            status, headers, chunk = page(self.shop.listed(query, items), query)
            return status, headers, [fields(self.shop.view(o), query) for o in chunk]

    def _batch(self, data: Any, parent: int | None) -> dict[str, Any]:
        shop = self.shop
        return batch(data, self.batch_limit, lambda i: shop.create(i, parent),
                     lambda pid, i: shop.update(pid, i, parent),
                     lambda pid: shop.delete(pid, parent))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length

    wbufsize = 1 << 16  # headers and body leave in one write, flushed per request

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        app: WooServer = self.server.app  # type: ignore[attr-defined]
        with app._count_lock:
            app.requests += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = app.faults.take(f"{self.command} {self.path}")
        if fault and fault.kind == "drop":
            return hang_up(self)
        if fault and fault.kind == "fail":
            err = WooError(fault.status, "http_error", f"Injected HTTP {fault.status}.")
            return self._send(fault.status, fault.headers(), err.body())
        wait = app._limited()
        if wait is not None:
            err = WooError(429, "woocommerce_rest_too_many_requests",
                           f"Too many requests. Please wait {wait} seconds before trying "
                           "again.")
            return self._send(429, {"Retry-After": str(wait)}, err.body())
        path = urlsplit(self.path).path
        try:
            status, headers, out = app.handle(self.command, self.path, self.headers, body)
        except WooError as e:
            status, headers, out = e.status, {}, e.body()
        n = sum(len(v) for v in out.values() if isinstance(v, list)) \
            if path.endswith("/batch") and isinstance(out, dict) else 0
        app.calls.append((self.command, path[len(BASE):], n))
        if fault and fault.kind == "drop_after":
            return hang_up(self)
        self._send(status, headers, out)

    def _send(self, status: int, headers: dict[str, str], out: Any) -> None:
        data = json.dumps(out, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
