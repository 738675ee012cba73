"""The shared-stock work a profile does besides reading files: pulling the shops'
orders, writing movement files for the ERP, reconciling, and the timetable that
``filebridge watch`` runs them on."""

from __future__ import annotations

import logging
from typing import Any

from filebridge import alerts
from filebridge.errors import Bug, SinkError
from filebridge.ledger.documents import DocumentRows
from filebridge.options import expand_env
from filebridge.orders.base import OrderLine
from filebridge.orders.doc_files import DocumentFiles, DocumentWriter
from filebridge.orders.doc_files import record as record_documents
from filebridge.registry import REGISTRY
from filebridge.schedule import ScheduledJob
from filebridge.stock.jobview import StockJob
from filebridge.stock.movements import MovementWriter
from filebridge.stock.push import push_availability
from filebridge.stock.reconcile import reconcile

log = logging.getLogger("filebridge")


def timetable(job: StockJob) -> list[ScheduledJob]:
    """The profile's time-based jobs, for the watcher's scheduler."""
    spec = getattr(job.profile, "stock", None)
    if spec is None or spec.role != "figures":
        return []
    plan = spec.schedule
    jobs = []
    if plan.orders is not None:
        jobs.append(ScheduledJob("orders", plan.orders, lambda when: on_orders(
            job, feedback=plan.feedback is None and spec.feedback is not None)))
    if plan.feedback is not None and spec.feedback is not None:
        jobs.append(ScheduledJob("feedback", plan.feedback,
                                 lambda when: on_orders(job, feedback=True)))
    if plan.reconcile is not None:
        jobs.append(ScheduledJob("reconcile", plan.reconcile,
                                 lambda when: on_reconcile(job, plan.correct)))
    return jobs


def on_orders(job: StockJob, feedback: bool) -> None:
    """Pull the shops' orders; write a movement file if asked and something moved;
    log movements the ERP is late to acknowledge."""
    n = pull_orders(job)
    inv = job.inventory
    if inv is None:
        raise Bug("expected a stock profile with its inventory")
    if feedback and (n or inv.unexported()):
        movement_writer(job).write()
    if _documents(job) is not None:
        document_writer(job).write()
    late = inv.overdue() if inv.spec.erp_knows == "acknowledged" else []
    for m in late:
        log.warning("%s: movement %d (%s %s %+d, order %s) in file %s is not acknowledged "
                    "by the ERP", job.name, m.id, m.kind, m.sku, m.qty, m.order, m.seq)
    alerts.overdue(job, late)


def on_reconcile(job: StockJob, correct: bool) -> None:
    """Compare and (if asked) correct; drift is logged as a warning."""
    for r in reconcile(job, correct):
        level = logging.WARNING if r.drifting or r.error or r.oversold else logging.INFO
        log.log(level, "%s: reconcile %s: %d SKUs, %d drifting%s, %d oversold (%d units)%s",
                job.name, r.sink, len(r.lines), len(r.drifting),
                f", {r.corrected} corrected" if correct else "", len(r.oversold),
                sum(x.oversold for x in r.oversold), f"; {r.error}" if r.error else "")


def movement_writer(job: StockJob) -> MovementWriter:
    """The writer of the profile's movement files for the ERP."""
    stock = job.profile.stock
    if job.inventory is None or stock is None or stock.feedback is None:
        raise Bug("expected a stock profile with its inventory and feedback")
    from filebridge.feedback import erp_zone

    return MovementWriter(job.inventory, stock.feedback, job.profile.base, job.delivery,
                          erp_zone(job.profile))


def document_writer(job: StockJob) -> DocumentWriter:
    """The writer of the profile's order documents for the ERP."""
    documents = _documents(job)
    if job.inventory is None or documents is None:
        raise Bug("expected a stock profile with its inventory and documents")
    from filebridge.feedback import erp_zone

    return DocumentWriter(job.inventory.name, DocumentRows(job.ledger, job.inventory.name),
                          documents, job.profile.base, job.delivery, erp_zone(job.profile))


def _documents(job: StockJob) -> DocumentFiles | None:
    """The profile's ``stock.documents`` (None: no order documents)."""
    return getattr(getattr(job.profile, "stock", None), "documents", None)


def pull_orders(job: StockJob, push: bool = True, moved: set[str] | None = None) -> int:
    """Record what the shops sold (or cancelled) since the last pull; the number
    of movements. A shop that cannot be read is logged and left for next time.

    With ``push``, the new availability of the SKUs that moved then goes to every
    stock sink of the profile, the shop the order came from included
    (:mod:`filebridge.stock.push`). The SKUs that moved are added to ``moved``."""
    moved = set() if moved is None else moved
    if job.inventory is None or not job.inventory.spec.orders:
        return 0
    n = 0
    pulled: set[tuple[str, str]] = set()
    # With stock.documents, the pullers that also read whole orders (filebridge/orders/
    # doc_*.py): one pull, one cursor, the documents recorded with each page's lines.
    docs = DocumentRows(job.ledger, job.inventory.name) if _documents(job) is not None else None
    for shop in job.own_shops.values():
        cls = REGISTRY.find("puller", shop.sink.o.format)
        if docs is not None:
            cls = REGISTRY.find("documents", cls.name) or cls if cls is not None else None
        # One shop written at several locations (a sink each) has one set of orders:
        # pulled once, under the first sink's id, or each sale would count twice.
        where = (shop.sink.o.format, expand_env(str(shop.sink.o.url)).rstrip("/"))
        if cls is None or where in pulled:
            continue
        pulled.add(where)
        source, puller = f"web:{shop.id}", cls(shop.sink.o)
        try:
            for lines, cursor in puller.pull(job.inventory.cursor(source)):
                lines = _ties_read_again(job.inventory, source, puller, lines)
                n += job.inventory.record_orders(source, lines, moved)
                if docs is not None and hasattr(puller, "take"):
                    record_documents(docs, source, puller.take())
                job.inventory.set_cursor(source, cursor)
        except SinkError as e:
            log.warning("%s: orders from %s: %s; pulled again next time", job.name,
                        shop.id, e)
        finally:
            puller.close()
    if push:
        push_availability(job, moved)
    return n


def _ties_read_again(inv: Any, source: str, puller: Any, lines: list[OrderLine]
                     ) -> list[OrderLine]:
    """Orders of a page whose change time equals the one recorded, read again from
    the shop. The shops' change times have whole seconds: a page read before a
    webhook recorded a newer state of the same second looks as new as that state,
    and applied it would take the sale back (and the next pull make it again), so
    such an order is taken as the shop has it now, as a webhook's tie is
    (filebridge/webhooks.py); only when the page's units differ from those
    recorded (else recording it changes nothing, and the shop is not asked: an
    order a webhook recorded comes back once in the next pull's window). Shops
    without webhooks have no ``order`` reader and no such race: their pulls are
    one at a time under the lease."""
    read = getattr(puller, "order", None)
    if read is None or not lines:
        return lines
    orders: dict[str, list[OrderLine]] = {}
    for ln in lines:
        orders.setdefault(ln.order, []).append(ln)
    out: list[OrderLine] = []
    for oid, found in orders.items():
        was = inv.order_changed(source, oid)
        if was is not None and found[0].changed == was and \
                {ln.line: ln.qty for ln in found} != inv.order_units(source, oid):
            now = read(oid)
            found = found if now is None else now
        out += found
    return out
