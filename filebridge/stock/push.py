"""Availability pushed without a file: after the shops' orders are pulled, every
stock sink of the profile and of the profiles sharing its inventory
(:mod:`filebridge.stock.share`: every shop and shop location selling that stock) is
told what may now be sold of the SKUs that moved.

The push goes the way a file's does: the figure per SKU (and per shop location) from
the ledger, compared with what each shop last acknowledged from us, the changed
ones queued in the outbox (idempotency keys, retries, the follow-up of earlier
queued changes) and drained. Held runs stay held: a change queued here overtakes a
held change to the same SKU, which ``approve`` then supersedes. The breaker has
nothing to weigh: a push of figures removes nothing and is not a file.

The shop an order came from has already taken the units itself (WooCommerce on
payment, Shopify on creation). It gets the same absolute figure as every other
shop, never a decrement, so its count ends where the ledger says: WooCommerce
stores the figure, Shopify's compare-and-set finds its own count moved and either
finds it equal already or sets it (``on_stale``). Magento is different: see the
note in :func:`push_availability`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from filebridge.catalog.record import FieldError
from filebridge.delta import differs, row_hashes
from filebridge.records import Batch
from filebridge.stock.files import Oversold, availability_batches
from filebridge.stock.jobview import StockJob
from filebridge.sync.changes import canon_for, canonical

log = logging.getLogger("filebridge")


def push_availability(job: StockJob, skus: Iterable[str]) -> dict[str, str | None]:
    """Queue and send what may be sold of ``skus`` to every stock sink of ``job``;
    shop id -> the error that stopped its sending (None: all sent). SKUs the ERP
    never gave a figure for are left alone, as a file leaves them.

    Magento (MSI) sells ``salable = Σ source quantities − open reservations``: an
    order placed appends a reservation of minus its units and leaves the source alone;
    a shipment deducts the source and compensates the reservation; a cancellation or
    a credit memo compensates the units it takes off the order [code: magento/inventory
    InventorySales/Plugin/Sales/OrderManagement/AppendReservationsAfterOrderPlacementPlugin.php,
    InventoryShipping/Observer/SourceDeductionProcessor.php,
    InventorySales/Observer/CatalogInventory/CancelOrderItemObserver.php,
    InventorySales/Plugin/Sales/OrderManagement/DeductSourceItemQuantityOnRefundPlugin.php;
    InventorySales/Model/GetProductSalableQty.php]. The figure already has the
    order's units taken off, so a source set to it would count an unshipped order
    twice (ERP 5, one unshipped order of 1: figure 4, salable 3). A Magento sink is
    therefore set to the figure plus the units its own pulled orders still hold
    reserved (placed, not shipped, cancelled or refunded: ``OrderLine.held``,
    recorded per order line), so the salable quantity comes out at the figure
    (``stock+web:ID``, :meth:`filebridge.stock.Inventory.sink_options`). When the
    order ships, Magento moves the unit from its source into the compensation
    itself and the salable quantity stays right; the next pull sees the line no
    longer held and sets the source to the figure again (the same number), so a
    push made from a ledger that had not seen the shipment yet is corrected. The
    same column feeds a file's push to the shop and ``reconcile``. Orders the pull
    has not seen yet are in neither number, so they change nothing.

    File outputs: orders are pulled through API outputs only, so a ``magento_csv``
    file cannot tell by itself which shop's reservations to add. In a stock profile
    that also pulls the shop's orders through its ``magento_api`` output, the file's
    ``reservations_of: <that output's id>`` makes it write the same figure (the
    product file's qty, or the source-items file's default source); without it the
    file has what may be sold, as for a shop whose orders filebridge never sees."""
    inv = job.inventory
    touched: list[tuple[str, int | None, int]] = [(sku, None, 0) for sku in sorted(set(skus))]
    # The profile's stock outputs and those of the profiles sharing its inventory
    # (filebridge/stock/share.py), each shop once.
    shops = list({s.id: s for s in [*job.shared, *job.shops.values()]
                  if getattr(s.o, "sync", None) == "stock"}.values())
    if inv is None or not shops:
        return {}
    found = Oversold(f"{job.name}: orders")
    batches = [b for b, _ in availability_batches(inv, touched, found=found)] if touched \
        else []
    out: dict[str, str | None] = {}
    for shop in shops:  # with nothing new, what an earlier push left queued is sent
        n = _enqueue(shop, batches)
        out[shop.id] = shop.drain()
        log.info("%s: %s: %d SKUs' availability after the orders pulled%s", job.name,
                 shop.id, n, f"; {out[shop.id]}" if out[shop.id] else "")
    return out


def _enqueue(shop: Any, batches: list[Batch]) -> int:
    """Queue the changed figures for one shop, hashed as a file's rows are hashed so
    the next file compares with what the shop will have."""
    canon = canon_for(shop)
    known = shop.log.known()
    rows = []
    for batch in batches:
        table = canonical(batch, canon)
        keys = pc.cast(table["sku"], pa.string())
        hashes = row_hashes(Batch(table, batch.lines)).view(pa.int64())
        changed, _ = differs(known, keys, hashes)
        for row, h in zip(table.filter(changed).to_pylist(),
                          hashes.filter(changed).to_pylist(), strict=True):
            try:
                rec = canon.record(row)
            except FieldError as e:  # cannot happen for an integer figure; never silent
                log.warning("%s: SKU %s: %s", shop.id, row.get("sku"), e)
                continue
            rows.append((rec["sku"], "upsert", h, rec.get("product"),
                         json.dumps(rec, ensure_ascii=False)))
    if rows:
        shop.log.enqueue(rows, None)
    return len(rows)
