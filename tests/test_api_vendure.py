"""The vendure_api client against a real Vendure 3.7 (tests/shops/vendure.py): one
Vendure for the module, each test on its own SKUs."""

from __future__ import annotations

import json
import threading
import urllib.error
from functools import partial
from typing import Any

import pytest
from shops.vendure import PASSWORD, USER, VendureShop

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.sinks.api.base import Change, State
from filebridge.sinks.api.vendure import MAX_BODY, VendureClient, VendureOptions

SHOP = partial(VendureShop, USER, PASSWORD)
SHOP_SCOPE = "module"  # a real Vendure: started once for the module


@pytest.fixture
def make(shop, monkeypatch):
    monkeypatch.setenv("VENDURE_TEST_USER", USER)
    monkeypatch.setenv("VENDURE_TEST_PASSWORD", PASSWORD)
    shop.faults.clear()
    clients: list[VendureClient] = []

    def make(siblings: dict[str, list[dict[str, Any]]] | None = None,
             **options: Any) -> VendureClient:
        o = VendureOptions.model_validate({
            "url": shop.url, "username": "${VENDURE_TEST_USER}",
            "password": "${VENDURE_TEST_PASSWORD}", "limits": {"max_backoff": 0.05},
            **options})
        c = VendureClient(o, State(lambda p: (siblings or {}).get(p, [])))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def changes(*records: dict[str, Any], op: str = "upsert", start: int = 1,
            remote: list[Any] | None = None, attempts: int = 0) -> list[Change]:
    return [Change(start + i, r["sku"], op, r, f"idem-{start + i}",  # type: ignore[arg-type]
                   remote=(remote[i].remote or {}) if remote else {}, attempts=attempts)
            for i, r in enumerate(records)]


def variants(shop: VendureShop, sku: str) -> list[dict[str, Any]]:
    return shop.variants(sku)


def one(shop: VendureShop, sku: str) -> dict[str, Any]:
    found = variants(shop, sku)
    assert len(found) == 1, found
    return found[0]


def tee(sku: str, colour: str, **kw: Any) -> dict[str, Any]:
    return {"sku": sku, "title": "Tee", "description": "Organic cotton", "price": "19.99",
            "stock": 5, "product": sku.split("-")[0], "published": True,
            "options": [{"name": "Colour", "value": colour}], **kw}


def test_create_then_update_reads_back_equal(shop, make):
    client = make()
    recs = [tee("RT1-RED", "Red"), tee("RT1-BLUE", "Blue", stock=3),
            {"sku": "RT1MUG", "title": "Mug", "price": "7.5", "stock": 1}]
    first = client.send(changes(*recs))
    assert all(r.ok for r in first), first
    assert first[0].remote["product_id"] == first[1].remote["product_id"]
    assert first[2].remote["product_id"] != first[0].remote["product_id"]

    red = one(shop, "RT1-RED")
    product = shop.product(red["product_id"])
    assert (product["name"], product["description"], product["slug"]) == \
        ("Tee", "Organic cotton", "rt1")
    assert sorted(v["sku"] for v in product["variants"]) == ["RT1-BLUE", "RT1-RED"]
    assert (red["price"], red["stockOnHand"], red["options"], red["name"]) == \
        (1999, 5, {"Colour": "Red"}, "Tee Red")
    assert (one(shop, "RT1MUG")["price"], one(shop, "RT1MUG")["stockOnHand"]) == (750, 1)

    recs[0] = tee("RT1-RED", "Red", price="21.50", stock=8, title="Tee shirt",
                  description="Now softer")
    second = client.send(changes(*recs, start=10, remote=first))
    assert all(r.ok for r in second), second
    assert [r.remote for r in second] == [r.remote for r in first]
    red = one(shop, "RT1-RED")
    assert (red["price"], red["stockOnHand"], red["name"]) == (2150, 8, "Tee shirt Red")
    product = shop.product(red["product_id"])
    assert (product["name"], product["description"]) == ("Tee shirt", "Now softer")
    assert len(product["variants"]) == 2


