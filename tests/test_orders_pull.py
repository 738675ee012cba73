"""Order pullers (filebridge/orders/) against the loopback shops: the same contract
for every shop, then what is particular to one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from shops.shopify import TOKEN, ShopifyServer
from shops.woocommerce import WooServer

from filebridge.errors import PermanentSinkError
from filebridge.orders.base import OrderLine, OrderPuller
from filebridge.orders.cursor import Window
from filebridge.orders.shopify import ShopifyOrders
from filebridge.orders.woocommerce import WooOrders
from filebridge.registry import REGISTRY
from filebridge.sinks.api.shopify import ShopifyOptions
from filebridge.sinks.api.woocommerce import WooOptions

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
FAST = {"max_backoff": 0.05, "retries": 6, "timeout": 5}


class Woo:
    """The WooCommerce loopback shop, as the contract tests drive it."""

    def __init__(self, server: WooServer):
        self.server = server

    def puller(self, key: str = "${WC_KEY}") -> OrderPuller:
        o = WooOptions.model_validate({"url": self.server.url, "consumer_key": key,
                                       "consumer_secret": "${WC_SECRET}", "limits": FAST})
        return REGISTRY.get("puller", "woocommerce_api")(o)

    def add(self, lines: list[tuple[str, int]], at: float) -> str:
        return str(self.server.add_order(lines, created=at))

    def cancel(self, order: str, at: float) -> None:
        self.server.set_status(int(order), "cancelled", at)

    def refund(self, order: str, sku: str, qty: int, at: float) -> None:
        self.server.refund(int(order), {sku: qty}, at)


class Shopify:
    def __init__(self, server: ShopifyServer):
        self.server = server

    def puller(self, key: str = "${SHOPIFY_TOKEN}") -> OrderPuller:
        o = ShopifyOptions.model_validate({"format": "shopify_api", "url": self.server.url,
                                           "token": key, "limits": FAST})
        return REGISTRY.get("puller", "shopify_api")(o)

    def add(self, lines: list[tuple[str, int]], at: float) -> str:
        return self.server.add_order(lines, created=at)

    def cancel(self, order: str, at: float) -> None:
        self.server.cancel(order, at)

    def refund(self, order: str, sku: str, qty: int, at: float) -> None:
        self.server.refund(order, {sku: qty}, at, restock_type="RETURN")  # a return


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WC_KEY", "ck_good")
    monkeypatch.setenv("WC_SECRET", "cs_good")
    monkeypatch.setenv("WRONG_KEY", "ck_wrong")
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)


@contextmanager
def woocommerce() -> Iterator[Woo]:
    with WooServer(key="ck_good", secret="cs_good") as w:
        yield Woo(w)


@contextmanager
def shopify() -> Iterator[Shopify]:
    with ShopifyServer() as s:
        yield Shopify(s)


SHOPS = {"woocommerce": woocommerce, "shopify": shopify}  # every test, once per shop


def drain(p: OrderPuller, cursor: str | None) -> tuple[list[OrderLine], str | None, int]:
    """Every line of a pull, the cursor it leaves, and its number of pages."""
    lines: list[OrderLine] = []
    pages = 0
    for page, c in p.pull(cursor):
        lines += page
        cursor, pages = c, pages + 1
    return lines, cursor, pages


def qty(lines: list[OrderLine]) -> dict[tuple[str, str], int]:
    """(order, sku) -> units still sold, the last report winning."""
    return {(ln.order, ln.sku): ln.qty for ln in lines}


def orders(lines: list[OrderLine]) -> set[str]:
    return {ln.order for ln in lines}


def three_orders(shop: Woo | Shopify) -> tuple[str, str, str]:
    """Hours apart (more than the WooCommerce site's UTC offset, so local and GMT
    dates cannot be confused unnoticed); C is cancelled."""
    a = shop.add([("A-1", 2), ("A-2", 1)], T0)
    b = shop.add([("B-1", 3)], T0 + 3 * 3600)
    c = shop.add([("C-1", 5)], T0 + 6 * 3600)
    shop.cancel(c, T0 + 9 * 3600)
    return a, b, c


# -- the contract -------------------------------------------------------------------------


def test_registered() -> None:
    assert REGISTRY.get("puller", "woocommerce_api") is WooOrders
    assert REGISTRY.get("puller", "shopify_api") is ShopifyOrders


def test_first_pull_reads_every_order(shop: Woo | Shopify) -> None:
    a, b, c = three_orders(shop)
    lines, cursor, _ = drain(shop.puller(), None)
    assert qty(lines) == {(a, "A-1"): 2, (a, "A-2"): 1, (b, "B-1"): 3, (c, "C-1"): 0}
    assert len(lines) == 4
    by_order = {ln.order: ln for ln in lines}
    assert by_order[a].at == T0 and by_order[a].changed == T0
    assert by_order[c].at == T0 + 6 * 3600 and by_order[c].changed == T0 + 9 * 3600
    assert by_order[c].status.lower() == "cancelled"
    assert len({ln.line for ln in lines}) == 4  # line ids are the shop's, distinct
    assert cursor and cursor.startswith("2023-11-15T07:13:20Z|")  # T0 + 9 h


def test_second_pull_from_the_cursor_returns_nothing_new(shop: Woo | Shopify) -> None:
    three_orders(shop)
    p = shop.puller()
    _, cursor, _ = drain(p, None)
    again, cursor2, _ = drain(p, cursor)
    assert again == []
    assert cursor2 in (None, cursor)  # a page without news may restate the cursor
    assert drain(p, cursor2 or cursor)[0] == []


def test_changes_after_the_cursor_come_back_with_the_new_quantity(shop: Woo | Shopify) -> None:
    a, b, _ = three_orders(shop)
    p = shop.puller()
    _, cursor, _ = drain(p, None)
    shop.cancel(a, T0 + 10 * 3600)
    shop.refund(b, "B-1", 1, T0 + 10 * 3600 + 1)
    lines, cursor2, _ = drain(p, cursor)
    assert qty(lines) == {(a, "A-1"): 0, (a, "A-2"): 0, (b, "B-1"): 2}
    assert all(ln.changed > T0 + 9 * 3600 for ln in lines)
    assert drain(p, cursor2)[0] == []
    shop.refund(b, "B-1", 2, T0 + 11 * 3600)  # the rest: nothing left sold
    assert qty(drain(p, cursor2)[0]) == {(b, "B-1"): 0}


def test_paging_loses_nothing_when_orders_share_a_second(shop: Woo | Shopify) -> None:
    # 130 orders in one second and 100 in the next: more than a page each.
    ids = [shop.add([(f"S-{i}", 1)], T0 + (i >= 130)) for i in range(230)]
    ids += [shop.add([(f"S-{i}", 1)], T0 + 2 + i) for i in range(230, 250)]
    p = shop.puller()
    lines, cursor, pages = drain(p, None)
    assert pages >= 3
    assert sorted(ln.order for ln in lines) == sorted(ids)  # each exactly once
    assert drain(p, cursor)[0] == []


def test_an_order_changed_while_paging_is_not_skipped(shop: Woo | Shopify) -> None:
    ids = [shop.add([(f"P-{i}", 1)], T0 + i) for i in range(160)]
    p = shop.puller()
    seen: list[OrderLine] = []
    cursor = None
    for n, (page, c) in enumerate(p.pull(None)):
        seen += page
        cursor = c
        if n == 0:  # a clerk cancels an order of the first page meanwhile
            shop.cancel(page[3].order, T0 + 1000)
    assert set(ids) <= orders(seen)
    assert qty(seen)[(ids[3], "P-3")] == 0
    assert drain(p, cursor)[0] == []


def test_the_same_second_after_the_cursor_is_read_again(shop: Woo | Shopify) -> None:
    x = shop.add([("X-1", 4)], T0)
    p = shop.puller()
    _, cursor, _ = drain(p, None)
    y = shop.add([("Y-1", 1)], T0)  # a new order given the second already read
    shop.refund(x, "X-1", 1, T0)  # and x changed again within that second
    lines, cursor2, _ = drain(p, cursor)
    assert qty(lines) == {(x, "X-1"): 3, (y, "Y-1"): 1}
    assert drain(p, cursor2)[0] == []


def test_wrong_credentials_are_permanent(shop: Woo | Shopify) -> None:
    three_orders(shop)
    with pytest.raises(PermanentSinkError):
        drain(shop.puller(key="${WRONG_KEY}"), None)


def test_a_shop_down_for_a_while_is_waited_out(shop: Woo | Shopify) -> None:
    a, b, c = three_orders(shop)
    shop.server.faults.fail(3, 503)
    lines, _, _ = drain(shop.puller(), None)
    assert orders(lines) == {a, b, c}


# -- WooCommerce ------------------------------------------------------------------------


@pytest.fixture
def woo() -> Iterator[WooServer]:
    with WooServer(key="ck_good", secret="cs_good") as w:
        yield w


def test_woo_statuses_holding_stock(woo: WooServer) -> None:
    ids = {s: woo.add_order([("K", 2)], status=s, created=T0 + i)
           for i, s in enumerate(("pending", "processing", "on-hold", "completed", "failed",
                                  "cancelled", "shipped"))}
    lines, _, _ = drain(Woo(woo).puller(), None)
    got = {ln.status: ln.qty for ln in lines}
    assert got == {"pending": 0, "processing": 2, "on-hold": 2, "completed": 2, "failed": 0,
                   "cancelled": 0, "shipped": 2}
    assert {ln.order for ln in lines} == {str(i) for i in ids.values()}


def test_woo_refunds_are_read_only_for_orders_with_refunds(woo: WooServer) -> None:
    a = woo.add_order([("R-1", 3), ("R-2", 1)], created=T0)
    woo.add_order([("R-3", 1)], created=T0 + 1)
    woo.refund(a, {"R-1": 1}, at=T0 + 5)
    woo.refund(a, {"R-1": 1}, at=T0 + 6)
    lines, _, _ = drain(Woo(woo).puller(), None)
    assert qty(lines) == {(str(a), "R-1"): 1, (str(a), "R-2"): 1, (str(a + 1), "R-3"): 1}
    refund_reads = [c for c in woo.calls if c[1].endswith("/refunds")]
    assert refund_reads == [("GET", f"/orders/{a}/refunds", 0)]
    woo.refund(a, {"R-1": 1, "R-2": 1}, at=T0 + 7)  # everything: the order is refunded
    assert {ln.status for ln in drain(Woo(woo).puller(), None)[0]
            if ln.order == str(a)} == {"refunded"}


def test_woo_asks_for_gmt_dates_and_modification_order(woo: WooServer) -> None:
    woo.add_order([("G", 1)], created=T0)
    woo.add_order([("H", 1)], created=T0 + 3600)
    _, cursor, _ = drain(Woo(woo).puller(), None)
    # The cursor is in GMT: a pull from it re-reads only the overlap. Compared with
    # the shop's local dates (UTC+2), the order an hour older would come back.
    assert cursor and cursor.startswith("2023-11-14T23:13:20Z|")
    before = len(woo.calls)
    assert drain(Woo(woo).puller(), cursor)[0] == []
    assert len(woo.calls) == before + 1


def test_woo_a_bulk_second_steps_with_offset(woo: WooServer, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    import filebridge.orders.woocommerce as wc
    monkeypatch.setattr(wc, "EXCLUDE_MAX", 50)  # as if 50 ids were too long an address
    ids = [woo.add_order([(f"B-{i}", 1)], created=T0) for i in range(260)]
    lines, _, pages = drain(Woo(woo).puller(), None)
    assert sorted(int(ln.order) for ln in lines) == ids
    assert pages == 3


# -- Shopify ------------------------------------------------------------------------------


def test_shopify_reads_every_line_of_a_long_order() -> None:
    with ShopifyServer() as s:
        big = s.add_order([(f"L-{i}", 1) for i in range(40)], created=T0)
        lines, _, _ = drain(Shopify(s).puller(), None)
        assert sorted(ln.sku for ln in lines) == sorted(f"L-{i}" for i in range(40))
        assert {ln.order for ln in lines} == {big}


def test_shopify_waits_for_the_cost_bucket() -> None:
    # A bucket of 1000 points refilled at 4000/s, empty at the start: the first call
    # is THROTTLED, the client waits as the answer's throttleStatus says, and every
    # page of about 950 points then fits.
    with ShopifyServer(maximum_available=1000, restore_rate=4000) as s:
        ids = [s.add_order([(f"Q-{i}", 2)], created=T0 + i) for i in range(120)]
        s.available = 0
        lines, _, pages = drain(Shopify(s).puller(), None)
        assert sorted(ln.order for ln in lines) == sorted(ids)
        assert pages == 3
        assert s.throttled >= 1


def test_window_cursor_round_trip() -> None:
    w = Window(None)
    w.add("7", T0, "aa")
    w.add("8", T0 + 30, "bb")
    w.add("9", T0 + 70, "cc")  # 7 falls out of the 60 s overlap
    back = Window(w.cursor())
    assert w.cursor() == "2023-11-14T22:14:30Z|8:40:bb,9:0:cc"
    assert back.t == T0 + 70 and back.seen == {"8": (T0 + 30, "bb"), "9": (T0 + 70, "cc")}
    assert not back.fresh("9", T0 + 70, "cc") and back.fresh("9", T0 + 70, "dd")
    assert back.fresh("7", T0, "aa")  # older than the overlap: never re-read anyway
    assert back.since() == T0 + 10
