"""Shared stock: the ERP's figures, the movements it does not know yet, and the
quantity the shop may sell.

    available(sku) = Σ over web warehouses ( ERP quantity at its export time
                                             + movements the ERP had not applied then )
                     − safety stock                                     (never below 0)

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

import fnmatch
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.movements import MovementFiles
from filebridge.options import Duration, Model
from filebridge.orders.base import OrderLine
from filebridge.records import Batch
from filebridge.schedule import Schedule

log = logging.getLogger("filebridge")

ALL = "*"  # the location of an ERP row or a movement that names none


class AsOf(Model):
    """When the ERP took its figures: a record field, the file name, or the file's time."""

    field: str | None = Field(None, description="mapped field holding the export time "
                              "(e.g. a header record's timestamp): ISO text or a date/time")
    name: str | None = Field(None, description="regular expression over the file name whose "
                             "first group is the time, e.g. 'STOCK_(\\d{8}_\\d{4})'")
    format: str = Field("%Y%m%d_%H%M", description="strptime format of the name's group")
    timezone: str | None = Field(None, description="zone of times without one (default: "
                                 "the machine's)")

    @model_validator(mode="after")
    def _one(self) -> AsOf:
        if self.field and self.name:
            raise ValueError("give as_of.field or as_of.name, not both (neither: the file's "
                             "modification time)")
        if self.name is not None:
            try:
                if re.compile(self.name).groups < 1:
                    raise ValueError("as_of.name needs a group around the time, e.g. "
                                     "'STOCK_(\\d{8}_\\d{4})'")
            except re.error as e:
                raise ValueError(f"as_of.name {self.name!r}: {e}") from None
        return self


class Safety(Model):
    """Units kept back from the web. The first rule that matches a SKU applies."""

    qty: int = Field(ge=0, description="units to keep back")
    sku: str | None = Field(None, description="SKU pattern, e.g. 'BAG-*'")
    field: str | None = Field(None, description="a mapped field to test, e.g. category")
    equals: str | None = Field(None, description="the value that field must have")

    @model_validator(mode="after")
    def _test(self) -> Safety:
        if (self.field is None) != (self.equals is None):
            raise ValueError("safety: field and equals go together")
        return self

    def matches(self, sku: str, record: dict[str, Any]) -> bool:
        if self.sku is not None and not fnmatch.fnmatchcase(sku, self.sku):
            return False
        return self.field is None or str(record.get(self.field, "")) == self.equals


class StockSchedule(Model):
    """Time-based jobs ``filebridge watch`` runs for an inventory (figures profile)."""

    orders: Schedule | None = Field(None, description="pull the shops' orders, e.g. "
                                    "{every: 5m}; without a feedback schedule a movement "
                                    "file follows every pull that found something")
    feedback: Schedule | None = Field(None, description="write the movement file for the "
                                      "ERP, e.g. {cron: \"30 1 * * *\"}")
    reconcile: Schedule | None = Field(None, description="compare ERP, ledger and shops, "
                                       "e.g. nightly")
    correct: bool = Field(False, description="the scheduled reconciliation also corrects "
                          "the shops")


