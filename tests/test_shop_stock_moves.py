"""The loopback shops move their own stock on orders, cancellations and refunds as the
real ones do (see the docstrings of tests/shops/woocommerce/orders.py and
tests/shops/shopify/orders.py for the sources), so no test passes on a kinder shop;
and the WooCommerce puller reads what the shop gave back to stock."""

from __future__ import annotations

import pytest
from shops.shopify import ShopifyServer
from shops.woocommerce import WooServer

from filebridge.orders.woocommerce import WooOrders
from filebridge.sinks.api.woocommerce import WooOptions

T0 = 1_700_000_000


@pytest.fixture
def woo():
    with WooServer(key="ck_m", secret="cs_m") as w:
        for sku in ("A", "B"):
            w.shop.create({"sku": sku, "name": sku, "manage_stock": True, "stock_quantity": 10})
        w.shop.create({"sku": "FREE", "name": "free", "manage_stock": False})
        yield w


def test_woo_reduces_on_paid_statuses_once_and_restores_on_cancel(woo):
    o = woo.add_order([("A", 2), ("FREE", 1)], status="pending", created=T0)
    assert woo.stock("A") == 10  # pending: unpaid, nothing taken
    woo.set_status(o, "on-hold", T0 + 1)
    woo.set_status(o, "processing", T0 + 2)
    woo.set_status(o, "completed", T0 + 3)
    assert woo.stock("A") == 8  # taken once, whatever the paid statuses it went through
    assert woo.stock("FREE") is None  # not managing stock: never touched
    woo.set_status(o, "cancelled", T0 + 4)
    assert woo.stock("A") == 10
    woo.set_status(o, "processing", T0 + 5)  # paid again after all
    assert woo.stock("A") == 8
    woo.set_status(o, "pending", T0 + 6)
    assert woo.stock("A") == 10
    woo.set_status(o, "failed", T0 + 7)
    assert woo.stock("A") == 10


def test_woo_refunds_restock_only_when_asked(woo):
    o = woo.add_order([("A", 3), ("B", 1)], created=T0)  # processing: 7 and 9
    woo.refund(o, {"A": 1}, T0 + 1, restock=True)
    assert woo.stock("A") == 8
    woo.refund(o, {"A": 1}, T0 + 2, restock=False)  # the customer keeps it
    assert woo.stock("A") == 8
    woo.refund(o, {"A": 1, "B": 1}, T0 + 3, restock=False)  # everything refunded
    assert woo.orders.order(o)["status"] == "refunded"
    assert (woo.stock("A"), woo.stock("B")) == (8, 9)  # refunded moves no stock
    # A cancellation gives back only what is still taken: 3 - 1 restocked.
    o2 = woo.add_order([("A", 3)], created=T0 + 4)
    woo.refund(o2, {"A": 1}, T0 + 5, restock=True)
    woo.set_status(o2, "cancelled", T0 + 6)
    assert woo.stock("A") == 8


def test_woo_puller_counts_what_the_shop_did_not_take_back(woo, monkeypatch):
    monkeypatch.setenv("K", "ck_m")
    monkeypatch.setenv("S", "cs_m")
    puller = WooOrders(WooOptions.model_validate(
        {"url": woo.url, "consumer_key": "${K}", "consumer_secret": "${S}",
         "limits": {"max_backoff": 0.05}}))
    o = woo.add_order([("A", 3), ("B", 1)], created=T0)
    woo.refund(o, {"A": 1}, T0 + 1, restock=True)
    woo.refund(o, {"A": 1}, T0 + 2, restock=False)
    lines = [ln for page, _ in puller.pull(None) for ln in page]
    assert {ln.sku: ln.qty for ln in lines} == {"A": 2, "B": 1}  # 3 - 1 restocked
    woo.refund(o, {"A": 1, "B": 1}, T0 + 3, restock=False)
    lines = [ln for page, _ in puller.pull(None) for ln in page]
    assert {ln.sku: (ln.qty, ln.status) for ln in lines} == {
        "A": (2, "refunded"), "B": (1, "refunded")}  # kept by the customer: still sold
    o2 = woo.add_order([("A", 1)], created=T0 + 4)
    woo.set_status(o2, "cancelled", T0 + 5)
    lines = [ln for page, _ in puller.pull(None) for ln in page if ln.order == str(o2)]
    assert [ln.qty for ln in lines] == [0]
    puller.close()


def test_shopify_orders_commit_available_and_only_restocks_give_it_back():
    with ShopifyServer(locations=("Warehouse", "High Street")) as shop:
        shop.add_variant("A", {"Warehouse": 10, "High Street": 4})
        shop.add_variant("B", {"Warehouse": 10})
        o = shop.add_order([("A", 3), ("B", 2)], created=T0)
        assert (shop.stock("A", "Warehouse"), shop.stock("A", "High Street")) == (7, 4)
        shop.refund(o, {"A": 1}, T0 + 1)  # NO_RESTOCK when restockType is not given
        assert shop.stock("A", "Warehouse") == 7
        shop.refund(o, {"A": 1}, T0 + 2, restock_type="RETURN", location="High Street")
        assert (shop.stock("A", "Warehouse"), shop.stock("A", "High Street")) == (7, 5)
        shop.cancel(o, T0 + 3, restock=True)  # A: 1 left on the line, B: 2
        assert (shop.stock("A", "Warehouse"), shop.stock("B", "Warehouse")) == (8, 10)
        o2 = shop.add_order([("B", 12)], created=T0 + 4)  # two shops sold the last ones
        assert shop.stock("B", "Warehouse") == -2
        shop.cancel(o2, T0 + 5, restock=False)
        assert shop.stock("B", "Warehouse") == -2
        with pytest.raises(ValueError, match="not accepted"):
            shop.refund(o2, {"B": 1}, T0 + 6, restock_type="LEGACY_RESTOCK")


