"""Shipments into a real Vendure 3.7 (tests/shops/vendure.py): orders placed through
the Admin API's draft-order flow go through shipment to Shipped and Delivered by a
shipments file, partial shipments allowed, a shipment never made twice."""

from __future__ import annotations

from typing import Any

import pytest
from shops.vendure import PASSWORD, USER, VendureShop
from test_shipments import reasons, shipments_job, tally

from filebridge.runner import run_files

FULFILMENTS = "query($o:ID!){order(id:$o){state fulfillments{id state trackingCode " \
    "lines{orderLineId quantity}}}}"


@pytest.fixture(scope="module")
def shop():
    with VendureShop(USER, PASSWORD) as s:
        yield s


@pytest.fixture(autouse=True)
def login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDURE_TEST_USER", USER)
    monkeypatch.setenv("VENDURE_TEST_PASSWORD", PASSWORD)


def output(shop: VendureShop) -> dict[str, Any]:
    return {"format": "vendure_api", "url": shop.url, "username": "${VENDURE_TEST_USER}",
            "password": "${VENDURE_TEST_PASSWORD}", "limits": {"max_backoff": 0.05}}


def state(shop: VendureShop, oid: str) -> dict[str, Any]:
    return dict(shop.gql(FULFILMENTS, {"o": oid})["order"])


def test_an_order_goes_through_shipment_to_shipped_and_delivered(workdir, shop):
    o = shop.place_order([("SHP-A", 3), ("SHP-B", 1)])
    oid = o["id"]
    job, path = shipments_job(workdir, output(shop), [
        (oid, "SHP-A", 2, "VT1", "N"),
        (oid, "SHP-Z", 1, "VT1", "N"),  # not on the order
        (oid, "SHP-B", 2, "VT1", "N")], delivered=True)  # one ordered
    [out] = run_files(job, [path])
    assert tally(out) == (3, 1, 0, 2)
    assert reasons(job, out) == {(3, "sku"), (4, "quantity")}
    now = state(shop, oid)
    assert now["state"] == "PartiallyShipped"
    [f] = now["fulfillments"]
    assert (f["state"], f["trackingCode"]) == ("Shipped", "VT1")
    assert [fl["quantity"] for fl in f["lines"]] == [2]
    # The rest, delivered; VT1 again changes nothing.
    job, path = shipments_job(workdir, output(shop), [
        (oid, "SHP-A", 2, "VT1", "N"), (o["code"], "SHP-A", 1, "VT2", "S"),
        (o["code"], "SHP-B", 1, "VT2", "S")], "SHIP_2.csv", delivered=True)
    [out] = run_files(job, [path])
    assert tally(out) == (3, 2, 1, 0)
    now = state(shop, oid)
    assert now["state"] == "PartiallyDelivered"  # VT1 is shipped, VT2 delivered
    assert sorted((f["trackingCode"], f["state"]) for f in now["fulfillments"]) == \
        [("VT1", "Shipped"), ("VT2", "Delivered")]
    # VT1 delivered, told in a later file: the fulfilment and the order move on.
    job, path = shipments_job(workdir, output(shop), [(oid, "SHP-A", 2, "VT1", "S")],
                              "SHIP_4.csv", delivered=True)
    assert tally(run_files(job, [path])[0]) == (1, 1, 0, 0)
    now = state(shop, oid)
    assert now["state"] == "Delivered"
    assert {f["state"] for f in now["fulfillments"]} == {"Delivered"}
    # A whole order delivered in one shipment: the order is Delivered.
    whole = shop.place_order([("SHP-A", 1)])
    job, path = shipments_job(workdir, output(shop), [(whole["id"], "SHP-A", 1, "VT3", "Y")],
                              "SHIP_3.csv", delivered=True)
    assert tally(run_files(job, [path])[0]) == (1, 1, 0, 0)
    assert state(shop, whole["id"])["state"] == "Delivered"


def test_orders_not_placed_or_cancelled_are_rejected(workdir, shop):
    cart = shop.place_order([("SHP-A", 1)], state="ArrangingPayment")
    gone = shop.place_order([("SHP-A", 1)])
    shop.cancel_order(gone["id"])
    job, path = shipments_job(workdir, output(shop), [
        (cart["id"], "SHP-A", 1, "VT4"), (gone["id"], "SHP-A", 1, "VT5"),
        ("999999", "SHP-A", 1, "VT6")])
    [out] = run_files(job, [path])
    assert tally(out) == (3, 0, 0, 3)
    assert reasons(job, out) == {(2, "order"), (3, "order"), (4, "order")}
    assert state(shop, cart["id"])["fulfillments"] == []


def test_a_fulfilment_left_pending_by_a_cut_run_is_finished_not_repeated(workdir, shop):
    o = shop.place_order([("SHP-A", 2)])
    line = o["lines"][0]["id"]
    # What a run cut short after addFulfillmentToOrder leaves: a Pending fulfilment.
    shop.gql("mutation($i:FulfillOrderInput!){addFulfillmentToOrder(input:$i){"
             "...on Fulfillment{id}}}", {"i": {"lines": [{"orderLineId": line, "quantity": 2}],
                                               "handler": {"code": "manual-fulfillment",
                                                           "arguments": [
                                                               {"name": "method",
                                                                "value": "DHL"},
                                                               {"name": "trackingCode",
                                                                "value": "VT7"}]}}})
    job, path = shipments_job(workdir, output(shop), [(o["id"], "SHP-A", 2, "VT7")])
    assert tally(run_files(job, [path])[0]) == (1, 0, 1, 0)
    now = state(shop, o["id"])
    assert [f["state"] for f in now["fulfillments"]] == ["Shipped"]
    assert now["state"] == "Shipped"
