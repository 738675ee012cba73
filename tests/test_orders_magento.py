"""The magento_api order puller against the loopback Magento server
(tests/shops/magento.py), whose orders a test places, cancels, refunds and ships."""

from __future__ import annotations

import pytest
from shops.magento import TOKEN, MagentoServer

from filebridge.errors import PermanentSinkError
from filebridge.orders.base import OrderLine
from filebridge.orders.magento import MagentoOrders, stamp
from filebridge.registry import REGISTRY
from filebridge.sinks.api.magento import MagentoOptions

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
FAST = {"max_backoff": 0.05, "retries": 6, "timeout": 5}


@pytest.fixture
def server():
    with MagentoServer() as s:
        yield s


@pytest.fixture
def make(server, monkeypatch):
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    monkeypatch.setenv("WRONG_TOKEN", "not-the-token")
    made = []

    def make(token: str = "${MAGENTO_TOKEN}") -> MagentoOrders:
        o = MagentoOptions.model_validate({"url": server.url, "token": token, "limits": FAST})
        p = REGISTRY.get("puller", "magento_api")(o)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def drain(p: MagentoOrders, cursor: str | None) -> tuple[list[OrderLine], str | None, int]:
    lines: list[OrderLine] = []
    pages = 0
    for page, c in p.pull(cursor):
        lines += page
        cursor, pages = c, pages + 1
    return lines, cursor, pages


def qty(lines: list[OrderLine]) -> dict[tuple[str, str], int]:
    return {(ln.order, ln.sku): ln.qty for ln in lines}


def three_orders(server: MagentoServer) -> tuple[str, str, str]:
    """A (pending), B (invoiced), C (cancelled), hours apart."""
    a = server.add_order([("A-1", 2), ("A-2", 1)], T0)
    b = server.add_order([("B-1", 3)], T0 + 3 * 3600, invoiced=True)
    c = server.add_order([("C-1", 5)], T0 + 6 * 3600)
    server.cancel(c, T0 + 9 * 3600)
    return str(a), str(b), str(c)


def test_registered():
    assert REGISTRY.get("puller", "magento_api") is MagentoOrders


def test_first_pull_reads_every_order(server, make):
    a, b, c = three_orders(server)
    lines, cursor, pages = drain(make(), None)
    assert qty(lines) == {(a, "A-1"): 2, (a, "A-2"): 1, (b, "B-1"): 3, (c, "C-1"): 0}
    assert len(lines) == 4 and len({ln.line for ln in lines}) == 4 and pages == 1
    by_order = {ln.order: ln for ln in lines}
    assert by_order[a].at == T0 and by_order[a].changed == T0  # UTC, no zone in the API
    assert by_order[c].at == T0 + 6 * 3600 and by_order[c].changed == T0 + 9 * 3600
    assert by_order[c].status == "canceled" and by_order[a].status == "pending"
    assert cursor and cursor.startswith("2023-11-15T07:13:20Z|")  # T0 + 9 h
    q = server.order_queries[0]  # what was asked: sorted, trimmed, no filter yet
    assert q["searchCriteria[sortOrders][0][field]"] == "updated_at"
    assert q["searchCriteria[sortOrders][1][field]"] == "entity_id"
    assert q["fields"].startswith("items[") and not any("filter_groups" in k for k in q)


def test_second_pull_from_the_cursor_returns_nothing_new(server, make):
    a, _, _ = three_orders(server)
    p = make()
    _, cursor, _ = drain(p, None)
    again, cursor2, _ = drain(p, cursor)
    assert again == [] and cursor2 == cursor
    # it re-read the overlap before the newest change, in UTC
    q = server.order_queries[-1]
    assert q["searchCriteria[filter_groups][0][filters][0][field]"] == "updated_at"
    assert q["searchCriteria[filter_groups][0][filters][0][condition_type]"] == "gteq"
    assert q["searchCriteria[filter_groups][0][filters][0][value]"] == "2023-11-15 07:12:20"
    server.touch(int(a), T0 + 10 * 3600)
    lines, _, _ = drain(p, cursor)  # saved again: restated, the same units (no movement)
    assert qty(lines) == {(a, "A-1"): 2, (a, "A-2"): 1}


