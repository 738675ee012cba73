"""The woocommerce_api client against a loopback WooCommerce (tests/shops/woocommerce.py)."""

from __future__ import annotations

import itertools
import threading
from functools import partial
from typing import Any

import pytest
import requests
from pydantic import ValidationError
from shops.woocommerce import WooServer

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.sinks.api.base import Change, Result, State
from filebridge.sinks.api.woocommerce import WooClient, WooOptions

FAST = {"max_backoff": 0.05, "retries": 6, "timeout": 5}
_ids = itertools.count(1)


SHOP = partial(WooServer, key="ck_good", secret="cs_good")


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WC_KEY", "ck_good")
    monkeypatch.setenv("WC_SECRET", "cs_good")


class Ledger:
    """What the core keeps between runs for the client: per SKU the last record the
    shop acknowledged and the ids it gave (filebridge/ledger/changelog.py settle/siblings)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}

    def siblings(self, product: str) -> list[dict[str, Any]]:
        return [dict(r, _remote=m) for r, m in self.records.values()
                if r.get("product") == product]

    def settle(self, changes: list[Change], results: list[Result]) -> list[Result]:
        by_id = {r.id: r for r in results}
        for c in changes:
            r = by_id[c.id]
            if not r.ok:
                continue
            if c.op == "delete":
                self.records.pop(c.key, None)
                continue
            self.records[c.key] = (dict(c.record), {**c.remote, **(r.remote or {})})
        return results

    def change(self, rec: dict[str, Any], op: str = "upsert") -> Change:
        """The next change to ``rec``'s SKU, as the outbox hands it out."""
        prev, remote = self.records.get(rec["sku"], (None, {}))
        return Change(next(_ids), rec["sku"], op, rec, idem=f"i{next(_ids)}",  # type: ignore[arg-type]
                      remote=dict(remote), previous=dict(prev) if prev else None)


def client(shop: WooServer, siblings: dict[str, list[dict[str, Any]]] | None = None,
           ledger: Ledger | None = None, **opts: Any) -> WooClient:
    o = WooOptions.model_validate({"url": shop.url, "consumer_key": "${WC_KEY}",
                                   "consumer_secret": "${WC_SECRET}",
                                   "limits": opts.pop("limits", FAST), **opts})
    if ledger is not None:
        return WooClient(o, State(ledger.siblings))
    return WooClient(o, State(lambda p: (siblings or {}).get(p, [])))


def change(rec: dict[str, Any], op: str = "upsert", **kw: Any) -> Change:
    return Change(next(_ids), rec["sku"], op, rec, idem=f"i{next(_ids)}", **kw)  # type: ignore[arg-type]


def simple(sku: str, **f: Any) -> dict[str, Any]:
    return {"sku": sku, "title": f"Product {sku}", "price": "10.00", "stock": 5, **f}


def variant(sku: str, product: str, colour: str, **f: Any) -> dict[str, Any]:
    return {"sku": sku, "product": product, "title": f"Tee {product}", "price": "19.90",
            "stock": 2, "options": [{"name": "Colour", "value": colour}], **f}


def catalog(shop: WooServer) -> dict[str, Any]:
    """What a shopper would see, without the shop's ids."""
    def strip(o: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in o.items() if k in (
            "sku", "name", "type", "status", "regular_price", "sale_price", "manage_stock",
            "stock_quantity", "stock_status", "attributes", "weight", "description")}
    return {sku: {**strip(p), "variations": {v["sku"]: strip(v) for v in p["variations"]}}
            for sku, p in shop.catalog().items()}


def ok(results: list[Result]) -> list[Result]:
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    return results


def acknowledged(changes: list[Change], results: list[Result]) -> list[Change]:
    """The same records as the core would hand them back next time."""
    by_id = {r.id: r for r in results}
    return [Change(next(_ids), c.key, "upsert", dict(c.record), idem="x",
                   remote=by_id[c.id].remote or {}, previous=dict(c.record)) for c in changes]


# -- catalog round trip --------------------------------------------------------------


