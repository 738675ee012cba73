"""The shops' order webhooks: a sale counts in seconds, not at the next pull.

A webhook is checked, then recorded exactly as a pull records the same order: the
puller's own conversion of one order into lines (so the same order, line ids and
quantities), into the same ledger rows under the same source (``web:<first sink of
that shop>``, as :func:`filebridge.stock.jobs.pull_orders` names it). Only a
difference in units becomes a movement, and a line is never set back to an older
state of its order (``Inventory.record_orders``), so retries, out-of-order
deliveries and the scheduled pull (the catch-up for anything a webhook missed)
never count a sale twice. The availability of the SKUs that moved is then pushed
to every shop (:mod:`filebridge.stock.push`) by a worker, after the answer.

The ERP hears of it in seconds too, when the profile writes movement files
(``stock.feedback``) after its pulls (no ``schedule.feedback`` of its own): the
same worker writes one through the profile's
:class:`~filebridge.stock.movements.MovementWriter` (its sequence numbers, pending files
written again until delivered, acknowledgements as for any movement file)
``FILE_AFTER`` seconds after the first movement a webhook recorded, so a burst of
webhooks makes one file. It writes under the profile's lease, as ``watch``,
``feedback`` and a file's run write theirs: one writer at a time over the one
ledger, which ties every movement to one file number in one transaction (a
movement already tied to a file is never tied to another), so ``serve`` and
``watch`` running at once neither repeat nor skip a movement.

Signatures (a bad or missing one is refused; a body is never logged):

- Shopify: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body,
  keyed with the app's client secret [doc: shopify.dev/docs/apps/build/webhooks/
  subscribe/https, "Verify the webhook"]. The body is the REST shape of the order,
  whose ids are not the GraphQL ids a pull records, so only the order's id is taken
  from it (``admin_graphql_api_id``, or ``order_id`` for ``refunds/create``) and the
  order is read again through the puller: a late delivery reads the order as it is
  now. Shopify expects an answer within 5 s and retries otherwise.
- WooCommerce: ``X-WC-Webhook-Signature`` is ``base64_encode(hash_hmac('sha256',
  $body, $secret, true))`` of the JSON body as sent; the body is the REST API's
  ``/wc/v3/orders/<id>`` data [code: woocommerce/woocommerce,
  plugins/woocommerce/includes/class-wc-webhook.php ``generate_signature``,
  ``deliver``, ``build_payload``/``get_wp_api_payload``; commit 00e1bc4d], so it is
  converted by the puller directly. Its ``date_modified_gmt`` has whole seconds: a
  delivery whose time equals the one recorded (a retry, or a second change in the
  same second) is read again from the shop rather than trusted. When a webhook is
  saved WooCommerce posts an unsigned ``webhook_id=<id>`` ping and activates the
  webhook only on a 200 (``deliver_ping``): that exact body is answered 200 and
  records nothing.
- Magento and Vendure are not served: Magento Open Source posts no order webhooks
  of its own (Adobe's webhooks are an Adobe Commerce service, not part of Open
  Source), and Vendure's order events (``OrderStateTransitionEvent`` on its
  ``EventBus``) stay inside its server unless a plugin of ours posted them; both
  stay on the scheduled pull, which stays the catch-up for the others too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from filebridge.errors import LedgerError, SinkError
from filebridge.options import expand_env
from filebridge.orders.base import OrderLine
from filebridge.registry import REGISTRY
from filebridge.stock.inventory import Inventory

if TYPE_CHECKING:
    from filebridge.job import Job

log = logging.getLogger("filebridge")

HEADERS = {"shopify_api": "x-shopify-hmac-sha256", "woocommerce_api": "x-wc-webhook-signature"}
TOPIC = {"shopify_api": "x-shopify-topic", "woocommerce_api": "x-wc-webhook-topic"}
# Topics that change an order's units; others are answered 200 and left alone.
ORDER_TOPICS = {
    "shopify_api": {"orders/create", "orders/updated", "orders/cancelled", "orders/edited",
                    "orders/paid", "refunds/create"},
    "woocommerce_api": {"order.created", "order.updated", "order.restored"},
}
WOO_PING = re.compile(rb"webhook_id=\d+")
# Seconds from the first movement a webhook recorded to the movement file that takes
# it (and every other one recorded meanwhile) to the ERP; and, when writing failed,
# to the next try (the pending file is written again, same number).
FILE_AFTER = 1.0
FILE_RETRY = 30.0
# After a pass, the worker leaves the profile's lease free as long as it held it, up
# to LEASE_GAP seconds: a watcher takes the lease only when it finds it free (it
# does not wait), so a steady stream of webhooks must not hold it without a break,
# or the scheduled pull (the catch-up for orders no webhook told) would wait for the
# stream to end. A lone sale after a short pass waits only that long.
LEASE_GAP = 0.25


class Refused(Exception):
    """The request is not the shop's: answered 401."""


