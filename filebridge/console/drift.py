"""The reconcile drift report on the console's stock page: what
:func:`filebridge.stock.reconcile.reconcile` finds with ``correct=False`` (it reads the
shops, so only on an operator's explicit "check drift now", never on a page view),
kept in memory as the last check per profile so viewers see it too. Nothing here
corrects a shop: that stays ``filebridge reconcile --correct`` at a terminal."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

SHOWN = 200  # drifting or oversold SKUs listed per shop output


@dataclass
class ShopDrift:
    sink: str
    skus: int
    drifting: list[Any]  # filebridge.stock.reconcile.Line, the first SHOWN
    n_drifting: int
    oversold: list[Any]
    n_oversold: int
    units_oversold: int
    error: str | None


@dataclass
class Check:
    at: float
    by: str
    shops: list[ShopDrift] = field(default_factory=list)


def check(job: Any, by: str, lock: threading.Lock) -> Check:
    """Read-only: the drift per shop output of ``job`` now. ``lock``: one check per
    profile at a time (they share the job's shop clients)."""
    from filebridge.stock.reconcile import reconcile

    with lock:
        reports = reconcile(job, correct=False)
    out = Check(time.time(), by)
    for r in reports:
        drifting, oversold = r.drifting, r.oversold
        out.shops.append(ShopDrift(r.sink, len(r.lines), drifting[:SHOWN], len(drifting),
                                   oversold[:SHOWN], len(oversold),
                                   sum(x.oversold for x in oversold), r.error))
    return out