def test_prices_are_converted_exactly_and_too_many_decimals_refused(shop, make):
    client = make()
    res = client.send(changes({"sku": "PR1", "title": "A", "price": "1234567.89"},
                              {"sku": "PR2", "title": "B", "price": "0.105"}))
    assert res[0].ok and one(shop, "PR1")["price"] == 123456789
    assert not res[1].ok and res[1].message == "SKU PR2: price 0.105 has more than 2 decimals"
    assert variants(shop, "PR2") == []


def test_stock_sync_sets_only_stock_and_refuses_unknown_skus(shop, make):
    created = make().send(changes({"sku": "ST1", "title": "Lamp", "price": "30.00",
                                   "stock": 2}))
    assert created[0].ok
    client = make(sync="stock")
    res = client.send(changes({"sku": "ST1", "price": "99.00", "stock": 40},
                              {"sku": "ST-NOPE", "stock": 4}, start=5))
    assert res[0].ok and res[0].remote == created[0].remote
    assert (res[1].ok, res[1].message) == (False, "SKU ST-NOPE is not in the shop")
    lamp = one(shop, "ST1")
    assert (lamp["stockOnHand"], lamp["price"]) == (40, 3000)
    assert variants(shop, "ST-NOPE") == []


def test_stock_per_location(shop, make):
    assert make().send(changes({"sku": "LOC1", "title": "Chair", "stock": 6}))[0].ok
    res = make(sync="stock", location="Warehouse B").send(
        changes({"sku": "LOC1", "stock": 11}, start=3))
    assert res[0].ok
    assert one(shop, "LOC1")["stock_levels"] == {"Default Stock Location": 6,
                                                 "Warehouse B": 11}
    with pytest.raises(PermanentSinkError, match="no stock location 'Attic'; known: "):
        make(sync="stock", location="Attic").send(changes({"sku": "LOC1", "stock": 1}))


def test_per_item_errors_keep_the_rest_of_the_batch(shop, make):
    client = make()
    recs = [{"sku": f"PI{i}", "title": f"Item {i}", "price": "1.00", "stock": 1}
            for i in range(4)]
    first = client.send(changes(*recs))
    assert all(r.ok for r in first)
    recs = [{**r, "stock": 10 + i} for i, r in enumerate(recs)]
    recs[2]["stock"] = -5  # Vendure refuses stock below the out-of-stock threshold
    res = client.send(changes(*recs, start=10, remote=first))
    assert [r.ok for r in res] == [True, True, False, True]
    assert res[2].message == "SKU PI2: stockOnHand cannot be a negative value"
    assert [one(shop, f"PI{i}")["stockOnHand"] for i in range(4)] == [10, 11, 1, 13]


def test_a_sku_held_by_two_variants_is_refused_not_guessed(shop, make):
    client = make()
    first = client.send(changes(tee("DUP-A", "Red")))
    assert first[0].ok
    pid = first[0].remote["product_id"]
    # Someone adds a second variant with the same SKU by hand.
    group = shop.gql("query($p:ID!){product(id:$p){optionGroups{id}}}",
                     {"p": pid})["product"]["optionGroups"][0]["id"]
    option = shop.gql("mutation($i:CreateProductOptionInput!){createProductOption(input:$i)"
                      "{id}}", {"i": {"productOptionGroupId": group, "code": "green",
                                      "translations": [{"languageCode": "en",
                                                        "name": "Green"}]}})
    shop.gql("mutation($i:[CreateProductVariantInput!]!){createProductVariants(input:$i){id}}",
             {"i": [{"productId": pid, "sku": "DUP-A", "optionIds": [
                 option["createProductOption"]["id"]], "translations": [
                     {"languageCode": "en", "name": "Tee Green"}]}]})
    ids = sorted(v["id"] for v in variants(shop, "DUP-A"))
    assert len(ids) == 2
    res = client.send(changes(tee("DUP-A", "Red", stock=99), start=5))
    assert not res[0].ok
    assert res[0].message == (f"SKU DUP-A: Vendure holds 2 variants with this SKU (ids "
                              f"{ids[0]}, {ids[1]}); refusing to guess which one to change")
    assert all(v["stockOnHand"] != 99 for v in variants(shop, "DUP-A"))


