"""``filebridge reconcile``: per SKU, the ERP's figure, what may be sold (the
ledger's view), what the shop last acknowledged and what the shop shows now; the
drift between the last two, and optionally the correction. Beside them, the units
oversold: sold on some channel beyond the stock (no correction of the shop can
bring those back; someone has to decide which order waits).

A drift is normal for a moment (a web sale the next pull will record); one that
stays means the shop was edited by hand, or a change was lost outside filebridge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from filebridge.delta import row_hashes
from filebridge.records import Batch
from filebridge.sinks.api.sink import ApiSink
from filebridge.stock.jobview import StockJob
from filebridge.sync.changes import canon_for, canonical
from filebridge.sync.send import drain


@dataclass
class Line:
    sku: str
    erp: int  # the ERP's figure over the web warehouses
    available: int | None  # what may be sold now
    acked: int | None  # what the shop last acknowledged from us
    shop: int | None  # what the shop shows
    oversold: int = 0  # units sold beyond the stock
    held: int = 0  # units the shop holds reserved for open orders besides its figure

    @property
    def expected(self) -> int | None:
        """What the shop's figure should be: what may be sold, plus what a Magento
        source carries for its open reservations (filebridge/stock/push.py)."""
        return None if self.available is None else self.available + self.held

    @property
    def drift(self) -> int | None:
        if self.expected is None or self.shop is None:
            return None
        return self.shop - self.expected


@dataclass
class Report:
    sink: str
    lines: list[Line]
    corrected: int = 0
    error: str | None = None

    @property
    def drifting(self) -> list[Line]:
        return [x for x in self.lines if x.drift]

    @property
    def oversold(self) -> list[Line]:
        return [x for x in self.lines if x.oversold]


def reconcile(job: StockJob, correct: bool = False, run_id: int | None = None) -> list[Report]:
    inv = job.inventory
    if inv is None:
        raise ValueError(f"{job.name}: reconcile needs a profile with stock:")
    web = set(inv.spec.web)
    erp: dict[str, int] = {}
    for sku, loc, qty in inv.rows.figures():
        if not web or loc in web:
            erp[sku] = erp.get(sku, 0) + qty
    skus = sorted(erp)
    positions = inv.positions(skus)
    available = {s: None if p is None else p.available for s, p in positions.items()}
    oversold = {s: 0 if p is None else p.oversold for s, p in positions.items()}
    reports = []
    for shop in job.own_shops.values():
        acked = shop.log.acknowledged(skus)
        try:
            seen = shop.client.stock_of(skus)
        except NotImplementedError as e:
            reports.append(Report(shop.id, [], error=str(e)))
            continue
        # A Magento source carries the units of open orders besides what may be sold.
        column = shop.sink.o.fields.get("stock", "stock")
        held = inv.held(inv.held_columns[column][1], skus) if column in inv.held_columns \
            else {}
        lines = [Line(s, erp[s], available[s], acked.get(s, {}).get("stock"), seen.get(s),
                      oversold[s], held.get(s, 0)) for s in skus]
        report = Report(shop.id, lines)
        if correct and report.drifting:
            report.corrected = _correct(job, shop, report.drifting, run_id)
            out = drain(shop.log, shop.client, shop.sink.o)
            report.error = out.error
        reports.append(report)
    return reports


def _correct(job: StockJob, shop: ApiSink, drifting: list[Line], run_id: int | None) -> int:
    """Queue the quantity that may be sold for every drifting SKU, hashed as a run
    would hash it, so the next file compares with what the shop now has."""
    rows = [x for x in drifting if x.expected is not None]
    fields = shop.sink.o.fields
    cols = {"sku": pa.array([x.sku for x in rows], pa.string()),
            fields.get("stock", "stock"): pa.array([x.expected for x in rows], pa.int64())}
    if "held" in fields:  # hashed with the figure, as a push hashes it
        cols[fields["held"]] = pa.array([x.held for x in rows], pa.int64())
    table = pa.table(cols)
    batch = Batch(table, pa.array(range(len(rows)), pa.int64()))
    canon = canonical(batch, canon_for(shop))
    hashes = row_hashes(Batch(canon, batch.lines)).view(pa.int64()).to_pylist()
    shop.log.enqueue([(x.sku, "upsert", h, None,
                       json.dumps({"sku": x.sku, "stock": x.expected}))
                      for x, h in zip(rows, hashes, strict=True)], run_id)
    return len(rows)
