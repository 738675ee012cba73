"""A profile at a glance, for the console's profiles page: its last file and counts,
its next scheduled job, the circuit breaker, the shop queue and the last error. Read
from the ledger only (filebridge/ledger/console.py); nothing here runs anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from filebridge.ledger import console as q


def state_of(job: Any) -> str:
    """Where the profile's shop outbox lives: the inventory's for shared stock."""
    stock = getattr(job.profile, "stock", None)
    return f"inventory:{stock.inventory}" if stock is not None else job.name


@dataclass
class Overview:
    name: str
    last_file: dict[str, Any] | None
    next_job: tuple[str, float | None] | None  # (job, when; None: when the watcher starts)
    held: list[dict[str, Any]]
    queued: int
    shops: list[str]
    last_error: dict[str, Any] | None
    syncs: list[dict[str, Any]]

    @property
    def breaker(self) -> str:
        if not self.shops:
            return "no shop API"
        if self.held:
            return "holding " + ", ".join(f"run #{h['run']} ({h['sink']}: {h['changes']} "
                                          "changes)" for h in self.held)
        return "clear"


def next_job(job: Any) -> tuple[str, float | None] | None:
    """The profile's scheduled job that comes next, and when (None: its first run is
    when a watcher first sees it)."""
    planned = job.scheduled()
    if not planned:
        return None
    rows = q.schedules(job.ledger, job.name)
    best: tuple[str, float | None] | None = None
    for j in planned:
        row = rows.get(j.name)
        if row is None:
            return (j.name, None)
        through = row["through"]
        t = j.schedule.next_after(through if through is not None else row["anchor"] - 1,
                                  row["anchor"])
        if t is not None and (best is None or best[1] is None or t < best[1]):
            best = (j.name, t)
    return best


def overview(job: Any) -> Overview:
    state = state_of(job)
    box = q.outbox(job.ledger, state)
    shops = sorted(job.shops)
    return Overview(job.name, q.last_file(job.ledger, job.name), next_job(job),
                    [h for h in q.held(job.ledger, state) if h["sink"] in shops],
                    sum(box.get(s, {}).get("queued", 0) for s in shops), shops,
                    q.last_error(job.ledger, job.name), q.syncs(job.ledger, job.name, 3))
