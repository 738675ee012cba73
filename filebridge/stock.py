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

from filebridge.ledger.sqlite import Ledger
from filebridge.orders.base import OrderLine
from filebridge.records import Batch
from filebridge.stock_spec import StockSpec

log = logging.getLogger("filebridge")

ALL = "*"  # the location of an ERP row or a movement that names none




@dataclass
class Movement:
    id: int
    source: str
    kind: str
    order: str
    line: str
    sku: str
    location: str
    qty: int
    occurred: float
    seq: int | None
    acked: float | None


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
    """One shared inventory in the ledger."""

    RULES = ("web", "locations", "safety", "erp_knows")

    def __init__(self, ledger: Ledger, spec: StockSpec):
        self.ledger, self.name = ledger, spec.inventory
        self.db = ledger.db
        # What may be sold is the figures profile's rule: store-movement profiles of
        # the same inventory apply the rules it last ran with.
        if spec.role == "figures":
            rules = spec.model_dump(include=set(self.RULES), mode="json")
            with ledger.tx() as db:
                db.execute("INSERT INTO inventories VALUES (?, ?) ON CONFLICT(inventory) DO "
                           "UPDATE SET rules=excluded.rules", (self.name, json.dumps(rules)))
        else:
            row = self.db.execute("SELECT rules FROM inventories WHERE inventory=?",
                                  (self.name,)).fetchone()
            if row:
                rules = StockSpec.model_validate(json.loads(row[0]))
                spec = spec.model_copy(update={k: getattr(rules, k) for k in self.RULES})
        self.spec = spec

    # figures ------------------------------------------------------------
    def sink_options(self, options: Any) -> Any:
        """A shop API sink selling from one of ``locations`` reads that location's
        figure (``stock@LOCATION``) instead of the total."""
        loc = getattr(options, "location", None)
        if loc is None or loc not in self.spec.locations or not hasattr(options, "url"):
            return options
        return options.model_copy(update={"fields": options.fields | {"stock": f"stock@{loc}"}})

    def unstage(self, file_id: int) -> None:
        with self.ledger.tx() as db:
            db.execute("DELETE FROM erp_stock_staged WHERE file_id=?", (file_id,))

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
        rows = [(self.name, file_id, sku, (loc or ALL).strip(), int(q or 0), t, line,
                 json.dumps(r, ensure_ascii=False, default=str))
                for sku, q, loc, t, line, r in zip(skus, qtys, locs, times,
                                                   batch.lines.to_pylist(), records, strict=True)
                if sku is not None]
        with self.ledger.tx() as db:
            db.executemany("INSERT INTO erp_stock_staged VALUES (?,?,?,?,?,?,?,?)", rows)

    def commit_figures(self, file_id: int) -> None:
        """The file is accepted: its figures replace the ERP's earlier ones. A figure
        older than the one held (a late file) does not win."""
        # A SKU twice in the file: the newest figure, then the last line, is the one
        # (one row per key: PostgreSQL refuses to upsert a key twice in one statement).
        with self.ledger.tx() as db:
            db.execute(
                "INSERT INTO erp_stock(inventory, sku, location, qty, as_of, file_id, record) "
                "SELECT inventory, sku, location, qty, as_of, file_id, record FROM "
                "erp_stock_staged s WHERE file_id=? AND NOT EXISTS (SELECT 1 FROM "
                "erp_stock_staged o WHERE o.file_id=s.file_id AND o.sku=s.sku AND "
                "o.inventory=s.inventory AND o.location=s.location AND (o.as_of > s.as_of OR "
                "(o.as_of = s.as_of AND coalesce(o.line, 0) > coalesce(s.line, 0)))) "
                "ON CONFLICT(inventory, sku, location) "
                "DO UPDATE SET qty=excluded.qty, as_of=excluded.as_of, file_id=excluded.file_id, "
                "record=excluded.record WHERE excluded.as_of >= erp_stock.as_of", (file_id,))
            db.execute("DELETE FROM erp_stock_staged WHERE file_id=?", (file_id,))

    def staged_skus(self, file_id: int) -> Iterator[tuple[str, int, int]]:
        """(sku, first line, rows) of a staged file, in SKU order."""
        yield from self.db.execute(
            "SELECT sku, min(line), count(*) FROM erp_stock_staged WHERE file_id=? "
            "GROUP BY sku ORDER BY sku", (file_id,))

    # movements ----------------------------------------------------------
    def record_orders(self, source: str, lines: Iterable[OrderLine],
                      moved: set[str] | None = None) -> int:
        """Order lines as the shop reports them now -> movements for what changed.
        The SKUs that moved are added to ``moved``.

        A line is never set back to an older state of its order: one whose
        ``changed`` is before the one recorded is skipped, so a webhook delivered
        late, or a pull that read the order before a webhook told a newer state,
        changes nothing (filebridge/webhooks.py)."""
        with self.ledger.tx() as db:
            return self._record(db, source, lines, _web_kind, time.time(), moved,
                                newer_only=True)

    def order_changed(self, source: str, order: str) -> float | None:
        """When the order was last changed as recorded (None: never seen)."""
        row = self.db.execute("SELECT max(changed) FROM order_lines WHERE inventory=? AND "
                              "source=? AND order_id=?", (self.name, source, order)).fetchone()
        return row[0] if row else None

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
        with self.ledger.tx() as db:
            for receipt, lines in receipts:
                known = {line: (sku, loc, qty, placed) for line, sku, loc, qty, placed in
                         db.execute("SELECT line_id, sku, location, qty, placed FROM "
                                    "order_lines WHERE inventory=? AND source=? AND order_id=?",
                                    (self.name, source, receipt))}
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
                n += self._record(db, source, todo, _store_kind, now, moved)
        if held:
            log.warning("%s: %s: %d receipt lines lower or missing than recorded are kept as "
                        "recorded (the file has rejected rows; a file without rejects "
                        "corrects them)", self.name, source, held)
        return n

    def _record(self, db: Any, source: str, lines: Iterable[OrderLine],
                kind: Callable[[bool, int, int], str], now: float,
                moved: set[str] | None, newer_only: bool = False) -> int:
        """The one bookkeeping of order lines and store receipts: record each line as
        it stands; a new line is a movement at its own time, a change to a known one
        at the line's ``changed``; a line that now names another SKU or location
        gives the old one back whole."""
        n = 0
        moved = set() if moved is None else moved
        for ol in lines:
            row = db.execute("SELECT sku, location, qty, changed FROM order_lines WHERE "
                             "inventory=? AND source=? AND order_id=? AND line_id=?",
                             (self.name, source, ol.order, ol.line)).fetchone()
            if newer_only and row is not None and row[3] is not None and row[3] > ol.changed:
                continue  # an older state of the order than the one recorded
            loc = ol.location or ALL
            db.execute("INSERT INTO order_lines VALUES (?,?,?,?,?,?,?,?,?,?) "
                       "ON CONFLICT(inventory, source, order_id, line_id) DO UPDATE SET "
                       "sku=excluded.sku, location=excluded.location, qty=excluded.qty, "
                       "status=excluded.status, changed=excluded.changed",
                       (self.name, source, ol.order, ol.line, ol.sku, loc, ol.qty, ol.status,
                        ol.at, ol.changed))
            before = 0
            if row is not None:
                old_sku, old_loc, before, _ = row
                if (old_sku, old_loc) != (ol.sku, loc):
                    if before:
                        n += self._add(db, source, kind(False, -before, 0), ol.order, ol.line,
                                       old_sku, old_loc, before, ol.changed, now)
                        moved.add(old_sku)
                    before = 0
            sold = ol.qty - before
            if sold == 0:
                continue
            when = ol.at if row is None else ol.changed
            n += self._add(db, source, kind(row is None, sold, ol.qty), ol.order, ol.line,
                           ol.sku, loc, -sold, when, now)
            moved.add(ol.sku)
        return n

    def _add(self, db: Any, source: str, kind: str, order: str, line: str, sku: str, loc: str,
             qty: int, when: float, now: float) -> int:
        version = db.execute("SELECT count(*) FROM movements WHERE inventory=? AND source=? "
                             "AND order_id=? AND line_id=?",
                             (self.name, source, order, line)).fetchone()[0] + 1
        return db.execute("INSERT INTO movements(inventory, source, kind, order_id, "
                          "line_id, version, sku, location, qty, occurred, recorded) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                          (self.name, source, kind, order, line, version, sku, loc, qty, when,
                           now)).rowcount

    def cursor(self, source: str) -> str | None:
        row = self.db.execute("SELECT cursor FROM cursors WHERE inventory=? AND source=?",
                              (self.name, source)).fetchone()
        return row[0] if row else None

    def set_cursor(self, source: str, cursor: str) -> None:
        with self.ledger.tx() as db:
            db.execute("INSERT INTO cursors VALUES (?,?,?,?) ON CONFLICT(inventory, source) "
                       "DO UPDATE SET cursor=excluded.cursor, updated=excluded.updated",
                       (self.name, source, cursor, time.time()))

    def movements(self, where: str = "true", args: tuple[Any, ...] = ()) -> list[Movement]:
        rows = self.db.execute(
            "SELECT id, source, kind, order_id, line_id, sku, location, qty, occurred, seq, "
            f"acked FROM movements WHERE inventory=? AND {where} ORDER BY id",
            (self.name, *args)).fetchall()
        return [Movement(*r) for r in rows]

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
        for i in range(0, len(skus), 500):
            chunk = skus[i:i + 500]
            marks = ",".join("?" * len(chunk))
            figures: dict[str, list[tuple[str, int, float, dict[str, Any]]]] = {}
            for sku, loc, qty, as_of, rec in self.db.execute(
                    f"SELECT sku, location, qty, as_of, record FROM erp_stock WHERE inventory=? "
                    f"AND sku IN ({marks})", (self.name, *chunk)):
                figures.setdefault(sku, []).append((loc, qty, as_of, json.loads(rec or "{}")))
            moves: dict[str, list[tuple[str, str, int, float, float | None]]] = {}
            for sku, source, loc, qty, occurred, acked in self.db.execute(
                    f"SELECT sku, source, location, qty, occurred, acked FROM movements WHERE "
                    f"inventory=? AND sku IN ({marks})", (self.name, *chunk)):
                moves.setdefault(sku, []).append((source, loc, qty, occurred, acked))
            for sku in chunk:
                out[sku] = self._position(sku, figures.get(sku), moves.get(sku, []), web)
        return out

    def oversold(self) -> dict[str, int]:
        """Every SKU sold beyond its stock now, with the units: only a SKU with
        movements, or with a negative ERP figure, can be."""
        skus = [r[0] for r in self.db.execute(
            "SELECT sku FROM movements WHERE inventory=? UNION SELECT sku FROM erp_stock "
            "WHERE inventory=? AND qty < 0", (self.name, self.name))]
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
        return self.movements("seq IS NULL AND source LIKE 'web:%'")

    def export(self, ids: list[int], path_of: Callable[[int, float], str]) -> tuple[int, str]:
        """In one transaction: the next movement-file number, these movements tied to
        it, and the file recorded as pending at ``path_of(seq, now)``."""
        now = time.time()
        with self.ledger.tx() as db:
            row = db.execute("SELECT seq FROM sequences WHERE inventory=? AND name='movements'",
                             (self.name,)).fetchone()
            seq = (row[0] if row else 0) + 1
            db.execute("INSERT INTO sequences VALUES (?, 'movements', ?) ON CONFLICT(inventory, "
                       "name) DO UPDATE SET seq=excluded.seq", (self.name, seq))
            db.executemany("UPDATE movements SET seq=?, exported=? WHERE id=?",
                           [(seq, now, i) for i in ids])
            path = path_of(seq, now)
            db.execute("INSERT INTO feedback_files VALUES (?,?,?,'pending',?,?,NULL)",
                       (self.name, seq, path, len(ids), now))
            skus = [r[0] for r in db.execute("SELECT DISTINCT sku FROM movements WHERE "
                                             "inventory=? AND seq=?", (self.name, seq))]
            db.executemany("INSERT INTO feedback_oversold VALUES (?,?,?,?)",
                           [(self.name, seq, sku, p.oversold)
                            for sku, p in self.positions(skus).items()
                            if p is not None and p.oversold])
        return seq, path

    def file_oversold(self, seq: int) -> dict[str, int]:
        """The SKUs movement file ``seq`` found oversold when it was made, with units."""
        return dict(self.db.execute("SELECT sku, units FROM feedback_oversold WHERE "
                                    "inventory=? AND seq=?", (self.name, seq)).fetchall())

    def acknowledge(self, seqs: list[int] = (), ids: list[int] = (),  # type: ignore[assignment]
                    when: float | None = None) -> int:
        """The ERP confirmed these feedback files (by sequence) or movements (by id)."""
        when = time.time() if when is None else when
        n = 0
        with self.ledger.tx() as db:
            for seq in seqs:
                n += db.execute("UPDATE movements SET acked=? WHERE inventory=? AND seq=? AND "
                                "acked IS NULL", (when, self.name, seq)).rowcount
            for i in ids:
                n += db.execute("UPDATE movements SET acked=? WHERE inventory=? AND id=? AND "
                                "acked IS NULL", (when, self.name, i)).rowcount
        return n

    def overdue(self, now: float | None = None) -> list[Movement]:
        """Web movements sent to the ERP and not acknowledged within ``overdue``."""
        now = time.time() if now is None else now
        return self.movements("source LIKE 'web:%' AND acked IS NULL AND exported IS NOT NULL "
                              "AND exported < ?", (now - self.spec.overdue,))


