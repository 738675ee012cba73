"""Magento 2 / Adobe Commerce orders through REST (``GET /rest/<store>/V1/orders``).

Shop facts relied on:

- ``/V1/orders`` is ``OrderRepositoryInterface::getList``: ``searchCriteria`` in the
  query string as ``searchCriteria[filter_groups][g][filters][f][field|value|
  condition_type]``, ``searchCriteria[sortOrders][i][field|direction]``,
  ``searchCriteria[pageSize]``/``[currentPage]``; filters within one group are OR'ed,
  groups AND'ed (a group is one ``addFieldToFilter([fields], [conditions])``, so an
  OR across two fields works) [code: magento2 lib/internal/Magento/Framework/Api/
  SearchCriteria/CollectionProcessor/FilterProcessor.php]; the answer is ``{items,
  search_criteria, total_count}`` [doc: commerce-webapi rest/use-rest/performing-searches].
  ``fields=`` trims the answer, nested lists included
  [doc: rest/use-rest/retrieve-filtered-responses].
  The store code in the path does not restrict the list to that store's orders.
- ``created_at``/``updated_at`` are UTC ``YYYY-MM-DD HH:MM:SS`` (the database session
  runs in UTC); ``updated_at`` is a whole-second ``ON UPDATE CURRENT_TIMESTAMP`` set
  when the statement runs, not when its transaction commits, hence the overlap.
- Composite products list a parent item and its child items (``parent_item_id``).
  For a configurable the parent carries the counters: the child is a "dummy" for
  invoicing and shipping, so it is never cancelled, invoiced or refunded itself, and
  MSI returns a cancellation's stock by the parent's quantities under the simple's
  SKU [code: magento2 Sales/Model/Order/Item.php ``isDummy``, ``getQtyToCancel``;
  magento/inventory InventorySales/Model/GetItemsToCancelFromOrderItem.php]. Bundle
  children may carry their own counters (``Bundle/Model/Sales/Order/Plugin/Item``).
- ``Order::registerCancellation`` cancels per item (``qty_canceled`` = units neither
  invoiced nor shipped) and sets state ``canceled`` only when nothing is left to
  refund; otherwise the order stays processing/complete.

Quantity: each item that is not a parent of other items is one line (its SKU is the
simple product's); units still sold = ``qty_ordered − qty_canceled − qty_refunded``,
where a child takes the larger of its own counters and its parent's (scaled by the
child's share of the parent's quantity), so a configurable counts once whichever item
the shop booked the change on. A ``canceled`` order keeps only units shipped and not
refunded (what Magento's own stock keeps). Orders in every other state count their
items, ``pending``/``pending_payment`` included: MSI reserves stock when the order is
placed. A refund counts as a return whether or not "Return to Stock" was ticked:
the choice is a flag of the credit memo being created (``return_to_stock_items`` of
``POST /V1/order/{id}/refund``, copied to the items' ``back_to_stock`` by
Magento_SalesInventory's ``CreditmemoDocumentFactoryPlugin`` and read by
InventorySales ``ProcessReturnQtyOnCreditMemoPlugin``) that is not stored with the
credit memo item, so neither the order nor ``/V1/creditmemos`` tells it afterwards.
Since the source Magento is set to counts the units still held reserved, the next
push after such a refund sets the source back to filebridge's figure: the units
count as returned on every channel, Magento included.
``location`` stays None: the order does not say which source shipped it.

Reservations (``held``): MSI does not take an order's units off the source items when
the order is placed; it appends a reservation of minus the units to the stock, and
the salable quantity is the sources' quantity plus the reservations. A shipment deducts
the source and appends the compensating reservation; a cancellation appends the
cancelled units back; every credit memo deducts from the source the refunded units not
yet shipped (those first) and compensates their reservation, then gives units back to
the source only with "Return to Stock" [code: magento/inventory e9d6e33c
InventorySales/Plugin/Sales/OrderManagement/AppendReservationsAfterOrderPlacementPlugin.php,
InventoryShipping/Observer/SourceDeductionProcessor.php,
InventorySales/Observer/CatalogInventory/CancelOrderItemObserver.php,
InventorySales/Plugin/Sales/OrderManagement/DeductSourceItemQuantityOnRefundPlugin.php,
InventorySales/Model/ReturnProcessor/GetSourceSelectionResultFromCreditMemoItems.php,
InventorySales/Plugin/SalesInventory/ProcessReturnQtyOnCreditMemoPlugin.php]. So the
units a line still holds reserved are ``qty_ordered − qty_canceled − qty_shipped −
qty_refunded`` (never below 0), with a child's counters taken as above; the push adds
them to the source quantity it sets (:func:`filebridge.stock.push.push_availability`).

Cursor: the shared :class:`~filebridge.orders.woocommerce.Window`. Pages are read by
keyset, always page 1: ``updated_at >= T`` AND (``updated_at > T`` OR ``entity_id >
I``) after the last order (T, I) read, sorted by updated_at then entity_id, so an
order changed while we page moves behind the reader instead of shifting another one
out of reach, and any number of orders sharing one second is read through.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.orders.base import OrderLine, OrderPuller, puller
from filebridge.orders.cursor import Window, epoch, fingerprint
from filebridge.sinks.api.base import State
from filebridge.sinks.api.magento import MagentoClient, MagentoOptions

PAGE = 100
SC = "searchCriteria"
ITEM_FIELDS = ("item_id,parent_item_id,sku,product_type,qty_ordered,qty_canceled,"
               "qty_refunded,qty_shipped")
FIELDS = (f"items[entity_id,increment_id,state,status,created_at,updated_at,"
          f"items[{ITEM_FIELDS}]],total_count")


def stamp(t: float) -> str:
    """A time as Magento's filters take it: UTC, whole seconds, no zone."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _n(item: dict[str, Any] | None, field: str) -> Decimal:
    return Decimal(str((item or {}).get(field) or 0))


