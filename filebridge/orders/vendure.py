"""Vendure 3.x orders through the Admin GraphQL API (``vendure_api``).

Facts relied on, read in ``@vendure/core`` 3.7.3 (``dist/config/order``,
``dist/service/services/order.service.js``, ``dist/service/helpers/order-modifier``)
and checked against a running 3.7.3:

- Stock: the default ``stockAllocationStrategy`` allocates an order's stock when it
  leaves ``ArrangingPayment`` for ``PaymentAuthorized`` or ``PaymentSettled``; the
  default ``orderPlacedStrategy`` sets ``orderPlacedAt`` on that very transition.
  Carts (``AddingItems``, ``ArrangingPayment``) and ``Draft`` orders hold no stock.
- ``cancelOrder`` with ``lines`` lowers ``OrderLine.quantity`` by the cancelled
  units (``orderPlacedQuantity`` keeps the original) and releases their stock;
  cancelling every unit moves the order to ``Cancelled`` with every quantity 0.
- ``refundOrder`` only moves money: it changes neither line quantities nor stock
  (since 2.2 its ``lines`` input is deprecated). A refund without a cancellation
  therefore still counts as sold, exactly as Vendure's own stock does.
- ``updatedAt`` is the database's ``CURRENT_TIMESTAMP``: whole seconds on SQLite,
  the *transaction start* on PostgreSQL (so a change can become visible after a
  later one), and a partial cancellation within the same second leaves it
  unchanged. ``DateOperators.after`` is a strict ``>``; a list takes at most 1000.

Decisions: a line counts ``quantity`` when its order is placed (``orderPlacedAt``
set, which the query filters on) and not ``Cancelled``, else 0; this follows
Vendure's placement rather than a list of state names, so custom order processes
(``Modifying``, ``ArrangingAdditionalPayment``, own states) keep counting. Orders of
type ``Seller`` (multi-vendor splits) are skipped: their lines repeat those of their
aggregate order. ``location`` stays None (the Admin API does not say which stock
location an allocation came from).

Cursor: JSON ``{"t": newest updatedAt (epoch ms), "seen": {order id: [updatedAt ms,
digest of state and lines]}}``. Every query re-reads the ``OVERLAP`` before ``t``
and passes on an order only when its digest differs from the one seen, so a change
that kept its ``updatedAt`` (same second) or committed late is still found, while a
re-poll with nothing new yields nothing. Pages follow ``updatedAt`` (then id), not
offsets, so an order changed while paging moves behind the reader instead of
shifting another one out of reach.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from filebridge.errors import Bug, PermanentSinkError
from filebridge.orders.base import OrderLine, OrderPuller, puller
from filebridge.sinks.api.base import State
from filebridge.sinks.api.vendure import ItemError, VendureClient, VendureOptions

PAGE = 100
LIST_LIMIT = 1000  # Vendure's default adminListQueryLimit
OVERLAP_MS = 120_000  # re-read this much before the newest change seen

ORDERS = ("query($o:OrderListOptions){orders(options:$o){items{id state orderPlacedAt "
          "updatedAt lines{id quantity productVariant{sku}}}}}")


def epoch_ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


@puller("vendure_api")
class VendurePuller(OrderPuller):
    name = "vendure_api"
    ORDERS = ORDERS  # what a pull asks for (filebridge/orders/doc_vendure.py asks more)

    def __init__(self, options: VendureOptions):
        super().__init__(options)
        self.client = VendureClient(options, State(lambda product: []))

    def close(self) -> None:
        self.client.close()

    def pull(self, cursor: str | None) -> Iterator[tuple[list[OrderLine], str]]:
        t, seen = self.load(cursor)
        skip = 0
        while True:
            take = min(LIST_LIMIT, PAGE + len(seen))
            where: dict[str, Any] = {"orderPlacedAt": {"isNull": False},
                                     "type": {"notEq": "Seller"}}
            if t is not None:
                where["updatedAt"] = {"after": iso(t - OVERLAP_MS - 1)}
            orders = self.query({"filter": where, "sort": {"updatedAt": "ASC", "id": "ASC"},
                                 "take": take, "skip": skip})
            lines: list[OrderLine] = []
            fresh = 0
            for o in orders:
                changed = epoch_ms(o["updatedAt"])
                mine = self.lines(o)
                digest = self.digest(o, mine)
                if (seen.get(o["id"]) or [None, None])[1] == digest:
                    continue
                fresh += 1
                seen[o["id"]] = [changed, digest]
                t = changed if t is None else max(t, changed)
                lines.extend(mine)
            if fresh:
                skip = 0  # the window moved with t: start it afresh
                if t is None:
                    raise Bug("expected t is not None")
                seen = {k: v for k, v in seen.items() if v[0] >= t - OVERLAP_MS}
                yield lines, json.dumps({"t": t, "seen": seen}, separators=(",", ":"))
            elif len(orders) == take:
                skip += take  # a full page of orders already passed on (> 900 in the window)
            if len(orders) < take:
                return

    def query(self, options: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            data = self.client.must(self.ORDERS, {"o": options})
        except ItemError as e:
            raise PermanentSinkError(f"vendure: reading orders failed: {e}") from None
        return list(data["orders"]["items"])

    @staticmethod
    def lines(o: dict[str, Any]) -> list[OrderLine]:
        placed = o.get("orderPlacedAt")
        live = placed is not None and o["state"] != "Cancelled"
        at = epoch_ms(placed) / 1000 if placed else epoch_ms(o["updatedAt"]) / 1000
        return [OrderLine(order=str(o["id"]), line=str(li["id"]),
                          sku=str((li.get("productVariant") or {}).get("sku") or ""),
                          qty=int(li["quantity"]) if live else 0, status=o["state"], at=at,
                          changed=epoch_ms(o["updatedAt"]) / 1000)
                for li in o["lines"]]

    @staticmethod
    def digest(o: dict[str, Any], lines: list[OrderLine]) -> str:
        text = json.dumps([o["state"], [[x.line, x.sku, x.qty] for x in lines]])
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    @staticmethod
    def load(cursor: str | None) -> tuple[int | None, dict[str, list[Any]]]:
        if not cursor:
            return None, {}
        try:
            c = json.loads(cursor)
            return int(c["t"]), {str(k): [int(v[0]), str(v[1])] for k, v in c["seen"].items()}
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise PermanentSinkError(f"vendure: order cursor {cursor[:80]!r} is not one this "
                                     f"puller wrote ({e})") from None
