"""Stock files into the inventory, and what the shops get back: one role each
(figures, movements, orders, acks) in, one row per touched SKU with what may be
sold out, carrying the number of input rows behind it so every row is counted."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.orders.base import OrderLine
from filebridge.orders.doc_rows import DocumentFields, Row, groups, personal_values
from filebridge.records import Batch, FileReport, Reject
from filebridge.stock.inventory import ALL, Inventory, epoch
from filebridge.stock.spec import AsOf

log = logging.getLogger("filebridge")


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


# (sku, its first input line, input rows): None and 0 for a SKU the file changed
# without a row of it (a line taken off a corrected receipt).
Touched = list[tuple[str, int | None, int]]


class Refuse:
    """Rejects rows a stock file cannot use, naming the line and the field."""

    def __init__(self, report: FileReport):
        self.report = report

    def __call__(self, batch: Batch, i: int, line: int, field: str, reason: str,
                 hide: frozenset[str] = frozenset()) -> None:
        """``hide``: values not to repeat in the rejects file (an order's personal data:
        names, addresses, e-mail, phone), written as ``(personal data)``."""
        raw = batch.raw_rows([i])[0]
        if hide:
            raw = {k: PERSONAL if isinstance(v, str) and v.strip() in hide else v
                   for k, v in raw.items()}
        self.report.reject(Reject(line, field, reason, raw))


PERSONAL = "(personal data)"


def when(rec: dict[str, Any], field: str | None, tz: str | None, default: float) -> float:
    """The time a row gives in ``field`` (its file's time when unset or empty)."""
    value = rec.get(field) if field else None
    if value is None or value == "":
        return default
    try:
        return epoch(value, tz)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date and time (ISO 8601, e.g. "
                         "2026-11-27T02:05:00+01:00)") from None


@dataclass
class Quiet:
    """What an orders file's rows did: the movements they made (``movements``), and the
    rows that moved no stock, nothing for the ERP's movement file: per SKU, and per
    reason (``cancelled``: a cancelled line with no sale left to give back, e.g. one
    first seen cancelled; ``as recorded``: a line already recorded as it stands, or an
    older state of it)."""

    movements: int = 0
    documents: int = 0  # new order documents (stock.documents)
    skus: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, sku: str, reason: str) -> None:
        self.skus[sku] = self.skus.get(sku, 0) + 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    @property
    def rows(self) -> int:
        return sum(self.skus.values())


def ingest(inv: Inventory, batches: Iterator[Batch], path: Path, file_id: int,
           source: str, report: FileReport, quiet: Quiet | None = None) -> Touched:
    """Read a whole stock file into the inventory: the ERP's figures, store
    movements, order lines or acknowledgements. Returns the SKUs it touched; rows
    it cannot use are rejected into ``report`` with their line and field. An orders
    file's rows that moved no stock are noted in ``quiet``."""
    s = inv.spec
    refuse = Refuse(report)
    if s.role == "acks":
        seqs = []
        for batch in batches:
            for i, (line, v) in enumerate(zip(batch.lines.to_pylist(),
                                              batch.column(s.ack).to_pylist(), strict=True)):
                try:
                    seqs.append(int(v))
                except (TypeError, ValueError):
                    refuse(batch, i, line, s.ack, f"{v!r} is not a movement file number")
        if s.acks_of == "documents":  # order document files (filebridge/orders/doc_files.py)
            from filebridge.ledger.documents import DocumentRows

            n = DocumentRows(inv.ledger, inv.name).acknowledge(sorted(set(seqs)), time.time())
            what = "order documents"
        else:
            n = inv.acknowledge(seqs=seqs)
            what = "movements"
        log.info("%s: %d %s acknowledged by the ERP (files %s)", inv.name, n, what,
                 ", ".join(map(str, sorted(set(seqs)))) or "none")
        return []
    if s.role == "orders":
        lines: list[OrderLine] = []
        counts: dict[str, list[int]] = {}
        default_at = path.stat().st_mtime
        gone = {c.lower() for c in s.cancelled}
        fields = None if s.documents is None else (
            s.document_fields or DocumentFields.model_validate({}))

        def hide(rec: dict[str, Any]) -> frozenset[str]:
            return frozenset() if fields is None else personal_values(fields, rec)

        def valid() -> Iterator[Row]:
            for batch in batches:
                for i, (line, rec) in enumerate(zip(batch.lines.to_pylist(), batch.rows(),
                                                    strict=True)):
                    missing = next((f for f in (s.sku, s.order) if rec.get(f) in (None, "")),
                                   None)
                    if missing:
                        refuse(batch, i, line, missing, f"{missing} is empty", hide(rec))
                        continue
                    try:
                        placed = when(rec, s.at, s.as_of.timezone, default_at)
                    except ValueError as e:
                        refuse(batch, i, line, s.at or "", str(e), hide(rec))
                        continue
                    yield Row(line, rec, placed, (batch, i))

        def take(row: Row) -> None:
            rec, sku = row.rec, str(row.rec[s.sku])
            status = str(rec.get(s.status) or "") if s.status else ""
            qty = 0 if status.lower() in gone else int(rec.get(s.quantity) or 0)
            lines.append(OrderLine(str(rec[s.order]), str(rec.get(s.line) if s.line else sku),
                                   sku, qty, status, row.placed, row.placed))
            c = counts.setdefault(sku, [row.line, 0])
            c[1] += 1

        if fields is not None:
            # Each order of the file also as a document for the ERP, recorded as the
            # pullers' are (filebridge/orders/doc_rows.py); an order that cannot be one is
            # rejected whole and moves no stock either.
            from filebridge.ledger.documents import DocumentRows
            from filebridge.orders.doc_files import record as record_documents

            docs = DocumentRows(inv.ledger, inv.name)

            def refuse_row(row: Row, field: str, reason: str) -> None:
                refuse(row.ref[0], row.ref[1], row.line, field, reason, hide(row.rec))

            for rows, doc in groups(valid(), s, fields, refuse_row):
                if quiet is not None:
                    quiet.documents += record_documents(docs, source, [doc])
                else:
                    record_documents(docs, source, [doc])
                for row in rows:
                    take(row)
        else:
            for row in valid():
                take(row)
        moved: set[str] = set()
        made: list[int] = []
        n = inv.record_orders(source, lines, moved, made)
        if quiet is not None:
            quiet.movements += n
            for ol, n in zip(lines, made, strict=True):
                if not n:
                    quiet.add(ol.sku, "cancelled" if ol.status.lower() in gone
                              else "as recorded")
        return touched_skus(counts, moved)
    if s.role == "figures":
        inv.unstage(file_id)
        as_of = file_as_of(s.as_of, path)
        for batch in batches:
            keep = []
            for i, (line, rec) in enumerate(zip(batch.lines.to_pylist(), batch.rows(),
                                                strict=True)):
                if rec.get(s.sku) in (None, ""):
                    refuse(batch, i, line, s.sku, f"{s.sku} is empty")
                    continue
                if s.as_of.field:
                    try:
                        when(rec, s.as_of.field, s.as_of.timezone, 0.0)
                    except ValueError as e:
                        refuse(batch, i, line, s.as_of.field, str(e))
                        continue
                keep.append(i)
            if keep:
                good = batch if len(keep) == len(batch) else Batch(
                    batch.table.take(keep), pc.take(batch.lines, pa.array(keep)),
                    batch.raw.take(keep) if batch.raw is not None else None)
                inv.stage_figures(good, file_id, as_of)
        touched: Touched = list(inv.staged_skus(file_id))
        inv.commit_figures(file_id)
    else:
        touched = _store(inv, batches, path, source, report)
    return touched


