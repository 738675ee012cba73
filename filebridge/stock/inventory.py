"""Shared stock: the ERP's figures, the movements it does not know yet, and the
quantity the shop may sell.

    available(sku) = Σ over web warehouses ( ERP quantity at its export time
                                             + movements the ERP had not applied then )
                     − safety stock                                     (never below 0)

What is clamped away is not forgotten: a SKU whose sum (before safety stock) is
below 0 is *oversold* by that many units, sold on some channel although they do
not exist; it is reported in the ack of the file that found it, the log, ``status``,
``reconcile`` and the ERP's movement files, always worked out again from the
ledger.

The race this exists for: the ERP exports at 02:00, a web order arrives at 02:05,
the file lands at 02:30. The file's figure does not include the 02:05 sale, so
pushing it as-is would sell the piece twice. Every movement carries the time it
happened and, for web sales, the time the ERP acknowledged it; a movement counts
against an export unless the ERP had it by the export time:

- web movements (orders pulled from the shop): the ERP has one once it
  acknowledged it (``erp_knows: acknowledged``, when the ERP sends acks back), or
  once it happened (``erp_knows: placed``: the ERP is assumed to learn at once);
- store movements (POS files): the store system feeds the ERP itself, so the ERP
  has one that happened before its export.

Movements are idempotent: an order line is kept with the units still sold on it,
and only a difference becomes a movement (a sale, a cancellation or a refund), so
a re-poll or a duplicated delivery changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.ledger.inventory import (
    CHUNK,
    InventoryRows,
    Movement,
    OrderBook,
    inventory_names,
)
from filebridge.ledger.sqlite import Ledger
from filebridge.orders.base import OrderLine
from filebridge.records import Batch
from filebridge.stock.spec import StockSpec

log = logging.getLogger("filebridge")

ALL = "*"  # the location of an ERP row or a movement that names none

__all__ = ["ALL", "Inventory", "Movement", "Position", "epoch", "inventory_counts"]


@dataclass(frozen=True)
class Position:
    """One SKU for the web: the ERP's figures over the web warehouses plus the
    movements they lack (``total``, below 0 when more was sold than exists) and the
    safety stock (``keep``)."""

    total: int
    keep: int

    @property
    def available(self) -> int:
        """What the web may sell: never below 0."""
        return max(self.total - self.keep, 0)

    @property
    def oversold(self) -> int:
        """Units sold that do not exist (the safety stock is not counted: it exists)."""
        return max(-self.total, 0)


def epoch(value: Any, tz: str | None = None) -> float:
    """A time from a record or a file name as epoch seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        dt = value
    elif hasattr(value, "isoformat"):  # a date
        dt = datetime.fromisoformat(value.isoformat())
    else:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        if tz:
            from zoneinfo import ZoneInfo

            dt = dt.replace(tzinfo=ZoneInfo(tz))
        else:
            dt = dt.astimezone()
    return dt.timestamp()


def _web_kind(first: bool, sold: int, qty: int) -> str:
    """A web order line's movement: more sold is a sale; less, a cancellation (none
    left) or a refund."""
    return "sale" if sold > 0 else ("cancel" if qty == 0 else "refund")


def _store_kind(first: bool, sold: int, qty: int) -> str:
    """A receipt line's movement: a new line is a sale or a return; a change to a
    line already recorded (a corrected receipt) is a correction."""
    if not first:
        return "store_correction"
    return "store_sale" if sold > 0 else "store_return"


