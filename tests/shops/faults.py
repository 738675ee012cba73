"""The fault switchboard every loopback shop (and the Vendure proxy) shares.

A test queues trouble for the next requests; each request takes the first queued
fault whose ``match`` is part of its ``"METHOD /path"`` (an empty match takes any
request), in the order the test asked for them:

- ``fail(n, status, retry_after)``: answer with ``status`` (and a Retry-After
  header) without handling the request; the server renders the body in its shop's
  error format.
- ``slow(n, seconds)``: wait, then handle the request normally.
- ``drop(n)``: close the connection without an answer; nothing is applied.
- ``drop(n, after=True)`` or ``drop_after(n)``: handle (apply) the request, then
  close the connection: the change landed but the client never hears so.
- ``ok(n)``: let ``n`` requests through untouched, to aim a later fault.
- ``hold(n, gate)``: wait until the test sets ``gate`` (a threading.Event), then
  handle the request normally; ``holding`` is set while a request waits. A test
  keeps a client's work in flight for as long as it needs, whatever the machine's
  speed, instead of guessing a delay.

``queue`` is the pending faults (``faults.queue.clear()`` or ``faults.clear()``
lifts them); :meth:`take` is what a server calls once per request.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler


@dataclass(frozen=True)
class Fault:
    kind: str  # fail, slow, drop, drop_after, ok, hold
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0
    match: str = ""
    gate: threading.Event | None = None  # a hold's

    def headers(self) -> dict[str, str]:
        """The Retry-After header of a ``fail``, when the test gave one."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class Faults:
    """Injected trouble, consumed one request at a time in the order it was asked for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[Fault] = []
        self.holding = threading.Event()  # a held request is waiting for its gate

    def fail(self, n: int, status: int = 503, retry_after: float | None = None,
             match: str = "") -> None:
        self._add(n, Fault("fail", status=status, retry_after=retry_after, match=match))

    def slow(self, n: int, seconds: float, match: str = "") -> None:
        self._add(n, Fault("slow", seconds=seconds, match=match))

    def drop(self, n: int, after: bool = False, match: str = "") -> None:
        self._add(n, Fault("drop_after" if after else "drop", match=match))

    def drop_after(self, n: int, match: str = "") -> None:
        self.drop(n, after=True, match=match)

    def hold(self, n: int, gate: threading.Event, match: str = "") -> None:
        self._add(n, Fault("hold", gate=gate, match=match))

    def ok(self, n: int, match: str = "") -> None:
        self._add(n, Fault("ok", match=match))

    def clear(self) -> None:
        with self.lock:
            self.queue.clear()

    def _add(self, n: int, fault: Fault) -> None:
        with self.lock:
            self.queue.extend([fault] * n)

    def take(self, request: str = "") -> Fault | None:
        """The fault for this request (``"METHOD /path"``), removed from the queue;
        a ``slow`` or a ``hold`` has already been waited out when it returns."""
        with self.lock:
            fault = next((f for f in self.queue if f.match in request), None)
            if fault is not None:
                self.queue.remove(fault)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.gate is not None:
            self.holding.set()
            fault.gate.wait(timeout=300)  # a test that never opens it must not hang CI
        return fault


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Close the client's connection without an answer (a drop)."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