def test_create_then_update_reads_back(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger)
    first = [change(simple("A-1", compare_at_price="12.50")),
             change(variant("T-R", "T", "Red")), change(variant("T-G", "T", "Green"))]
    results = ledger.settle(first, ok(wc.send(first)))
    assert all(set(r.remote or {}) == {"id", "parent_id"} for r in results)
    got = catalog(shop)
    assert got["A-1"]["regular_price"] == "12.50" and got["A-1"]["sale_price"] == "10.00"
    assert got["A-1"]["type"] == "simple" and got["A-1"]["stock_status"] == "instock"
    assert got["T"]["type"] == "variable" and got["T"]["name"] == "Tee T"
    assert got["T"]["attributes"][0]["options"] == ["Red", "Green"]
    assert got["T"]["attributes"][0]["variation"] is True
    assert set(got["T"]["variations"]) == {"T-R", "T-G"}
    assert [(a["name"], a["option"]) for a in got["T"]["variations"]["T-G"]["attributes"]] \
        == [("Colour", "Green")]
    assert shop.shop.storefront("T") == {"options": {"Colour": ["Red", "Green"]}, "variations": {
        "T-R": {"Colour": "Red"}, "T-G": {"Colour": "Green"}}}

    # Next run: ids come from Change.remote, so no look-up.
    before = len(shop.calls)
    again = acknowledged(first, results)
    again[0].record.update(title="Renamed", price="9.00", compare_at_price=None, stock=0)
    again[2].record.update(price="21.00")
    for c in again[1:]:
        c.record["status"] = "draft"  # product level: the variable product's status
    ok(wc.send(again))
    calls = shop.calls[before:]
    assert all(m == "POST" for m, _, _ in calls), calls
    got = catalog(shop)
    assert got["T"]["status"] == "draft"
    assert (got["A-1"]["name"], got["A-1"]["regular_price"], got["A-1"]["sale_price"],
            got["A-1"]["stock_quantity"], got["A-1"]["stock_status"]) == \
        ("Renamed", "9.00", "", 0, "outofstock")
    green = got["T"]["variations"]["T-G"]
    assert (green["regular_price"], green["status"]) == ("21.00", "publish")
    assert got["T"]["variations"]["T-R"]["regular_price"] == "19.90"
    assert shop.created == {"A-1": 1, "T": 1, "T-R": 1, "T-G": 1}


def test_a_new_option_value_extends_the_parent_never_narrows_it(shop: WooServer) -> None:
    red = variant("S-R", "S", "Red")
    ok(client(shop).send([change(red)]))
    # Someone adds a value in the shop's admin; it must survive our update.
    pid = shop.catalog()["S"]["id"]
    requests.put(f"{shop.url}/wp-json/wc/v3/products/{pid}", auth=("ck_good", "cs_good"),
                 json={"attributes": [{"name": "Colour", "variation": True,
                                       "options": ["Red", "Blue"]}]}, timeout=5)
    later = client(shop, siblings={"S": [dict(red, _remote={})]})  # a new run: empty cache
    ok(later.send([change(variant("S-G", "S", "Green"))]))
    got = catalog(shop)["S"]
    # ours in the profile's order, then the value only the shop has
    assert got["attributes"][0]["options"] == ["Red", "Green", "Blue"]
    assert set(got["variations"]) == {"S-R", "S-G"}
    assert shop.created["S"] == 1


def test_parents_are_created_once_by_parallel_senders(shop: WooServer) -> None:
    wc = client(shop)
    batches = [[change(variant(f"P-{t}-{i}", "P", f"C{t}-{i}")) for i in range(10)]
               for t in range(4)]
    out: list[list[Result]] = []
    threads = [threading.Thread(target=lambda b=b: out.append(wc.send(b))) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for rs in out for r in rs)
    got = catalog(shop)
    assert list(got) == ["P"] and shop.created["P"] == 1
    assert len(got["P"]["variations"]) == 40
    assert len(got["P"]["attributes"][0]["options"]) == 40