@puller("magento_api")
class MagentoOrders(OrderPuller):
    name = "magento_api"
    reserves = True  # MSI reservations: see the module docstring
    o: MagentoOptions
    FIELDS = FIELDS  # what a pull asks for (filebridge/orders/doc_magento.py asks more)

    def __init__(self, options: MagentoOptions):
        super().__init__(options)
        self.client = MagentoClient(options, State(lambda product: []))
        self.http = self.client.http

    def close(self) -> None:
        self.client.close()

    def pull(self, cursor: str | None) -> Iterator[tuple[list[OrderLine], str]]:
        window = Window(cursor)
        since = window.since()
        last: tuple[int, int] | None = None  # (updated_at second, entity_id) read last
        while True:
            orders = self.page(since, last)
            lines: list[OrderLine] = []
            for o in orders:
                changed = epoch(o.get("updated_at")) or epoch(o.get("created_at")) or 0.0
                key = (int(changed), int(o["entity_id"]))
                if last is not None and key <= last or since is not None and \
                        changed < int(since):
                    raise PermanentSinkError(
                        f"magento orders: the shop sent order {o['entity_id']} (updated "
                        f"{o.get('updated_at')}) out of order after {last}: searchCriteria "
                        "filters or sortOrders on /V1/orders are not honoured")
                last = key
                found = self.lines(o, changed)
                fp = fingerprint(found)
                if window.fresh(str(o["entity_id"]), changed, fp):
                    lines += found
                window.add(str(o["entity_id"]), changed, fp)
            if not orders:
                return
            yield lines, window.cursor() or ""
            if len(orders) < PAGE:
                return

    def page(self, since: float | None, last: tuple[int, int] | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            f"{SC}[sortOrders][0][field]": "updated_at",
            f"{SC}[sortOrders][0][direction]": "ASC",
            f"{SC}[sortOrders][1][field]": "entity_id",
            f"{SC}[sortOrders][1][direction]": "ASC",
            f"{SC}[pageSize]": PAGE, f"{SC}[currentPage]": 1, "fields": self.FIELDS}
        g = f"{SC}[filter_groups]"
        if last is not None:
            at = stamp(last[0])
            params.update({f"{g}[0][filters][0][field]": "updated_at",
                           f"{g}[0][filters][0][value]": at,
                           f"{g}[0][filters][0][condition_type]": "gteq",
                           # one group: its filters are OR'ed
                           f"{g}[1][filters][0][field]": "updated_at",
                           f"{g}[1][filters][0][value]": at,
                           f"{g}[1][filters][0][condition_type]": "gt",
                           f"{g}[1][filters][1][field]": "entity_id",
                           f"{g}[1][filters][1][value]": last[1],
                           f"{g}[1][filters][1][condition_type]": "gt"})
        elif since is not None:
            params.update({f"{g}[0][filters][0][field]": "updated_at",
                           f"{g}[0][filters][0][value]": stamp(int(since)),
                           f"{g}[0][filters][0][condition_type]": "gteq"})
        body = self.http.json("GET", "/V1/orders", params=params) or {}
        return list(body.get("items") or [])

    @staticmethod
    def lines(o: dict[str, Any], changed: float) -> list[OrderLine]:
        items = o.get("items") or []
        by_id = {it.get("item_id"): it for it in items}
        parents = {it.get("parent_item_id") for it in items if it.get("parent_item_id")}
        state, status = str(o.get("state") or ""), str(o.get("status") or o.get("state") or "")
        at = epoch(o.get("created_at")) or changed
        out = []
        for it in items:
            if it.get("item_id") in parents:
                continue  # a composite's parent: its children carry the simple SKUs
            parent = by_id.get(it.get("parent_item_id")) if it.get("parent_item_id") else None
            out.append(OrderLine(order=str(o["entity_id"]), line=str(it["item_id"]),
                                 sku=str(it.get("sku") or ""),
                                 qty=still_sold(it, parent, state), status=status, at=at,
                                 changed=changed, held=still_reserved(it, parent)))
        return out


def _counters(item: dict[str, Any], parent: dict[str, Any] | None
              ) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(ordered, canceled, refunded, shipped) of ``item``; a child takes the larger of
    its own counters and its parent's, scaled by its share of the parent's quantity."""
    ordered = _n(item, "qty_ordered")
    canceled, refunded, shipped = (_n(item, f) for f in ("qty_canceled", "qty_refunded",
                                                          "qty_shipped"))
    if parent is not None and _n(parent, "qty_ordered") > 0:
        share = ordered / _n(parent, "qty_ordered")
        canceled = max(canceled, _n(parent, "qty_canceled") * share)
        refunded = max(refunded, _n(parent, "qty_refunded") * share)
        shipped = max(shipped, _n(parent, "qty_shipped") * share)
    return ordered, canceled, refunded, shipped


def still_sold(item: dict[str, Any], parent: dict[str, Any] | None, state: str) -> int:
    """Units of ``item`` still sold; see the module docstring."""
    ordered, canceled, refunded, shipped = _counters(item, parent)
    qty = ordered - canceled - refunded
    if state == "canceled":
        qty = min(qty, shipped - refunded)
    return max(0, int(qty.to_integral_value()))


def still_reserved(item: dict[str, Any], parent: dict[str, Any] | None) -> int:
    """Units of ``item`` MSI still holds as a reservation: ordered − canceled − shipped −
    refunded, a refund taking the units not shipped first; see the module docstring."""
    ordered, canceled, refunded, shipped = _counters(item, parent)
    return max(0, int((ordered - canceled - shipped - refunded).to_integral_value()))