def inventory_counts(ledger: Ledger
                     ) -> list[tuple[str, dict[str, int], dict[str, int]]]:
    """Per inventory: SKUs with an ERP figure, and web movements not yet told to the
    ERP, told and awaiting its acknowledgement, acknowledged; store movements; SKUs
    oversold and their units. With the oversold SKUs themselves (sku -> units)."""
    db = ledger.db
    out = []
    for (inv,) in db.execute("SELECT inventory FROM inventories ORDER BY inventory").fetchall():
        skus = db.execute("SELECT count(DISTINCT sku) FROM erp_stock WHERE inventory=?",
                          (inv,)).fetchone()[0]
        row = db.execute(
            "SELECT count(CASE WHEN source LIKE 'web:%' AND seq IS NULL THEN 1 END), "
            "count(CASE WHEN source LIKE 'web:%' AND seq IS NOT NULL AND acked IS NULL THEN 1 "
            "END), count(CASE WHEN source LIKE 'web:%' AND acked IS NOT NULL THEN 1 END), "
            "count(CASE WHEN source LIKE 'pos:%' THEN 1 END) "
            "FROM movements WHERE inventory=?", (inv,)).fetchone()
        names = ("to_erp", "awaiting_ack", "acknowledged", "store")
        # Worked out with the rules the inventory's figures profile last ran with.
        spec = StockSpec.model_validate({"inventory": inv, "role": "acks"})
        oversold = Inventory(ledger, spec).oversold()
        out.append((inv, {"skus": skus} | {k: v or 0 for k, v in zip(names, row, strict=True)}
                    | {"oversold_skus": len(oversold), "oversold_units": sum(oversold.values())},
                    oversold))
    return out