class StockSpec(Model):
    """This profile's files are stock figures (or store movements) of a shared
    inventory: the shops get what may be sold, not the file's quantity."""

    inventory: str = Field("main", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                           description="the shared stock this file belongs to; profiles "
                           "with the same name share figures, movements and shop state")
    role: Literal["figures", "movements", "orders", "acks"] = Field(
        "figures", description="figures: the ERP's stock export; movements: store sales and "
        "returns (POS files), each row one movement; orders: order lines the shop drops as "
        "files (each row an order line as it is now); acks: the ERP's acknowledgements of "
        "movement files")
    sku: str = Field("sku", description="mapped field with the SKU")
    quantity: str = Field("stock", description="mapped field with the quantity (figures: "
                          "on hand; movements: units sold, negative for a return)")
    location: str | None = Field(None, description="mapped field with the warehouse or store "
                                 "code (unset: one location)")
    web: list[str] = Field(default_factory=list, description="warehouses that serve the web "
                           "(empty: all)")
    as_of: AsOf = Field(default_factory=AsOf, description="figures: when the ERP took them")
    at: str | None = Field(None, description="movements, orders: mapped field with the time "
                           "of the sale (unset: the file's time)")
    order: str = Field("order", description="orders: mapped field with the order id")
    line: str | None = Field(None, description="orders: mapped field with the order line "
                             "id (unset: the SKU)")
    status: str | None = Field(None, description="orders: mapped field with the order status")
    cancelled: list[str] = Field(["cancelled", "refunded", "failed", "annullato", "rimborsato"],
                                 description="orders: statuses whose lines hold no stock "
                                 "(compared without case)")
    receipt: str | None = Field(None, description="movements: mapped field identifying the "
                                "receipt (with the file line, keeps each row once)")
    safety: list[Safety] = Field(default_factory=list, description="safety stock rules, "
                                 "first match wins, e.g. [{sku: 'BAG-*', qty: 2}, {qty: 1}]")
    erp_knows: Literal["acknowledged", "placed"] = Field(
        "placed", description="when the ERP has a web sale in its figures: once it "
        "acknowledged it (it sends acks back), or as soon as it was placed")
    orders: bool = Field(True, description="figures: pull the orders of the shops this "
                         "profile pushes to (their API sinks) before pushing, so a sale made "
                         "after the export is never sold again")
    @model_validator(mode="after")
    def _rules_on_figures(self) -> StockSpec:
        if self.role in ("movements", "orders"):
            given = sorted(k for k in ("web", "safety", "erp_knows") if k in
                           self.model_fields_set)
            if given:
                raise ValueError(f"{', '.join(given)}: set on the profile with role: figures "
                                 f"of this inventory; {self.role} profiles apply its rules")
        return self

    ack: str = Field("seq", description="acks: mapped field with the sequence number of the "
                     "movement file the ERP confirms")
    feedback: MovementFiles | None = Field(None, description="figures: movement files for "
                                           "the ERP (filebridge feedback, or on a schedule); "
                                           "orders: one after each orders file")
    schedule: StockSchedule = Field(default_factory=StockSchedule, description="figures: "
                                    "jobs filebridge watch runs on a timetable")
    overdue: Duration = Field(6 * 3600.0, description="report web movements the ERP has not "
                              "acknowledged after this long (erp_knows: acknowledged)")


SCHEMA = """
CREATE TABLE IF NOT EXISTS erp_stock (
    inventory TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER NOT NULL, as_of REAL NOT NULL, file_id INTEGER, record TEXT,
    PRIMARY KEY (inventory, sku, location)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erp_stock_staged (
    inventory TEXT NOT NULL, file_id INTEGER NOT NULL, sku TEXT NOT NULL,
    location TEXT NOT NULL, qty INTEGER NOT NULL, as_of REAL NOT NULL, line INTEGER,
    record TEXT
);
CREATE INDEX IF NOT EXISTS erp_stock_staged_file ON erp_stock_staged(file_id, sku);
CREATE TABLE IF NOT EXISTS order_lines (
    inventory TEXT NOT NULL, source TEXT NOT NULL, order_id TEXT NOT NULL,
    line_id TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER NOT NULL, status TEXT, placed REAL, changed REAL,
    PRIMARY KEY (inventory, source, order_id, line_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS movements (
    id INTEGER PRIMARY KEY,
    inventory TEXT NOT NULL,
    source TEXT NOT NULL,           -- web:<shop> | pos:<profile>
    kind TEXT NOT NULL,             -- sale | cancel | refund | store_sale | store_return
    order_id TEXT NOT NULL, line_id TEXT NOT NULL, version INTEGER NOT NULL,
    sku TEXT NOT NULL, location TEXT NOT NULL,
    qty INTEGER NOT NULL,           -- signed: negative leaves the stock
    occurred REAL NOT NULL, recorded REAL NOT NULL,
    seq INTEGER,                    -- the feedback file that told the ERP
    exported REAL, acked REAL,
    UNIQUE (inventory, source, order_id, line_id, version)
);
CREATE INDEX IF NOT EXISTS movements_sku ON movements(inventory, sku);
CREATE INDEX IF NOT EXISTS movements_open ON movements(inventory, acked, seq);
CREATE TABLE IF NOT EXISTS cursors (
    inventory TEXT NOT NULL, source TEXT NOT NULL, cursor TEXT, updated REAL,
    PRIMARY KEY (inventory, source)
);
CREATE TABLE IF NOT EXISTS inventories (
    inventory TEXT PRIMARY KEY, rules TEXT NOT NULL   -- web, safety, erp_knows of its figures
);
CREATE TABLE IF NOT EXISTS sequences (
    inventory TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (inventory, name)
);
"""


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