def _store(inv: Inventory, batches: Iterator[Batch], path: Path, source: str,
           report: FileReport) -> Touched:
    """A POS file, receipt by receipt as each now stands: its lines keyed by the
    receipt line field, or by SKU (and location) with their quantities summed."""
    s = inv.spec
    refuse = Refuse(report)
    receipts: dict[str, dict[str, list[Any]]] = {}  # receipt -> line -> [sku, loc, qty, at]
    counts: dict[str, list[int]] = {}
    file_time = path.stat().st_mtime
    for batch in batches:
        for i, (line, rec) in enumerate(zip(batch.lines.to_pylist(), batch.rows(),
                                            strict=True)):
            needed = [f for f in (s.sku, s.receipt, s.receipt_line) if f is not None]
            missing = next((f for f in needed if rec.get(f) in (None, "")), None)
            if missing:
                refuse(batch, i, line, missing, f"{missing} is empty")
                continue
            sku = str(rec[s.sku])
            try:
                sold_at = when(rec, s.at, s.as_of.timezone, file_time)
            except ValueError as e:
                refuse(batch, i, line, s.at or "", str(e))
                continue
            receipt = str(rec[s.receipt]) if s.receipt else path.name
            loc = (str(rec.get(s.location) or ALL) if s.location else ALL).strip()
            qty = int(rec.get(s.quantity) or 0)
            lines = receipts.setdefault(receipt, {})
            if s.receipt_line:
                lines[str(rec[s.receipt_line])] = [sku, loc, qty, sold_at]  # the last one wins
            else:
                key = sku if loc == ALL else f"{sku}@{loc}"
                have = lines.setdefault(key, [sku, loc, 0, sold_at])
                have[2] += qty
                have[3] = min(have[3], sold_at)
            c = counts.setdefault(sku, [line, 0])
            c[1] += 1
    moved: set[str] = set()
    inv.record_store(source, [
        (receipt, [OrderLine(receipt, key, sku, qty, "", at, max(at, file_time), loc)
                   for key, (sku, loc, qty, at) in lines.items()])
        for receipt, lines in receipts.items()],
        changed=file_time, whole=report.tally.rejected == 0, moved=moved)
    return touched_skus(counts, moved)


