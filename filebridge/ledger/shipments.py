"""What the ledger keeps about the ERP's shipments: per shop, order, shipment and
line, the units sent (table ``shipment_lines``, a migration of ledger/schema.py), so
a file or a shipment line sent again changes nothing.

Portable SQL only (``?`` placeholders, ``INSERT ... ON CONFLICT``): the same
statements run on the PostgreSQL ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any


def sent(ledger: Any, shop: str, order: str, shipment: str) -> dict[str, tuple[int, bool]]:
    """item -> (units already sent for this shipment of the order, whether the shop
    was told it was delivered)."""
    return {item: (int(qty), bool(delivered)) for item, qty, delivered in ledger.db.execute(
        "SELECT item, qty, delivered FROM shipment_lines WHERE shop=? AND order_id=? AND "
        "shipment=?", (shop, order, shipment)).fetchall()}


def record(ledger: Any, shop: str, order: str, shipment: str, profile: str, file: str,
           shop_ref: str | None, items: Iterable[tuple[str, int]],
           delivered: bool = False) -> None:
    """Note the lines of one shipment the shop now has, in one transaction."""
    now = time.time()
    with ledger.tx() as db:
        for item, qty in items:
            db.execute(
                "INSERT INTO shipment_lines (shop, order_id, shipment, item, qty, delivered, "
                "profile, file, shop_ref, sent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON "
                "CONFLICT (shop, order_id, shipment, item) DO UPDATE SET qty=excluded.qty, "
                "delivered=excluded.delivered, file=excluded.file, "
                "shop_ref=COALESCE(excluded.shop_ref, shipment_lines.shop_ref), "
                "sent=excluded.sent",
                (shop, order, shipment, item, qty, int(delivered), profile, file, shop_ref,
                 now))


def count(ledger: Any, shop: str) -> int:
    """Shipment lines the shop was sent (for tests and status)."""
    row = ledger.db.execute("SELECT count(*) FROM shipment_lines WHERE shop=?",
                            (shop,)).fetchone()
    return int(row[0] or 0)