def test_variation_attributes_are_checked_as_woocommerce_checks_them(shop: WooServer) -> None:
    # The loopback's rules, straight through REST (tests/shops/woocommerce.py, read in
    # the v3 variations controller): nothing is refused, but only what the parent has
    # for variations is kept, and only values among its options can be chosen.
    auth, base = ("ck_good", "cs_good"), f"{shop.url}/wp-json/wc/v3/products"
    parent = requests.post(base, auth=auth, timeout=5, json={
        "name": "Tee", "type": "variable", "sku": "TEE", "attributes": [
            {"name": "Colour", "variation": True, "options": ["Red", "Blue"]},
            {"name": "Fabric", "options": "Cotton | Linen"}]}).json()  # not for variations
    assert [a["options"] for a in parent["attributes"]] == [["Red", "Blue"],
                                                            ["Cotton", "Linen"]]
    assert [a["variation"] for a in parent["attributes"]] == [True, False]
    made = requests.post(f"{base}/{parent['id']}/variations/batch", auth=auth, timeout=5,
                         json={"create": [
                             {"sku": "TEE-R", "regular_price": "10",
                              "attributes": [{"name": "colour", "option": "Red"}]},
                             {"sku": "TEE-X", "regular_price": "10",
                              "attributes": [{"name": "Colour", "option": "Pink"}]},
                             {"sku": "TEE-F", "regular_price": "10",
                              "attributes": [{"name": "Fabric", "option": "Linen"},
                                             {"name": "Size", "option": "M"}]},
                             {"sku": "TEE-0",
                              "attributes": [{"name": "Colour", "option": "Red"}]}]})
    assert made.status_code == 200 and all("error" not in v for v in made.json()["create"])
    got = {v["sku"]: [(a["name"], a["option"]) for a in v["attributes"]]
           for v in shop.catalog()["TEE"]["variations"]}
    assert got == {"TEE-R": [("Colour", "Red")], "TEE-X": [("Colour", "Pink")], "TEE-F": [],
                   "TEE-0": [("Colour", "Red")]}
    # Pink is stored but never offered; TEE-F kept no attribute at all: it answers to
    # any colour, Red included; TEE-0 has no price, which the storefront never sells
    assert shop.shop.storefront("TEE") == {
        "options": {"Colour": ["Red", "Blue"]},
        "variations": {"TEE-R": {"Colour": "Red"}, "TEE-F": {"Colour": None}}}


def test_variations_the_storefront_could_not_sell_are_refused(shop: WooServer) -> None:
    records = [variant("C-R", "C", "Red"), variant("C-B", "C", "  Navy   Blue "),
               variant("C-N", "C", " "), variant("C-P", "C", "Red|Blue")]
    results = {r.id: r for r in client(shop).send([change(r) for r in records])}
    by_sku = {c: results[i]
              for c, i in zip(["C-R", "C-B", "C-N", "C-P"], sorted(results), strict=True)}
    assert by_sku["C-R"].ok and by_sku["C-B"].ok
    assert not by_sku["C-N"].ok and "would sell this variation for any Colour" in \
        by_sku["C-N"].message
    assert not by_sku["C-P"].ok and "splits attribute options" in by_sku["C-P"].message
    # a product whose only variation is refused is not made at all
    only = client(shop).send([change(variant("E-N", "E", ""))])
    assert not only[0].ok and "E" not in shop.catalog()
    # what was sent can be chosen, with the value WooCommerce keeps ("Navy Blue")
    assert shop.shop.storefront("C") == {
        "options": {"Colour": ["Red", "Navy Blue"]},
        "variations": {"C-R": {"Colour": "Red"}, "C-B": {"Colour": "Navy Blue"}}}


# -- stock ---------------------------------------------------------------------------


def test_stock_sync_sets_only_stock_of_known_skus(shop: WooServer) -> None:
    ok(client(shop).send([change(simple("K-1", price="7.00")),
                          change(variant("V-1", "V", "Red"))]))
    stock = client(shop, sync="stock")
    # A stock feed carries no product key and no ids: the SKU look-up finds variations too.
    results = stock.send([change({"sku": "K-1", "stock": 40, "price": "1.00"}),
                          change({"sku": "V-1", "stock": 0}),
                          change({"sku": "NOPE", "stock": 3})])
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].message == "SKU NOPE is not in the shop"
    raw = shop.catalog()["V"]
    assert results[1].remote == {"id": raw["variations"][0]["id"], "parent_id": raw["id"]}
    got = catalog(shop)
    assert got["K-1"]["stock_quantity"] == 40 and got["K-1"]["regular_price"] == "7.00"
    assert got["V"]["variations"]["V-1"]["stock_status"] == "outofstock"
    assert "NOPE" not in shop.created