def file_as_of(spec: AsOf, path: Path) -> float | None:
    """The export time the file's name or modification time gives (None: per record)."""
    if spec.field:
        return None
    if spec.name:
        m = re.search(spec.name, path.name)
        if not m:
            raise ValueError(f"as_of.name {spec.name!r} does not match the file name "
                             f"{path.name!r}")
        dt = datetime.strptime(m.group(1), spec.format)
        return epoch(dt, spec.timezone)
    return path.stat().st_mtime


class Inventory:
    """One shared inventory in the ledger."""

    RULES = ("web", "safety", "erp_knows")

    def __init__(self, ledger: SqliteLedger, spec: StockSpec):
        self.ledger, self.name = ledger, spec.inventory
        self.db = ledger.db
        self.db.executescript(SCHEMA)
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
        with self.ledger.tx() as db:
            db.execute(
                "INSERT INTO erp_stock(inventory, sku, location, qty, as_of, file_id, record) "
                "SELECT inventory, sku, location, qty, as_of, file_id, record FROM "
                "erp_stock_staged WHERE file_id=? AND true ON CONFLICT(inventory, sku, location) "
                "DO UPDATE SET qty=excluded.qty, as_of=excluded.as_of, file_id=excluded.file_id, "
                "record=excluded.record WHERE excluded.as_of >= erp_stock.as_of", (file_id,))
            db.execute("DELETE FROM erp_stock_staged WHERE file_id=?", (file_id,))

    def staged_skus(self, file_id: int) -> Iterator[tuple[str, int, int]]:
        """(sku, first line, rows) of a staged file, in SKU order."""
        yield from self.db.execute(
            "SELECT sku, min(line), count(*) FROM erp_stock_staged WHERE file_id=? "
            "GROUP BY sku ORDER BY sku", (file_id,))

    # movements ----------------------------------------------------------
    def record_orders(self, source: str, lines: Iterable[OrderLine]) -> int:
        """Order lines as the shop reports them now -> movements for what changed."""
        now = time.time()
        n = 0
        with self.ledger.tx() as db:
            for ol in lines:
                row = db.execute("SELECT qty FROM order_lines WHERE inventory=? AND source=? "
                                 "AND order_id=? AND line_id=?",
                                 (self.name, source, ol.order, ol.line)).fetchone()
                before = row[0] if row else 0
                loc = ol.location or ALL
                db.execute("INSERT INTO order_lines VALUES (?,?,?,?,?,?,?,?,?,?) "
                           "ON CONFLICT(inventory, source, order_id, line_id) DO UPDATE SET "
                           "qty=excluded.qty, status=excluded.status, changed=excluded.changed",
                           (self.name, source, ol.order, ol.line, ol.sku, loc, ol.qty, ol.status,
                            ol.at, ol.changed))
                sold = ol.qty - before
                if sold == 0:
                    continue
                kind = "sale" if sold > 0 else ("cancel" if ol.qty == 0 else "refund")
                when = ol.at if sold > 0 and before == 0 else ol.changed
                self._add(db, source, kind, ol.order, ol.line, ol.sku, loc, -sold, when, now)
                n += 1
        return n

    def record_store(self, source: str, rows: Iterable[tuple[str, str, str, str, int, float]]
                     ) -> int:
        """Store movements (receipt, line, sku, location, units sold, time); each
        (receipt, line) once however often the file is delivered."""
        now = time.time()
        n = 0
        with self.ledger.tx() as db:
            for receipt, line, sku, loc, sold, when in rows:
                kind = "store_sale" if sold >= 0 else "store_return"
                n += self._add(db, source, kind, receipt, line, sku, loc or ALL, -sold, when, now,
                               version=1)
        return n

    def _add(self, db: Any, source: str, kind: str, order: str, line: str, sku: str, loc: str,
             qty: int, when: float, now: float, version: int | None = None) -> int:
        if version is None:
            version = db.execute("SELECT count(*) FROM movements WHERE inventory=? AND source=? "
                                 "AND order_id=? AND line_id=?",
                                 (self.name, source, order, line)).fetchone()[0] + 1
        return db.execute("INSERT OR IGNORE INTO movements(inventory, source, kind, order_id, "
                          "line_id, version, sku, location, qty, occurred, recorded) "
                          "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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

    def movements(self, where: str = "1", args: tuple[Any, ...] = ()) -> list[Movement]:
        rows = self.db.execute(
            "SELECT id, source, kind, order_id, line_id, sku, location, qty, occurred, seq, "
            f"acked FROM movements WHERE inventory=? AND {where} ORDER BY id",
            (self.name, *args)).fetchall()
        return [Movement(*r) for r in rows]

    # availability ---------------------------------------------------------
    def available(self, skus: list[str]) -> dict[str, int | None]:
        """What the web may sell of each SKU (None: the ERP never gave a figure)."""
        s = self.spec
        web = set(s.web)
        out: dict[str, int | None] = {}
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
                out[sku] = self._available(sku, figures.get(sku), moves.get(sku, []), web)
        return out

    def _available(self, sku: str, figures: list[tuple[str, int, float, dict[str, Any]]] | None,
                   moves: list[tuple[str, str, int, float, float | None]], web: set[str]
                   ) -> int | None:
        if not figures:
            return None
        total = 0
        record: dict[str, Any] = {}
        for loc, qty, as_of, rec in figures:
            if web and loc not in web:
                continue
            record = record or rec
            total += qty
            for source, mloc, mqty, occurred, acked in moves:
                # One ERP total takes every movement; per warehouse, a movement counts at
                # its own, or (naming none) once, at the first web warehouse.
                if loc != ALL and mloc != loc and (mloc != ALL or loc != self._home(figures,
                                                                                     web)):
                    continue
                if not self._erp_had(source, occurred, acked, as_of):
                    total += mqty
        keep = next((r.qty for r in self.spec.safety if r.matches(sku, record)), 0)
        return max(total - keep, 0)

    @staticmethod
    def _home(figures: list[tuple[str, int, float, dict[str, Any]]], web: set[str]) -> str:
        return next(loc for loc, *_ in figures if not web or loc in web)

    def _erp_had(self, source: str, occurred: float, acked: float | None, as_of: float) -> bool:
        """Whether the ERP's figure taken at ``as_of`` includes this movement."""
        if source.startswith("web:") and self.spec.erp_knows == "acknowledged":
            return acked is not None and acked <= as_of
        return occurred <= as_of

    # feedback -------------------------------------------------------------
    def next_seq(self, name: str) -> int:
        with self.ledger.tx() as db:
            row = db.execute("SELECT seq FROM sequences WHERE inventory=? AND name=?",
                             (self.name, name)).fetchone()
            seq = (row[0] if row else 0) + 1
            db.execute("INSERT INTO sequences VALUES (?,?,?) ON CONFLICT(inventory, name) "
                       "DO UPDATE SET seq=excluded.seq", (self.name, name, seq))
        return seq

    def unexported(self) -> list[Movement]:
        """Web movements no feedback file has carried yet (store sales: the ERP has them)."""
        return self.movements("seq IS NULL AND source LIKE 'web:%'")

    def exported(self, ids: list[int], seq: int) -> None:
        with self.ledger.tx() as db:
            db.executemany("UPDATE movements SET seq=?, exported=? WHERE id=?",
                           [(seq, time.time(), i) for i in ids])

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


def as_of_text(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


Touched = list[tuple[str, int, int]]  # (sku, its first input line, input rows)


def ingest(inv: Inventory, batches: Iterator[Batch], path: Path, file_id: int,
           source: str) -> Touched:
    """Read a whole stock file into the inventory: the ERP's figures, or store
    movements. Returns the SKUs it touched."""
    s = inv.spec
    if s.role == "acks":
        seqs = []
        for batch in batches:
            seqs += [int(v) for v in batch.column(s.ack).to_pylist() if v is not None]
        n = inv.acknowledge(seqs=seqs)
        log.info("%s: %d movements acknowledged by the ERP (files %s)", inv.name, n,
                 ", ".join(map(str, sorted(set(seqs)))) or "none")
        return []
    if s.role == "orders":
        lines: list[OrderLine] = []
        counts: dict[str, list[int]] = {}
        default_at = path.stat().st_mtime
        gone = {c.lower() for c in s.cancelled}
        for batch in batches:
            for line, rec in zip(batch.lines.to_pylist(), batch.rows(), strict=True):
                sku = rec.get(s.sku)
                if sku is None or rec.get(s.order) is None:
                    continue
                sku = str(sku)
                status = str(rec.get(s.status) or "") if s.status else ""
                qty = 0 if status.lower() in gone else int(rec.get(s.quantity) or 0)
                when = epoch(rec[s.at], s.as_of.timezone) if s.at and rec.get(s.at) \
                    else default_at
                lines.append(OrderLine(str(rec[s.order]), str(rec.get(s.line) if s.line
                                                              else sku),
                                       sku, qty, status, when, when))
                c = counts.setdefault(sku, [line, 0])
                c[1] += 1
        inv.record_orders(source, lines)
        return [(sku, c[0], c[1]) for sku, c in sorted(counts.items())]
    if s.role == "figures":
        inv.unstage(file_id)
        as_of = file_as_of(s.as_of, path)
        for batch in batches:
            if len(batch):
                inv.stage_figures(batch, file_id, as_of)
        touched = list(inv.staged_skus(file_id))
        inv.commit_figures(file_id)
    else:
        moves: dict[tuple[str, str], tuple[str, str, str, str, int, float]] = {}
        counts: dict[str, list[int]] = {}
        default_at = path.stat().st_mtime
        for batch in batches:
            for line, rec in zip(batch.lines.to_pylist(), batch.rows(), strict=True):
                sku = rec.get(s.sku)
                if sku is None:
                    continue
                sku = str(sku)
                receipt = str(rec.get(s.receipt)) if s.receipt else path.name
                when = epoch(rec[s.at], s.as_of.timezone) if s.at and rec.get(s.at) \
                    else default_at
                loc = str(rec.get(s.location) or ALL) if s.location else ALL
                moves[(receipt, str(line))] = (receipt, str(line), sku, loc.strip(),
                                               int(rec.get(s.quantity) or 0), when)
                c = counts.setdefault(sku, [line, 0])
                c[1] += 1
        inv.record_store(source, moves.values())
        touched = [(sku, c[0], c[1]) for sku, c in sorted(counts.items())]
    return touched


def availability_batches(inv: Inventory, touched: Touched, block: int = 5000
                         ) -> Iterator[tuple[Batch, pa.Array]]:
    """What the shops should get for the SKUs a file touched: the SKU and the
    quantity available, with the number of input rows behind each, so every input
    row is still accounted for."""
    for i in range(0, len(touched), block):
        part = touched[i:i + block]
        avail = inv.available([t[0] for t in part])
        keep = [t for t in part if avail[t[0]] is not None]
        # Under canonical names: the shops' sinks read sku and stock.
        table = pa.table({"sku": pa.array([t[0] for t in keep], pa.string()),
                          "stock": pa.array([avail[t[0]] for t in keep], pa.int64())})
        lines = pa.array([t[1] for t in keep], pa.int64())
        weights = pa.array([t[2] for t in keep], pa.int64())
        yield Batch(table, lines), weights
        unknown = [t for t in part if avail[t[0]] is None]
        if unknown:  # no ERP figure for these SKUs yet: nothing to tell a shop
            yield (Batch(pa.table({"sku": pa.array([], pa.string()),
                                   "stock": pa.array([], pa.int64())}),
                         pa.array([], pa.int64())),
                   pa.array([sum(t[2] for t in unknown)], pa.int64()))


def inventory_counts(ledger: SqliteLedger) -> list[tuple[str, dict[str, int]]]:
    """Per inventory: SKUs with an ERP figure, and web movements not yet told to the
    ERP, told and awaiting its acknowledgement, acknowledged; store movements."""
    db = ledger.db
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name='movements'").fetchone():
        return []
    out = []
    for (inv,) in db.execute("SELECT inventory FROM inventories ORDER BY inventory").fetchall():
        skus = db.execute("SELECT count(DISTINCT sku) FROM erp_stock WHERE inventory=?",
                          (inv,)).fetchone()[0]
        row = db.execute(
            "SELECT sum(source LIKE 'web:%' AND seq IS NULL), "
            "sum(source LIKE 'web:%' AND seq IS NOT NULL AND acked IS NULL), "
            "sum(source LIKE 'web:%' AND acked IS NOT NULL), sum(source LIKE 'pos:%') "
            "FROM movements WHERE inventory=?", (inv,)).fetchone()
        names = ("to_erp", "awaiting_ack", "acknowledged", "store")
        out.append((inv, {"skus": skus} | {k: v or 0 for k, v in zip(names, row, strict=True)}))
    return out