def test_oversized_batches_are_split_below_vendures_body_limit(shop, make):
    # Vendure (Express) refuses a request body over 100 kB with an empty HTTP 500.
    big = "x" * 120_000
    with pytest.raises(urllib.error.HTTPError) as e:
        shop._post("query($s:String){__typename}", {"s": big})
    assert e.value.code == 500 and json.loads(e.value.read())["message"] == ""
    assert VendureClient.batch_size <= VendureClient.max_batch
    client = make()
    title = "T" * 2500  # 45 variants of ~2.6 kB: one mutation would be ~115 kB
    recs = [{"sku": f"BIG{i}", "title": f"{title}{i}", "stock": 1} for i in range(45)]
    before = shop.requests
    res = client.send(changes(*recs))
    assert all(r.ok for r in res), [r.message for r in res if not r.ok][:2]
    recs = [{**r, "stock": 2} for r in recs]
    before = shop.requests
    res = client.send(changes(*recs, start=200, remote=res))
    assert all(r.ok for r in res)
    assert shop.requests - before >= 2  # updates went out in more than one request
    assert MAX_BODY < 100 * 1024
    found = shop.catalog()["variants"]
    assert [[v["stockOnHand"] for v in found[f"BIG{i}"]] for i in range(45)] == [[2]] * 45


def test_a_record_too_large_for_one_request_is_refused_alone(shop, make):
    before = shop.requests
    res = make().send(changes({"sku": "HUGE1", "title": "Huge", "description": "d" * 120_000},
                              {"sku": "HUGE2", "title": "Small"}))
    assert (res[0].ok, res[0].message) == (
        False, "SKU HUGE1: the record is too large for Vendure's 100 kB request limit")
    assert res[1].ok and variants(shop, "HUGE1") == []
    assert shop.requests - before < 10  # refused before sending, not retried


@pytest.mark.parametrize("fault", ["429", "503", "drop", "slow"])
def test_faults_are_survived(shop, make, fault):
    client = make(limits={"max_backoff": 0.05, "timeout": 0.5})
    # Vendure's login hashes the password (bcrypt), which on a loaded machine takes
    # longer than this client's 0.5 s: log in with a patient client and share its
    # session, so the short timeout is spent on the faults, not on the login.
    client.token = make().login()
    sku = f"FLT-{fault}"
    first = client.send(changes({"sku": sku, "title": "Fault", "price": "2.00", "stock": 1}))
    assert first[0].ok
    arm = {"429": lambda: shop.faults.fail(2, status=429, retry_after=0.01),
           "503": lambda: shop.faults.fail(3, status=503),
           "drop": lambda: shop.faults.drop(2),
           "slow": lambda: shop.faults.slow(1, 1.0)}[fault]
    arm()  # hits the SKU lookup
    res = client.send(changes({"sku": sku, "title": "Fault", "price": "2.50", "stock": 7},
                              start=3))
    assert res[0].ok, res[0].message
    arm()  # hits the update itself
    res = client.send(changes({"sku": sku, "title": "Fault", "price": "2.75", "stock": 9},
                              start=5, remote=res))
    assert res[0].ok
    v = one(shop, sku)
    assert (v["price"], v["stockOnHand"]) == (275, 9)


def test_a_shop_down_for_good_keeps_the_batch_queued(shop, make):
    client = make(limits={"max_backoff": 0.01, "retries": 2})
    client.login()
    shop.faults.fail(3, status=503)
    with pytest.raises(RetryableSinkError, match="503"):
        client.send(changes({"sku": "DOWN1", "stock": 1}))