class Inventory:
    """One shared inventory: its rules over the rows the ledger keeps of it
    (:class:`~filebridge.ledger.inventory.InventoryRows`, which holds all its SQL)."""

    RULES = ("web", "locations", "safety", "erp_knows")

    def __init__(self, ledger: Ledger, spec: StockSpec):
        self.ledger, self.name = ledger, spec.inventory
        self.rows = InventoryRows(ledger, self.name)
        # What may be sold is the figures profile's rule: store-movement profiles of
        # the same inventory apply the rules it last ran with.
        if spec.role == "figures":
            self.rows.set_rules(spec.model_dump(include=set(self.RULES), mode="json"))
        else:
            held = self.rows.rules()
            if held is not None:
                rules = StockSpec.model_validate(held)
                spec = spec.model_copy(update={k: getattr(rules, k) for k in self.RULES})
        self.spec = spec
        # What a reserving shop's sink reads (sink_options): column -> (the column it
        # adds the reserved units to, the source of the orders holding them).
        self.held_columns: dict[str, tuple[str, str]] = {}
        self._first_sink: dict[tuple[str, str], str] = {}
        self._source_of: dict[str, str] = {}  # a reserving shop's sink id -> web:FIRST

    # figures ------------------------------------------------------------
    def sink_options(self, options: Any) -> Any:
        """A shop API sink selling from one of ``locations`` reads that location's
        figure (``stock@LOCATION``) instead of the total.

        A shop that holds the units of its open orders reserved on top of its stock
        figure (its puller ``reserves``: Magento MSI) reads that figure plus those
        units (``stock+web:ID``, ``stock@LOCATION+web:ID``: ``held_columns``), so that
        what it sells comes out at what may be sold; the units themselves
        (``held+web:ID``) are hashed with the figure. Only its first sink does: the
        orders are pulled under it, and the reservations are the shop's (MSI: its
        stock's, over all its sources), counted once."""
        column = "stock"
        loc = getattr(options, "location", None)
        if loc is not None and loc in self.spec.locations and hasattr(options, "url"):
            column = f"stock@{loc}"
        fields = {"stock": column}
        source = self._reserving_source(options)
        of = getattr(options, "reservations_of", None)  # a file for that shop (magento_csv)
        if of is not None:
            source = self._source_of.get(of)
        if source is not None:
            self.held_columns[f"{column}+{source}"] = (column, source)
            fields = {"stock": f"{column}+{source}"}
            if hasattr(options, "url"):  # hashed with the figure, not sent (sync.changes.canon_for)
                fields["held"] = f"held+{source}"
        if fields == {"stock": "stock"}:
            return options
        return options.model_copy(update={"fields": options.fields | fields})

    def bind_outputs(self, outputs: list[Any]) -> None:
        """The profile's outputs, before :meth:`sink_options` is asked about each: the
        first sink of every reserving shop (its orders are pulled under it:
        filebridge/stock/jobs.py), and the orders' source each sink id reads."""
        from filebridge.options import expand_env
        from filebridge.registry import REGISTRY
        from filebridge.sinks.base import sink_id

        for options in outputs:
            fmt = getattr(options, "format", None)
            cls = REGISTRY.find("puller", fmt) if hasattr(options, "url") and fmt else None
            if cls is None or not getattr(cls, "reserves", False):
                continue
            where = (str(fmt), expand_env(str(options.url)).rstrip("/"))
            first = self._first_sink.setdefault(where, sink_id(options))
            self._source_of[sink_id(options)] = f"web:{first}"

    def _reserving_source(self, options: Any) -> str | None:
        """``web:ID`` of the orders of a shop whose puller ``reserves``, for its first
        sink only (see :meth:`bind_outputs`)."""
        from filebridge.sinks.base import sink_id

        if getattr(options, "reservations_of", None) is not None or not hasattr(options, "url"):
            return None
        source = self._source_of.get(sink_id(options))
        return source if source == f"web:{sink_id(options)}" else None

    def held(self, source: str, skus: list[str]) -> dict[str, int]:
        """Units the orders pulled from ``source`` still hold reserved in that shop, per
        SKU (only SKUs with some)."""
        return self.rows.held_of(source, skus)

    def unstage(self, file_id: int) -> None:
        self.rows.unstage(file_id)

    def stage_figures(self, batch: Batch, file_id: int, as_of: float | None) -> None:
        """Keep the ERP's rows of a file being read (they count once it is accepted)."""
        s = self.spec
        skus = pc.cast(batch.column(s.sku), pa.string()).to_pylist()
        qtys = batch.column(s.quantity).to_pylist()
        locs = (pc.cast(batch.column(s.location), pa.string()).to_pylist() if s.location
                else [ALL] * len(batch))
        times = ([epoch(v, s.as_of.timezone) for v in batch.column(s.as_of.field).to_pylist()]
                 if s.as_of.field else [as_of] * len(batch))
        extra = [n for n in batch.names if n not in (s.sku, s.quantity, s.location)]
        records = batch.table.select(extra).to_pylist() if extra else [{}] * len(batch)
        self.rows.stage(file_id, [
            (sku, (loc or ALL).strip(), int(q or 0), t, line,
             json.dumps(r, ensure_ascii=False, default=str))
            for sku, q, loc, t, line, r in zip(skus, qtys, locs, times,
                                               batch.lines.to_pylist(), records, strict=True)
            if sku is not None])

    def commit_figures(self, file_id: int) -> None:
        """The file is accepted: its figures replace the ERP's earlier ones. A figure
        older than the one held (a late file) does not win."""
        # A SKU twice in the file: the newest figure, then the last line, is the one.
        self.rows.commit_staged(file_id)

    def staged_skus(self, file_id: int) -> Iterator[tuple[str, int, int]]:
        """(sku, first line, rows) of a staged file, in SKU order."""
        yield from self.rows.staged_skus(file_id)

    # movements ----------------------------------------------------------
    def record_orders(self, source: str, lines: Iterable[OrderLine],
                      moved: set[str] | None = None, made: list[int] | None = None) -> int:
        """Order lines as the shop reports them now -> movements for what changed.
        The SKUs that moved are added to ``moved``.

        A line is never set back to an older state of its order: one whose
        ``changed`` is before the one recorded is skipped, so a webhook delivered
        late, or a pull that read the order before a webhook told a newer state,
        changes nothing (filebridge/webhooks.py). ``made`` gets, line by line, the
        number of movements each line made (0: it moved no stock)."""
        with self.rows.tx() as book:
            return self._record(book, source, lines, _web_kind, time.time(), moved,
                                newer_only=True, made=made)

    def order_changed(self, source: str, order: str) -> float | None:
        """When the order was last changed as recorded (None: never seen)."""
        return self.rows.order_changed(source, order)

    def order_units(self, source: str, order: str) -> dict[str, int]:
        """Line id -> units recorded as still sold on it, for one order."""
        return self.rows.order_units(source, order)

    def record_store(self, source: str, receipts: Iterable[tuple[str, list[OrderLine]]], *,
                     changed: float, whole: bool = True, moved: set[str] | None = None) -> int:
        """Store receipts as they now stand, kept as order lines are: each line with
        the units sold on it (negative: returned), and only a difference with what was
        recorded becomes a movement. So a receipt sent again, or in another order,
        changes nothing, and a corrected one replaces the old: a line it no longer
        has is taken back. A change to a known line counts from ``changed`` (when it
        became known: the file's time).

        ``whole=False`` is for a file with rejected rows (a missing row may be one of
        them): lines seen before never go down or away, only new sales count."""
        now = time.time()
        n = held = 0
        with self.rows.tx() as book:
            for receipt, lines in receipts:
                known = {line: (sku, loc, qty, placed)
                         for line, sku, loc, qty, placed in book.lines_of(source, receipt)}
                todo = []
                for ol in lines:
                    was = known.get(ol.line)
                    if not whole and was is not None and (
                            ol.qty < was[2] or (was[0], was[1]) != (ol.sku, ol.location or ALL)):
                        held += 1
                        continue
                    todo.append(ol)
                present = {ol.line for ol in lines}
                gone = [(line, k) for line, k in known.items() if line not in present and k[2]]
                if whole:
                    todo += [OrderLine(receipt, line, sku, 0, "", placed or changed, changed,
                                       loc) for line, (sku, loc, _, placed) in gone]
                else:
                    held += len(gone)
                n += self._record(book, source, todo, _store_kind, now, moved)
        if held:
            log.warning("%s: %s: %d receipt lines lower or missing than recorded are kept as "
                        "recorded (the file has rejected rows; a file without rejects "
                        "corrects them)", self.name, source, held)
        return n

    def _record(self, book: OrderBook, source: str, lines: Iterable[OrderLine],
                kind: Callable[[bool, int, int], str], now: float,
                moved: set[str] | None, newer_only: bool = False,
                made: list[int] | None = None) -> int:
        """The one bookkeeping of order lines and store receipts: record each line as
        it stands; a new line is a movement at its own time, a change to a known one
        at the line's ``changed``; a line that now names another SKU or location
        gives the old one back whole.

        A change only to the units the shop holds reserved (``held``: a Magento
        shipment) is no movement, but its SKUs are added to ``moved``: the figure a
        Magento source is set to counts them (:func:`filebridge.stock.push.push_availability`)."""
        n = 0
        moved = set() if moved is None else moved
        made = [] if made is None else made
        for ol in lines:
            made.append(-n)  # this line's movements: n after it, less n before
            row = book.line(source, ol.order, ol.line)
            if newer_only and row is not None and row[3] is not None and row[3] > ol.changed:
                made[-1] = 0
                continue  # an older state of the order than the one recorded
            loc = ol.location or ALL
            book.put_line(source, ol.order, ol.line, ol.sku, loc, ol.qty, ol.status, ol.at,
                          ol.changed, ol.held)
            was_sku, was_held = (row[0], row[4]) if row is not None else (ol.sku, 0)
            if (was_sku, was_held) != (ol.sku, ol.held):
                moved.update({ol.sku, was_sku} if was_held else {ol.sku})
            before = 0
            if row is not None:
                old_sku, old_loc, before, _, _ = row
                if (old_sku, old_loc) != (ol.sku, loc):
                    if before:
                        n += book.add_movement(source, kind(False, -before, 0), ol.order,
                                               ol.line, old_sku, old_loc, before, ol.changed,
                                               now)
                        moved.add(old_sku)
                    before = 0
            sold = ol.qty - before
            if sold != 0:
                when = ol.at if row is None else ol.changed
                n += book.add_movement(source, kind(row is None, sold, ol.qty), ol.order,
                                       ol.line, ol.sku, loc, -sold, when, now)
                moved.add(ol.sku)
            made[-1] += n
        return n

    def cursor(self, source: str) -> str | None:
        return self.rows.cursor(source)

    def set_cursor(self, source: str, cursor: str) -> None:
        self.rows.set_cursor(source, cursor)

    def movements(self) -> list[Movement]:
        """Every movement of the inventory, in the order recorded."""
        return self.rows.movements()

    def file_movements(self, seq: int) -> list[Movement]:
        """The movements feedback file ``seq`` carries."""
        return self.rows.in_file(seq)

    # availability ---------------------------------------------------------
    def available(self, skus: list[str], web_only: list[str] | None = None
                  ) -> dict[str, int | None]:
        """What the web may sell of each SKU (None: the ERP never gave a figure), from
        the web warehouses, or only from ``web_only`` (one shop location's)."""
        return {sku: None if p is None else p.available
                for sku, p in self.positions(skus, web_only).items()}

    def positions(self, skus: list[str], web_only: list[str] | None = None
                  ) -> dict[str, Position | None]:
        """Each SKU's position over the web warehouses (or ``web_only``), from the
        ledger: None where the ERP never gave a figure."""
        web = set(self.spec.web if web_only is None else web_only)
        out: dict[str, Position | None] = {}
        for i in range(0, len(skus), CHUNK):
            chunk = skus[i:i + CHUNK]
            figures: dict[str, list[tuple[str, int, float, dict[str, Any]]]] = {}
            for sku, loc, qty, as_of, rec in self.rows.figures_of(chunk):
                figures.setdefault(sku, []).append((loc, qty, as_of, json.loads(rec or "{}")))
            moves: dict[str, list[tuple[str, str, int, float, float | None]]] = {}
            for sku, source, loc, qty, occurred, acked in self.rows.movements_of(chunk):
                moves.setdefault(sku, []).append((source, loc, qty, occurred, acked))
            for sku in chunk:
                out[sku] = self._position(sku, figures.get(sku), moves.get(sku, []), web)
        return out

    def oversold(self) -> dict[str, int]:
        """Every SKU sold beyond its stock now, with the units: only a SKU with
        movements, or with a negative ERP figure, can be."""
        return self._oversold(self.rows.oversold_candidates())

    def _oversold(self, skus: list[str]) -> dict[str, int]:
        """Those of ``skus`` sold beyond their stock now, with the units."""
        return {sku: p.oversold for sku, p in self.positions(skus).items()
                if p is not None and p.oversold}

    def _position(self, sku: str, figures: list[tuple[str, int, float, dict[str, Any]]] | None,
                  moves: list[tuple[str, str, int, float, float | None]], web: set[str]
                  ) -> Position | None:
        if not figures:
            return None
        total = 0
        record: dict[str, Any] = {}
        # A movement naming no warehouse (a web sale) counts at the first of all the
        # web warehouses, also when only one shop location's warehouses are summed.
        home = self._home(figures, set(self.spec.web))
        for loc, qty, as_of, rec in figures:
            if web and loc not in web:
                continue
            record = record or rec
            total += qty
            for source, mloc, mqty, occurred, acked in moves:
                # One ERP total takes every movement; per warehouse, a movement counts at
                # its own, or (naming none) once, at the home warehouse.
                if loc != ALL and mloc != loc and (mloc != ALL or loc != home):
                    continue
                if not self._erp_had(source, occurred, acked, as_of):
                    total += mqty
        keep = next((r.qty for r in self.spec.safety if r.matches(sku, record)), 0)
        return Position(total, keep)

    @staticmethod
    def _home(figures: list[tuple[str, int, float, dict[str, Any]]], web: set[str]
              ) -> str | None:
        return next((loc for loc, *_ in figures if not web or loc in web), None)

    def _erp_had(self, source: str, occurred: float, acked: float | None, as_of: float) -> bool:
        """Whether the ERP's figure taken at ``as_of`` includes this movement."""
        if source.startswith("web:") and self.spec.erp_knows == "acknowledged":
            return acked is not None and acked <= as_of
        return occurred <= as_of

    # feedback -------------------------------------------------------------
    def unexported(self) -> list[Movement]:
        """Web movements no feedback file has carried yet (store sales: the ERP has them)."""
        return self.rows.unexported()

    def export(self, ids: list[int], path_of: Callable[[int, float], str]) -> tuple[int, str]:
        """In one transaction: the next movement-file number, these movements tied to
        it, and the file recorded as pending at ``path_of(seq, now)``."""
        # The SKUs oversold are worked out inside that transaction: the file says what
        # was true with its movements, and says it again when written once more.
        return self.rows.export(ids, path_of, self._oversold)

    def file_oversold(self, seq: int) -> dict[str, int]:
        """The SKUs movement file ``seq`` found oversold when it was made, with units."""
        return self.rows.file_oversold(seq)

    def acknowledge(self, seqs: list[int] = (), ids: list[int] = (),  # type: ignore[assignment]
                    when: float | None = None) -> int:
        """The ERP confirmed these feedback files (by sequence) or movements (by id)."""
        return self.rows.acknowledge(seqs, ids, time.time() if when is None else when)

    def overdue(self, now: float | None = None) -> list[Movement]:
        """Web movements sent to the ERP and not acknowledged within ``overdue``."""
        now = time.time() if now is None else now
        return self.rows.unacked_since(now - self.spec.overdue)


def inventory_counts(ledger: Ledger
                     ) -> list[tuple[str, dict[str, int], dict[str, int]]]:
    """Per inventory: SKUs with an ERP figure, and web movements not yet told to the
    ERP, told and awaiting its acknowledgement, acknowledged; store movements; SKUs
    oversold and their units. With the oversold SKUs themselves (sku -> units)."""
    out = []
    for inv in inventory_names(ledger):
        # Worked out with the rules the inventory's figures profile last ran with.
        spec = StockSpec.model_validate({"inventory": inv, "role": "acks"})
        inventory = Inventory(ledger, spec)
        oversold = inventory.oversold()
        from filebridge.ledger.documents import DocumentRows

        docs = DocumentRows(ledger, inv).counts()  # order documents: counts only, no people
        out.append((inv, inventory.rows.counts()
                    | {"oversold_skus": len(oversold), "oversold_units": sum(oversold.values())}
                    | (docs if any(docs.values()) else {}), oversold))
    return out
