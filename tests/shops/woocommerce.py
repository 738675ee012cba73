"""A loopback WooCommerce REST API v3 (``/wp-json/wc/v3/``) that holds its catalog,
for the ``woocommerce_api`` sink's tests and benchmark.

What it does as WooCommerce does (spec: shop-formats.md section 2.3; batch code
read in ``includes/rest-api/Controllers/Version3/class-wc-rest-controller.php``):

- HTTP Basic with consumer key/secret (or ``consumer_key``/``consumer_secret`` in
  the query); a wrong key answers 401 ``woocommerce_rest_authentication_error``,
  none at all 401 ``woocommerce_rest_cannot_view`` (``_cannot_batch`` on batches).
- ``GET /products`` with ``per_page`` (1..100, else 400), ``page``, ``include``,
  ``sku`` (a comma list; matches variations too, as the v3 controller widens the
  post type when ``sku`` is given) and ``_fields``; ``X-WP-Total`` and
  ``X-WP-TotalPages`` headers. ``GET /products/<id>/variations`` likewise.
- Single create/read/update/delete of products and variations, and
  ``POST .../batch`` with at most 100 items in total (beyond: 413
  ``woocommerce_rest_request_entity_too_large``); each failed item is
  ``{"id": <id or 0>, "error": {code, message, data}}`` inside an HTTP 200;
  batch deletes are forced.
- SKUs are unique across products and variations (``product_invalid_sku``,
  "Invalid or duplicated SKU."); ill-typed fields are 400 ``rest_invalid_param``.
  As the brief for these tests asks, a non-numeric price and a negative stock are
  refused that way too (real WooCommerce coerces a bad price and allows negative
  stock for backorders).
- With ``manage_stock`` the stock status follows the quantity.
- Attributes as WooCommerce keeps them (code read in woocommerce/woocommerce, see the
  notes above :func:`sanitize_title`): a product's custom attributes are replaced
  wholesale, ``variation``/``visible`` false unless sent, options split on "|"; a
  variation's attributes are matched to its parent's variation attributes by
  ``sanitize_title(name)``, the others dropped WITHOUT an error, values cleaned but
  never checked against the parent's options; read back, a parent attribute the
  variation has no value for is "any". ``storefront(sku)`` shows what a shopper can
  pick (values not among the options can never be chosen).
- Errors are ``{"code", "message", "data": {"status"}}``.

Orders (``GET /orders``, ``/orders/<id>``, ``/orders/<id>/refunds``): see
:class:`Orders`; tests place and change them with ``add_order``, ``set_status``,
``refund`` and the clock ``now``.

For tests: ``faults`` (the shared switchboard, :mod:`shops.faults`), ``rate_limit``
(429 with Retry-After beyond it), counters ``requests``, and per SKU ``created``,
``applied`` and ``fetched`` (images downloaded), ``calls`` (method, path, batch
items) and ``catalog()``.
"""

from __future__ import annotations

import base64
import calendar
import copy
import json
import re
import socket
import threading
import time
import unicodedata
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from shops.faults import Faults, hang_up

BASE = "/wp-json/wc/v3"
BATCH_LIMIT = 100
PRICE = re.compile(r"^(\d+(\.\d*)?|\.\d+)?$")


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.data = {"status": status, **data}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def invalid(param: str, why: str) -> WooError:
    return WooError(400, "rest_invalid_param", f"Invalid parameter(s): {param}",
                    params={param: why})


# Writable fields and their JSON types (WooCommerce's item schema, the part used here).
ENUMS = {"type": ("simple", "grouped", "external", "variable"),
         "status": ("draft", "pending", "private", "publish"),
         "stock_status": ("instock", "outofstock", "onbackorder")}
PRODUCT = {"name": str, "slug": str, "type": str, "status": str, "sku": str,
           "description": str, "short_description": str, "regular_price": str,
           "sale_price": str, "manage_stock": bool, "stock_quantity": int,
           "stock_status": str, "weight": str, "global_unique_id": str, "images": list,
           "attributes": list, "categories": list, "tags": list, "meta_data": list}