def test_zero_unpublish_delete(shop: WooServer) -> None:
    wc = client(shop)
    first = [change(simple("Z-1")), change(simple("U-1")), change(variant("U-R", "U", "Red")),
             change(simple("D-1")), change(variant("D-R", "D", "Red")),
             change(variant("D-G", "D", "Green"))]
    results = wc.send(first)
    known = acknowledged(first, results)
    ops = ["zero", "unpublish", "unpublish", "delete", "delete", "delete"]
    second = [Change(c.id, c.key, op, c.record, "y", remote=c.remote)  # type: ignore[arg-type]
              for c, op in zip(known, ops, strict=True)]
    ok(wc.send(second))
    got = catalog(shop)
    assert (got["Z-1"]["stock_quantity"], got["Z-1"]["stock_status"]) == (0, "outofstock")
    assert got["U-1"]["status"] == "draft"
    assert got["U"]["variations"]["U-R"]["status"] == "private"
    assert "D-1" not in got and got["D"]["variations"] == {}
    # Deleting again (gone already) is what was asked for; zeroing the unknown is not.
    assert [r.ok for r in wc.send(second[3:4] + [change(simple("X-9"), "zero")])] == \
        [True, False]
    # Back in the file: stock and status are the file's again.
    ok(wc.send(known[:3]))
    got = catalog(shop)
    assert (got["Z-1"]["stock_quantity"], got["U-1"]["status"]) == (5, "publish")
    assert got["U"]["variations"]["U-R"]["status"] == "publish"


def test_an_image_is_downloaded_once_and_sent_only_when_it_changed(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger)

    def send(recs: list[dict[str, Any]]) -> None:
        changes = [ledger.change(r) for r in recs]
        ledger.settle(changes, ok(wc.send(changes)))

    i1 = simple("I-1", image="https://cdn.example/i1.jpg", image_alt="Mug")
    red = variant("IV-R", "IV", "Red", images=["https://cdn.example/r.jpg",
                                               "https://cdn.example/r2.jpg"], image_alt="Tee red")
    send([i1, red])
    # the variation's image is the one its product's gallery downloaded: by id
    assert shop.downloads == {"https://cdn.example/i1.jpg": 1, "https://cdn.example/r.jpg": 1,
                              "https://cdn.example/r2.jpg": 1}
    assert shop.images_of("IV") == [("https://cdn.example/r.jpg", "Tee red"),
                                    ("https://cdn.example/r2.jpg", "Tee red")]
    assert shop.images_of("IV-R") == [("https://cdn.example/r.jpg", "Tee red")]
    assert shop.images_of("I-1") == [("https://cdn.example/i1.jpg", "Mug")]
    assert set(ledger.records["IV-R"][1]["images"]) == {"https://cdn.example/r.jpg",
                                                        "https://cdn.example/r2.jpg"}

    before = len(shop.calls)
    send([dict(i1, stock=1), dict(red, stock=1)])  # the images are as they were
    sent = shop.calls[before:]
    variations = f"/products/{shop.catalog()['IV']['id']}/variations/batch"
    assert [(m, p) for m, p, _ in sent] == [("POST", "/products/batch"), ("POST", variations)]
    assert sum(shop.downloads.values()) == 3 and catalog(shop)["I-1"]["stock_quantity"] == 1

    # a new alt text goes to the picture the shop has, without downloading it again
    send([dict(red, stock=1, image_alt="Red tee")])
    assert shop.images_of("IV") == [("https://cdn.example/r.jpg", "Red tee"),
                                    ("https://cdn.example/r2.jpg", "Red tee")]
    # a new picture is downloaded, the kept one is not
    send([dict(i1, stock=1, image=None, images=["https://cdn.example/i1-new.jpg",
                                                "https://cdn.example/i1.jpg"])])
    assert shop.downloads == {"https://cdn.example/i1.jpg": 1, "https://cdn.example/r.jpg": 1,
                              "https://cdn.example/r2.jpg": 1, "https://cdn.example/i1-new.jpg": 1}
    assert shop.images_of("I-1") == [("https://cdn.example/i1-new.jpg", "Mug"),
                                     ("https://cdn.example/i1.jpg", "Mug")]