def test_a_create_whose_answer_was_lost_is_not_made_twice(shop, make):
    client = make()
    # createProductVariants is applied but its answer never arrives.
    shop.faults.drop_after(1, match="createProductVariants")
    res = client.send(changes(tee("LOST-RED", "Red")))
    assert not shop.faults.queue
    assert res[0].ok  # found by a lookup after the lost answer
    v = one(shop, "LOST-RED")
    assert res[0].remote == {"variant_id": v["id"], "product_id": v["product_id"]}


def test_a_retried_create_after_a_crash_reuses_what_the_first_try_made(shop, make):
    client = make()
    shop.faults.drop(1, match="createProductOptionGroup")  # never reaches Vendure
    with pytest.raises(RetryableSinkError):  # the product exists, its option group not
        client.send(changes(tee("CRASH-RED", "Red")))
    assert not shop.faults.queue
    assert variants(shop, "CRASH-RED") == []
    # Next run, a new process: nothing learnt in memory, the change tried once before.
    again = make().send(changes(tee("CRASH-RED", "Red"), attempts=1))
    assert again[0].ok
    # And a change that did reach the shop is updated, not created again, on retry.
    again = make().send(changes(tee("CRASH-RED", "Red", stock=4), attempts=1))
    assert again[0].ok
    v = one(shop, "CRASH-RED")
    assert v["stockOnHand"] == 4
    crash = [p for p in shop.catalog()["products"].values() if p["slug"].startswith("crash")]
    assert crash[0]["id"] == v["product_id"]
    assert len(crash) == 1, crash


def test_parallel_batches_of_one_new_product_create_it_once(shop, make):
    client = make()
    colours = ["Red", "Blue", "Green", "Black", "White", "Grey"]
    results: list[Any] = []

    def send(i: int) -> None:
        results.extend(client.send(changes(tee(f"PAR-{colours[i]}", colours[i]),
                                           tee(f"PAR-{colours[i + 3]}", colours[i + 3]),
                                           start=10 * i)))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(r.ok for r in results), results
    products = {r.remote["product_id"] for r in results}
    assert len(products) == 1
    product = shop.product(products.pop())
    assert sorted(v["options"]["Colour"] for v in product["variants"]) == sorted(colours)
    assert len(product["optionGroups"]) == 1


def test_zero_unpublish_delete(shop, make):
    client = make()
    first = client.send(changes({"sku": "ZUD1", "title": "Z", "stock": 5},
                                {"sku": "ZUD2", "title": "U", "stock": 5},
                                {"sku": "ZUD3", "title": "D", "stock": 5}))
    assert all(r.ok for r in first)
    res = client.send([*changes({"sku": "ZUD1"}, op="zero", start=10),
                       *changes({"sku": "ZUD2"}, op="unpublish", start=11),
                       *changes({"sku": "ZUD3"}, op="delete", start=12),
                       *changes({"sku": "ZUD-NEVER"}, op="delete", start=13)])
    assert all(r.ok for r in res), res
    assert one(shop, "ZUD1")["stockOnHand"] == 0
    unpublished = one(shop, "ZUD2")
    assert unpublished["enabled"] is False
    assert shop.product(unpublished["product_id"])["enabled"] is False
    assert variants(shop, "ZUD3") == []
    # Listed again: the variant and its single-variant product are published again.
    res = client.send(changes({"sku": "ZUD2", "title": "U", "stock": 5}, start=20))
    assert res[0].ok
    assert one(shop, "ZUD2")["enabled"] is True
    assert shop.product(unpublished["product_id"])["enabled"] is True


def test_unpublishing_one_variant_leaves_its_siblings_visible(shop, make):
    first = make().send(changes(tee("UNP-RED", "Red"), tee("UNP-BLUE", "Blue")))
    siblings = {"UNP": [{"sku": "UNP-RED", "_remote": first[0].remote},
                        {"sku": "UNP-BLUE", "_remote": first[1].remote}]}
    res = make(siblings).send(changes(tee("UNP-RED", "Red"), op="unpublish", start=5))
    assert res[0].ok
    assert one(shop, "UNP-RED")["enabled"] is False
    assert one(shop, "UNP-BLUE")["enabled"] is True
    assert shop.product(first[0].remote["product_id"])["enabled"] is True