VARIATION = {k: t for k, t in PRODUCT.items()
             if k not in ("name", "slug", "type", "short_description", "images",
                          "categories", "tags")} | {"image": dict}


def validate(body: Any, schema: dict[str, type]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    v: Any
    for k, v in body.items():
        t: Any = schema.get(k)
        if t is None or v is None and k in ("stock_quantity",):
            continue
        if not isinstance(v, t) or (t is int and isinstance(v, bool)):
            raise invalid(k, f"{k} is not of type {t.__name__.replace('str', 'string')}.")
        if k in ENUMS and v not in ENUMS[k]:
            raise invalid(k, f"{k} is not one of {', '.join(ENUMS[k])}.")
        if k in ("regular_price", "sale_price") and not PRICE.match(v.strip()):
            raise invalid(k, f"{k} is not a valid number.")
        if k == "stock_quantity" and v < 0:
            raise invalid(k, f"{k} must be greater than or equal to 0")
        if k == "attributes" and not all(isinstance(a, dict) and isinstance(a.get("name"), str)
                                         for a in v):
            raise invalid(k, f"{k}[0][name] is a required property of {k}[0].")
    return body


# -- attributes ----------------------------------------------------------------------
# Read in woocommerce/woocommerce (plugins/woocommerce/includes/):
# - product attributes, rest-api/Controllers/Version3/class-wc-rest-products-controller.php
#   ``prepare_attributes``: the list replaces the product's; a custom attribute (no
#   ``id``) needs ``options`` (an array, or a string split on "|") or it is left out;
#   ``visible`` and ``variation`` are false unless sent true. Read back,
#   Version2/class-wc-rest-products-v2-controller.php ``get_attribute_options``: the
#   stored options split on "|" and trimmed.
# - variation attributes, Version3/class-wc-rest-product-variations-controller.php
#   ``prepare_object_for_database``: each is looked up among the PARENT's attributes by
#   ``sanitize_title(name)``; one the parent lacks, or has but not for variations, is
#   skipped without an error; the value is ``wc_clean``-ed (a custom attribute's value
#   is never checked against the parent's options); ``set_attributes`` replaces the
#   variation's whole set (WC_Product_Variation, data store ``update_attributes``
#   deletes the other attribute_ metas).
# - read back, wc-product-functions.php ``wc_get_product_variation_attributes``: one
#   value per parent variation attribute, '' ("any") where the variation has none;
#   the REST answer (V2 ``get_attributes``) leaves the "any" ones out.
# - the storefront (WC_Product_Variable::get_variation_attributes via the data store's
#   ``read_variation_attributes``): a dropdown per variation attribute offering the
#   parent's options that some variation has (exact match), or all of them when a
#   variation has "any"; a variation whose value is not offered can never be chosen.


def sanitize_title(text: str) -> str:
    """WordPress ``sanitize_title`` (remove_accents, then sanitize_title_with_dashes)."""
    text = unicodedata.normalize("NFKD", re.sub(r"<[^>]*>", "", str(text)))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[\s.]+", "-", text)
    text = re.sub(r"[^a-z0-9_-]", "", text)
    return re.sub(r"-+", "-", text).strip("-")


def wc_clean(text: Any) -> str:
    """``wc_clean`` of a string: ``sanitize_text_field`` (tags and line breaks out,
    whitespace collapsed, trimmed)."""
    text = re.sub(r"<[^>]*>", "", str(text))
    return re.sub(r"\s+", " ", text).strip()


def product_attributes(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``prepare_attributes`` for custom attributes; global (taxonomy) ones are not
    modelled and refused as such (invented wording)."""
    out = []
    for a in raw:
        if a.get("id"):
            raise invalid("attributes", "global (taxonomy) attributes are not modelled by "
                          "this test server")
        name = wc_clean(a.get("name") or "")
        if not name or "options" not in a:
            continue
        options = a["options"] if isinstance(a["options"], list) else \
            str(a["options"]).split("|")
        out.append({"name": name, "position": int(a.get("position") or 0),
                    "visible": bool(a.get("visible")), "variation": bool(a.get("variation")),
                    "value": " | ".join(str(o) for o in options)})
    return out


def options_of(attribute: dict[str, Any]) -> list[str]:
    """What the REST API and the admin read back: the stored value split on "|"."""
    return [o.strip() for o in attribute["value"].split("|")] if attribute["value"] else []


class Shop:
    """The catalog: products and variations share one id sequence and one SKU index."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, dict[str, Any]] = {}
        self.skus: dict[str, int] = {}
        self.next_id = 100
        self.created: Counter[str] = Counter()  # creates applied, per SKU
        self.applied: Counter[str] = Counter()  # creates and updates applied, per SKU
        self.fetched: Counter[str] = Counter()  # images downloaded (sideloaded), per SKU

    def item(self, pid: int) -> dict[str, Any] | None:
        return self.products.get(pid) or self.variations.get(pid)

    def _sku(self, obj: dict[str, Any], sku: str | None) -> None:
        if sku is None or sku == obj.get("sku"):
            return
        if sku and self.skus.get(sku, obj["id"]) != obj["id"]:
            raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.",
                           resource_id=self.skus[sku], unique_sku=sku)
        self.skus.pop(obj.get("sku") or "", None)
        if sku:
            self.skus[sku] = obj["id"]
        obj["sku"] = sku

    def _apply(self, obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        if "attributes" in body:  # before any change: both may refuse the request
            attributes: Any = (self._variation_attributes(obj, body["attributes"])
                               if obj["type"] == "variation"
                               else product_attributes(body["attributes"]))
        self._sku(obj, body.get("sku"))
        for k, v in body.items():
            if k == "attributes":
                obj[k] = attributes
            elif k not in ("id", "sku", "parent_id", "variations"):
                obj[k] = copy.deepcopy(v)
        if obj.get("manage_stock") and obj.get("stock_quantity") is not None:
            obj["stock_status"] = "instock" if obj["stock_quantity"] > 0 else "outofstock"
        obj["price"] = obj.get("sale_price") or obj.get("regular_price") or ""
        if obj["sku"]:
            self.applied[obj["sku"]] += 1
            # Woo downloads every image given by src, on every create or update.
            self.fetched[obj["sku"]] += len(body.get("images") or ()) + bool(body.get("image"))
        return obj

    def _variation_attributes(self, variation: dict[str, Any], raw: list[dict[str, Any]]
                              ) -> dict[str, str]:
        """The variation's attribute set, as the v3 controller builds it from the
        request and its parent (see the notes above :func:`sanitize_title`)."""
        parent = self.products.get(variation["parent_id"])
        if parent is None:
            raise WooError(404, "woocommerce_rest_product_variation_invalid_parent",
                           "Cannot set attributes due to invalid parent product.")
        by_key = {sanitize_title(a["name"]): a for a in parent["attributes"]}
        out = {}
        for a in raw:
            key = sanitize_title(a.get("name") or "")
            if a.get("id") or not key:
                continue  # a global attribute id: none exist here
            found = by_key.get(key)
            if found is None or not found["variation"]:
                continue  # silently skipped, as WooCommerce does
            out[sanitize_title(found["name"])] = wc_clean(a.get("option") or "")
        return out

    def view(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A product or variation as the REST API answers it."""
        out = copy.deepcopy(obj)
        if obj["type"] != "variation":
            out["attributes"] = [{"id": 0, "name": a["name"], "slug": a["name"],
                                  "position": a["position"], "visible": a["visible"],
                                  "variation": a["variation"], "options": options_of(a)}
                                 for a in obj["attributes"]]
            return out
        out["attributes"] = [{"id": 0, "name": a["name"], "slug": key, "option": value}
                             for a, key, value in self._variation_values(obj) if value]
        return out

    def _variation_values(self, v: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
        """(parent attribute, key, value or '' for "any") for each of the parent's
        variation attributes: wc_get_product_variation_attributes."""
        parent = self.products.get(v["parent_id"]) or {"attributes": []}
        return [(a, key, v["attributes"].get(key, "")) for a in parent["attributes"]
                if a["variation"] for key in [sanitize_title(a["name"])]]

    def storefront(self, sku: str) -> dict[str, Any]:
        """What a shopper of the variable product ``sku`` can choose: ``options`` (the
        dropdowns: attribute name -> values offered) and ``variations`` (SKU -> the
        choice that reaches it, None for "any" of an attribute; the variation is
        absent when no choice reaches it)."""
        with self.lock:
            p = self.products[self.skus[sku]]
            children = [self.variations[i] for i in p["variations"]
                        if self.variations[i]["status"] == "publish"]
            offered = {}
            for a in p["attributes"]:
                if not a["variation"]:
                    continue
                key, options = sanitize_title(a["name"]), options_of(a)
                used = {c["attributes"].get(key, "") for c in children}
                offered[a["name"]] = options if "" in used or not used else \
                    [o for o in options if o in used]
            reachable = {}
            for c in children:
                choice = {a["name"]: value or None for a, _, value in self._variation_values(c)}
                if all(v is None or v in offered[n] for n, v in choice.items()):
                    reachable[c["sku"]] = choice
            return {"options": offered, "variations": reachable}

    def create(self, body: Any, parent: int | None = None) -> dict[str, Any]:
        body = validate(body, VARIATION if parent else PRODUCT)
        with self.lock:
            if parent is not None:
                p = self.parent(parent)
            self.next_id += 1
            obj: dict[str, Any] = {
                "id": self.next_id, "sku": "", "status": "publish", "description": "",
                "regular_price": "", "sale_price": "", "manage_stock": False,
                "stock_quantity": None, "stock_status": "instock", "weight": "",
                "attributes": []}
            if parent is None:
                obj.update({"type": "simple", "name": "", "slug": "", "parent_id": 0,
                            "images": [], "variations": []})
            else:
                obj.update({"type": "variation", "parent_id": parent, "image": None,
                            "attributes": {}})
            self._apply(obj, body)  # raises before anything is stored
            (self.variations if parent else self.products)[obj["id"]] = obj
            if parent is not None:
                p["variations"].append(obj["id"])
            if obj["sku"]:
                self.created[obj["sku"]] += 1
            return self.view(obj)

    def parent(self, pid: int) -> dict[str, Any]:
        p = self.products.get(pid)
        if p is None:
            raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return p

    def update(self, pid: Any, body: Any, parent: int | None = None) -> dict[str, Any]:
        body = validate(body, VARIATION if parent else PRODUCT)
        with self.lock:
            obj = self.variations.get(pid) if parent else self.products.get(pid)
            if obj is None or (parent is not None and obj["parent_id"] != parent):
                code = "product_variation" if parent else "product"
                raise WooError(400, f"woocommerce_rest_{code}_invalid_id", "Invalid ID.")
            return self.view(self._apply(obj, body))

    def delete(self, pid: Any, parent: int | None = None) -> dict[str, Any]:
        with self.lock:
            obj = self.variations.get(pid) if parent else self.products.get(pid)
            if obj is None or (parent is not None and obj["parent_id"] != parent):
                code = "product_variation" if parent else "product"
                raise WooError(404, f"woocommerce_rest_{code}_invalid_id", "Invalid ID.")
            answer = self.view(obj)
            gone = [obj] + [self.variations[v] for v in obj.get("variations", ())]
            for o in gone:
                (self.variations if o["type"] == "variation" else self.products).pop(o["id"])
                self.skus.pop(o["sku"] or "", None)
            if parent is not None:
                self.products[parent]["variations"].remove(pid)
            return answer

    def catalog(self) -> dict[str, dict[str, Any]]:
        """SKU -> product, its ``variations`` as full variation dicts."""
        with self.lock:
            out = {}
            for p in self.products.values():
                view = self.view(p)
                view["variations"] = [self.view(self.variations[v]) for v in p["variations"]]
                out[p["sku"] or f"#{p['id']}"] = view
            return out


class WooServer:
    """``with WooServer() as shop: ... shop.url ...``; ``shop.catalog()`` reads back."""

    def __init__(self, key: str = "ck_test", secret: str = "cs_test",
                 batch_limit: int = BATCH_LIMIT):
        self.key, self.secret, self.batch_limit = key, secret, batch_limit
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.shop = Shop()
        self.orders = Orders(self.shop)
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
        return self.shop.fetched

    # -- orders (tests play the shop's customers and clerks) ------------------------

    @property
    def now(self) -> float | None:
        """The shop's clock for order changes (None: the real time)."""
        return self.orders.now

    @now.setter
    def now(self, value: float | None) -> None:
        self.orders.now = value

    def add_order(self, lines: list[tuple[str, int]], status: str = "processing",
                  created: float | None = None, modified: float | None = None) -> int:
        return self.orders.add(lines, status, created, modified)

    def set_status(self, order_id: int, status: str, at: float | None = None) -> None:
        self.orders.set_status(order_id, status, at)

    def refund(self, order_id: int, quantities: dict[str | int, int],
               at: float | None = None) -> int:
        return self.orders.refund(order_id, quantities, at)

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
        if not path.startswith(BASE):
            raise WooError(404, "rest_no_route",
                           "No route was found matching the URL and request method.")
        self._authorised(method, path, headers, query)
        parts = path[len(BASE):].strip("/").split("/")
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        shop = self.shop
        ids = [int(p) if p.isdigit() else None for p in parts]
        if parts[0] == "orders":
            return self.orders.handle(method, parts, query)
        if parts[0] != "products":
            raise WooError(404, "rest_no_route",
                           "No route was found matching the URL and request method.")
        if len(parts) == 1 and method == "GET":
            return self._list(query, shop_items=None)
        if len(parts) == 1 and method == "POST":
            return 201, {}, shop.create(data)
        if len(parts) == 2 and parts[1] == "batch" and method in ("POST", "PUT", "PATCH"):
            return 200, {}, self._batch(data, None)
        if len(parts) == 2 and ids[1] is not None:
            if method == "GET":
                obj = shop.products.get(ids[1])
                if obj is None:
                    raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
                return 200, {}, _fields(shop.view(obj), query)
            if method in ("PUT", "POST", "PATCH"):
                return 200, {}, shop.update(ids[1], data)
            if method == "DELETE":
                return 200, {}, shop.delete(ids[1])
        if len(parts) >= 3 and ids[1] is not None and parts[2] == "variations":
            pid = ids[1]
            if len(parts) == 3 and method == "GET":
                with shop.lock:
                    p = shop.parent(pid)
                    items = [shop.variations[v] for v in p["variations"]]
                return self._list(query, shop_items=items)
            if len(parts) == 3 and method == "POST":
                return 201, {}, shop.create(data, pid)
            if len(parts) == 4 and parts[3] == "batch" and method in ("POST", "PUT", "PATCH"):
                with shop.lock:
                    shop.parent(pid)
                return 200, {}, self._batch(data, pid)
            if len(parts) == 4 and ids[3] is not None:
                if method == "GET":
                    obj = shop.variations.get(ids[3])
                    if obj is None or obj["parent_id"] != pid:
                        raise WooError(404, "woocommerce_rest_product_variation_invalid_id",
                                       "Invalid ID.")
                    return 200, {}, _fields(shop.view(obj), query)
                if method in ("PUT", "POST", "PATCH"):
                    return 200, {}, shop.update(ids[3], data, pid)
                if method == "DELETE":
                    return 200, {}, shop.delete(ids[3], pid)
        raise WooError(404, "rest_no_route",
                       "No route was found matching the URL and request method.")

    def _list(self, query: dict[str, str], shop_items: list[dict[str, Any]] | None
              ) -> tuple[int, dict[str, str], Any]:
        try:
            per_page = int(query.get("per_page", 10))
            page = int(query.get("page", 1))
        except ValueError:
            raise invalid("per_page", "per_page is not of type integer.") from None
        if not 1 <= per_page <= 100:
            raise invalid("per_page", "per_page must be between 1 (inclusive) and 100 "
                          "(inclusive)")
        if page < 1:
            raise invalid("page", "page must be greater than or equal to 1")
        shop = self.shop
        with shop.lock:
            if shop_items is not None:
                items = list(shop_items)
            elif query.get("sku"):
                skus = query["sku"].split(",")
                if len(skus) > 1:
                    skus.append(query["sku"])  # the whole string is a SKU too, as Woo does
                items = [o for o in (shop.item(shop.skus.get(s, 0)) for s in skus) if o]
            else:
                items = sorted(shop.products.values(), key=lambda o: -o["id"])
            if query.get("include"):
                wanted = {int(i) for i in query["include"].split(",") if i.strip().isdigit()}
                items = [o for o in items if o["id"] in wanted]
            total = len(items)
            items = [_fields(shop.view(o), query) for o in items[(page - 1) * per_page:page * per_page]]
        pages = -(-total // per_page)
        return 200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}, items

    def _batch(self, data: Any, parent: int | None) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        for op in ("create", "update", "delete"):
            if op in data and not isinstance(data[op], list):
                raise invalid(op, f"{op} is not of type array.")
        total = sum(len(data.get(op) or ()) for op in ("create", "update", "delete"))
        if total > self.batch_limit:
            raise WooError(413, "woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {self.batch_limit} items for this "
                           "request.")
        shop, out = self.shop, dict[str, list[Any]]()

        def each(op: str, items: list[Any], fn: Any, ident: Any) -> None:
            res = out.setdefault(op, [])
            for item in items:
                try:
                    res.append(fn(item))
                except WooError as e:
                    res.append({"id": ident(item), "error": {
                        "code": e.code, "message": e.message, "data": e.data}})

        def item_id(i: Any) -> Any:
            return i.get("id", 0) if isinstance(i, dict) else 0

        if data.get("create"):
            each("create", data["create"], lambda i: shop.create(i, parent), lambda i: 0)
        if data.get("update"):
            each("update", data["update"], lambda i: shop.update(item_id(i), i, parent),
                 item_id)
        if data.get("delete"):
            each("delete", data["delete"], lambda i: shop.delete(_int(i), parent), _int)
        return out


ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                  "failed", "checkout-draft")
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
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

    Times are whole seconds; the site's zone is UTC+2 (``OFFSET``), so the local and
    GMT dates differ as they do in real shops."""

    OFFSET = 2 * 3600

    def __init__(self, shop: Shop):
        self.shop = shop  # ids come from the posts' sequence, as without HPOS
        self.lock = shop.lock
        self.now: float | None = None
        self.orders: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, list[dict[str, Any]]] = {}
        self.next_item = 0

    def time(self, at: float | None = None) -> int:
        return int(at if at is not None else self.now if self.now is not None else time.time())

    def _id(self) -> int:
        self.shop.next_id += 1
        return self.shop.next_id

    def _item(self) -> int:
        self.next_item += 1
        return self.next_item

    def add(self, lines: list[tuple[str, int]], status: str = "processing",
            created: float | None = None, modified: float | None = None) -> int:
        with self.lock:
            oid = self._id()
            c = self.time(created)
            items: list[dict[str, Any]] = []
            for sku, qty in lines:
                pid = self.shop.skus.get(sku, 0)
                obj = self.shop.item(pid) if pid else None
                parent = obj.get("parent_id", 0) if obj else 0
                items.append({"id": self._item(), "name": f"Product {sku}",
                              "product_id": parent or pid, "variation_id": pid if parent else 0,
                              "quantity": qty, "sku": sku, "total": "0.00", "meta_data": []})
            self.orders[oid] = {"id": oid, "parent_id": 0, "number": str(oid),
                                "status": status, "currency": "EUR", "created": c,
                                "modified": self.time(modified) if modified is not None else c,
                                "line_items": items}
            self.refunds[oid] = []
            return oid

    def order(self, oid: int) -> dict[str, Any]:
        o = self.orders.get(oid)
        if o is None:
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return o

    def set_status(self, oid: int, status: str, at: float | None = None) -> None:
        with self.lock:
            o = self.order(oid)
            o["status"], o["modified"] = status, self.time(at)

    def refund(self, oid: int, quantities: dict[str | int, int], at: float | None = None) -> int:
        """Refund units of lines given by SKU or line id; returns the refund's id."""
        with self.lock:
            o = self.order(oid)
            lines = []
            for key, qty in quantities.items():
                li = next(li for li in o["line_items"] if key in (li["id"], li["sku"]))
                lines.append({"id": self._item(), "name": li["name"],
                              "product_id": li["product_id"], "variation_id": li["variation_id"],
                              "quantity": -qty, "sku": li["sku"], "total": "0.00",
                              "meta_data": [{"id": self._item(), "key": "_refunded_item_id",
                                             "value": str(li["id"]),
                                             "display_key": "_refunded_item_id",
                                             "display_value": str(li["id"])}]})
            t = self.time(at)
            rid = self._id()
            self.refunds[oid].append({"id": rid, "created": t, "amount": "0.00", "reason": "",
                                      "refunded_by": 1, "refunded_payment": False,
                                      "meta_data": [], "line_items": lines})
            done = {li["id"]: 0 for li in o["line_items"]}
            for r in self.refunds[oid]:
                for rl in r["line_items"]:
                    done[int(rl["meta_data"][0]["value"])] += -rl["quantity"]
            if all(done[li["id"]] >= li["quantity"] for li in o["line_items"]):
                o["status"] = "refunded"
            o["modified"] = t
            return rid

    # -- REST ---------------------------------------------------------------------

    def _dates(self, t: int, name: str) -> dict[str, str]:
        def fmt(x: int) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(x))
        return {name: fmt(t + self.OFFSET), name + "_gmt": fmt(t)}

    def view(self, o: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        out = {k: v for k, v in o.items() if k not in ("created", "modified")}
        out.update(self._dates(o["created"], "date_created"))
        out.update(self._dates(o["modified"], "date_modified"))
        out["refunds"] = [{"id": r["id"], "reason": r["reason"], "total": "-" + r["amount"]}
                          for r in self.refunds[o["id"]]]
        return _fields(out, query)

    def handle(self, method: str, parts: list[str], query: dict[str, str]
               ) -> tuple[int, dict[str, str], Any]:
        if method != "GET":
            raise WooError(404, "rest_no_route",
                           "No route was found matching the URL and request method.")
        with self.lock:
            if len(parts) == 1:
                return self._list(query)
            if not parts[1].isdigit():
                raise WooError(404, "rest_no_route",
                               "No route was found matching the URL and request method.")
            o = self.order(int(parts[1]))
            if len(parts) == 2:
                return 200, {}, self.view(o, query)
            if len(parts) == 3 and parts[2] == "refunds":
                items = []
                for r in sorted(self.refunds[o["id"]], key=lambda r: -r["id"]):
                    view = {k: v for k, v in r.items() if k != "created"}
                    view.update(self._dates(r["created"], "date_created"))
                    items.append(_fields(copy.deepcopy(view), query))
                return _page(items, query)
        raise WooError(404, "rest_no_route",
                       "No route was found matching the URL and request method.")

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
        return _page([self.view(o, query) for o in items], query)


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


def _page(items: list[dict[str, Any]], query: dict[str, str]
          ) -> tuple[int, dict[str, str], Any]:
    try:
        per_page = int(query.get("per_page", 10))
        page = int(query.get("page", 1))
        offset = int(query["offset"]) if "offset" in query else None
    except ValueError:
        raise invalid("per_page", "per_page is not of type integer.") from None
    if not 1 <= per_page <= 100:
        raise invalid("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
    if page < 1:
        raise invalid("page", "page must be greater than or equal to 1")
    total = len(items)
    start = offset if offset is not None else (page - 1) * per_page  # offset wins, as in WP_Query
    return (200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(-(-total // per_page))},
            items[start:start + per_page])


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _fields(obj: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    if query.get("_fields"):
        return {k: copy.deepcopy(obj[k]) for k in query["_fields"].split(",") if k in obj}
    return copy.deepcopy(obj)


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
