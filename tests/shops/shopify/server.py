"""The HTTP side of the loopback Shopify: routes, auth, API versions, the GraphQL
pipeline and the calculated-cost leaky bucket.

Pipeline of ``POST /admin/api/{version}/graphql.json`` (each step's refusal is what
Shopify answers at that step):

1. Version: ``YYYY-01|04|07|10`` or ``unstable``; anything else is 404
   ``{"errors": "Not Found"}`` (as recorded from Shopify for a wrong version). The
   answer carries ``X-Shopify-API-Version``. Shopify forwards a retired version to the
   oldest supported one; this server has no calendar, so an old version keeps its
   old schema and its requests fail the way they failed while it was current.
2. ``X-Shopify-Access-Token``; wrong: 401 ``{"errors": "[API] Invalid API key or
   access token (unrecognized login or wrong password)"}``. No ``query``: 400.
3. Parse and validate: syntax errors, fields unknown on QueryRoot/Mutation
   (``undefinedField``), arguments and types the version does not have
   (``argumentNotAccepted``, ``variableRequiresValidType``, ``undefinedDirective``),
   a non-null variable missing (INVALID_VARIABLE), a connection without ``first`` or
   ``last`` or above 250. These answers carry no ``extensions.cost`` (the query never
   ran), as recorded Shopify answers to syntax errors show.
4. Cost [doc: shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits]: the
   requested cost (:mod:`shops.graphql`); above 1000 is MAX_COST_EXCEEDED whatever the
   bucket; the bucket must hold the requested cost, else THROTTLED. The bucket holds
   ``maximum_available`` points and refills at ``restore_rate`` per second: the
   default is the Standard plan, 100 points/second [doc] with a bucket of 2000 (the
   ``maximumAvailable`` Shopify reports with ``restoreRate`` 100; the docs give only the
   rate). Tests not about throttling may pass a faster ``restore_rate``.
5. Execute each root field with its resolver (``query_<field>`` /
   ``mutation_<field>`` of the resource modules), shape the answer to the selection
   (a field the server does not model is refused by name, never silently absent),
   compute the actual cost from the data, refund ``requested - actual``. Every
   executed or throttled answer carries ``extensions.cost`` with ``throttleStatus``.

Faults: the shared switchboard (:mod:`shops.faults`), ``server.faults``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from shops.faults import Faults, hang_up
from shops.graphql import (
    Coster,
    Field,
    Operation,
    SyntaxErr,
    Unsupported,
    flatten,
    page_size,
    parse,
    project,
)
from shops.shopify.base import FEATURES, TOKEN, Call, GqlError, has
from shops.shopify.bulk import Bulk
from shops.shopify.collections import Collections
from shops.shopify.fulfillments import Fulfillments
from shops.shopify.inventory import Inventory
from shops.shopify.markets import Markets
from shops.shopify.metafields import Metafields
from shops.shopify.products import Products
from shops.shopify.translations import Translations

GRAPHQL = re.compile(r"^/admin/api/([^/]+)/graphql\.json$")
VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
STANDARD = {"maximum_available": 2000.0, "restore_rate": 100.0}
FAST_RESTORE = 50_000.0  # points/second no plan has: for tests not about throttling
MAX_QUERY_COST = 1000
MAX_PAGE = 250
ROOT_TYPE = {"query": "QueryRoot", "mutation": "Mutation"}


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


def _static(message: str, code: str, **extra: Any) -> GqlError:
    return GqlError(message, code, **extra)


class ShopifyServer(Collections, Metafields, Markets, Translations, Products, Inventory, Bulk,
                    Fulfillments):
    """One store. ``with ShopifyServer() as shop:`` or ``start()``/``stop()``.

    ``locales``: the shop's languages, the primary first; ``price_lists``: {PriceList
    GID: currency}; ``channels``: the sales channels' publication names."""

    def __init__(self, token: str = TOKEN, *,
                 maximum_available: float = STANDARD["maximum_available"],
                 restore_rate: float = STANDARD["restore_rate"],
                 locations: tuple[str, ...] = ("Warehouse", "High Street"),
                 bulk_polls: int = 1, locales: tuple[str, ...] = ("en",),
                 price_lists: dict[str, str] | None = None,
                 channels: tuple[str, ...] = ("Online Store", "Point of Sale")):
        super().__init__(locations=locations, bulk_polls=bulk_polls, locales=locales,
                         price_lists=price_lists, channels=channels)
        self.kinds: Counter[str] = Counter()  # root field -> requests that asked for it
        self.token = token
        self.faults = Faults()
        self.requests = 0
        self.throttled = 0
        # Empty the bucket just before the next N queries (another app spent it): a
        # test that sets it sees throttling however slowly the client starts.
        self.drain_before = 0
        self.maximum, self.restore = float(maximum_available), float(restore_rate)
        self.available, self.refilled = self.maximum, time.monotonic()
        self.httpd: _Server | None = None

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> Self:
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

    # -- HTTP --------------------------------------------------------------------------

    def handle(self, h: _Handler, method: str) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        with self.lock:
            self.requests += 1
        fault = self.faults.take(f"{method} {h.path}")
        if fault and fault.kind == "drop":
            return hang_up(h)
        if fault and fault.kind == "fail":
            message = ("Exceeded 2 calls per second for api client. Reduce request rates to "
                       "resume uninterrupted service." if fault.status == 429 else
                       "Internal Server Error")
            return self._reply(h, fault.status, {"errors": message}, fault.headers())
        path = urlsplit(h.path).path
        m = GRAPHQL.match(path)
        headers: dict[str, str] = {}
        if method == "POST" and m and VERSION.match(m.group(1)):
            headers["X-Shopify-API-Version"] = m.group(1)
            status, payload = self._graphql(h, m.group(1), body)
        elif method == "POST" and path == "/staged-uploads":
            status, payload = self.upload(h.headers.get("Content-Type", ""), body)
        elif method == "GET" and path.startswith("/bulk-results/"):
            status, payload = self.results(path.rsplit("/", 1)[-1])
        else:
            status, payload = 404, {"errors": "Not Found"}
        if fault and fault.kind == "drop_after":  # applied, but the answer is lost
            return hang_up(h)
        self._reply(h, status, payload, headers)

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

    # -- GraphQL -------------------------------------------------------------------------

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
        try:
            op = parse(query)
            variables = self.validate(op, variables, version)
        except SyntaxErr as e:
            return 200, {"errors": [{"message": str(e), "locations": [{"line": 1,
                                                                       "column": 1}]}]}
        except GqlError as e:
            return 200, {"errors": [e.error]}
        with self.lock:
            for f in {f.name for f in flatten(op.selections, op.fragments)}:
                self.kinds[f] += 1
        coster = Coster(op, variables, {"nodes": "ids"})
        requested = coster.requested()
        with self.lock:
            self._refill()
            if self.drain_before:
                self.drain_before -= 1
                self.available = 0.0
            if requested > MAX_QUERY_COST:
                return 200, {"errors": [GqlError(
                    f"Query cost is {requested}, which exceeds the single query max cost "
                    f"limit ({MAX_QUERY_COST}).", "MAX_COST_EXCEEDED", cost=requested,
                    maxCost=MAX_QUERY_COST).error], "extensions": self._cost(requested, None)}
            if requested > self.available:
                self.throttled += 1
                return 200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": self._cost(requested, None)}
            self.available -= requested
            try:
                data = self.execute(op, variables, version)
            except GqlError as e:
                self.available += requested  # nothing ran: all refunded
                return 200, {"errors": [e.error], "extensions": self._cost(requested, 0)}
            actual = min(coster.actual(data), requested)
            self.available += requested - actual
            return 200, {"data": data, "extensions": self._cost(requested, actual)}

    def validate(self, op: Operation, variables: dict[str, Any], version: str
                 ) -> dict[str, Any]:
        """Static checks; returns the variables with their declared defaults."""
        if op.kind not in ROOT_TYPE:
            raise _static(f"Schema is not configured for {op.kind}s", "missingSubscription")
        out = dict(variables)
        for name, (type_, default) in op.variables.items():
            if type_.strip("[]!") == "ProductSetIdentifiers" and not has(
                    version, "productSet.identifier"):
                raise _static(f"ProductSetIdentifiers isn't a defined input type (on "
                              f"${name})", "variableRequiresValidType",
                              typeName="ProductSetIdentifiers", variableName=name)
            if out.get(name) is None and default is not None:
                out[name] = default
            if type_.endswith("!") and out.get(name) is None:
                raise GqlError(f"Variable ${name} of type {type_} was provided invalid value",
                               "INVALID_VARIABLE", value=None, problems=[
                                   {"path": [], "explanation": "Expected value to not be "
                                    "null"}])
        for f in flatten(op.selections, op.fragments):
            if getattr(self, f"{op.kind}_{f.name}", None) is None:
                raise _static(f"Field '{f.name}' doesn't exist on type '{ROOT_TYPE[op.kind]}'",
                              "undefinedField", typeName=ROOT_TYPE[op.kind], fieldName=f.name)
            if f.name == "productSet" and "identifier" in f.args and not has(
                    version, "productSet.identifier"):
                raise _static("Field 'productSet' doesn't accept argument 'identifier'",
                              "argumentNotAccepted", name="productSet", typeName="Field",
                              argumentName="identifier")
            if "idempotent" in f.directives and not has(version, "@idempotent"):
                raise _static("Directive @idempotent is not defined", "undefinedDirective",
                              directiveName="idempotent")
            self._check_pages(f, out)
        return out

    def _check_pages(self, f: Field, variables: dict[str, Any]) -> None:
        """Connections need ``first`` or ``last``, at most 250 (invented wording for the
        limit; the missing-argument wording is Shopify's)."""
        if f.selections and any(isinstance(s, Field) and s.name in ("nodes", "edges")
                                for s in f.selections):
            n = page_size(f, variables)
            if n is None:
                raise _static("you must provide one of first or last", "BAD_REQUEST")
            if n > MAX_PAGE or n < 0:
                raise _static(f"The page size ({n}) for {f.name} must be between 0 and "
                              f"{MAX_PAGE}.", "BAD_REQUEST")
        for s in f.selections:
            if isinstance(s, Field):
                self._check_pages(s, variables)

    def execute(self, op: Operation, variables: dict[str, Any], version: str
                ) -> dict[str, Any]:
        """Resolve every root field and shape the data to the selection."""
        data: dict[str, Any] = {}
        with self.lock:
            for f in flatten(op.selections, op.fragments):
                value = getattr(self, f"{op.kind}_{f.name}")(Call(version, op, f, variables))
                try:
                    data[f.key] = (project(f.selections, value, op, variables, f.name)
                                   if f.selections else value)
                except Unsupported as e:
                    raise GqlError(str(e), "undefinedField", typeName=e.parent,
                                   fieldName=e.name) from None
        return data

    def run(self, op: Operation, variables: dict[str, Any], version: str) -> dict[str, Any]:
        """One operation outside the bucket (a bulk operation's line)."""
        return self.execute(op, self.validate(op, variables, version), version)

    # -- generic roots -----------------------------------------------------------------

    def query_node(self, call: Call) -> dict[str, Any] | None:
        return self._node(call, str(call.arg("id", "")))

    def query_nodes(self, call: Call) -> list[dict[str, Any] | None]:
        ids = call.arg("ids")
        if not isinstance(ids, list):
            raise call.invalid("ids", [], "Expected value to not be null")
        if len(ids) > 250:
            from shops.shopify.base import too_many
            raise too_many("nodes", ["ids"], len(ids))
        return [self._node(call, i) for i in ids]

    def _node(self, call: Call, gid: str) -> dict[str, Any] | None:
        """A node by GID, resolved by the ``node_<Kind>`` method of its resource module."""
        parts = gid.split("/")
        resolver = getattr(self, f"node_{parts[-2]}", None) if len(parts) == 5 else None
        return resolver(call, gid) if resolver else None

    # -- the bucket ----------------------------------------------------------------------

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.refilled) * self.restore)
        self.refilled = now

    def _cost(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": {"maximumAvailable": self.maximum,
                                            "currentlyAvailable": int(self.available),
                                            "restoreRate": self.restore}}}


__all__ = ["FAST_RESTORE", "FEATURES", "STANDARD", "TOKEN", "ShopifyServer"]