def test_cancel_and_partial_refund_come_back_with_the_new_quantity(server, make):
    a, b, _ = three_orders(server)
    p = make()
    _, cursor, _ = drain(p, None)
    server.cancel(int(a), T0 + 10 * 3600)
    server.refund(int(b), {"B-1": 1}, T0 + 10 * 3600 + 1)
    lines, cursor2, _ = drain(p, cursor)
    assert qty(lines) == {(a, "A-1"): 0, (a, "A-2"): 0, (b, "B-1"): 2}
    assert {ln.status for ln in lines if ln.order == a} == {"canceled"}
    assert all(ln.changed > T0 + 9 * 3600 for ln in lines)
    assert drain(p, cursor2)[0] == []
    server.refund(int(b), {"B-1": 2}, T0 + 11 * 3600)  # the rest: the order closes
    lines, _, _ = drain(p, cursor2)
    assert qty(lines) == {(b, "B-1"): 0} and lines[0].status == "closed"


def test_a_change_in_the_second_of_the_cursor_is_not_lost(server, make):
    a, b, c = three_orders(server)
    p = make()
    _, cursor, _ = drain(p, None)
    server.refund(int(b), {"B-1": 1}, T0 + 9 * 3600)  # same second as C's cancellation
    d = str(server.add_order([("D-1", 4)], T0 + 9 * 3600 - 30))  # committed late
    lines, _, _ = drain(p, cursor)
    assert qty(lines) == {(b, "B-1"): 2, (d, "D-1"): 4}


def test_paging_through_one_second_holding_more_than_a_page(server, make):
    ids = [server.add_order([(f"S-{i}", 1)], T0) for i in range(250)]
    late = server.add_order([("L-1", 2)], T0 + 5)
    p = make()
    lines, cursor, pages = drain(p, None)
    assert pages == 3
    assert sorted(int(ln.order) for ln in lines) == sorted(ids + [late])  # each once
    assert sum(ln.qty for ln in lines) == 252
    assert all(q["searchCriteria[currentPage]"] == "1" for q in server.order_queries)
    assert drain(p, cursor)[0] == []
    # a cursor inside the busy second: the next pull still gets the rest, once
    more = [server.add_order([(f"M-{i}", 1)], T0 + 5) for i in range(120)]
    lines, _, _ = drain(p, cursor)
    assert sorted(int(ln.order) for ln in lines) == sorted(more)


def test_an_order_changed_while_paging_is_not_lost(server, make):
    for i in range(230):
        server.add_order([(f"S-{i}", 1)], T0 + i)
    p = make()
    seen: dict[str, int] = {}
    gen = p.pull(None)
    page, cursor = next(gen)
    seen.update({ln.order: ln.qty for ln in page})
    server.cancel(5, T0 + 1000)  # already read: moves to the end
    server.cancel(150, T0 + 1000)  # not read yet
    for page, cursor in gen:  # noqa: B007  (the last cursor is used below)
        seen.update({ln.order: ln.qty for ln in page})
    assert len(seen) == 230 and seen["5"] == 0 and seen["150"] == 0
    assert sum(seen.values()) == 228
    assert drain(p, cursor)[0] == []


def test_configurable_parent_and_child_count_once(server, make):
    o = str(server.add_order([("TEE-RED-M", 2, "configurable"), ("MUG", 1)], T0,
                             invoiced=True))
    p = make()
    lines, cursor, _ = drain(p, None)
    assert qty(lines) == {(o, "TEE-RED-M"): 2, (o, "MUG"): 1}
    assert len(lines) == 2  # the parent item is skipped
    child = next(i for i in server.orders[int(o)]["items"] if "parent_item_id" in i)
    tee = next(ln for ln in lines if ln.sku == "TEE-RED-M")
    assert tee.line == str(child["item_id"])
    server.refund(int(o), {"TEE-RED-M": 1}, T0 + 60)  # booked on the parent only
    lines, cursor, _ = drain(p, cursor)
    assert qty(lines) == {(o, "TEE-RED-M"): 1, (o, "MUG"): 1}


