"""HTTP for the shop clients: one place for retries, backoff, Retry-After, rate
limits and turning a shop's error body into a message a person can act on.

Retried (with exponential backoff and jitter, or the shop's ``Retry-After``):
429, 408, 5xx, timeouts and dropped connections. Any other 4xx raises
:class:`PermanentSinkError` at once with the shop's own message. When the retries
run out the request raises :class:`RetryableSinkError`: the outbox keeps the
changes for the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.lazy import lazy
from filebridge.sinks.api.base import Limits

if TYPE_CHECKING:  # the real modules for the types; at run time, on first use
    import requests
    import tenacity
else:
    requests = lazy("requests")
    tenacity = lazy("tenacity")

log = logging.getLogger("filebridge")

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class _Again(Exception):
    """One attempt failed in a way worth repeating."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimit:
    """At most ``rate`` request starts per second, shared by every thread."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        if start > now:
            time.sleep(start - now)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_text(resp: requests.Response) -> str:
    """The shop's message from an error body: WordPress/WooCommerce ``message``,
    Magento ``message`` with ``%1``-style ``parameters``, GraphQL ``errors``."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300] or resp.reason
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list) and body["errors"]:
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                             for e in body["errors"])
        msg = body.get("message") or body.get("error") or ""
        params = body.get("parameters")
        if isinstance(params, dict):
            for k, v in params.items():
                msg = msg.replace(f"%{k}", str(v))
        elif isinstance(params, list):
            for i, v in enumerate(params, 1):
                msg = msg.replace(f"%{i}", str(v))
        code = body.get("code")
        return f"{msg} ({code})" if code and msg else str(msg or code or body)[:300]
    return str(body)[:300]


class Http:
    """A retrying, rate-limited HTTP client for one shop. Thread-safe: each thread
    keeps its own connection pool."""

    def __init__(self, base_url: str, limits: Limits, *, name: str,
                 headers: dict[str, str] | None = None, auth: Any = None,
                 describe: Callable[[requests.Response], str] = error_text):
        self.base = base_url.rstrip("/")
        self.limits = limits
        self.name = name
        self.headers = headers or {}
        self.auth = auth
        self.describe = describe
        self.rate = RateLimit(limits.rate)
        self.local = threading.local()
        self.sessions: list[requests.Session] = []
        self.lock = threading.Lock()

    def session(self) -> requests.Session:
        s = getattr(self.local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers.update(self.headers)
            s.auth = self.auth
            self.local.session = s
            with self.lock:
                self.sessions.append(s)
        return s

    def close(self) -> None:
        with self.lock:
            for s in self.sessions:
                s.close()
            self.sessions.clear()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = tenacity.wait_random_exponential(multiplier=0.2,
                                                   max=self.limits.max_backoff)(state)
        if isinstance(exc, _Again) and exc.retry_after is not None:
            return min(exc.retry_after, self.limits.max_backoff)
        return backoff

    def request(self, method: str, path: str, *, ok: Callable[[requests.Response], bool]
                | None = None, **kw: Any) -> requests.Response:
        """Send one request, retrying what is worth retrying. Returns a 2xx response
        (or one ``ok`` accepts); raises Permanent/RetryableSinkError otherwise."""
        url = self.url(path)
        kw.setdefault("timeout", self.limits.timeout)

        def attempt() -> requests.Response:
            self.rate.wait()
            try:
                resp = self.session().request(method, url, **kw)
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as e:
                raise _Again(f"{type(e).__name__}: {e}") from None
            if ok is not None and ok(resp):
                return resp
            if resp.status_code in RETRY_STATUS:
                raise _Again(f"HTTP {resp.status_code}: {self.describe(resp)}",
                             retry_after(resp.headers.get("Retry-After")))
            if resp.status_code >= 400:
                raise PermanentSinkError(f"{self.name}: {method} {path}: HTTP "
                                         f"{resp.status_code}: {self.describe(resp)}")
            return resp

        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(self.limits.retries + 1),
                                     wait=self._wait,
                            retry=tenacity.retry_if_exception_type(_Again), reraise=True,
                            before_sleep=self._log_retry)
        try:
            return retrying(attempt)
        except _Again as e:
            raise RetryableSinkError(f"{self.name}: {method} {path}: {e} (gave up after "
                                     f"{self.limits.retries + 1} attempts)") from None

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info("%s: %s; retrying in %.1fs", self.name, exc,
                 state.next_action.sleep if state.next_action else 0)

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        resp = self.request(method, path, json=body, **kw)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise RetryableSinkError(f"{self.name}: {method} {path}: the answer is not JSON: "
                                     f"{resp.text[:200]!r}") from None
