"""A real Vendure 3.7 for the vendure_api tests, behind a small fault-injecting proxy.

``VendureShop`` starts ``tests/shops/vendure/server.js`` (Vendure on in-memory
SQLite through sql.js, bearer tokens, no plugins) on a free port, waits for its
ready line, logs in as the superadmin and seeds what a fresh Vendure lacks before
variants can be created: a country, a zone holding it (the default channel's tax
and shipping zone), a default tax category and a tax rate. It also adds a second
stock location, ``Warehouse B``, for per-location stock tests, and offers the
languages ``LANGUAGES`` (global settings and the default channel).

``.url`` is the proxy in front of Vendure (``server.faults.fail/slow/drop`` and
``server.requests`` work there; a fault's ``match`` may name a mutation, e.g.
``faults.drop_after(1, match="createCollection")``); ``.direct_url`` is Vendure
itself (benchmarks).
``catalog()`` reads every product and variant back through the Admin API.

The superadmin's name and password come from ``VENDURE_SUPERADMIN`` and
``VENDURE_SUPERADMIN_PASSWORD`` (defaults for tests below). When
``tests/shops/vendure/node_modules`` is missing, ``scripts/install-vendure.sh``
runs first (``npm ci``, about 20 s).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from shops.faults import Faults, hang_up

HERE = Path(__file__).resolve().parent / "vendure"
INSTALL = Path(__file__).resolve().parents[2] / "scripts" / "install-vendure.sh"
USER = "superadmin"
LANGUAGES = ["en", "it", "de", "fr"]
PASSWORD = "test-superadmin-pw"


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        shop = self.server.shop
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with shop.lock:
            shop.requests += 1
        # A fault's match is looked for in the request line and the GraphQL body,
        # so a test can aim it at one mutation ("createCollection").
        fault = shop.faults.take(f"POST {self.path}\n{body.decode(errors='replace')}")
        if fault and fault.kind == "drop":  # Vendure never sees the request
            return hang_up(self)
        if fault and fault.kind == "fail":
            data = json.dumps({"errors": [{"message": f"injected HTTP {fault.status}"}]}
                              ).encode()
            self.send_response(fault.status)
            for k, v in fault.headers().items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        status, headers, data = self._forward(body)
        if fault and fault.kind == "drop_after":  # applied, but the answer is lost
            return hang_up(self)
        self.send_response(status)
        for k, v in headers:
            if k.lower() in ("content-type", "vendure-auth-token"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        # A connection per request: Node closes a keep-alive connection after 5 s
        # idle, and a kept one would then fail a request the client sent fine.
        conn = http.client.HTTPConnection("127.0.0.1", self.server.shop.port)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() in (
                "content-type", "authorization", "apollo-require-preflight")}
            conn.request("POST", self.path, body, headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    shop: VendureShop


class VendureShop:
    """A running Vendure plus its proxy; use as a context manager."""

    def __init__(self, username: str | None = None, password: str | None = None):
        self.username = username or os.environ.get("VENDURE_SUPERADMIN", USER)
        self.password = password or os.environ.get("VENDURE_SUPERADMIN_PASSWORD", PASSWORD)
        self.faults = Faults()
        self.requests = 0
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.token = ""
        self.bootstrap_seconds = 0.0
        self.ids: dict[str, str] = {}  # seeded ids: country, zone, tax_category, ...

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> Self:
        if not (HERE / "node_modules" / "@vendure" / "core").is_dir():
            subprocess.run(["bash", str(INSTALL)], check=True)
        env = dict(os.environ, VENDURE_PORT="0", VENDURE_DISABLE_TELEMETRY="true",
                   VENDURE_SUPERADMIN=self.username,
                   VENDURE_SUPERADMIN_PASSWORD=self.password)
        started = time.monotonic()
        self.proc = subprocess.Popen(["node", "server.js"], cwd=HERE, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.port = self._wait_ready(started + 120)
            self.bootstrap_seconds = time.monotonic() - started
            self.token = self.login(self.username, self.password)
            self._seed()
        except BaseException:
            self.stop()
            raise
        self.proxy = _ProxyServer(("127.0.0.1", 0), _Proxy)
        self.proxy.shop = self
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        return self

    def _wait_ready(self, deadline: float) -> int:
        assert self.proc and self.proc.stdout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(b"VENDURE READY "):
                    return int(line.split()[2])
            if self.proc.poll() is not None:
                break
        err = self.proc.stderr.read().decode(errors="replace")[-3000:] if (
            self.proc.poll() is not None and self.proc.stderr) else ""
        raise RuntimeError(f"Vendure did not start: {line!r} {err}")

    def stop(self) -> None:
        if getattr(self, "proxy", None):
            self.proxy.shutdown()
            self.proxy.server_close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.server_address[1]}"

    # -- Admin API --------------------------------------------------------------------
    def _post(self, query: str, variables: dict[str, Any] | None,
              token: str = "") -> tuple[dict[str, Any], Any]:
        req = urllib.request.Request(
            f"{self.direct_url}/admin-api", json.dumps(
                {"query": query, "variables": variables or {}}).encode(),
            {"Content-Type": "application/json",
             **({"Authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read()), resp.headers

    def login(self, username: str, password: str) -> str:
        body, headers = self._post(
            "mutation($u:String!,$p:String!){login(username:$u,password:$p){"
            "...on CurrentUser{id} ...on ErrorResult{message}}}",
            {"u": username, "p": password})
        if "id" not in (body.get("data") or {}).get("login", {}):
            raise RuntimeError(f"Vendure login failed: {body}")
        return headers["vendure-auth-token"]

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run an Admin API operation as the superadmin; GraphQL errors raise."""
        body, _ = self._post(query, variables, self.token)
        if body.get("errors"):
            raise RuntimeError(f"Vendure: {body['errors']}")
        return body["data"]

    def _seed(self) -> None:
        en = [{"languageCode": "en", "name": "Germany"}]
        country = self.gql("mutation($i:CreateCountryInput!){createCountry(input:$i){id}}",
                           {"i": {"code": "DE", "translations": en, "enabled": True}})
        zone = self.gql("mutation($i:CreateZoneInput!){createZone(input:$i){id}}",
                        {"i": {"name": "Europe",
                               "memberIds": [country["createCountry"]["id"]]}})
        zone_id = zone["createZone"]["id"]
        channel = self.gql("{activeChannel{id}}")["activeChannel"]["id"]
        # A channel offers only languages the global settings make available.
        self.gql("mutation($l:[LanguageCode!]!){updateGlobalSettings(input:{availableLanguages:"
                 "$l}){...on GlobalSettings{id} ...on ErrorResult{message}}}", {"l": LANGUAGES})
        self.gql("mutation($i:UpdateChannelInput!){updateChannel(input:$i){"
                 "...on Channel{id} ...on ErrorResult{message}}}",
                 {"i": {"id": channel, "defaultTaxZoneId": zone_id,
                        "defaultShippingZoneId": zone_id, "availableLanguageCodes": LANGUAGES}})
        category = self.gql(
            "mutation($i:CreateTaxCategoryInput!){createTaxCategory(input:$i){id}}",
            {"i": {"name": "Standard", "isDefault": True}})["createTaxCategory"]["id"]
        self.gql("mutation($i:CreateTaxRateInput!){createTaxRate(input:$i){id}}",
                 {"i": {"name": "Standard DE", "enabled": True, "value": 19,
                        "categoryId": category, "zoneId": zone_id}})
        location = self.gql(
            "mutation($i:CreateStockLocationInput!){createStockLocation(input:$i){id}}",
            {"i": {"name": "Warehouse B"}})["createStockLocation"]["id"]
        self.ids = {"country": country["createCountry"]["id"], "zone": zone_id,
                    "channel": channel, "tax_category": category, "warehouse_b": location}

    VARIANT = ("id sku name price enabled stockOnHand productId "
               "stockLevels{stockLocation{name} stockOnHand} options{name group{name}}")

    @staticmethod
    def _variant(v: dict[str, Any]) -> dict[str, Any]:
        v = dict(v, product_id=v.pop("productId"))
        v["stock_levels"] = {s["stockLocation"]["name"]: s["stockOnHand"]
                             for s in v.pop("stockLevels")}
        v["options"] = {o["group"]["name"]: o["name"] for o in v["options"]}
        return v

    def variants(self, sku: str) -> list[dict[str, Any]]:
        """Every variant holding ``sku`` (Vendure does not keep SKUs unique)."""
        items = self.gql("query($s:String!){productVariants(options:{filter:{sku:{eq:$s}}})"
                         "{items{" + self.VARIANT + "}}}", {"s": sku})
        return [self._variant(v) for v in items["productVariants"]["items"]]

    def product(self, id: str) -> dict[str, Any]:
        p = self.gql("query($p:ID!){product(id:$p){id name slug description enabled "
                     "optionGroups{code name} variants{" + self.VARIANT + "}}}",
                     {"p": id})["product"]
        p["variants"] = [self._variant(v) for v in p["variants"]]
        return p

    def catalog(self) -> dict[str, Any]:
        """Every product (id -> fields) with its variants, as Vendure holds them:
        ``{"products": {id: {...}}, "variants": {sku: [variant, ...]}}`` (a list per
        SKU, because Vendure does not keep SKUs unique)."""
        products: dict[str, Any] = {}
        variants: dict[str, list[dict[str, Any]]] = {}
        skip = 0
        while True:
            page = self.gql(
                "query($o:ProductListOptions){products(options:$o){totalItems items{"
                "id name slug description enabled optionGroups{code name} "
                "variants{" + self.VARIANT + "}}}}", {"o": {"skip": skip, "take": 100}})
            for p in page["products"]["items"]:
                p["variants"] = [self._variant(v) for v in p["variants"]]
                for v in p["variants"]:
                    variants.setdefault(v["sku"], []).append(v)
                products[p["id"]] = p
            skip += 100
            if skip >= page["products"]["totalItems"]:
                return {"products": products, "variants": variants}

    # -- orders (for the order puller's tests) ------------------------------------------
    def ensure_variant(self, sku: str, stock: int = 1000, price: int = 1000) -> str:
        """The id of the one variant holding ``sku``; a product and variant with that
        SKU, ``stock`` units and ``price`` (minor units) are created when missing."""
        found = self.variants(sku)
        if found:
            return str(found[0]["id"])
        product = self.gql("mutation($i:CreateProductInput!){createProduct(input:$i){id}}", {
            "i": {"translations": [{"languageCode": "en", "name": sku,
                                    "slug": f"order-{sku.lower()}", "description": ""}]}})
        return str(self.gql(
            "mutation($i:[CreateProductVariantInput!]!){createProductVariants(input:$i){id}}",
            {"i": [{"productId": product["createProduct"]["id"], "sku": sku, "price": price,
                    "stockOnHand": stock, "translations": [
                        {"languageCode": "en", "name": sku}]}]})["createProductVariants"][0]["id"])

    def _order_setup(self) -> tuple[str, str]:
        """A free shipping method and a customer, made on first use: a draft order
        cannot leave Draft without both."""
        if "shipping_method" not in self.ids:
            method = self.gql(
                "mutation($i:CreateShippingMethodInput!){createShippingMethod(input:$i){id}}",
                {"i": {"code": "test-shipping", "fulfillmentHandler": "manual-fulfillment",
                       "translations": [{"languageCode": "en", "name": "Test shipping",
                                         "description": ""}],
                       "checker": {"code": "default-shipping-eligibility-checker",
                                   "arguments": [{"name": "orderMinimum", "value": "0"}]},
                       "calculator": {"code": "default-shipping-calculator", "arguments": [
                           {"name": "rate", "value": "0"},
                           {"name": "includesTax", "value": "auto"},
                           {"name": "taxRate", "value": "0"}]}}})
            customer = self.gql(
                "mutation($i:CreateCustomerInput!){createCustomer(input:$i){"
                "...on Customer{id} ...on ErrorResult{message}}}",
                {"i": {"emailAddress": "buyer@example.com", "firstName": "Test",
                       "lastName": "Buyer"}})
            self.ids["shipping_method"] = method["createShippingMethod"]["id"]
            self.ids["customer"] = _ok(customer["createCustomer"])["id"]
        return self.ids["shipping_method"], self.ids["customer"]

    ORDER = ("id code state active orderPlacedAt updatedAt "
             "lines{id quantity orderPlacedQuantity productVariant{sku}}")

    def place_order(self, lines: list[tuple[str, int]],
                    state: str = "PaymentSettled",
                    address: dict[str, Any] | None = None) -> dict[str, Any]:
        """An order for ``[(sku, qty), ...]`` through the Admin API's draft-order flow
        (variants are created when missing). ``state``: ``PaymentSettled`` (placed and
        paid with a manual payment: Vendure allocates the stock), ``ArrangingPayment``
        (checked out, not placed) or ``Draft``. Returns the order (``ORDER`` fields)
        plus ``line_ids``: sku -> order line id. ``address`` (``CreateAddressInput``):
        the order's shipping and billing address."""
        method, customer = self._order_setup()
        variants = [(self.ensure_variant(sku), qty) for sku, qty in lines]
        oid = self.gql("mutation{createDraftOrder{id}}")["createDraftOrder"]["id"]
        for vid, qty in variants:
            _ok(self.gql("mutation($o:ID!,$i:AddItemToDraftOrderInput!){addItemToDraftOrder("
                         "orderId:$o,input:$i){...on Order{id} ...on ErrorResult{message}}}",
                         {"o": oid, "i": {"productVariantId": vid, "quantity": qty}}
                         )["addItemToDraftOrder"])
        for which in ("Shipping", "Billing") if address else ():
            self.gql(f"mutation($o:ID!,$i:CreateAddressInput!){{setDraftOrder{which}Address("
                     "orderId:$o,input:$i){id}}", {"o": oid, "i": address})
        if state != "Draft":
            _ok(self.gql("mutation($o:ID!,$c:ID!){setCustomerForDraftOrder(orderId:$o,"
                         "customerId:$c){...on Order{id} ...on ErrorResult{message}}}",
                         {"o": oid, "c": customer})["setCustomerForDraftOrder"])
            _ok(self.gql("mutation($o:ID!,$s:ID!){setDraftOrderShippingMethod(orderId:$o,"
                         "shippingMethodId:$s){...on Order{id} ...on ErrorResult{message}}}",
                         {"o": oid, "s": method})["setDraftOrderShippingMethod"])
            self.transition_order(oid, "ArrangingPayment")
        if state == "PaymentSettled":
            paid = _ok(self.gql(
                "mutation($i:ManualPaymentInput!){addManualPaymentToOrder(input:$i){"
                "...on Order{id state} ...on ErrorResult{message}}}",
                {"i": {"orderId": oid, "method": "manual", "metadata": {},
                       "transactionId": f"test-{oid}"}})["addManualPaymentToOrder"])
            if paid["state"] != "PaymentSettled":  # 3.7 moves the order on by itself
                self.transition_order(oid, "PaymentSettled")
        elif state not in ("Draft", "ArrangingPayment"):
            raise ValueError(f"place_order cannot stop at {state!r}")
        return self.order(oid)

    def transition_order(self, order_id: str, state: str) -> dict[str, Any]:
        return _ok(self.gql(
            "mutation($o:ID!,$s:String!){transitionOrderToState(id:$o,state:$s){...on Order{"
            + self.ORDER + "} ...on OrderStateTransitionError{message transitionError}}}",
            {"o": order_id, "s": state})["transitionOrderToState"])

    def order(self, order_id: str) -> dict[str, Any]:
        """The order as Vendure holds it, plus ``line_ids`` (sku -> order line id)."""
        o = self.gql("query($o:ID!){order(id:$o){" + self.ORDER + "}}", {"o": order_id})["order"]
        o["line_ids"] = {li["productVariant"]["sku"]: li["id"] for li in o["lines"]}
        return o

    def cancel_order(self, order_id: str,
                     lines: list[tuple[str, int]] | None = None) -> dict[str, Any]:
        """Cancel a placed order: every unit (``lines`` None; the order becomes
        Cancelled) or ``[(sku, qty), ...]`` of it (Vendure lowers those lines'
        quantity and releases their stock). Returns the order as ``order()`` does."""
        inp: dict[str, Any] = {"orderId": order_id, "reason": "test"}
        if lines is not None:
            ids = self.order(order_id)["line_ids"]
            inp["lines"] = [{"orderLineId": ids[sku], "quantity": qty} for sku, qty in lines]
        _ok(self.gql("mutation($i:CancelOrderInput!){cancelOrder(input:$i){...on Order{id} "
                     "...on ErrorResult{message}}}", {"i": inp})["cancelOrder"])
        return self.order(order_id)


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    """A mutation's answer, or RuntimeError when Vendure returned an ErrorResult."""
    if "message" in result:
        raise RuntimeError(f"Vendure refused: {result}")
    return result
