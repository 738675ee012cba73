"""Follow-up acks in the ledger (``followups``, filebridge/followup.py): the rows an
input's ack counted queued, saved with the file's outcome (:meth:`Ledger.finish`),
and when the follow-up ack was written."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Due:
    file_id: int
    ordinals: bytes           # int64 little-endian: the rows counted queued
    weights: bytes | None     # int64 little-endian: how many input rows each stands for
    name: str
    claimed: float
    tally: dict[str, int]


def due(ledger: Any, profile: str) -> list[Due]:
    """Inputs of ``profile`` done, with a follow-up not written yet, none of whose shop
    changes is still staged, queued or held."""
    rows = ledger.db.execute(
        "SELECT f.file_id, f.ordinals, f.weights, files.name, files.claimed, files.tally "
        "FROM followups f JOIN files ON files.id = f.file_id WHERE f.profile=? AND "
        "f.written IS NULL AND files.status='done' AND NOT EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.file_id = f.file_id AND o.status IN ('staged', 'queued', 'held')) "
        "ORDER BY f.file_id", (profile,)).fetchall()
    return [Due(i, bytes(o), bytes(w) if w is not None else None, n, c, json.loads(t))
            for i, o, w, n, c, t in rows]


def written(ledger: Any, file_id: int, path: Path | None) -> None:
    with ledger.tx() as db:
        db.execute("UPDATE followups SET written=?, path=? WHERE file_id=?",
                   (time.time(), str(path) if path else None, file_id))


def changes(ledger: Any, file_id: int) -> list[tuple[Any, ...]]:
    """(ordinal, status, sink, key, error, line, record json) of an input's shop changes."""
    return ledger.db.execute("SELECT ord, status, sink, key, error, line, record FROM outbox "
                             "WHERE file_id=?", (file_id,)).fetchall()