def test_magento_reserves_on_orders_and_deducts_on_shipment_and_credit_memo():
    import json
    import urllib.request

    from shops.magento import MagentoServer
    from shops.magento.base import TOKEN as MAGENTO_TOKEN

    with MagentoServer() as shop:
        shop.add_product("M", qty=10)

        def source() -> float:
            return shop.stock_by_sku()["M"]["default"][0]

        def salable_over_http() -> float:
            req = urllib.request.Request(
                f"{shop.url}/rest/default/V1/inventory/get-product-salable-quantity/M/1",
                headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"})
            with urllib.request.urlopen(req, timeout=5) as r:
                return float(json.load(r))

        o = shop.add_order([("M", 3)], created=T0)
        assert (source(), shop.salable("M"), salable_over_http()) == (10, 7, 7)
        shop.cancel(o, T0 + 1)  # nothing invoiced: all three back
        assert (source(), shop.salable("M")) == (10, 10)
        o = shop.add_order([("M", 4)], created=T0 + 2, invoiced=True)
        shop.ship(o, {"M": 2}, T0 + 3)  # the source is deducted only now
        assert (source(), shop.salable("M")) == (8, 6)
        # Refunded units not shipped go first: taken from the source, back with return.
        shop.refund(o, {"M": 1}, T0 + 4, return_to_stock=True)
        assert (source(), shop.salable("M")) == (8, 7)
        shop.refund(o, {"M": 2}, T0 + 5)  # the last unshipped and a shipped one: gone
        assert (source(), shop.salable("M")) == (7, 7)
        assert shop.orders[o]["state"] == "processing"  # one unit still to ship


def test_shopify_puller_counts_units_refunded_without_restock_as_still_sold(monkeypatch):
    from shops.shopify import TOKEN

    from filebridge.orders.shopify import ShopifyOrders
    from filebridge.sinks.api.shopify import ShopifyOptions

    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
    with ShopifyServer() as shop:
        shop.add_variant("A", {None: 10})
        puller = ShopifyOrders(ShopifyOptions.model_validate(
            {"format": "shopify_api", "url": shop.url, "token": "${SHOPIFY_TOKEN}",
             "limits": {"max_backoff": 0.05}}))
        o = shop.add_order([("A", 4)], created=T0)
        shop.refund(o, {"A": 1}, T0 + 1, restock_type="RETURN")
        shop.refund(o, {"A": 1}, T0 + 2)  # NO_RESTOCK: the customer keeps it
        [line] = [ln for page, _ in puller.pull(None) for ln in page]
        assert (line.qty, line.status) == (3, "PARTIALLY_REFUNDED")  # 4 - 1 returned
        assert shop.stock("A") == 7  # what the shop holds out agrees: 10 - 3
        shop.refund(o, {"A": 2}, T0 + 3, restock_type="CANCEL")
        [line] = [ln for page, _ in puller.pull(None) for ln in page]
        assert (line.qty, line.status, shop.stock("A")) == (1, "REFUNDED", 9)
        puller.close()


def test_shopify_puller_counts_a_cancellation_without_restock_as_still_sold(monkeypatch):
    """orderCancel(restock: false): Shopify keeps the units out of its stock, so they
    stay sold; with restock: true they come back. Both are told by the refund the
    cancellation records (restockType NO_RESTOCK / CANCEL), currentQuantity 0."""
    from shops.shopify import TOKEN

    from filebridge.orders.shopify import ShopifyOrders
    from filebridge.sinks.api.shopify import ShopifyOptions

    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
    with ShopifyServer() as shop:
        shop.add_variant("A", {None: 10})
        shop.add_variant("B", {None: 10})
        puller = ShopifyOrders(ShopifyOptions.model_validate(
            {"format": "shopify_api", "url": shop.url, "token": "${SHOPIFY_TOKEN}",
             "limits": {"max_backoff": 0.05}}))
        kept = shop.add_order([("A", 3), ("B", 1)], created=T0)
        back = shop.add_order([("A", 2)], created=T0 + 1)
        shop.refund(kept, {"B": 1}, T0 + 2, restock_type="RETURN")  # before the cancel
        shop.cancel(kept, T0 + 3, restock=False)
        shop.cancel(back, T0 + 4, restock=True)
        lines = {(ln.order, ln.sku): (ln.qty, ln.status)
                 for page, _ in puller.pull(None) for ln in page}
        assert lines == {(kept, "A"): (3, "CANCELLED"), (kept, "B"): (0, "CANCELLED"),
                         (back, "A"): (0, "CANCELLED")}
        # What the shop itself holds out agrees: A 10 - 3 (kept), B returned.
        assert (shop.stock("A"), shop.stock("B")) == (7, 10)
        # The cancellation's refund is there for any client to read.
        o = shop.orders[kept]
        assert [li["currentQuantity"] for li in o["lines"]] == [0, 0]
        assert [(rl["quantity"], rl["restockType"], rl["restocked"])
                for rl in o["refunds"][-1]["lines"]] == [(3, "NO_RESTOCK", False)]
        puller.close()
