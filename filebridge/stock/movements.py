"""Inventory feedback: the web's sales, cancellations and refunds as files for the
ERP, in its own layout (fixed-width, with the layout language the readers use, or
CSV), with sequence-numbered names.

Exactly once, whatever crashes: the movements are tied to a sequence number and
the file is recorded as *pending* in one transaction before the file is written;
a pending file is written again (same number, same name, same content, atomic
replace) until it has been published and delivered. So the ERP never gets a
movement twice under two numbers, and never misses one.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from filebridge import erpfile
from filebridge.outputs import Outbox
from filebridge.stock.spec import MovementFiles

if TYPE_CHECKING:
    from filebridge.stock.inventory import Inventory, Movement

log = logging.getLogger("filebridge")


def values(m: Movement, seq: int, oversold: int = 0, zone: tzinfo | None = None
           ) -> dict[str, Any]:
    """A movement's fields for the ERP, its time in the ERP's ``zone`` (default: this
    machine's): date and time as local wall time, occurred as ISO 8601 with the offset."""
    when = datetime.fromtimestamp(m.occurred, zone) if zone is not None else \
        datetime.fromtimestamp(m.occurred).astimezone()
    return {"seq": seq, "id": m.id, "kind": m.kind, "source": m.source, "order": m.order,
            "line": m.line, "sku": m.sku, "location": "" if m.location == "*" else m.location,
            "qty": m.qty, "sold": -m.qty, "date": date(when.year, when.month, when.day),
            "time": when.strftime("%H%M%S"), "occurred": when.isoformat(timespec="seconds"),
            "oversold": oversold}


def render(o: MovementFiles, moves: list[Movement], seq: int,
           oversold: dict[str, int] | None = None, zone: tzinfo | None = None) -> bytes:
    """The file's bytes; ``oversold``: units per SKU sold beyond the stock, as kept in
    the ledger when the file was made (so a rewrite says the same); times in the ERP's
    ``zone``."""
    over = oversold or {}
    rows = [values(m, seq, over.get(m.sku, 0), zone) for m in moves]
    if o.format == "fixed":
        return erpfile.fixed(rows, o.fields or {}, o.encoding)
    return erpfile.delimited(rows, o.columns, o.delimiter, o.encoding)


class MovementWriter:
    """Writes an inventory's movement files; times (in the files and in {date} {time}
    of their names) in the ERP's ``zone`` (None: this machine's)."""

    def __init__(self, inv: Inventory, o: MovementFiles, base: Any, delivery: Any,
                 zone: tzinfo | None = None):
        self.inv, self.o, self.base, self.delivery = inv, o, base, delivery
        self.zone = zone

    def path(self, seq: int, when: float) -> Any:
        import os
        from pathlib import Path

        t = datetime.fromtimestamp(when, self.zone)
        p = Path(self.o.path.format(seq=seq, date=t.strftime("%Y%m%d"),
                                    time=t.strftime("%H%M%S"), inventory=self.inv.name))
        return Path(os.path.normpath(p if p.is_absolute() else Path(self.base) / p))

    def write(self, outbox: Outbox | None = None) -> list[tuple[int, Any, int]]:
        """Write pending files again, then a new one for unexported movements.
        Returns (seq, path, movements) of each file written. With ``outbox``, the
        files are only staged there: the caller publishes them with its other outputs
        and then calls :meth:`published`."""
        done = []
        for seq, path in self.inv.rows.pending_files():
            done.append(self._publish(seq, path, outbox))
        moves = self.inv.unexported()
        if not moves and not self.o.empty:
            return done
        seq, path = self.inv.export([m.id for m in moves],
                                    lambda seq, now: str(self.path(seq, now)))
        done.append(self._publish(seq, path, outbox))
        return done

    def published(self, seqs: list[int]) -> None:
        self.inv.rows.published(seqs, time.time())

    def _publish(self, seq: int, path: str, into: Outbox | None = None) -> tuple[int, Any, int]:
        from pathlib import Path

        moves = self.inv.file_movements(seq)
        over = self.inv.file_oversold(seq)
        if over:
            log.warning("%s: movements file %d: oversold: %s", self.inv.name, seq,
                        ", ".join(f"{sku} {n}" for sku, n in sorted(over.items())))
        data = render(self.o, moves, seq, over, self.zone)
        if not erpfile.publish_numbered(data, Path(path), self.o.deliver, self.o.done_file,
                                        self.delivery, into):
            return seq, Path(path), len(moves)
        self.published([seq])
        log.info("%s: movements file %d: %s (%d movements)", self.inv.name, seq, path,
                 len(moves))
        return seq, Path(path), len(moves)

