"""The output of a shipments profile: its rows, shipment by shipment, become
fulfilments in the shop through its :class:`~filebridge.shipments.base.Shipper`.

Streaming: rows of one order with the same shipment key that follow one another
are one shipment, sent when the next row starts another one (memory: one
shipment's rows). Every row is accounted for: sent (it is in a fulfilment made now),
unchanged (the ledger, or the shop itself, has that shipment line already) or
rejected with its line and field (unknown order, line or SKU, a quantity beyond
what is left to ship, a shipment the shop refuses). The rest of the file goes on.

Once: a shipment line is recorded in the ledger as soon as the shop has made the
fulfilment. A crash between the two leaves the line unrecorded; the next run finds
the shipment's tracking number among the shop's own fulfilments and counts it
unchanged instead of shipping it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from filebridge.crashpoints import crash_point
from filebridge.errors import PermanentSinkError
from filebridge.ledger import shipments as ledger_rows
from filebridge.records import Batch
from filebridge.shipments.base import Shipment, ShopLine, ShopOrder, ShopRefused
from filebridge.shipments.spec import ShipmentSpec
from filebridge.sinks.base import Sink

log = logging.getLogger("filebridge")

YES = {"1", "y", "yes", "true", "s", "si", "sì", "x", "delivered", "consegnato"}


@dataclass
class Row:
    ordinal: int
    line: int
    values: dict[str, Any]  # the input row as read, for its reject
    item: str  # line:<id> or sku:<sku>: how the file names the order line
    ref: str  # the line id or the SKU
    qty: int


@dataclass
class Group:
    order: str
    key: str
    tracking: str
    carrier: str
    date: str
    delivered: bool
    rows: list[Row] = field(default_factory=list)


class ShipmentSink(Sink):
    """Sends a shipments file to one shop (the profile's one API output)."""

    def __init__(self, options: Any, spec: ShipmentSpec, shipper: Any):
        super().__init__(options)
        self.spec = spec
        self.shipper = shipper
        self.group: Group | None = None
        self.sent_now = self.unchanged_now = 0

    def shutdown(self) -> None:
        self.shipper.close()

    def start(self, ctx: Any) -> None:
        super().start(ctx)
        self.group = None

    # -- rows ------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        s = self.spec
        ordinals = batch.index_array()
        lines = batch.lines.to_pylist()
        for i, rec in enumerate(batch.rows()):
            def refuse(fld: str, reason: str, i: int = i) -> None:
                self._rows().refuse(batch, i, fld, reason)

            order = _text(rec.get(s.order))
            if not order:
                refuse(s.order, f"{s.order} is empty: which order was shipped?")
                continue
            tracking = _text(rec.get(s.tracking)) if s.tracking else ""
            key = _text(rec.get(s.shipment)) if s.shipment else tracking
            if not key:
                refuse(s.shipment or s.tracking or s.order,
                       f"{s.shipment or s.tracking} is empty: a shipment needs its name "
                       "(delivery note or tracking number) to be sent once")
                continue
            line_ref = _text(rec.get(s.line)) if s.line else ""
            sku = _text(rec.get(s.sku))
            if not line_ref and not sku:
                refuse(s.line or s.sku, f"{s.line + ' and ' if s.line else ''}{s.sku} "
                       "empty: which line of the order was shipped?")
                continue
            qty = _units(rec.get(s.quantity))
            if qty is None or qty <= 0:
                refuse(s.quantity, f"{rec.get(s.quantity)!r} is not a number of units "
                       "shipped (a whole number above 0)")
                continue
            g = self.group
            if g is None or g.order != order or g.key != key:
                self._flush()
                g = self.group = Group(
                    order, key, tracking, _text(rec.get(s.carrier)) if s.carrier else "",
                    _text(rec.get(s.date)) if s.date else "",
                    s.delivered is not None and _text(rec.get(s.delivered)).lower() in YES)
            item = f"line:{line_ref}" if line_ref else f"sku:{sku}"
            g.rows.append(Row(int(ordinals[i]), int(lines[i]), batch.raw_rows([i])[0], item,
                              line_ref or sku, qty))

    def finish(self) -> None:
        self._flush()

    def _rows(self) -> Any:
        if self.ctx is None or self.ctx.rows is None:
            raise PermanentSinkError("shipments: no file in progress")
        return self.ctx.rows

    def _reject(self, rows: list[Row], fld: str, reason: str) -> None:
        for r in rows:
            self._rows().refuse_at(r.ordinal, r.line, fld, reason, r.values)

    # -- one shipment ------------------------------------------------------------------

    def _flush(self) -> None:
        g, self.group = self.group, None
        if g is None or not g.rows:
            return
        s, rows = self.spec, self._rows()
        if self.job is None:
            raise PermanentSinkError("shipments: the output is not bound to a job")
        ledger = self.job.ledger
        # The same line named twice in one shipment: its units add up.
        items: dict[str, list[Row]] = {}
        for r in g.rows:
            items.setdefault(r.item, []).append(r)
        done = ledger_rows.sent(ledger, self.id, g.order, g.key)
        todo: dict[str, list[Row]] = {}
        arrived: dict[str, list[Row]] = {}  # sent before, delivered now
        for item, its in items.items():
            qty = sum(r.qty for r in its)
            if item not in done:
                todo[item] = its
            elif done[item][0] != qty:
                self._reject(its, s.quantity, f"shipment {g.key} of order {g.order} was sent "
                             f"with {done[item][0]} units of {its[0].ref}, now {qty}: a sent "
                             "shipment is not changed (send the difference as a new "
                             "shipment)")
            elif g.delivered and not done[item][1]:
                arrived[item] = its
            # else: sent before, as it stands: unchanged
        if not todo and not arrived:
            return
        try:
            order = self.shipper.order(g.order)
        except ShopRefused as e:  # an order this shop cannot ship from a file
            for its in [*todo.values(), *arrived.values()]:
                self._reject(its, s.order, f"order {g.order}: {e}")
            return
        if arrived and order is not None:
            self._arrived(g, order, arrived)
        if not todo:
            return
        if order is None:
            for its in todo.values():
                self._reject(its, s.order, f"order {g.order} is unknown to {self.id}")
            return
        if order.closed:
            for its in todo.values():
                self._reject(its, s.order, f"order {g.order} cannot be shipped: "
                             f"{order.closed}")
            return
        already = order.tracked.get(g.tracking) if g.tracking else None
        plan: list[tuple[ShopLine, int]] = []
        planned: dict[str, list[Row]] = {}
        found = False
        taken: dict[str, int] = {}
        for item, its in todo.items():
            qty = sum(r.qty for r in its)
            ref = its[0].ref
            if item.startswith("line:"):
                found = order.line(ref)
                candidates = [found] if found else []
                fld = s.line or s.sku
            else:
                candidates = [li for li in order.lines if li.sku == ref]
                fld = s.sku
            if not candidates:
                what = "line" if item.startswith("line:") else "SKU"
                self._reject(its, fld, f"order {g.order} has no {what} {ref}")
                continue
            if already is not None and all(li.id in already for li in candidates):
                # The shop has this shipment already (a run cut short after the shop made
                # it): recorded now, nothing sent twice.
                ledger_rows.record(ledger, self.id, g.order, g.key, self.job.profile,
                                   self._file(), None, [(item, qty)], g.delivered)
                found = True
                continue
            left = sum(max(li.left - taken.get(li.id, 0), 0) for li in candidates)
            if qty > left:
                self._reject(its, s.quantity, f"{qty} units of {ref} shipped, but only {left} "
                             f"left to ship on order {g.order}")
                continue
            need = qty
            for li in candidates:
                n = min(need, li.left - taken.get(li.id, 0))
                if n > 0:
                    plan.append((li, n))
                    taken[li.id] = taken.get(li.id, 0) + n
                    need -= n
            planned[item] = its
        if found:
            self.shipper.resume(order, Shipment(g.key, g.tracking, g.carrier, g.date, [],
                                                g.delivered, s.notify))
        if not plan:
            return
        shipment = Shipment(g.key, g.tracking, g.carrier, g.date, _merge(plan), g.delivered,
                            s.notify)
        try:
            ref = self.shipper.ship(order, shipment)
        except ShopRefused as e:
            for its in planned.values():
                self._reject(its, s.quantity, f"{self.id} refused shipment {g.key} of order "
                             f"{g.order}: {e}")
            return
        crash_point("shipment.made")
        ledger_rows.record(ledger, self.id, g.order, g.key, self.job.profile, self._file(),
                           ref, [(item, sum(r.qty for r in its))
                                 for item, its in planned.items()], g.delivered)
        rows.sent_at([r.ordinal for its in planned.values() for r in its])

    def _arrived(self, g: Group, order: ShopOrder, items: dict[str, list[Row]]) -> None:
        """Lines of a shipment sent before that the file now says were delivered: the
        shop is told where it has such a step (sent), else they are unchanged."""
        if self.job is None:
            raise PermanentSinkError("shipments: the output is not bound to a job")
        told = self.shipper.deliver(order, Shipment(g.key, g.tracking, g.carrier, g.date, [],
                                                    True, self.spec.notify))
        ledger_rows.record(self.job.ledger, self.id, g.order, g.key, self.job.profile,
                           self._file(), None, [(item, sum(r.qty for r in its))
                                                for item, its in items.items()], True)
        if told:
            self._rows().sent_at([r.ordinal for its in items.values() for r in its])

    def _file(self) -> str:
        return self.ctx.vars.get("name", "") if self.ctx is not None else ""


def _merge(plan: list[tuple[ShopLine, int]]) -> list[tuple[ShopLine, int]]:
    """One entry per shop line (two SKUs rows may land on one line)."""
    out: dict[str, tuple[ShopLine, int]] = {}
    for li, n in plan:
        out[li.id] = (li, out[li.id][1] + n) if li.id in out else (li, n)
    return list(out.values())


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        v = format(v.normalize(), "f") if v == v.to_integral_value() else format(v, "f")
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v).strip()


def _units(v: Any) -> int | None:
    """A whole number of units, or None."""
    if v is None or v == "":
        return None
    try:
        d = Decimal(str(v).strip().replace(",", "."))
    except ArithmeticError:
        return None
    return int(d) if d == d.to_integral_value() else None


def build(options: Any, spec: ShipmentSpec) -> ShipmentSink:
    """The shipments output for a shop API sink's options."""
    from filebridge.registry import REGISTRY
    from filebridge.shipments import load_shippers

    load_shippers()
    cls = REGISTRY.get("shipper", options.format)
    return ShipmentSink(options, spec, cls(options))


__all__ = ["ShipmentSink", "ShopOrder", "build"]
