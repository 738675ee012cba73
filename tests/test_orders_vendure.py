"""The vendure_api order puller against a real Vendure 3.7 (tests/shops/vendure.py):
one Vendure for the module; orders are placed through the Admin API's draft-order
flow. Every test pulls from its own starting cursor and looks at its own orders."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from shops.vendure import PASSWORD, USER, VendureShop

import filebridge.orders.vendure as mod
from filebridge.errors import PermanentSinkError
from filebridge.orders.base import OrderLine
from filebridge.orders.vendure import VendurePuller
from filebridge.registry import REGISTRY
from filebridge.sinks.api.vendure import VendureOptions

SHOP = partial(VendureShop, USER, PASSWORD)
SHOP_SCOPE = "module"  # a real Vendure: started once for the module


@pytest.fixture
def make(shop, monkeypatch):
    monkeypatch.setenv("VENDURE_TEST_USER", USER)
    monkeypatch.setenv("VENDURE_TEST_PASSWORD", PASSWORD)
    shop.faults.clear()
    pullers: list[VendurePuller] = []

    def make(**options: Any) -> VendurePuller:
        o = VendureOptions.model_validate({
            "url": shop.url, "username": "${VENDURE_TEST_USER}",
            "password": "${VENDURE_TEST_PASSWORD}", "limits": {"max_backoff": 0.05},
            **options})
        p = VendurePuller(o)
        pullers.append(p)
        return p

    yield make
    for p in pullers:
        p.close()


def drain(p: VendurePuller, cursor: str | None) -> tuple[list[OrderLine], str | None, int]:
    """Every line from ``cursor`` on, the last cursor, and the number of pages."""
    lines: list[OrderLine] = []
    pages = 0
    last = cursor
    for page in p.pull(cursor):
        lines.extend(page[0])
        last = page[1]
        pages += 1
    return lines, last, pages


def by_order(lines: list[OrderLine], order_id: str) -> dict[str, OrderLine]:
    return {x.sku: x for x in lines if x.order == order_id}


def test_registered():
    assert REGISTRY.get("puller", "vendure_api") is VendurePuller


def test_pulls_placed_orders_then_nothing_from_the_cursor(shop, make):
    paid = shop.place_order([("VO1-A", 2), ("VO1-B", 1)])
    other = shop.place_order([("VO1-A", 4)])
    cart = shop.place_order([("VO1-A", 7)], state="ArrangingPayment")
    draft = shop.place_order([("VO1-B", 9)], state="Draft")
    p = make()

    lines, cursor, pages = drain(p, None)
    assert cursor is not None and pages >= 1
    first = by_order(lines, paid["id"])
    assert {s: x.qty for s, x in first.items()} == {"VO1-A": 2, "VO1-B": 1}
    assert first["VO1-A"].line == paid["line_ids"]["VO1-A"]
    assert first["VO1-A"].status == "PaymentSettled"
    assert first["VO1-A"].at == mod.epoch_ms(paid["orderPlacedAt"]) / 1000
    assert first["VO1-A"].changed == mod.epoch_ms(paid["updatedAt"]) / 1000
    assert first["VO1-A"].location is None
    assert {s: x.qty for s, x in by_order(lines, other["id"]).items()} == {"VO1-A": 4}
    # Carts and drafts hold no stock in Vendure: they are not reported at all.
    assert not by_order(lines, cart["id"]) and not by_order(lines, draft["id"])
    # Oldest change first.
    changed = [x.changed for x in lines]
    assert changed == sorted(changed)

    assert drain(p, cursor)[0] == []
    assert drain(make(), cursor)[0] == []  # the cursor is all the state there is


def test_cancellations_come_back_with_lower_quantities(shop, make):
    p = make()
    cursor = drain(p, None)[1]
    order = shop.place_order([("VO2-A", 3), ("VO2-B", 2)])
    lines, cursor, _ = drain(p, cursor)
    assert {s: x.qty for s, x in by_order(lines, order["id"]).items()} == {"VO2-A": 3,
                                                                          "VO2-B": 2}
    assert {x.order for x in lines} == {order["id"]}

    # Within the same second Vendure may keep updatedAt: still found.
    after = shop.cancel_order(order["id"], [("VO2-A", 1)])
    assert after["state"] == "PaymentSettled"
    lines, cursor, _ = drain(p, cursor)
    got = by_order(lines, order["id"])
    assert {s: x.qty for s, x in got.items()} == {"VO2-A": 2, "VO2-B": 2}
    assert got["VO2-A"].status == "PaymentSettled"

    after = shop.cancel_order(order["id"])
    assert after["state"] == "Cancelled"
    lines, cursor, _ = drain(p, cursor)
    got = by_order(lines, order["id"])
    assert {s: (x.qty, x.status) for s, x in got.items()} == {
        "VO2-A": (0, "Cancelled"), "VO2-B": (0, "Cancelled")}
    assert got["VO2-A"].at == mod.epoch_ms(order["orderPlacedAt"]) / 1000
    assert drain(p, cursor)[0] == []


def test_pages_resume_and_see_orders_changed_while_paging(shop, make, monkeypatch):
    p = make()
    start = drain(p, None)[1]
    orders = [shop.place_order([(f"VO3-{i}", i + 1)]) for i in range(5)]
    monkeypatch.setattr(mod, "PAGE", 2)

    pages = p.pull(start)
    first, cursor = next(pages)
    assert len({x.order for x in first}) == 2
    # The first order changes while the rest is still being read: it comes again.
    shop.cancel_order(orders[0]["id"], [("VO3-0", 1)])
    rest: list[OrderLine] = []
    for page in pages:
        rest.extend(page[0])
        cursor = page[1]
    seen = [x.order for x in first + rest]
    assert set(seen) == {o["id"] for o in orders}
    zero = [x for x in first + rest if x.order == orders[0]["id"]]
    assert [x.qty for x in zero] == [1, 0]  # sold, then cancelled
    assert drain(p, cursor)[0] == []

    # Resuming from a page's cursor gives exactly what that page had not.
    pages = p.pull(start)
    head, mid = next(pages)
    pages.close()
    tail = drain(p, mid)[0]
    assert {x.order for x in head}.isdisjoint({x.order for x in tail})
    assert {x.order for x in head + tail} == {o["id"] for o in orders}
    assert drain(p, drain(p, mid)[1])[0] == []


def test_window_finds_same_second_and_late_changes(make, monkeypatch):
    """Vendure's updatedAt is whole seconds on SQLite and the transaction start on
    PostgreSQL: a change may keep it, or commit behind a newer one."""
    p = make()
    db: list[dict[str, Any]] = []

    def order(id: str, updated: str, qty: int, state: str = "PaymentSettled") -> None:
        db[:] = [o for o in db if o["id"] != id] + [{
            "id": id, "state": state, "orderPlacedAt": "2030-01-01T10:00:00.000Z",
            "updatedAt": updated, "lines": [{"id": f"L{id}", "quantity": qty,
                                             "productVariant": {"sku": f"S{id}"}}]}]

    def query(options: dict[str, Any]) -> list[dict[str, Any]]:
        after = options["filter"].get("updatedAt", {}).get("after")
        rows = sorted((o for o in db if after is None or o["updatedAt"] > after),
                      key=lambda o: (o["updatedAt"], int(o["id"])))
        return rows[options["skip"]:options["skip"] + options["take"]]

    monkeypatch.setattr(p, "query", query)
    order("1", "2030-01-01T10:00:05.000Z", 3)
    order("2", "2030-01-01T10:00:05.000Z", 1)
    lines, cursor, _ = drain(p, None)
    assert [(x.order, x.qty) for x in lines] == [("1", 3), ("2", 1)]
    assert drain(p, cursor)[0] == []

    order("1", "2030-01-01T10:00:05.000Z", 2)  # same second, one unit cancelled
    order("3", "2030-01-01T10:00:04.000Z", 5)  # committed late, older timestamp
    order("4", "2030-01-01T09:50:00.000Z", 6)  # older than the window: out of reach
    lines, cursor, _ = drain(p, cursor)
    assert sorted((x.order, x.qty) for x in lines) == [("1", 2), ("3", 5)]
    assert drain(p, cursor)[0] == []

    order("5", "2030-01-01T10:10:00.000Z", 1)  # the window moves on: old entries go
    lines, cursor, _ = drain(p, cursor)
    assert [(x.order, x.qty) for x in lines] == [("5", 1)]
    assert cursor is not None and set(json.loads(cursor)["seen"]) == {"5"}

    # Cancelled counts 0 even where a custom process left the quantities alone.
    order("5", "2030-01-01T10:10:01.000Z", 1, state="Cancelled")
    assert [(x.qty, x.status) for x in drain(p, cursor)[0]] == [(0, "Cancelled")]


def test_full_pages_of_known_orders_are_skipped_not_looped(make, monkeypatch):
    monkeypatch.setattr(mod, "PAGE", 2)
    monkeypatch.setattr(mod, "LIST_LIMIT", 3)
    p = make()
    db = [{"id": str(i), "state": "PaymentSettled", "orderPlacedAt": "2030-01-01T10:00:00Z",
           "updatedAt": "2030-01-01T10:00:00.000Z",
           "lines": [{"id": str(i), "quantity": 1, "productVariant": {"sku": "X"}}]}
          for i in range(1, 8)]
    calls: list[dict[str, Any]] = []

    def query(options: dict[str, Any]) -> list[dict[str, Any]]:
        calls.append(options)
        assert len(calls) < 20, "the puller keeps asking for the same orders"
        return db[options["skip"]:options["skip"] + options["take"]]

    monkeypatch.setattr(p, "query", query)
    lines, cursor, _ = drain(p, None)
    assert sorted(x.order for x in lines) == [str(i) for i in range(1, 8)]
    assert drain(p, cursor)[0] == []
    assert any(c["skip"] for c in calls)  # pages of known orders were stepped over


def test_wrong_password_is_permanent(shop, make, monkeypatch):
    monkeypatch.setenv("VENDURE_TEST_PASSWORD", "not-the-password")
    with pytest.raises(PermanentSinkError, match="login refused"):
        drain(make(), None)


def test_foreign_cursor_is_permanent(make):
    with pytest.raises(PermanentSinkError, match="cursor"):
        drain(make(), "2024-01-01T00:00:00Z|17")
