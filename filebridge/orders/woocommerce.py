"""WooCommerce orders through the REST API v3 (``GET /wp-json/wc/v3/orders``).

Shop facts relied on [code: woocommerce/woocommerce, includes/rest-api/Controllers/
Version3/class-wc-rest-crud-controller.php, ``prepare_objects_query`` and
``get_collection_params``; Version2/class-wc-rest-orders-v2-controller.php;
includes/wc-order-functions.php ``wc_create_refund``]:

- ``modified_after`` filters on the modification date, strictly after (WordPress's
  date_query ``after`` is exclusive), at whole seconds. It compares against the
  site's local time unless ``dates_are_gmt=true`` is given: we always give it.
- ``orderby=modified`` is sent to WP_Query as ``modified ID``: ties in the same
  second come in id order, so (modified, id) is a total order.
- ``exclude`` (a comma list of ids) and ``offset`` are collection parameters.
- ``status`` defaults to ``any``, which leaves out trashed orders.
- Creating a refund saves the parent order with a new ``date_modified``, so a partial
  refund brings the order back into ``modified_after``.
- The order's ``refunds`` lists its refunds as ``{id, reason, total}`` only; the
  refunded quantities are on ``GET /orders/<id>/refunds``: each refund line has a
  negative ``quantity`` and the order line it refunds in its ``_refunded_item_id``
  meta. They are read only for orders that list refunds.

Paging: each request is anchored on the newest modification second seen so far
(``modified_after`` = that second minus one, so the second itself is included) with
the orders already seen in that second excluded, always page 1. An order changed
while we page moves behind the anchor and comes back later; nothing shifts under a
page number. A second holding more than ``EXCLUDE_MAX`` orders (a bulk import) is
stepped through with ``offset`` instead, to keep the address short.

Quantity: the line's ordered quantity minus the units given back to stock while the
order holds stock; 0 in ``RELEASED`` statuses. WooCommerce gives refunded units back
only when the refund restocks them (``api_restock``, the admin's "Restock refunded
items"), and then counts them in the line's ``_restock_refunded_items`` meta, which
the REST API shows with ``_reduced_stock`` in ``line_items[].meta_data`` [code:
includes/wc-order-functions.php ``wc_restock_refunded_items``; woocommerce/woocommerce
#51024]. A refund that did not restock leaves the units sold (the customer kept
them), and a ``refunded`` order holds what it did not restock: the status change
moves no stock (``wc_maybe_increase_stock_levels`` runs on cancelled and pending
only). A shop whose lines show neither meta (stock not managed, or an old version)
counts every refunded unit as returned, and a refunded order as 0. ``pending`` (created,
not paid) counts as 0: WooCommerce itself reduces stock only when an order is paid or
put on hold, and an unpaid order is cancelled after the hold time; once paid it becomes processing
and its lines count. Statuses we do not know (a plugin's ``shipped``…) hold stock,
as they follow payment. A refund counts as a return whether or not the shop
restocked the item.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.options import expand_env
from filebridge.orders.base import OrderLine, OrderPuller, puller
from filebridge.orders.cursor import Window, epoch, fingerprint, iso
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.woocommerce import WooOptions

PAGE = 100  # per_page: the REST API's maximum
EXCLUDE_MAX = 200  # ids excluded in one address before stepping with offset
RELEASED = frozenset({"pending", "cancelled", "failed", "trash", "checkout-draft", "draft",
                      "auto-draft"})
STOCK_META = ("_reduced_stock", "_restock_refunded_items")  # WooCommerce's per-line stock
FIELDS = "id,status,date_created_gmt,date_modified_gmt,line_items,refunds"


# -- WooCommerce ------------------------------------------------------------------------


@puller("woocommerce_api")
class WooOrders(OrderPuller):
    name = "woocommerce_api"
    o: WooOptions
    FIELDS = FIELDS  # what a pull asks for (filebridge/orders/doc_woocommerce.py asks more)

    def __init__(self, options: WooOptions):
        super().__init__(options)
        self.http = Http(expand_env(options.url).rstrip("/") + "/wp-json/wc/v3", options.limits,
                         name="woocommerce orders",
                         auth=(options.consumer_key.reveal(), options.consumer_secret.reveal()))

    def close(self) -> None:
        self.http.close()

    def pull(self, cursor: str | None) -> Iterator[tuple[list[OrderLine], str]]:
        window = Window(cursor)
        anchor = window.since()
        anchor = int(anchor) if anchor is not None else None
        at_anchor: list[int] = []  # ids this pull already got whose change is `anchor`
        got: set[tuple[int, float]] = set()  # (id, changed) this pull has read
        while True:
            params: dict[str, Any] = {"orderby": "modified", "order": "asc", "per_page": PAGE,
                                      "page": 1, "dates_are_gmt": "true", "_fields": self.FIELDS}
            if anchor is not None:
                params["modified_after"] = iso(anchor - 1, z="")
            if len(at_anchor) > EXCLUDE_MAX:
                params["offset"] = len(at_anchor)
            elif at_anchor:
                params["exclude"] = ",".join(map(str, at_anchor))
            orders = self.http.json("GET", "/orders", params=params) or []
            lines: list[OrderLine] = []
            for o in orders:
                changed = epoch(o.get("date_modified_gmt")) or epoch(
                    o.get("date_created_gmt")) or 0.0
                found = self._lines(o, changed)
                fp = fingerprint(found)
                if window.fresh(str(o["id"]), changed, fp):
                    lines += found
                window.add(str(o["id"]), changed, fp)
            if not orders:
                return
            news = {(int(o["id"]), epoch(o["date_modified_gmt"]) or 0.0) for o in orders} - got
            if not news:
                raise PermanentSinkError(
                    "woocommerce orders: the shop answered the same orders again for "
                    f"{params}: it does not honour modified_after/exclude/offset on "
                    "/orders (a plugin changing the query?)")
            got |= news
            last = int(epoch(orders[-1]["date_modified_gmt"]) or 0)
            if anchor is not None and last < anchor:
                raise PermanentSinkError(
                    "woocommerce orders: the shop sent orders changed before "
                    f"{iso(anchor)} for {params}: modified_after or orderby=modified "
                    "is not honoured")
            same = [int(o["id"]) for o in orders if epoch(o["date_modified_gmt"]) == last]
            at_anchor = at_anchor + same if last == anchor else same
            anchor = last
            yield lines, window.cursor() or ""
            if len(orders) < PAGE:
                return

    def order(self, oid: str) -> list[OrderLine] | None:
        """One order's lines as it stands now (None: the shop does not know it)."""
        resp = self.http.request("GET", f"/orders/{int(oid)}", params={"_fields": self.FIELDS},
                                 ok=lambda r: r.status_code == 404)
        return None if resp.status_code == 404 else self.convert(resp.json())

    def convert(self, o: dict[str, Any]) -> list[OrderLine]:
        """One order as the REST API shows it (and as a webhook's body carries it:
        ``WC_Webhook::build_payload`` is the ``/wc/v3/orders/<id>`` endpoint's data) ->
        its lines, as a pull converts them."""
        changed = epoch(o.get("date_modified_gmt")) or epoch(o.get("date_created_gmt")) or 0.0
        return self._lines(o, changed)

    def _lines(self, o: dict[str, Any], changed: float) -> list[OrderLine]:
        status = str(o.get("status") or "")
        items = o.get("line_items") or []
        metas = [{m.get("key"): m.get("value") for m in li.get("meta_data") or []}
                 for li in items]
        managed = any(k in m for m in metas for k in STOCK_META)
        holds = status not in RELEASED and (managed or status != "refunded")
        if managed:  # the shop says what it gave back to stock
            back = {int(li["id"]): _int(m.get("_restock_refunded_items"))
                    for li, m in zip(items, metas, strict=True)}
        else:
            back = self._refunded(o) if holds and o.get("refunds") else {}
        at = epoch(o.get("date_created_gmt")) or changed
        out = []
        for li in items:
            qty = max(0, int(li.get("quantity") or 0) - back.get(int(li["id"]), 0)) \
                if holds else 0
            out.append(OrderLine(order=str(o["id"]), line=str(li["id"]),
                                 sku=str(li.get("sku") or ""), qty=qty, status=status, at=at,
                                 changed=changed))
        return out

    def _refunded(self, o: dict[str, Any]) -> dict[int, int]:
        """Order line id -> units refunded, over all the order's refunds."""
        by_product = {(li.get("product_id"), li.get("variation_id")): int(li["id"])
                      for li in o.get("line_items") or []}
        out: dict[int, int] = {}
        page, pages = 1, 1
        while page <= pages:
            resp = self.http.request("GET", f"/orders/{o['id']}/refunds",
                                     params={"per_page": PAGE, "page": page})
            pages = int(resp.headers.get("X-WP-TotalPages") or 1)
            for refund in resp.json() or []:
                for rl in refund.get("line_items") or []:
                    target = _refunded_item(rl) or by_product.get(
                        (rl.get("product_id"), rl.get("variation_id")))
                    if target:
                        out[target] = out.get(target, 0) + abs(int(rl.get("quantity") or 0))
            page += 1
        return out


def _int(value: Any) -> int:
    try:
        return int(str(value or 0))
    except ValueError:
        return 0


def _refunded_item(rl: dict[str, Any]) -> int | None:
    """The order line a refund line refunds (its ``_refunded_item_id`` meta)."""
    if rl.get("refunded_item_id"):
        return int(rl["refunded_item_id"])
    for m in rl.get("meta_data") or []:
        if m.get("key") == "_refunded_item_id" and str(m.get("value") or "").isdigit():
            return int(m["value"])
    return None