def test_a_stale_remote_id_is_looked_up_again(shop: WooServer) -> None:
    wc = client(shop)
    first = [change(simple("R-1"))]
    known = acknowledged(first, wc.send(first))
    old = known[0].remote["id"]
    requests.delete(f"{shop.url}/wp-json/wc/v3/products/{old}?force=true",
                    auth=("ck_good", "cs_good"), timeout=5)
    known[0].record["stock"] = 9
    [r] = ok(wc.send(known))
    assert r.remote and r.remote["id"] != old
    assert catalog(shop)["R-1"]["stock_quantity"] == 9


# -- shop refusals -------------------------------------------------------------------


def test_per_item_errors_fail_only_their_records(shop: WooServer) -> None:
    wc = client(shop)
    changes = [change(simple("G-1")), change(simple("B-1", price="ten")),
               change(simple("G-2")), change(simple("B-2", stock=-4)),
               change(variant("G-V", "GV", "Red"))]
    results = wc.send(changes)
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert results[1].message.startswith("SKU B-1: Invalid parameter(s): regular_price")
    assert results[1].message.endswith("(rest_invalid_param)")
    assert "SKU B-2" in results[3].message and "stock_quantity" in results[3].message
    assert set(catalog(shop)) == {"G-1", "G-2", "GV"}


def test_a_product_key_taken_by_a_simple_product_is_refused(shop: WooServer) -> None:
    wc = client(shop)
    ok(wc.send([change(simple("M"))]))
    [r] = wc.send([change(variant("M-R", "M", "Red"))])
    assert not r.ok and r.message.startswith("SKU M-R: M is a simple product in the shop")
    assert shop.created == {"M": 1}


def test_server_refuses_oversized_batches_and_the_client_never_sends_one(
        shop: WooServer) -> None:
    big: dict[str, Any] = {"create": [{"sku": f"x{i}"} for i in range(60)],
           "delete": list(range(1000, 1041))}
    resp = requests.post(f"{shop.url}/wp-json/wc/v3/products/batch", json=big,
                         auth=("ck_good", "cs_good"), timeout=5)
    assert resp.status_code == 413
    assert resp.json() == {"code": "woocommerce_rest_request_entity_too_large",
                           "message": "Unable to accept more than 100 items for this "
                           "request.", "data": {"status": 413}}
    assert shop.created == {}

    # 250 changes with 30 new parents in one call: every request stays within 100.
    wc = client(shop)
    changes = [change(simple(f"S{i:03d}")) for i in range(160)] + \
              [change(variant(f"V{i:03d}", f"P{i % 30}", f"C{i}")) for i in range(90)]
    ok(wc.send(changes))
    sizes = [n for m, p, n in shop.calls if p.endswith("/batch")]
    assert max(sizes) == 100 and all(n <= 100 for n in sizes)
    assert len(catalog(shop)) == 190