def test_wrong_credentials_are_permanent(shop, make, monkeypatch):
    client = make()
    monkeypatch.setenv("VENDURE_TEST_PASSWORD", "wrong")
    with pytest.raises(PermanentSinkError, match="login refused: The provided credentials "
                       "are invalid") as e:
        client.send(changes({"sku": "CRED1", "stock": 1}))
    assert "wrong" not in str(e.value)


def test_an_expired_token_logs_in_again(shop, make):
    client = make()
    assert client.send(changes({"sku": "TOK1", "title": "Tok", "stock": 1}))[0].ok
    client.token = "expired-or-revoked"
    res = client.send(changes({"sku": "TOK1", "title": "Tok", "stock": 2}, start=2))
    assert res[0].ok
    assert client.token != "expired-or-revoked"
    assert one(shop, "TOK1")["stockOnHand"] == 2


def catalog_record(sku: str, colour: str, **kw: Any) -> dict[str, Any]:
    """A record as catalog/record.py builds it for a profile in it and en."""
    return {"sku": sku, "product": sku.split("-")[0], "title": "Borsa", "price": "50.00",
            "translations": {"en": {"title": "Bag", "categories": "Accessories > Bags"}},
            "categories": [["Accessori", "Borse"]],
            "options": [{"field": "colour", "name": "Colore", "value": colour}],
            "attributes": [{"code": "leather", "name": "Pelle", "filter": True,
                            "values": ["Vitello", "Camoscio"],
                            "translations": {"en": ["Calf", "Suede"]}}], **kw}


def test_hand_made_facets_and_collections_are_kept_and_adopted(shop, make):
    from filebridge.sinks.api.vendure import Catalog

    # Someone made an "Accessori" collection (of backpacks) and a "Saldi" facet by hand.
    backpacks = {"code": "variant-name-filter", "arguments": [
        {"name": "operator", "value": "contains"}, {"name": "term", "value": "Zaino"},
        {"name": "combineWithAnd", "value": "true"}]}
    hand = shop.gql("mutation($i:CreateCollectionInput!){createCollection(input:$i){id}}", {
        "i": {"filters": [backpacks], "translations": [
            {"languageCode": "it", "name": "Accessori", "slug": "accessori",
             "description": ""}]}})
    sale = shop.gql("mutation($i:CreateFacetInput!){createFacet(input:$i){values{id}}}", {
        "i": {"code": "saldi", "isPrivate": False, "translations": [
            {"languageCode": "en", "name": "Sale"}], "values": [
            {"code": "si", "translations": [{"languageCode": "en", "name": "Yes"}]}]}})
    client = make()
    client.use(Catalog(languages=["it", "en"]))
    first = client.send(changes(catalog_record("HB1-NERO", "Nero")))
    assert first[0].ok, first[0].message
    pid = first[0].remote["product_id"]
    shop.gql("mutation($i:[UpdateProductInput!]!){updateProducts(input:$i){id}}", {
        "i": [{"id": pid, "facetValueIds": [sale["createFacet"]["values"][0]["id"]] + [
            f["id"] for f in shop.gql("query($p:ID!){product(id:$p){facetValues{id}}}",
                                      {"p": pid})["product"]["facetValues"]]}]})
    # A new title rewrites the product: our facet values, and the hand-made one stays.
    rec = catalog_record("HB1-NERO", "Nero", title="Borsa a mano",
                         translations={"en": {"title": "Handbag",
                                              "categories": [["Accessories", "Bags"]]}})
    res = client.send(changes(rec, start=5, remote=first))
    assert res[0].ok, res[0].message
    p = shop.gql("query($p:ID!){product(id:$p){name facetValues{code facet{code}}}}",
                 {"p": pid})["product"]
    assert p["name"] == "Handbag"  # read in the channel's default language, en
    assert sorted((f["facet"]["code"], f["code"]) for f in p["facetValues"]) == [
        ("category", "accessori"), ("category", "accessori--borse"), ("leather", "camoscio"),
        ("leather", "vitello"), ("saldi", "si")]
    # The hand-made collection was adopted (our filter added, OR-combined), not doubled.
    tops = shop.gql("{collections(options:{topLevelOnly:true}){items{id name filters{code "
                    "args{name value}} translations{languageCode name}}}}")
    accessori = [c for c in tops["collections"]["items"]
                 if {t["name"] for t in c["translations"]} & {"Accessori"}]
    assert [c["id"] for c in accessori] == [hand["createCollection"]["id"]]
    kept, ours = accessori[0]["filters"]
    assert (kept["code"], ours["code"]) == ("variant-name-filter", "facet-value-filter")
    assert {a["name"]: a["value"] for a in ours["args"]}["combineWithAnd"] == "false"
    assert {t["languageCode"]: t["name"] for t in accessori[0]["translations"]} == {
        "it": "Accessori", "en": "Accessories"}  # the missing language was added


