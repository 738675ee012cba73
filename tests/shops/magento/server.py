"""The HTTP side of the loopback Magento: ``/rest/<store>/…`` routed through the
store scope (:mod:`.stores`) to the resource modules' ``ROUTES``; bearer token (a
wrong one is 401 "The consumer isn't authorized to access %resources."); JSON
bodies (a broken one is 400 "Decoding error"); the shared fault switchboard; and a
host-style rate limit (``rate_limit(burst, per_second)``: 429 with Retry-After, as
hosts in front of Magento do; core Magento has none).
"""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from shops.faults import Faults, hang_up
from shops.magento.base import TOKEN, MagentoError, no_route
from shops.magento.bulk import Bulk
from shops.magento.prices import Prices
from shops.magento.shipments import Shipments


class MagentoServer(Bulk, Prices, Shipments):
    def __init__(self, token: str = TOKEN, **options: Any):
        """Options: ``store_views`` (code -> website code; default one store view
        ``default`` in website ``base``), ``price_scope`` (global or website),
        ``unknown_skus``, ``input_limit``, ``async_input_limit``, ``sources``."""
        super().__init__(**options)
        self.token = token
        self.throttled = 0
        self.writes: list[str] = []  # "METHOD /path" of every request that may change data
        self.faults = Faults()
        self._bucket: tuple[float, float] | None = None  # (burst, per second)
        self._tokens = 0.0
        self._refilled = 0.0
        self.routes = [(method, pattern.split("/"), handler)
                       for cls in type(self).__mro__ for method, pattern, handler
                       in cls.__dict__.get("ROUTES", ())]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.shop = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._threads = [threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                          daemon=True),
                         threading.Thread(target=self.work, daemon=True)]

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stop_work()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- rate limit ------------------------------------------------------------------

    def rate_limit(self, burst: int, per_second: float) -> None:
        with self.lock:
            self._bucket = (float(burst), per_second)
            self._tokens, self._refilled = float(burst), time.monotonic()

    def admit(self) -> float | None:
        """None when admitted, else seconds until a token is free."""
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

    # -- requests --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        segs = [unquote(s) for s in parts.path.split("/")[1:]]
        if not segs or segs[0] != "rest":
            raise no_route()
        scope, route = self.scope(segs[1:])
        resource = ("Magento_InventoryApi::source" if route[1:2] == ["inventory"]
                    else "Magento_Catalog::categories" if route[1:2] == ["categories"]
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
        query = dict(parse_qsl(parts.query))
        for verb, pattern, handler in self.routes:
            if verb != method or len(pattern) != len(route):
                continue
            params = [seg for p, seg in zip(pattern, route, strict=True) if p.startswith("{")]
            if all(p.startswith("{") or p == seg for p, seg in zip(pattern, route, strict=True)):
                result: tuple[int, Any] = getattr(self, handler)(scope, params, query, body)
                return result
        raise no_route()


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
            if self.command != "GET":
                shop.writes.append(f"{self.command} {self.path}")
        # A trailing space lets a fault's match end with the path ("PUT …/D26FW1002 ").
        fault = shop.faults.take(f"{self.command} {self.path} ")
        if fault and fault.kind == "drop":
            return hang_up(self)
        if fault and fault.kind == "fail":
            return self._send(fault.status, {"message": f"injected HTTP {fault.status}"},
                              fault.headers())
        wait = shop.admit()
        if wait is not None:
            with shop.lock:
                shop.throttled += 1
            return self._send(429, {"message": "Too Many Requests"},
                              {"Retry-After": str(max(1, math.ceil(wait)))})
        try:
            status, body = shop.handle(self.command, self.path, self.headers, raw)
        except MagentoError as e:
            status, body = e.status, e.body()
        if fault and fault.kind == "drop_after":
            return hang_up(self)
        self._send(status, body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