def test_wrong_credentials_are_permanent(shop: WooServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WC_SECRET", "cs_wrong")
    with pytest.raises(PermanentSinkError) as e:
        client(shop).send([change(simple("A"))])
    assert "Consumer secret is invalid. (woocommerce_rest_authentication_error)" in str(e.value)
    assert "cs_wrong" not in str(e.value)
    resp = requests.get(f"{shop.url}/wp-json/wc/v3/products", timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "woocommerce_rest_cannot_view"
    assert shop.created == {}


def test_literal_secrets_are_refused() -> None:
    with pytest.raises(ValidationError, match="literal secret is refused"):
        WooOptions.model_validate({"url": "https://x", "consumer_key": "ck_live_abc",
                                   "consumer_secret": "${WC_SECRET}"})


def test_list_pagination_and_limits(shop: WooServer) -> None:
    ok(client(shop).send([change(simple(f"L{i:02d}")) for i in range(25)]))

    def get(query: str) -> requests.Response:
        return requests.get(f"{shop.url}/wp-json/wc/v3/products?{query}",
                            auth=("ck_good", "cs_good"), timeout=5)

    resp = get("per_page=10&page=3")
    assert (resp.headers["X-WP-Total"], resp.headers["X-WP-TotalPages"]) == ("25", "3")
    assert len(resp.json()) == 5
    assert get("per_page=101").json()["code"] == "rest_invalid_param"
    assert {p["sku"] for p in get("sku=L01,L02,nope").json()} == {"L01", "L02"}


# -- trouble -------------------------------------------------------------------------


def scenario(wc: WooClient) -> None:
    first = [change(simple(f"F{i}")) for i in range(30)] + \
            [change(variant(f"FV{i}", f"FP{i % 3}", f"C{i}")) for i in range(30)]
    again = acknowledged(first, ok(wc.send(first)))
    for c in again[::2]:
        c.record["stock"] = 11
    ok(wc.send(again))


def test_faults_are_survived_and_end_like_a_healthy_run(shop: WooServer) -> None:
    with WooServer(key="ck_good", secret="cs_good") as healthy:
        scenario(client(healthy))
        want = catalog(healthy)
    shop.faults.fail(2, 429, retry_after=30)  # Retry-After capped by max_backoff
    shop.faults.fail(1, 503, match="GET")
    shop.faults.drop(1, match="POST /wp-json/wc/v3/products/batch")
    shop.faults.fail(1, 502, match="variations/batch")
    # Applied, but the answer is lost: the retried creates find their SKUs taken.
    shop.faults.drop(1, after=True, match="POST /wp-json/wc/v3/products/batch")
    shop.faults.drop(1, after=True, match="variations/batch")
    scenario(client(shop))
    assert not shop.faults.queue
    assert catalog(shop) == want
    assert max(shop.created.values()) == 1


def test_rate_limit_429_is_waited_out(shop: WooServer) -> None:
    wc = client(shop, limits={"max_backoff": 0.3, "retries": 20})
    known = acknowledged(first := [change(simple("Q0"))], ok(wc.send(first)))
    shop.rate_limit(2)
    for i in range(4):
        known[0].record["stock"] = i
        ok(wc.send(known))
    assert catalog(shop)["Q0"]["stock_quantity"] == 3
    assert shop.requests > len(shop.calls)  # some requests were answered 429


def test_a_timeout_is_retried(shop: WooServer) -> None:
    shop.faults.slow(1, 0.5)
    ok(client(shop, limits={"timeout": 0.1, "max_backoff": 0.05}).send(
        [change(simple("T-1"))]))
    assert shop.created == {"T-1": 1}


def test_shop_down_is_retryable(shop: WooServer) -> None:
    shop.faults.fail(10, 503)
    with pytest.raises(RetryableSinkError):
        client(shop, limits={"retries": 2, "max_backoff": 0.01}).send([change(simple("A"))])
    assert shop.created == {}


def test_a_create_retried_after_a_crash_is_not_made_twice(shop: WooServer) -> None:
    wc = client(shop)
    rec = simple("C-1")
    [first] = ok(wc.send([change(rec)]))
    # The answer never reached the ledger: the same create comes back, no ids known.
    rec2 = dict(rec, stock=8)
    [again] = ok(client(shop).send([change(rec2, attempts=1)]))
    assert again.remote == first.remote
    assert shop.created["C-1"] == 1 and shop.applied["C-1"] == 2
    assert catalog(shop)["C-1"]["stock_quantity"] == 8
    # The same for a variation and its parent.
    var = variant("CV-R", "CV", "Red")
    ok(wc.send([change(var)]))
    ok(client(shop).send([change(var, attempts=1)]))
    assert shop.created["CV"] == 1 and shop.created["CV-R"] == 1
