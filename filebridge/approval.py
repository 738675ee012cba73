"""Approving a run the circuit breaker held: one code path for ``filebridge approve``
and the console's Approve button."""

from __future__ import annotations

from typing import Any


class NothingHeld(ValueError):
    """The run has no held changes (never held, or approved already)."""


def release(job: Any, run_id: int) -> dict[str, int]:
    """Release the held changes of ``run_id`` to every shop of ``job`` and count its
    held files as accepted; {shop id: changes released}. The caller holds the
    profile's lease; sending them is the next drain's (the CLI drains at once, the
    console leaves it to the watcher)."""
    released = {s.id: s.log.approve(run_id) for s in job.shops.values()}
    if not any(released.values()):
        raise NothingHeld(f"{job.name}: run {run_id} has no held changes")
    job.ledger.approved(run_id)
    return released
