"""The shared inventory's rows in the ledger (tables ``inventories``, ``erp_stock``,
``erp_stock_staged``, ``order_lines``, ``movements``, ``cursors``, ``sequences``,
``feedback_files``, ``feedback_oversold``: migration 1 of ledger/schema.py).

Only storage lives here: what the figures mean, what counts against them and what
is oversold is filebridge/stock/inventory.py's. Portable SQL only (``?`` placeholders,
``INSERT ... ON CONFLICT``): the same statements run on the PostgreSQL ledger
(ledger/backend.py rewrites the placeholders). A unit of work that spans several
statements is one transaction: one method here, or one :meth:`InventoryRows.tx`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# An ``IN (...)`` list stays well below SQLite's 999 host parameters.
CHUNK = 500


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


_MOVEMENT = ("SELECT id, source, kind, order_id, line_id, sku, location, qty, occurred, seq, "
             "acked FROM movements WHERE inventory=? AND ")


def inventory_names(ledger: Any) -> list[str]:
    """Every inventory the ledger knows, by name."""
    return [r[0] for r in ledger.db.execute(
        "SELECT inventory FROM inventories ORDER BY inventory").fetchall()]


class OrderBook:
    """Order lines and movements of one inventory inside one open transaction (see
    :meth:`InventoryRows.tx`): reads here see the writes made before them."""

    def __init__(self, db: Any, inventory: str):
        self.db, self.name = db, inventory

    def lines_of(self, source: str, order: str) -> list[tuple[str, str, str, int, float | None]]:
        """(line, sku, location, qty, placed) of each recorded line of an order."""
        return self.db.execute("SELECT line_id, sku, location, qty, placed FROM "
                               "order_lines WHERE inventory=? AND source=? AND order_id=?",
                               (self.name, source, order)).fetchall()

    def line(self, source: str, order: str, line: str
             ) -> tuple[str, str, int, float | None, int] | None:
        """(sku, location, qty, changed, held) of a recorded order line, None when new."""
        row = self.db.execute("SELECT sku, location, qty, changed, held FROM order_lines "
                              "WHERE inventory=? AND source=? AND order_id=? AND line_id=?",
                              (self.name, source, order, line)).fetchone()
        return None if row is None else tuple(row)

    def put_line(self, source: str, order: str, line: str, sku: str, location: str, qty: int,
                 status: str, placed: float, changed: float, held: int = 0) -> None:
        """Record an order line as it stands now."""
        self.db.execute("INSERT INTO order_lines(inventory, source, order_id, line_id, sku, "
                        "location, qty, status, placed, changed, held) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                        "ON CONFLICT(inventory, source, order_id, line_id) DO UPDATE SET "
                        "sku=excluded.sku, location=excluded.location, qty=excluded.qty, "
                        "status=excluded.status, changed=excluded.changed, held=excluded.held",
                        (self.name, source, order, line, sku, location, qty, status, placed,
                         changed, held))

    def add_movement(self, source: str, kind: str, order: str, line: str, sku: str,
                     location: str, qty: int, occurred: float, recorded: float) -> int:
        """A movement as the next version of its order line; 1 if added, 0 if that
        version was there already."""
        version = self.db.execute("SELECT count(*) FROM movements WHERE inventory=? AND "
                                  "source=? AND order_id=? AND line_id=?",
                                  (self.name, source, order, line)).fetchone()[0] + 1
        return int(self.db.execute("INSERT INTO movements(inventory, source, kind, order_id, "
                                   "line_id, version, sku, location, qty, occurred, recorded) "
                                   "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                   (self.name, source, kind, order, line, version, sku,
                                    location, qty, occurred, recorded)).rowcount)


class InventoryRows:
    """The ledger's rows of one shared inventory."""

    def __init__(self, ledger: Any, inventory: str):
        self.ledger, self.name = ledger, inventory

    @contextmanager
    def tx(self) -> Iterator[OrderBook]:
        """One transaction over the inventory's order lines and movements."""
        with self.ledger.tx() as db:
            yield OrderBook(db, self.name)

    # rules --------------------------------------------------------------
    def set_rules(self, rules: dict[str, Any]) -> None:
        """The rules the inventory's figures profile runs with."""
        with self.ledger.tx() as db:
            db.execute("INSERT INTO inventories VALUES (?, ?) ON CONFLICT(inventory) DO "
                       "UPDATE SET rules=excluded.rules", (self.name, json.dumps(rules)))

    def rules(self) -> dict[str, Any] | None:
        """The rules its figures profile last ran with (None: it never ran)."""
        row = self.ledger.db.execute("SELECT rules FROM inventories WHERE inventory=?",
                                     (self.name,)).fetchone()
        return json.loads(row[0]) if row else None

    # the ERP's figures --------------------------------------------------
    def stage(self, file_id: int,
              rows: Iterable[tuple[str, str, int, float | None, int | None, str]]) -> None:
        """Keep (sku, location, qty, as_of, line, record json) rows of a file being read."""
        with self.ledger.tx() as db:
            db.executemany("INSERT INTO erp_stock_staged VALUES (?,?,?,?,?,?,?,?)",
                           [(self.name, file_id, *r) for r in rows])

    def unstage(self, file_id: int) -> None:
        """Forget the staged rows of a file (rejected)."""
        with self.ledger.tx() as db:
            db.execute("DELETE FROM erp_stock_staged WHERE file_id=?", (file_id,))

    def commit_staged(self, file_id: int) -> None:
        """The staged rows of a file replace the figures held, in one transaction: per
        key the newest figure, then the last line; one older than the held figure
        (a late file) does not win."""
        # One row per key: PostgreSQL refuses to upsert a key twice in one statement.
        with self.ledger.tx() as db:
            db.execute(
                "INSERT INTO erp_stock(inventory, sku, location, qty, as_of, file_id, record) "
                "SELECT inventory, sku, location, qty, as_of, file_id, record FROM "
                "erp_stock_staged s WHERE file_id=? AND NOT EXISTS (SELECT 1 FROM "
                "erp_stock_staged o WHERE o.file_id=s.file_id AND o.sku=s.sku AND "
                "o.inventory=s.inventory AND o.location=s.location AND (o.as_of > s.as_of OR "
                "(o.as_of = s.as_of AND coalesce(o.line, 0) > coalesce(s.line, 0)))) "
                "ON CONFLICT(inventory, sku, location) "
                "DO UPDATE SET qty=excluded.qty, as_of=excluded.as_of, file_id=excluded.file_id, "
                "record=excluded.record WHERE excluded.as_of >= erp_stock.as_of", (file_id,))
            db.execute("DELETE FROM erp_stock_staged WHERE file_id=?", (file_id,))

    def staged_skus(self, file_id: int) -> Iterator[tuple[str, int, int]]:
        """(sku, first line, rows) of a staged file, in SKU order."""
        yield from self.ledger.db.execute(
            "SELECT sku, min(line), count(*) FROM erp_stock_staged WHERE file_id=? "
            "GROUP BY sku ORDER BY sku", (file_id,))

    def figures(self) -> Iterator[tuple[str, str, int]]:
        """(sku, location, qty) of every figure held."""
        yield from self.ledger.db.execute("SELECT sku, location, qty FROM erp_stock WHERE "
                                          "inventory=?", (self.name,))

    def figures_of(self, skus: Sequence[str]
                   ) -> Iterator[tuple[str, str, int, float, str | None]]:
        """(sku, location, qty, as_of, record json) of the figures held for these SKUs."""
        for i in range(0, len(skus), CHUNK):
            chunk = list(skus[i:i + CHUNK])
            marks = ",".join("?" * len(chunk))
            yield from self.ledger.db.execute(
                f"SELECT sku, location, qty, as_of, record FROM erp_stock WHERE inventory=? "
                f"AND sku IN ({marks})", (self.name, *chunk))

    # movements ----------------------------------------------------------
    def movements_of(self, skus: Sequence[str]
                     ) -> Iterator[tuple[str, str, str, int, float, float | None]]:
        """(sku, source, location, qty, occurred, acked) of these SKUs' movements."""
        for i in range(0, len(skus), CHUNK):
            chunk = list(skus[i:i + CHUNK])
            marks = ",".join("?" * len(chunk))
            yield from self.ledger.db.execute(
                f"SELECT sku, source, location, qty, occurred, acked FROM movements WHERE "
                f"inventory=? AND sku IN ({marks})", (self.name, *chunk))

    def held_of(self, source: str, skus: Sequence[str]) -> dict[str, int]:
        """Units the orders of ``source`` still hold reserved in the shop, per SKU
        (only SKUs with some)."""
        out: dict[str, int] = {}
        for i in range(0, len(skus), CHUNK):
            chunk = list(skus[i:i + CHUNK])
            marks = ",".join("?" * len(chunk))
            out.update((sku, int(n)) for sku, n in self.ledger.db.execute(
                f"SELECT sku, sum(held) FROM order_lines WHERE inventory=? AND source=? "
                f"AND held <> 0 AND sku IN ({marks}) GROUP BY sku",
                (self.name, source, *chunk)))
        return out

    def oversold_candidates(self) -> list[str]:
        """SKUs with a movement or a negative figure: the only ones that can be oversold."""
        return [r[0] for r in self.ledger.db.execute(
            "SELECT sku FROM movements WHERE inventory=? UNION SELECT sku FROM erp_stock "
            "WHERE inventory=? AND qty < 0", (self.name, self.name))]

    def order_changed(self, source: str, order: str) -> float | None:
        """When the order was last changed as recorded (None: never seen)."""
        row = self.ledger.db.execute("SELECT max(changed) FROM order_lines WHERE inventory=? "
                                     "AND source=? AND order_id=?",
                                     (self.name, source, order)).fetchone()
        return row[0] if row else None

    def order_units(self, source: str, order: str) -> dict[str, int]:
        """Line id -> units recorded as still sold on it, for one order."""
        return dict(self.ledger.db.execute("SELECT line_id, qty FROM order_lines WHERE "
                                           "inventory=? AND source=? AND order_id=?",
                                           (self.name, source, order)).fetchall())

    def _movements(self, where: str, args: tuple[Any, ...] = ()) -> list[Movement]:
        rows = self.ledger.db.execute(_MOVEMENT + where + " ORDER BY id",
                                      (self.name, *args)).fetchall()
        return [Movement(*r) for r in rows]

    def movements(self) -> list[Movement]:
        """Every movement, in the order recorded."""
        return self._movements("true")

    def unexported(self) -> list[Movement]:
        """Web movements no feedback file has carried yet."""
        return self._movements("seq IS NULL AND source LIKE 'web:%'")

    def in_file(self, seq: int) -> list[Movement]:
        """The movements feedback file ``seq`` carries."""
        return self._movements("seq=?", (seq,))

    def unacked_since(self, before: float) -> list[Movement]:
        """Web movements exported before ``before`` and not acknowledged."""
        return self._movements("source LIKE 'web:%' AND acked IS NULL AND exported IS NOT "
                               "NULL AND exported < ?", (before,))

    def acknowledge(self, seqs: Iterable[int], ids: Iterable[int], when: float) -> int:
        """Mark movements of these feedback files, and these movements, acknowledged at
        ``when`` (those not yet), in one transaction; how many were."""
        n = 0
        with self.ledger.tx() as db:
            for seq in seqs:
                n += db.execute("UPDATE movements SET acked=? WHERE inventory=? AND seq=? AND "
                                "acked IS NULL", (when, self.name, seq)).rowcount
            for i in ids:
                n += db.execute("UPDATE movements SET acked=? WHERE inventory=? AND id=? AND "
                                "acked IS NULL", (when, self.name, i)).rowcount
        return n

    # pull cursors ---------------------------------------------------------
    def cursor(self, source: str) -> str | None:
        row = self.ledger.db.execute("SELECT cursor FROM cursors WHERE inventory=? AND "
                                     "source=?", (self.name, source)).fetchone()
        return row[0] if row else None

    def set_cursor(self, source: str, cursor: str) -> None:
        with self.ledger.tx() as db:
            db.execute("INSERT INTO cursors VALUES (?,?,?,?) ON CONFLICT(inventory, source) "
                       "DO UPDATE SET cursor=excluded.cursor, updated=excluded.updated",
                       (self.name, source, cursor, time.time()))

    # feedback files -------------------------------------------------------
    def export(self, ids: list[int], path_of: Callable[[int, float], str],
               oversold_of: Callable[[list[str]], dict[str, int]]) -> tuple[int, str]:
        """In one transaction: the next movement-file number, these movements tied to
        it, the file recorded as pending at ``path_of(seq, now)``, and what
        ``oversold_of`` finds oversold among its SKUs (worked out inside the
        transaction, so with these movements). Returns (seq, path)."""
        now = time.time()
        with self.ledger.tx() as db:
            row = db.execute("SELECT seq FROM sequences WHERE inventory=? AND name='movements'",
                             (self.name,)).fetchone()
            seq = (row[0] if row else 0) + 1
            db.execute("INSERT INTO sequences VALUES (?, 'movements', ?) ON CONFLICT(inventory, "
                       "name) DO UPDATE SET seq=excluded.seq", (self.name, seq))
            # Only movements no file carries yet: two writers that read the same
            # unexported movements (two processes, one of them past its lease) never
            # put one movement in two files; the file counts what it got.
            db.executemany("UPDATE movements SET seq=?, exported=? WHERE id=? AND seq IS NULL",
                           [(seq, now, i) for i in ids])
            got = db.execute("SELECT count(*) FROM movements WHERE inventory=? AND seq=?",
                             (self.name, seq)).fetchone()[0]
            path = path_of(seq, now)
            db.execute("INSERT INTO feedback_files VALUES (?,?,?,'pending',?,?,NULL)",
                       (self.name, seq, path, got, now))
            skus = [r[0] for r in db.execute("SELECT DISTINCT sku FROM movements WHERE "
                                             "inventory=? AND seq=?", (self.name, seq))]
            db.executemany("INSERT INTO feedback_oversold VALUES (?,?,?,?)",
                           [(self.name, seq, sku, units)
                            for sku, units in oversold_of(skus).items()])
        return seq, path

    def pending_files(self) -> list[tuple[int, str]]:
        """(seq, path) of feedback files made but not yet published, in order."""
        return self.ledger.db.execute(
            "SELECT seq, path FROM feedback_files WHERE inventory=? AND status='pending' "
            "ORDER BY seq", (self.name,)).fetchall()

    def published(self, seqs: Iterable[int], when: float) -> None:
        with self.ledger.tx() as db:
            db.executemany("UPDATE feedback_files SET status='published', published=? WHERE "
                           "inventory=? AND seq=?", [(when, self.name, seq) for seq in seqs])

    def file_oversold(self, seq: int) -> dict[str, int]:
        """The SKUs movement file ``seq`` found oversold when it was made, with units."""
        return dict(self.ledger.db.execute("SELECT sku, units FROM feedback_oversold WHERE "
                                           "inventory=? AND seq=?", (self.name, seq)).fetchall())

    # status -----------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """SKUs with a figure; web movements not told to the ERP, told and awaiting its
        acknowledgement, acknowledged; store movements."""
        skus = self.ledger.db.execute("SELECT count(DISTINCT sku) FROM erp_stock WHERE "
                                      "inventory=?", (self.name,)).fetchone()[0]
        row = self.ledger.db.execute(
            "SELECT count(CASE WHEN source LIKE 'web:%' AND seq IS NULL THEN 1 END), "
            "count(CASE WHEN source LIKE 'web:%' AND seq IS NOT NULL AND acked IS NULL THEN 1 "
            "END), count(CASE WHEN source LIKE 'web:%' AND acked IS NOT NULL THEN 1 END), "
            "count(CASE WHEN source LIKE 'pos:%' THEN 1 END) "
            "FROM movements WHERE inventory=?", (self.name,)).fetchone()
        names = ("to_erp", "awaiting_ack", "acknowledged", "store")
        return {"skus": skus} | {k: v or 0 for k, v in zip(names, row, strict=True)}
