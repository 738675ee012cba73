"""One shop API sink during one file: what changed, what goes missing, whether the
circuit breaker holds the run, and sending what the outbox holds.

    read batches ──► canonical records ──► hash ──► compare with the shop's
    acknowledged state ──► stage changed records in the outbox ──► (file accepted)
    ──► queue, or hold when the breaker trips ──► send in batches ──► settle

Only the canonical fields a sink uses are hashed (a stock sink ignores a new
description), so a nightly full export becomes the few records that differ. For a
shop that is sent the price of the day (``DAY_PRICE``: it cannot schedule a sale),
whether a record's sale is in force on the file's date is hashed with it, so the
record is sent again the day its sale starts or ends.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.catalog.prices import sale_in_force
from filebridge.catalog.record import Canon, FieldError, Market
from filebridge.catalog.values import blank
from filebridge.delta import differs, row_hashes
from filebridge.errors import Bug
from filebridge.ledger.changelog import ChangeLog
from filebridge.mapping import ProductSpec
from filebridge.records import Batch, FileReport, Reject, Rows
from filebridge.sinks.api.base import ApiSinkOptions
from filebridge.sinks.base import JobInfo

log = logging.getLogger("filebridge")


class ShopSink(Protocol):
    """What the sync needs of a shop API sink (filebridge/sinks/api/sink.py, which
    runs the sync: described here, not imported)."""

    @property
    def o(self) -> ApiSinkOptions: ...

    @property
    def job(self) -> JobInfo | None: ...

REMOVAL = {"zero": "zeroed", "unpublish": "unpublished", "delete": "deleted"}


def canon_for(sink: ShopSink) -> Canon:
    """How an API sink reads mapped rows: a stock sink only the SKU and quantity."""
    o, job = sink.o, sink.job
    if o.sync == "stock":
        # A Magento sink also hashes the units its orders hold reserved (not sent): when
        # Magento moves them out of the source itself (a shipment), the figure is sent
        # again even if it comes back to the one sent last (Inventory.sink_options).
        held = {"held": o.fields["held"]} if "held" in o.fields else {}
        return Canon(fields=dict(o.fields), names=("sku", "stock"), hashed=held)
    m = job.map if job is not None else None
    markets = getattr(o, "prices", None) or {}
    return Canon(fields=dict(o.fields), product=m.product if m else None,
                 languages=m.languages if m else (), attributes=m.attributes if m else {},
                 markets={k: Market(v.price, v.compare_at_price) for k, v in markets.items()})


def canonical(batch: Batch, canon: Canon) -> pa.Table:
    """The batch under canonical names, only what this sink sends."""
    table = canon.table(batch)
    if "stock" in canon.names and len(canon.names) == 2 and "stock" not in table.column_names:
        raise ValueError(f"sync: stock needs a stock field ({canon.mapped('stock')}) in the "
                         "records")
    return table


@dataclass
class Plan:
    """What one file would do to one sink: counts and a few example keys."""

    sink: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("create", "update", "unchanged", "rejected", "zero", "unpublish", "delete"), 0))
    examples: dict[str, list[str]] = field(default_factory=dict)
    hold: str | None = None

    def add(self, what: str, keys: list[str], n: int | None = None) -> None:
        self.counts[what] += len(keys) if n is None else n
        ex = self.examples.setdefault(what, [])
        ex.extend(keys[: 5 - len(ex)])


class ApiSync:
    """Delta and staging for one API sink over one file (``file_id`` None: a dry
    run for ``filebridge plan`` that only counts)."""

    def __init__(self, sink: ShopSink, sink_id: str, log_: ChangeLog, spec: ProductSpec | None,
                 file_id: int | None, run_id: int | None, today: date | None = None):
        self.o, self.sink_id, self.log, self.spec = sink.o, sink_id, log_, spec
        self.today = today or date.today()
        self.day_price = bool(getattr(sink, "DAY_PRICE", False))
        self.canon = canon_for(sink)
        self.file_id, self.run_id = file_id, run_id
        if file_id is not None:
            log_.unstage(file_id)
        self.known = log_.known()
        self.own = log_.own(file_id) if file_id is not None else set()
        self.seen: list[pa.Array] = []
        self.plan = Plan(sink_id)

    def write(self, batch: Batch, report: FileReport | None,
              rows: Rows | None = None) -> tuple[pa.Array, pa.Array]:
        """Stage this batch's new and changed records. Returns masks (send, refused):
        rows to send (including rows a redone file had queued already), and rows whose
        values a shop cannot take, refused through ``rows`` (or, in a dry run,
        rejected into ``report``)."""
        table = canonical(batch, self.canon)
        on_sale = sale_in_force(table, self.today) if self.day_price else None
        if on_sale is not None:  # hashed, not sent: Canon.record skips "derived:" columns
            table = table.append_column("derived:sale_in_force", on_sale)
        keys = pc.cast(table["sku"], pa.string())
        keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
        if self.o.missing != "ignore":
            self.seen.append(keys)
        hashes = row_hashes(Batch(table, batch.lines)).view(pa.int64())
        changed, new = differs(self.known, keys, hashes)
        if self.own:
            mine = pc.is_in(keys, value_set=pa.array(sorted(self.own), pa.string()))
            changed = pc.and_(changed, pc.invert(mine))
        else:
            mine = None
        idx = pc.indices_nonzero(changed)
        records = table.take(idx).to_pylist()
        lines = pc.take(batch.lines, idx).to_pylist()
        hs = pc.take(hashes, idx).to_pylist()
        is_new = pc.take(new, idx).to_pylist()
        ordinals = batch.index_array()
        ok = [True] * len(batch)
        staged = []
        creates: list[str] = []
        updates: list[str] = []
        positions = idx.to_pylist()
        for pos, row, line, h, fresh in zip(positions, records, lines, hs, is_new, strict=True):
            try:
                if row["sku"] is None:
                    raise FieldError("sku", "no SKU")
                rec = self.canon.record(row)
                if on_sale is not None and not blank(rec.get("sale_price")):
                    # Decided on the file's date, kept with the change: a change sent
                    # later (queued, held) still carries the price of its day.
                    rec["on_sale"] = bool(row["derived:sale_in_force"])
            except FieldError as e:
                ok[pos] = False
                self.plan.counts["rejected"] += 1
                where = self.o.fields.get(e.field, e.field)
                if rows is not None:
                    rows.refuse(batch, pos, where, str(e))
                elif report is not None:
                    report.reject(Reject(line, where, str(e), batch.raw_rows([pos])[0]))
                continue
            staged.append((rec["sku"], "upsert", h, rec.get("product"),
                           json.dumps(rec, ensure_ascii=False), line, int(ordinals[pos])))
            (creates if fresh else updates).append(rec["sku"])
        self.plan.add("create", creates)
        self.plan.add("update", updates)
        self.plan.add("unchanged", [], len(batch) - len(positions))
        if self.file_id is not None and staged:
            self.log.stage(staged, self.file_id, self.run_id)
        send = pc.or_(changed, mine) if mine is not None else changed
        good = pa.array(ok)
        return pc.and_(send, good), pc.invert(good)

    def missing(self, refused: list[pa.Array] | None = None) -> int:
        """Stage the missing-products policy for keys the file did not list. Keys of
        rows the mapping ``refused`` were listed (badly): they are not missing."""
        if self.o.missing == "ignore":
            return 0
        present = self.log.present()
        if not len(present):
            return 0
        listed = [a for a in [*self.seen, *(refused or [])] if len(a)]
        seen = pa.concat_arrays(listed) if listed else pa.array([], pa.string())
        gone = present.filter(pc.invert(pc.is_in(present, value_set=seen))).to_pylist()
        op = self.o.missing
        staged = [(key, op, zlib.crc32(op.encode()), product, rec, None, None)
                  for key, product, rec in self.log.records(gone)]
        self.plan.add(op, [r[0] for r in staged])
        if self.file_id is not None and staged:
            self.log.stage(staged, self.file_id, self.run_id)
        return len(staged)

    def verdict(self, read: int, last_read: int | None) -> str | None:
        """Why the breaker holds this run, or None."""
        reasons = []
        removed = sum(self.plan.counts[k] for k in REMOVAL)
        size = self.log.catalog_size()
        b = self.o.breaker
        if removed and size and removed / size > b.max_removed:
            reasons.append(f"{removed} of the {size} products the shop has from us would be "
                           f"{REMOVAL[self.o.missing]} ({removed / size:.0%}, more than "
                           f"breaker.max_removed {b.max_removed:.0%})")
        if self.o.missing != "ignore" and last_read and read < b.min_rows * last_read:
            reasons.append(f"the file holds {read} rows, fewer than {b.min_rows:.0%} of the "
                           f"last accepted file's {last_read}")
        self.plan.hold = "; ".join(reasons) or None
        return self.plan.hold

    def commit(self, hold: bool) -> int:
        if self.file_id is None:
            raise Bug("expected self.file_id is not None")
        return self.log.commit(self.file_id, hold)


def refused_keys(job: Any, report: FileReport, field: str) -> list[pa.Array]:
    """The keys of the file's rejected rows, as far as they can be worked out: a
    full-catalog sync must not take a badly listed product for one that left.
    ``job`` has the profile's ``mapper``."""
    out: list[pa.Array] = []
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        keys = job.mapper.values_of(field, chunk)
        out.append(pa.array([None if v is None else str(v) for v in keys], pa.string()))
        chunk.clear()

    for rej in report.rejects():
        chunk.append(rej.values)
        if len(chunk) >= 10_000:
            flush()
    if chunk:
        flush()
    return out