def written(lines: int, rows: int, quiet: Quiet) -> str:
    """What a movement file made from an orders file holds, in words that add up:
    ``4 lines written (5 order lines: 1 cancelled)``."""
    why = [f"{n} {reason}" for reason, n in sorted(quiet.reasons.items())]
    more = lines - quiet.movements
    moving = rows - quiet.rows
    if quiet.movements != moving:  # a line whose SKU changed makes two
        why.append(f"{quiet.movements} movements from {moving} line{'' if moving == 1 else 's'}")
    if more:
        why.append(f"{more} line{'' if more == 1 else 's'} recorded before this file")
    return (f"{lines} line{'' if lines == 1 else 's'} written ({rows} order "
            f"line{'' if rows == 1 else 's'}" + (": " + ", ".join(why) if why else "") + ")")


def touched_skus(counts: Mapping[str, list[int] | tuple[int | None, int]],
             moved: set[str]) -> Touched:
    """The SKUs of the file's rows, and those it moved without a row (a SKU taken off
    a corrected receipt, or an order line that now holds another SKU): their shops are
    told all the same, under no input line, so they count as no row."""
    rows: dict[str, tuple[int | None, int]] = {sku: (c[0], c[1]) for sku, c in counts.items()}
    for sku in moved - rows.keys():
        rows[sku] = (None, 0)
    return [(sku, line, n) for sku, (line, n) in sorted(rows.items())]


@dataclass
class Oversold:
    """The SKUs a file found sold beyond the stock (units each), for its ack and the
    log; ``where`` names the profile and the file."""

    where: str
    skus: dict[str, int] = field(default_factory=dict)

    @property
    def units(self) -> int:
        return sum(self.skus.values())

    def report(self, shown: int = 10) -> None:
        if not self.skus:
            return
        worst = sorted(self.skus.items(), key=lambda kv: (-kv[1], kv[0]))
        log.warning("%s: oversold: %d SKUs, %d units sold beyond the stock: %s%s", self.where,
                    len(self.skus), self.units,
                    ", ".join(f"{sku} {n}" for sku, n in worst[:shown]),
                    ", ..." if len(worst) > shown else "")


def ack_columns(inv: Inventory | None, found: Oversold | None,
                movements: int | None = None, documents: int | None = None
                ) -> dict[str, object]:
    """The ack's stock figures: none for a profile without stock, blank where the
    file worked nothing out (a rejected file, ERP acknowledgements). An orders
    profile with movement files adds ``movements``: the lines written into them with
    this file's outputs (blank for a rejected file); one with order documents adds
    ``documents``: the new documents (versions) its orders made."""
    if inv is None:
        return {}
    out: dict[str, object] = {"oversold": None, "oversold_skus": None}
    if found is not None:
        out = {"oversold": found.units, "oversold_skus": len(found.skus)}
    if inv.spec.role == "orders" and inv.spec.feedback is not None:
        out["movements"] = movements
    if inv.spec.role == "orders" and inv.spec.documents is not None:
        out["documents"] = documents
    return out


def availability_batches(inv: Inventory, touched: Touched, block: int = 5000,
                         found: Oversold | None = None, rows: Any = None
                         ) -> Iterator[tuple[Batch, pa.Array]]:
    """What the shops should get for the SKUs a file touched: the SKU and the
    quantity available (``stock``, and ``stock@LOCATION`` per shop location), with
    the number of input rows behind each, so every input row is still accounted for.
    SKUs sold beyond the stock go into ``found``, logged at the end."""
    for i in range(0, len(touched), block):
        part = touched[i:i + block]
        positions = inv.positions([t[0] for t in part])
        avail = {sku: None if p is None else p.available for sku, p in positions.items()}
        if found is not None:
            found.skus.update((sku, p.oversold) for sku, p in positions.items()
                              if p is not None and p.oversold)
        keep = [t for t in part if avail[t[0]] is not None]
        # Under canonical names: the shops' sinks read sku and stock.
        cols = {"sku": pa.array([t[0] for t in keep], pa.string()),
                "stock": pa.array([avail[t[0]] for t in keep], pa.int64())}
        for shop_location, warehouses in inv.spec.locations.items():
            # Per shop location: a sink with that location reads this column.
            here = inv.available([t[0] for t in keep], warehouses)
            cols[f"stock@{shop_location}"] = pa.array([here[t[0]] or 0 for t in keep],
                                                      pa.int64())
        for column, (base, source) in inv.held_columns.items():
            # A shop that holds its open orders reserved besides its figure (Magento)
            # is set to what may be sold plus those units (Inventory.sink_options).
            held = inv.held(source, [t[0] for t in keep])
            cols[f"held+{source}"] = pa.array([held.get(t[0], 0) for t in keep], pa.int64())
            cols[column] = pc.add(cols[base], cols[f"held+{source}"])
        table = pa.table(cols)
        lines = pa.array([t[1] for t in keep], pa.int64())
        weights = pa.array([t[2] for t in keep], pa.int64())
        yield Batch(table, lines), weights
        unknown = [t for t in part if avail[t[0]] is None]
        if unknown and rows is not None:  # no ERP figure yet: nothing to tell a shop
            rows.unlisted += sum(t[2] for t in unknown)
    if found is not None:
        found.report()