def test_configurable_cancel_returns_the_child(server, make):
    o = str(server.add_order([("TEE-RED-M", 3, "configurable")], T0))
    p = make()
    _, cursor, _ = drain(p, None)
    server.cancel(int(o), T0 + 60)  # Magento cancels the parent item; the child is a dummy
    lines, _, _ = drain(p, cursor)
    assert qty(lines) == {(o, "TEE-RED-M"): 0} and len(lines) == 1


def test_cancelled_order_keeps_only_shipped_units(server, make):
    shipped = str(server.add_order([("X-1", 4)], T0))
    server.ship(int(shipped), {"X-1": 1}, T0 + 10)
    server.cancel(int(shipped), T0 + 20)  # cancels the 3 units not shipped
    bare = str(server.add_order([("Y-1", 2)], T0))
    server.set_state(int(bare), "canceled", "canceled", T0 + 30)  # items untouched
    lines, _, _ = drain(make(), None)
    assert qty(lines) == {(shipped, "X-1"): 1, (bare, "Y-1"): 0}


def test_wrong_token_is_permanent(server, make):
    server.add_order([("A-1", 1)], T0)
    with pytest.raises(PermanentSinkError, match="401"):
        drain(make("${WRONG_TOKEN}"), None)


def test_503s_are_survived(server, make):
    a, b, c = three_orders(server)
    server.faults.fail(3, 503)
    lines, _, _ = drain(make(), None)
    assert qty(lines) == {(a, "A-1"): 2, (a, "A-2"): 1, (b, "B-1"): 3, (c, "C-1"): 0}
    assert server.requests >= 4


def test_a_shop_ignoring_the_filters_is_refused(server, make, monkeypatch):
    for i in range(150):
        server.add_order([(f"S-{i}", 1)], T0)
    real = server._orders
    monkeypatch.setattr(server, "_orders", lambda q: real(
        {k: v for k, v in q.items() if "filter_groups" not in k}))
    with pytest.raises(PermanentSinkError, match="not honoured"):
        drain(make(), None)


def test_stamp_is_utc():
    assert stamp(T0) == "2023-11-14 22:13:20"


def test_held_is_what_msi_still_reserves_through_shipments_refunds_and_cancels(server, make):
    """``held`` per line is the reservation the loopback (MSI's rules) still holds
    for it: placed −qty, shipped, cancelled, and refunded units not shipped (first)
    compensated; a refund of shipped units leaves it alone."""
    p = make()

    def held() -> dict[tuple[str, str], int]:
        lines, _, _ = drain(p, None)
        return {(ln.order, ln.sku): ln.held for ln in lines if ln.held}

    def reserved() -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for sku, q, _, order in server.reservations:
            out[(str(order), sku)] = out.get((str(order), sku), 0) - int(q)
        return {k: v for k, v in out.items() if v}

    o1 = server.add_order([("H-1", 4), ("TEE-RED-M", 2, "configurable")], T0, invoiced=True)
    o2 = server.add_order([("H-1", 3)], T0 + 1)
    assert held() == reserved() == {(str(o1), "H-1"): 4, (str(o1), "TEE-RED-M"): 2,
                                    (str(o2), "H-1"): 3}
    server.ship(o1, {"H-1": 1, "TEE-RED-M": 1}, T0 + 10)  # booked on the parent
    assert held() == reserved()
    server.refund(o1, {"H-1": 2}, T0 + 20)  # two of the three not shipped
    assert held() == reserved() and held()[(str(o1), "H-1")] == 1
    server.ship(o1, {"H-1": 1}, T0 + 30)
    server.refund(o1, {"H-1": 1}, T0 + 40, return_to_stock=True)  # a shipped one
    assert held() == reserved() and (str(o1), "H-1") not in held()
    server.cancel(o2, T0 + 50)
    assert held() == reserved() == {(str(o1), "TEE-RED-M"): 1}