class BadBody(Exception):
    """Signed, but not an order webhook we can read: answered 400."""


class Unknown(Exception):
    """No such profile or webhook sink: answered 404."""


def signature(secret: str, body: bytes) -> str:
    """What both shops send: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Outcome:
    status: int
    text: str
    movements: int = 0


@dataclass
class Hook:
    """One webhook endpoint: a shop API sink of a stock profile."""

    job: Job
    sink: Any
    source: str  # the ledger's source for the shop's orders, as the pull names it
    fmt: str
    inventory: Inventory  # the job's, on a connection of its own (see Webhooks)

    def secret(self) -> str | None:
        s = getattr(self.sink.o, "webhook_secret", None)
        return s.reveal() if s is not None else None


@dataclass
class _Pusher:
    """Pushes what moved, after the answer: one worker per profile, the SKUs of
    every webhook that came in meanwhile in one push, under the profile's lease (a
    watcher's pass over the same profile is waited for). With ``files``, it also
    writes the movement file for the ERP ``FILE_AFTER`` seconds after the first
    movement not yet in one (on stopping: at once)."""

    job: Job
    files: bool = False
    skus: set[str] = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)
    stop: bool = False
    busy: bool = False
    due: float | None = None  # monotonic time the next movement file is due
    free_until: float = 0.0  # monotonic time the lease is left free until (LEASE_GAP)
    thread: threading.Thread | None = None

    def add(self, skus: set[str]) -> None:
        with self.cond:
            self.skus |= skus
            if self.files and self.due is None:
                self.due = time.monotonic() + FILE_AFTER
            self.cond.notify()

    def _ready(self) -> bool:
        """Something to do now (under ``cond``)."""
        return bool(self.skus) or (self.due is not None
                                   and (self.stop or time.monotonic() >= self.due))

    def run(self) -> None:
        while True:
            with self.cond:
                while not self.stop:
                    now = time.monotonic()
                    ready = self._ready()
                    if ready and now >= self.free_until:
                        break
                    until = self.free_until if ready else self.due
                    self.cond.wait(None if until is None else max(0.0, until - now))
                if not self._ready():
                    return
                todo, self.skus, self.busy = self.skus, set(), True
                started = time.monotonic()
                write = self.due is not None and (self.stop or time.monotonic() >= self.due)
                if write:
                    self.due = None
            try:
                with self.job.lease.hold(wait=None):
                    if todo:
                        self._push(todo)
                    if write:
                        self._write()
            except Exception as e:  # noqa: BLE001  (the lease: the next webhook tries again)
                log.warning("%s: after webhooks: %s", self.job.name, e)
            finally:
                with self.cond:
                    self.busy = False
                    now = time.monotonic()
                    self.free_until = now + min(LEASE_GAP, now - started)
                    self.cond.notify_all()

    def _push(self, skus: set[str]) -> None:
        from filebridge.stock.push import push_availability

        try:
            push_availability(self.job, skus)
        except Exception as e:  # noqa: BLE001  (the next webhook or pull pushes again)
            log.warning("%s: pushing availability after webhooks: %s", self.job.name, e)

    def _write(self) -> None:
        """The movement file(s): pending ones again, then one with every movement
        not yet in a file (a pull's or a watcher's too: one ledger)."""
        try:
            self.job.movement_writer().write()
        except Exception as e:  # noqa: BLE001  (retried; the pending file keeps its number)
            log.warning("%s: movement file after webhooks: %s; tried again in %gs",
                        self.job.name, e, FILE_RETRY)
            with self.cond:
                if self.due is None and not self.stop:
                    self.due = time.monotonic() + FILE_RETRY

    def idle(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: not self.skus and not self.busy
                                      and self.due is None, timeout)


class Webhooks:
    """The webhook endpoints of some profiles, independent of the web framework
    (:mod:`filebridge.serve` mounts them): ``handle(profile, sink, headers, body)``."""

    def __init__(self, jobs: list[Job]):
        from filebridge.orders import load_pullers

        load_pullers()
        self.hooks: dict[tuple[str, str], Hook] = {}
        self.pushers: dict[str, _Pusher] = {}
        self.locks: dict[str, threading.Lock] = {}
        for job in jobs:
            if job.inventory is None or not job.inventory.spec.orders:
                continue
            # Orders are recorded on a ledger connection of their own: the pusher works on
            # the job's, and two threads interleaving statements on one sqlite
            # connection break each other's transactions (see the lease heartbeat).
            inv = Inventory(job.ledger.sibling(), job.inventory.spec)
            first: dict[tuple[str, str], str] = {}
            for shop in job.own_shops.values():
                fmt = shop.sink.o.format
                if fmt not in HEADERS:
                    continue
                # A shop written at several locations is pulled under its first sink:
                # its webhooks record under that same source, whichever sink they name.
                where = (fmt, expand_env(str(shop.sink.o.url)).rstrip("/"))
                source = f"web:{first.setdefault(where, shop.id)}"
                if getattr(shop.sink.o, "webhook_secret", None) is not None:
                    self.hooks[(job.name, shop.id)] = Hook(job, shop.sink, source, fmt,
                                                             inv)
            # Movement files follow the orders when no schedule of their own says when
            # (as after a scheduled pull: filebridge/stock/jobs.py timetable).
            spec = job.inventory.spec
            self.pushers[job.name] = _Pusher(job, files=spec.feedback is not None
                                             and spec.schedule.feedback is None)
            self.locks[job.name] = threading.Lock()

    def routes(self) -> list[tuple[str, str]]:
        """(profile, sink id) of every endpoint."""
        return sorted(self.hooks)

    def start(self) -> None:
        for p in self.pushers.values():
            p.thread = threading.Thread(target=p.run, name=f"push:{p.job.name}", daemon=True)
            p.thread.start()

    def close(self) -> None:
        for p in self.pushers.values():
            with p.cond:
                p.stop = True
                p.cond.notify_all()
            if p.thread is not None:
                p.thread.join(timeout=30)

    def idle(self, timeout: float = 30) -> bool:
        """Every push asked for so far is done (for tests and the bench)."""
        return all(p.idle(timeout) for p in self.pushers.values())

    def handle(self, profile: str, sink: str, headers: dict[str, str], body: bytes) -> Outcome:
        """Check and record one delivery. ``headers`` with lower-case names. Never
        logs or echoes the body."""
        hook = self.hooks.get((profile, sink))
        if hook is None:
            raise Unknown(f"no webhooks for {profile}/{sink}")
        sent = headers.get(HEADERS[hook.fmt])
        if hook.fmt == "woocommerce_api" and sent is None and WOO_PING.fullmatch(body):
            log.info("%s: %s: WooCommerce webhook ping", profile, sink)
            return Outcome(200, "pong")
        try:
            secret = hook.secret()
        except LookupError as e:  # the file or variable went away since start: say so
            log.warning("%s: %s: webhook secret: %s", profile, sink, e)
            return Outcome(503, "the webhook secret cannot be read")
        if not sent or not secret or not hmac.compare_digest(sent.encode(),
                                                             signature(secret, body).encode()):
            log.warning("%s: %s: webhook refused: %s signature", profile, sink,
                        "bad" if sent else "no")
            raise Refused("bad or missing signature")
        topic = headers.get(TOPIC[hook.fmt], "")
        if topic not in ORDER_TOPICS[hook.fmt]:
            log.info("%s: %s: webhook %s ignored", profile, sink, topic or "without a topic")
            return Outcome(200, "ignored")
        moved: set[str] = set()
        with self.locks[profile]:  # one order's fetch and record at a time per profile
            try:
                order, lines, docs = self._lines(hook, topic, body)
                if lines is None:
                    log.info("%s: %s: webhook %s: order %s unknown to the shop", profile,
                             sink, topic, order)
                    return Outcome(200, "unknown order")
                n = hook.inventory.record_orders(hook.source, lines, moved)
                if docs:  # stock.documents: the order as a document too (doc_files.record)
                    from filebridge.ledger.documents import DocumentRows
                    from filebridge.orders.doc_files import record

                    record(DocumentRows(hook.inventory.ledger, hook.inventory.name),
                           hook.source, docs)
            except BadBody as e:
                log.warning("%s: %s: webhook %s: %s", profile, sink, topic, e)
                return Outcome(400, str(e))
            except (SinkError, LedgerError) as e:  # nothing recorded: the shop retries
                log.warning("%s: %s: webhook %s: %s", profile, sink, topic, e)
                return Outcome(503, "not recorded; retry")
        log.info("%s: %s: webhook %s, order %s: %d movements", profile, sink, topic, order, n)
        if moved:
            self.pushers[profile].add(moved)
        return Outcome(200, "ok", n)

    def _lines(self, hook: Hook, topic: str, body: bytes
               ) -> tuple[str, list[OrderLine] | None, list[Any]]:
        """The order's id, its lines as the puller converts them (None: unknown to the
        shop) and, for a profile with stock.documents, the order as a document."""
        try:
            payload = json.loads(body)
        except ValueError:
            raise BadBody("the body is not JSON") from None
        if not isinstance(payload, dict):
            raise BadBody("the body is not a JSON object")
        cls = REGISTRY.get("puller", hook.fmt)
        if getattr(getattr(hook.job.profile, "stock", None), "documents", None) is not None:
            cls = REGISTRY.find("documents", hook.fmt) or cls
        puller = cls(hook.sink.o)
        take = getattr(puller, "take", list)
        try:
            if hook.fmt == "shopify_api":
                gid = _shopify_order(topic, payload)
                return gid, puller.order(gid), take()
            oid = str(payload.get("id") or "")
            if not oid.isdigit():
                raise BadBody("the webhook's order has no id")
            try:
                lines = puller.convert(payload)
            except (KeyError, TypeError, ValueError) as e:
                raise BadBody(f"the order cannot be read ({type(e).__name__})") from None
            was = hook.inventory.order_changed(hook.source, oid)
            if lines and was is not None and lines[0].changed == was:
                take()  # the body's own state is read again: its document with it
                lines = puller.order(oid)
            return oid, lines, take()
        finally:
            puller.close()


def _shopify_order(topic: str, payload: dict[str, Any]) -> str:
    """The order's GraphQL id from a webhook body (REST shape)."""
    if topic == "refunds/create":
        oid = payload.get("order_id")
    else:
        gid = payload.get("admin_graphql_api_id")
        if isinstance(gid, str) and gid.startswith("gid://shopify/Order/"):
            return gid
        oid = payload.get("id")
    if not str(oid or "").isdigit():
        raise BadBody(f"the {topic} webhook names no order")
    return f"gid://shopify/Order/{oid}"
