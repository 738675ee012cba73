"""Shopify orders through the Admin GraphQL API.

``orders(first, after, sortKey: UPDATED_AT, query: "updated_at:>='<iso>'")`` with
each order's ``lineItems { id sku quantity currentQuantity }``, ``createdAt``,
``updatedAt``, ``cancelledAt`` and ``displayFinancialStatus`` [doc: shopify.dev
GraphQL Admin ``orders`` query, ``Order``, ``LineItem``; search syntax
``updated_at:>'…'`` as in Shopify Flow's documented order queries].

- ``currentQuantity`` is the line's quantity minus what was removed from it (order
  edits, refunds) [doc: changelog "Addition of LineItem current_quantity", which
  asks apps to use it rather than add up refund lines]. A line's units still sold
  are its ``currentQuantity``, 0 once the order is cancelled.
- Within one pull, pages follow the connection's ``endCursor`` (a keyset on
  (updatedAt, id): an order updated meanwhile moves behind it and comes back later).
  Between pulls the cursor is a :class:`~filebridge.orders.woocommerce.Window`:
  the next pull asks for ``updated_at >= newest change - OVERLAP`` and skips the
  orders still exactly as recorded.
- Query cost: a connection costs 2 plus its objects, nested ones multiply, and one
  query may cost at most 1000 points [doc: shopify.dev rate limits]. Fifty orders with
  fifteen lines each (about 950) stays under it; an order with more lines has the
  rest read with ``order(id) { lineItems(first: 250, after) }``.
- Requests go through :class:`ShopifyClient.call`: the same cost bucket (waiting for
  points before a call), THROTTLED answers waited out, HTTP retries in ``Http``.
- Only the last 60 days of orders are visible unless the app has ``read_all_orders``
  [doc: Order object note]; the token needs ``read_orders``.

- A refund's lines say whether the units went back to stock: ``restockType``
  RETURN or CANCEL (LEGACY_RESTOCK on old refunds) restocked them, NO_RESTOCK did
  not: the customer kept them [doc: ``RefundLineItem.restockType``,
  ``RefundLineItemRestockType``]. ``currentQuantity`` drops either way, so the
  units refunded without restock are added back: they stay sold. Refunds are read
  (``order(id) { refunds { refundLineItems } }``) only for orders whose financial
  status says refunded, as the list query would cost too much with them.

Unpaid orders count: Shopify commits stock when an order is created, not when it is
paid. A cancelled order counts only the units refunded without restock: the usual
cancel (``orderCancel(restock: true)``) puts the units back (refund lines CANCEL),
one with ``restock: false`` keeps them out of Shopify's stock (refund lines
NO_RESTOCK), so they stay sold for the ERP and the other shops. Line locations are
not reported (a line's stock may come from several fulfillment orders).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.orders.base import OrderLine, OrderPuller, puller
from filebridge.orders.cursor import Window, epoch, fingerprint, iso
from filebridge.sinks.api.shopify import ShopifyClient, ShopifyOptions

PAGE = 50  # orders per page
LINES = 15  # line items read with each order (cost: PAGE * (LINES + 4) + 2 <= 1000)
MORE_LINES = 250

LINE_FIELDS = "id sku quantity currentQuantity"
ORDERS = ("query PullOrders($first: Int!, $after: String, $query: String, $lines: Int!) { "
          "orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) { "
          "nodes { id createdAt updatedAt cancelledAt displayFinancialStatus "
          "lineItems(first: $lines) { nodes { " + LINE_FIELDS + " } "
          "pageInfo { hasNextPage endCursor } } } pageInfo { hasNextPage endCursor } } }")
REFUNDS = ("query OrderRefunds($id: ID!) { order(id: $id) { refunds { id "
           "refundLineItems(first: 250) { nodes { quantity restockType lineItem { id } } "
           "pageInfo { hasNextPage } } } } }")
REFUNDED = ("PARTIALLY_REFUNDED", "REFUNDED")
ONE_ORDER = ("query OneOrder($id: ID!, $lines: Int!) { order(id: $id) { "
             "id createdAt updatedAt cancelledAt displayFinancialStatus "
             "lineItems(first: $lines) { nodes { " + LINE_FIELDS + " } "
             "pageInfo { hasNextPage endCursor } } } }")
ORDER_LINES = ("query OrderLines($id: ID!, $after: String, $lines: Int!) { order(id: $id) { "
               "lineItems(first: $lines, after: $after) { nodes { " + LINE_FIELDS + " } "
               "pageInfo { hasNextPage endCursor } } } }")


@puller("shopify_api")
class ShopifyOrders(OrderPuller):
    name = "shopify_api"
    o: ShopifyOptions
    # The queries a pull sends (filebridge/orders/doc_shopify.py asks for more per order).
    PAGE, ORDERS, ONE_ORDER, ORDER_LINES = PAGE, ORDERS, ONE_ORDER, ORDER_LINES

    def __init__(self, options: ShopifyOptions):
        super().__init__(options)
        self.client = ShopifyClient(options, None)  # its transport: bucket, THROTTLED, Http

    def close(self) -> None:
        self.client.close()

    def pull(self, cursor: str | None) -> Iterator[tuple[list[OrderLine], str]]:
        window = Window(cursor)
        since = window.since()
        query = None if since is None else f"updated_at:>='{iso(since)}'"
        after = None
        while True:
            data = self.client.must("orders", self.ORDERS, {"first": self.PAGE, "after": after,
                                                       "query": query, "lines": LINES})
            conn = data.get("orders") or {}
            nodes = conn.get("nodes") or []
            lines: list[OrderLine] = []
            for o in nodes:
                changed = epoch(o.get("updatedAt")) or epoch(o.get("createdAt")) or 0.0
                found = self._lines(o, changed)
                fp = fingerprint(found)
                if window.fresh(o["id"], changed, fp):
                    lines += found
                window.add(o["id"], changed, fp)
            page = conn.get("pageInfo") or {}
            if nodes:
                yield lines, window.cursor() or ""
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return
            if page["endCursor"] == after:
                raise PermanentSinkError("shopify orders: the shop gave the same page cursor "
                                         "twice; paging makes no progress")
            after = page["endCursor"]

    def order(self, gid: str) -> list[OrderLine] | None:
        """One order's lines as it stands now, converted as a pull converts it (None:
        the shop does not know it). For a webhook, which says only which order
        changed: its own body is the REST shape, whose ids are not the ones a pull
        records (filebridge/webhooks.py)."""
        o = self.client.must("order", self.ONE_ORDER, {"id": gid, "lines": LINES}).get("order")
        if not o:
            return None
        return self._lines(o, epoch(o.get("updatedAt")) or epoch(o.get("createdAt")) or 0.0)

    def _lines(self, o: dict[str, Any], changed: float) -> list[OrderLine]:
        items = o.get("lineItems") or {}
        nodes = list(items.get("nodes") or [])
        page = items.get("pageInfo") or {}
        while page.get("hasNextPage") and page.get("endCursor"):
            data = self.client.must("orderLines", self.ORDER_LINES, {
                "id": o["id"], "after": page["endCursor"], "lines": MORE_LINES})
            more = (data.get("order") or {}).get("lineItems") or {}
            nodes += more.get("nodes") or []
            page = more.get("pageInfo") or {}
        cancelled = bool(o.get("cancelledAt"))
        status = "CANCELLED" if cancelled else str(o.get("displayFinancialStatus") or "")
        # A cancellation removes the units left on the lines through a refund whose
        # lines say CANCEL (restocked) or NO_RESTOCK (``restock: false``: they stay
        # out of stock, still sold), so a cancelled order's refunds are read too.
        kept = self._kept(o["id"]) if cancelled or status in REFUNDED else {}
        at = epoch(o.get("createdAt")) or changed
        return [OrderLine(order=o["id"], line=str(li["id"]), sku=str(li.get("sku") or ""),
                          qty=(0 if cancelled else max(0, int(li.get("currentQuantity") or 0)))
                          + kept.get(str(li["id"]), 0),
                          status=status, at=at, changed=changed) for li in nodes]

    def _kept(self, order: str) -> dict[str, int]:
        """Line id -> units refunded without restock (still out of stock)."""
        data = self.client.must("order", REFUNDS, {"id": order})
        out: dict[str, int] = {}
        for refund in (data.get("order") or {}).get("refunds") or []:
            conn = refund.get("refundLineItems") or {}
            if (conn.get("pageInfo") or {}).get("hasNextPage"):
                raise PermanentSinkError(f"shopify orders: refund {refund.get('id')} of order "
                                         f"{order} has more than 250 lines; not read")
            for rl in conn.get("nodes") or []:
                if rl.get("restockType") == "NO_RESTOCK":
                    line = str((rl.get("lineItem") or {}).get("id"))
                    out[line] = out.get(line, 0) + int(rl.get("quantity") or 0)
        return out