def test_translations_that_do_not_line_up_refuse_the_record(shop, make):
    from filebridge.sinks.api.vendure import Catalog

    client = make()
    client.use(Catalog(languages=["it", "en"]))
    two_paths = catalog_record("HB2-ROSSO", "Rosso", translations={
        "en": {"categories": "Accessories > Bags, Sale"}})
    two_values = catalog_record("HB3-ROSSO", "Rosso", attributes=[
        {"code": "leather", "name": "Pelle", "filter": True, "values": ["Vitello"],
         "translations": {"en": ["Calf", "Cow"]}}])
    res = client.send(changes(two_paths, two_values))
    assert [r.ok for r in res] == [False, False]
    assert res[0].message == ("SKU HB2-ROSSO: categories@en has 2 path(s) and categories 1: "
                              "cannot tell which translates which")
    assert res[1].message == ("SKU HB3-ROSSO: leather@en has 2 value(s) (Calf, Cow) and "
                              "leather 1 (Vitello): cannot tell which translates which")
    assert variants(shop, "HB2-ROSSO") == variants(shop, "HB3-ROSSO") == []


def test_an_option_translated_later_gets_its_new_name(shop, make):
    from filebridge.sinks.api.vendure import Catalog

    client = make()
    client.use(Catalog(languages=["it", "en"]))
    first = client.send(changes(catalog_record("HB4-VERDE", "Verde")))
    assert first[0].ok
    rec = catalog_record("HB4-VERDE", "Verde")
    rec["options"] = [{"field": "colour", "name": "Colore", "value": "Verde",
                       "values": {"en": "Green"}}]
    res = client.send(changes(rec, start=3, remote=first))
    assert res[0].ok
    group = shop.gql("query($p:ID!){product(id:$p){optionGroups{options{translations{"
                     "languageCode name}}}}}", {"p": first[0].remote["product_id"]})
    [option] = group["product"]["optionGroups"][0]["options"]
    assert {t["languageCode"]: t["name"] for t in option["translations"]} == {
        "it": "Verde", "en": "Green"}
    assert one(shop, "HB4-VERDE")["name"] == "Bag Green"


def test_a_product_unpublished_then_listed_again_unchanged_is_published(shop, make):
    # What the outbox hands over after an unpublish: the same record as before
    # (previous = record), with the ids the unpublish answer left in the state.
    rec = {"sku": "REPUB1", "title": "Cap", "price": "9.00", "stock": 2}
    first = make().send(changes(rec))
    assert first[0].ok
    gone = make().send(changes(rec, op="unpublish", start=3, remote=first))
    assert gone[0].ok and gone[0].remote["unpublished"] is True
    pid = first[0].remote["product_id"]
    assert shop.product(pid)["enabled"] is False
    remote = {**first[0].remote, **gone[0].remote}
    back = make().send([Change(5, "REPUB1", "upsert", rec, "idem-5", remote=remote,
                               previous=rec)])
    assert back[0].ok and back[0].remote["unpublished"] is False
    assert shop.product(pid)["enabled"] is True
    assert one(shop, "REPUB1")["enabled"] is True
