"""The console's stock page: per SKU, what the web may sell and what it is made of
(the ERP's figure per warehouse, the web's and the stores' movements the ERP's figure
does not include yet, the units shops hold reserved, the safety stock), by the same
rules as :meth:`filebridge.stock.Inventory.positions`, whose total it checks against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from filebridge.errors import Bug
from filebridge.ledger import console as q
from filebridge.stock.inventory import ALL


@dataclass
class Line:
    sku: str
    erp: dict[str, int] = field(default_factory=dict)  # warehouse -> the ERP's figure
    web: int = 0        # web movements the ERP's figure lacks (sales negative)
    store: int = 0      # store movements the ERP's figure lacks
    reserved: int = 0   # units orders still hold reserved in a shop
    keep: int = 0       # safety stock
    total: int = 0
    available: int = 0
    oversold: int = 0


def lines(job: Any, prefix: str = "", after: str = "", limit: int = 100) -> list[Line]:
    inv = job.inventory
    if inv is None:
        return []
    skus = q.stock_skus(job.ledger, inv.name, prefix, limit, after)
    with q.reading(job.ledger):
        figures: dict[str, list[tuple[str, int, float]]] = {}
        for sku, loc, qty, as_of, _ in inv.rows.figures_of(skus):
            figures.setdefault(sku, []).append((loc, qty, as_of))
        moves: dict[str, list[tuple[str, str, int, float, float | None]]] = {}
        for sku, source, loc, qty, occurred, acked in inv.rows.movements_of(skus):
            moves.setdefault(sku, []).append((source, loc, qty, occurred, acked))
        positions = inv.positions(skus)
        reserved: dict[str, int] = {}
        for source in {s for ms in moves.values() for s, *_ in ms if s.startswith("web:")}:
            for sku, n in inv.held(source, skus).items():
                reserved[sku] = reserved.get(sku, 0) + n
    web = set(inv.spec.web)
    out = []
    for sku in skus:
        pos = positions.get(sku)
        if pos is None:
            continue
        line = Line(sku, keep=pos.keep, total=pos.total, available=pos.available,
                    oversold=pos.oversold, reserved=reserved.get(sku, 0))
        mine = [f for f in figures.get(sku, []) if not web or f[0] in web]
        home = mine[0][0] if mine else None
        for loc, qty, as_of in mine:
            line.erp[loc] = line.erp.get(loc, 0) + qty
            for source, mloc, mqty, occurred, acked in moves.get(sku, []):
                if loc != ALL and mloc != loc and (mloc != ALL or loc != home):
                    continue
                if inv._erp_had(source, occurred, acked, as_of):
                    continue
                if source.startswith("web:"):
                    line.web += mqty
                else:
                    line.store += mqty
        if sum(line.erp.values()) + line.web + line.store != pos.total:
            raise Bug(f"expected the parts of {sku} to add up to its position {pos.total}")
        out.append(line)
    return out
