"""The shopify_api client against the loopback Shopify (tests/shops/shopify.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from shops.shopify import FAST_RESTORE, STANDARD, TOKEN, ShopifyServer

from filebridge.errors import PermanentSinkError
from filebridge.sinks.api.base import Change, Result, State
from filebridge.sinks.api.shopify import ShopifyClient, ShopifyOptions

SHOP = ShopifyServer


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)
    monkeypatch.setenv("WRONG_TOKEN", "shpat_wrong")


class Ledger:
    """What the core keeps per SKU: the last acknowledged record and the remote ids."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.remote: dict[str, dict[str, Any]] = {}
        self.n = 0

    def state(self) -> State:
        return State(lambda product: [{**r, "_remote": self.remote.get(k, {})}
                                      for k, r in self.records.items()
                                      if r.get("product") == product])

    def change(self, record: dict[str, Any], op: str = "upsert", attempts: int = 0,
               remote: bool = True) -> Change:
        self.n += 1
        key = record["sku"]
        return Change(self.n, key, op, record, f"idem-{self.n}",  # type: ignore[arg-type]
                      dict(self.remote.get(key, {})) if remote else {},
                      self.records.get(key), attempts)

    def send(self, client: ShopifyClient, changes: list[Change],
             bulk: bool = False) -> dict[str, Result]:
        results = client.bulk_product_set(changes) if bulk else client.send(changes)
        assert sorted(r.id for r in results) == sorted(c.id for c in changes)
        by_id = {c.id: c for c in changes}
        for r in results:
            c = by_id[r.id]
            if r.remote:
                self.remote[c.key] = {**self.remote.get(c.key, {}), **r.remote}
            if r.ok and c.op == "delete":
                self.records.pop(c.key, None)
            elif r.ok:
                self.records[c.key] = {**c.record, **({"stock": 0} if c.op != "upsert"
                                                      else {})}
        return {by_id[r.id].key: r for r in results}


def client(shop: ShopifyServer, ledger: Ledger, **extra: Any) -> ShopifyClient:
    options = ShopifyOptions.model_validate({
        "format": "shopify_api", "url": shop.url, "token": "${SHOPIFY_TOKEN}",
        "limits": {"max_backoff": 0.05}, **extra})
    return ShopifyClient(options, ledger.state())


def shirt(size: str, price: str, stock: int, **more: Any) -> dict[str, Any]:
    return {"sku": f"SHIRT-{size}", "product": "SHIRT 1", "title": "Oxford shirt",
            "vendor": "Acme", "price": price, "stock": stock, "tags": ["cotton"],
            "options": [{"name": "Size", "value": size}], **more}


def mug(n: int, **more: Any) -> dict[str, Any]:
    return {"sku": f"MUG-{n}", "title": f"Mug {n}", "price": f"{n}.50", "stock": n, **more}


def plain(catalog: dict[str, Any]) -> dict[str, Any]:
    """The catalog without the shop's ids, to compare two shops."""
    return {h: {**{k: v for k, v in p.items() if k != "id"}, "variants": {
        s: {k: v for k, v in var.items() if k != "id"} for s, var in p["variants"].items()}}
        for h, p in catalog.items()}


SCENARIO = [shirt("S", "29.90", 4), shirt("M", "29.90", 7), mug(1), mug(2)]


def remote(result: Result) -> dict[str, Any]:
    assert result.remote is not None, result
    return result.remote


def test_create_then_update_reads_back(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    results = ledger.send(c, [ledger.change(r) for r in SCENARIO])
    assert all(r.ok for r in results.values()), results
    assert remote(results["SHIRT-S"])["handle"] == "shirt-1"
    cat = shop.catalog()
    assert cat["shirt-1"]["title"] == "Oxford shirt" and cat["shirt-1"]["tags"] == ["cotton"]
    assert cat["shirt-1"]["options"] == {"Size": ["S", "M"]}
    assert {s: (v["price"], v["inventory"]) for s, v in cat["shirt-1"]["variants"].items()} \
        == {"SHIRT-S": ("29.90", {"Warehouse": 4}), "SHIRT-M": ("29.90", {"Warehouse": 7})}
    assert cat["mug-1"]["variants"]["MUG-1"]["price"] == "1.50"
    ids = {s: v["id"] for s, v in cat["shirt-1"]["variants"].items()}

    # Only SHIRT-M changes; productSet still carries SHIRT-S (from the ledger's siblings),
    # which must survive with its id, price and stock.
    requests_before = shop.requests
    results = ledger.send(c, [ledger.change(shirt("M", "24.50", 2))])
    assert results["SHIRT-M"].ok, results
    cat = shop.catalog()
    assert {s: v["id"] for s, v in cat["shirt-1"]["variants"].items()} == ids
    assert cat["shirt-1"]["variants"]["SHIRT-M"]["price"] == "24.50"
    assert cat["shirt-1"]["variants"]["SHIRT-M"]["inventory"] == {"Warehouse": 2}
    assert cat["shirt-1"]["variants"]["SHIRT-S"]["inventory"] == {"Warehouse": 4}
    assert shop.applied["SHIRT-S"] == 1 and shop.created["SHIRT-M"] == 1
    assert shop.requests - requests_before == 2  # productSet + stock; no lookup: ids known

    # A new size joins the product; the others keep their ids.
    results = ledger.send(c, [ledger.change(shirt("L", "31.00", 1))])
    assert results["SHIRT-L"].ok
    cat = shop.catalog()
    assert set(cat["shirt-1"]["variants"]) == {"SHIRT-S", "SHIRT-M", "SHIRT-L"}
    assert cat["shirt-1"]["variants"]["SHIRT-S"]["id"] == ids["SHIRT-S"]
    assert cat["shirt-1"]["options"] == {"Size": ["S", "M", "L"]}


def test_stock_only_sync(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    ledger.send(client(shop, ledger), [ledger.change(r) for r in SCENARIO])
    stock = Ledger()  # a stock-only flow: no ids known yet, so one lookup
    stock.records = {k: {"sku": k, "stock": r["stock"]} for k, r in ledger.records.items()}
    c = client(shop, stock, sync="stock")
    results = stock.send(c, [stock.change({"sku": "MUG-1", "stock": 40}),
                             stock.change({"sku": "SHIRT-S", "stock": 0}),
                             stock.change({"sku": "NOPE", "stock": 3})])
    assert results["MUG-1"].ok and results["SHIRT-S"].ok
    assert results["NOPE"] == Result(results["NOPE"].id, False, "SKU NOPE is not in the shop")
    assert remote(results["MUG-1"])["inventory_item"] == shop.variant("MUG-1")["item"]
    assert shop.stock("MUG-1") == 40 and shop.stock("SHIRT-S") == 0
    assert shop.catalog()["mug-1"]["variants"]["MUG-1"]["price"] == "1.50"  # untouched

    before = shop.requests  # ids now known: exactly one request, the mutation
    results = stock.send(client(shop, stock, sync="stock"),
                         [stock.change({"sku": "MUG-1", "stock": 41})])
    assert results["MUG-1"].ok and shop.stock("MUG-1") == 41
    assert shop.requests - before == 2  # locations (new client) + the mutation


def test_stale_stock_overwrite_or_reject(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(r) for r in SCENARIO])
    shop.add_order([("MUG-2", 1)])  # a web sale since our last update (we set 2): 1 left
    results = ledger.send(c, [ledger.change(mug(2, stock=9)), ledger.change(mug(1, stock=5))])
    assert results["MUG-2"].ok and shop.stock("MUG-2") == 9  # default: overwrite
    assert shop.stock("MUG-1") == 5

    shop.add_order([("MUG-2", 1)])  # 9 -> 8
    strict = client(shop, ledger, on_stale="reject")
    results = ledger.send(strict, [ledger.change(mug(2, stock=20))])
    assert not results["MUG-2"].ok and shop.stock("MUG-2") == 8
    assert "SKU MUG-2" in results["MUG-2"].message and "now 8" in results["MUG-2"].message

    # Stale but already what we want (an earlier attempt landed): fine, nothing sent twice.
    shop.set_stock("MUG-1", 6)
    applied = shop.applied["MUG-1"]
    results = ledger.send(strict, [ledger.change(mug(1, stock=6))])
    assert results["MUG-1"].ok and shop.applied["MUG-1"] == applied


def test_per_item_errors_leave_the_rest(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    no_title = {"sku": "BARE", "price": "1.00"}
    bad_price = mug(3, price="12,50")
    results = ledger.send(c, [ledger.change(r) for r in [*SCENARIO, no_title, bad_price]])
    assert results["BARE"] == Result(results["BARE"].id, False, "SKU BARE: Title can't be blank")
    assert not results["MUG-3"].ok and "SKU MUG-3" in results["MUG-3"].message
    assert "Could not coerce value '12,50' to Money" in results["MUG-3"].message
    assert all(results[r["sku"]].ok for r in SCENARIO)
    assert set(shop.catalog()) == {"shirt-1", "mug-1", "mug-2"}

    # Stock: a negative figure is refused by the shop; the others in the call still land.
    stock = client(shop, ledger, sync="stock")
    results = ledger.send(stock, [ledger.change({"sku": "MUG-1", "stock": -3}),
                                  ledger.change({"sku": "MUG-2", "stock": 12}),
                                  ledger.change({"sku": "SHIRT-S", "stock": 13})])
    assert results["MUG-1"].message == "SKU MUG-1: The quantity can't be negative."
    assert results["MUG-2"].ok and results["SHIRT-S"].ok
    assert (shop.stock("MUG-1"), shop.stock("MUG-2"), shop.stock("SHIRT-S")) == (1, 12, 13)


def test_input_array_limit(env: None) -> None:
    # About array limits, not throttling: a restore rate no plan has, so 600 products
    # do not take the Standard plan's minute and a half.
    with ShopifyServer(restore_rate=FAST_RESTORE) as shop:
        input_array_limit(shop)


def input_array_limit(shop: ShopifyServer) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    products = [mug(n) for n in range(1, 601)]
    with ThreadPoolExecutor(4) as pool:
        for part in pool.map(lambda b: ledger.send(c, [ledger.change(r) for r in b]),
                             [products[i:i + 250] for i in range(0, 600, 250)]):
            assert all(r.ok for r in part.values())
    stock = client(shop, ledger, sync="stock")
    results = ledger.send(stock, [ledger.change(mug(n, stock=n + 1)) for n in range(1, 601)])
    assert all(r.ok for r in results.values())
    assert shop.largest == 250  # chunked to the shop's limit, never over it
    assert all(shop.stock(f"MUG-{n}") == n + 1 for n in range(1, 601))

    # The shop's own answer to 251 quantities, as the client never triggers it.
    item = shop.variant("MUG-1")["item"]
    body: dict[str, Any] = {"query": "mutation S($input: InventorySetQuantitiesInput!) { "
            "inventorySetQuantities(input: $input) { userErrors { message } } }",
            "variables": {"input": {"name": "available", "reason": "correction",
                                    "quantities": [{"inventoryItemId": item,
                                                    "locationId": shop.location_id(),
                                                    "quantity": 1, "changeFromQuantity": None}]
                                    * 251}}}
    answer = requests.post(f"{shop.url}/admin/api/2026-01/graphql.json", json=body,
                           headers={"X-Shopify-Access-Token": TOKEN}, timeout=5).json()
    assert answer["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert "251" in answer["errors"][0]["message"] and shop.stock("MUG-1") == 2


def run_scenario(shop: ShopifyServer, **extra: Any) -> dict[str, Result]:
    ledger = Ledger()
    c = client(shop, ledger, **extra)
    first = ledger.send(c, [ledger.change(r) for r in SCENARIO])
    second = ledger.send(c, [ledger.change(shirt("S", "27.00", 3)), ledger.change(mug(1, stock=9))])
    return {**first, **second}


def test_faults_are_survived(shop: ShopifyServer, env: None) -> None:
    with ShopifyServer() as healthy:
        expected = run_scenario(healthy)
        want = plain(healthy.catalog())
    shop.faults.fail(2, status=429, retry_after=0.01)
    shop.faults.fail(2, status=503)
    shop.faults.drop(2)
    shop.faults.fail(1, status=502)
    shop.faults.slow(1, 0.4)  # answered after the client gave up: applied, then re-sent
    results = run_scenario(shop, limits={"max_backoff": 0.05, "timeout": 0.15})
    assert {k: r.ok for k, r in results.items()} == {k: r.ok for k, r in expected.items()}
    assert all(r.ok for r in results.values())
    assert plain(shop.catalog()) == want
    assert shop.requests >= healthy.requests + 8
    assert max(shop.created.values()) == 1


def test_retried_create_is_not_duplicated(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    c.location()
    shop.faults.drop(1, after=True)  # the productSet lands, its answer is lost
    results = ledger.send(c, [ledger.change(mug(1))])
    assert results["MUG-1"].ok
    # The core crashed before storing the answer: the same change again, attempts=1,
    # no remote ids known.
    ledger.remote.clear()
    ledger.records.clear()
    again = ledger.send(c, [ledger.change(mug(1, price="2.00"), attempts=1)])
    assert again["MUG-1"].ok
    assert shop.created["MUG-1"] == 1 and len(shop.catalog()) == 1
    assert shop.catalog()["mug-1"]["variants"]["MUG-1"]["price"] == "2.00"

    # A stock call whose answer is lost is re-sent with the same idempotency key: once.
    shop.faults.drop(1, after=True)
    applied = shop.applied["MUG-1"]
    results = ledger.send(c, [ledger.change(mug(1, price="2.00", stock=30))])
    assert results["MUG-1"].ok and shop.stock("MUG-1") == 30
    assert shop.applied["MUG-1"] == applied + 1


def test_wrong_token_is_permanent(shop: ShopifyServer, env: None) -> None:
    options = ShopifyOptions.model_validate({"format": "shopify_api", "url": shop.url,
                                             "token": "${WRONG_TOKEN}"})
    with pytest.raises(PermanentSinkError, match="Invalid API key or access token"):
        ShopifyClient(options, Ledger().state()).send([Ledger().change(mug(1))])
    assert shop.catalog() == {}


def test_literal_token_refused(env: None) -> None:
    with pytest.raises(ValueError, match="literal secret is refused"):
        ShopifyOptions.model_validate({"format": "shopify_api", "url": "http://x",
                                       "token": "shpat_literal"})


def test_cost_bucket_is_respected(env: None) -> None:
    # The Standard plan's bucket (2000 points), emptied by another app, refilling at
    # 400 points/s so the test is quick. 20 stock calls of 12 points (10 for the
    # mutation, 1 per object selected) and the location query (253 requested, 5 spent)
    # cannot pass before the bucket has refilled that much, whatever the 4 threads do;
    # a client that paced itself by the answers' throttleStatus is refused rarely.
    with ShopifyServer(restore_rate=FAST_RESTORE) as shop:  # the catalog loads fast
        ledger = Ledger()
        c = client(shop, ledger)
        ledger.send(c, [ledger.change(mug(n)) for n in range(1, 201)])
        shop.available, shop.restore = 0.0, 400.0
        stock = client(shop, ledger, sync="stock", limits={"max_backoff": 0.05, "parallel": 4})
        batches = [[ledger.change(mug(n, stock=100 + n)) for n in range(i, i + 10)]
                   for i in range(1, 201, 10)]
        throttled = shop.throttled
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            out = list(pool.map(stock.send, batches))
        elapsed = time.monotonic() - start
        assert all(r.ok for part in out for r in part)
        assert all(shop.stock(f"MUG-{n}") == 100 + n for n in range(1, 201))
        assert elapsed >= (253 + 20 * 12 - 248) / 400 * 0.9
        assert shop.throttled - throttled <= 6
        assert stock.bucket.restore == 400 and stock.bucket.maximum == 2000


def _status(available: float) -> dict[str, Any]:
    return {"throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": available,
                               "restoreRate": 100}}


def test_bucket_keeps_what_calls_on_their_way_reserved() -> None:
    """Another thread's answer, measured by the shop before this call reached it, does
    not give back the points this call reserved: a third thread would spend them and
    the costly call would be THROTTLED, round after round."""
    from filebridge.sinks.api.shopify import Bucket

    b = Bucket()
    b.update("productSet", {"requestedQueryCost": 500, **_status(2000)})
    taken = b.reserve("productSet")  # 500 on its way
    assert taken == 500 and b.available == pytest.approx(1500, abs=1)
    b.update("small", {"requestedQueryCost": 10, **_status(1990)})  # answered meanwhile
    assert b.available <= 1490 + 1
    b.update("productSet", {"requestedQueryCost": 500, **_status(1480)}, taken)
    assert b.flying == 0 and b.available == pytest.approx(1480)
    # A call that got no answer (a network error) gives its reservation back.
    taken = b.reserve("productSet")
    b.release(taken)
    assert b.flying == 0
    b.update("small", {"requestedQueryCost": 10, **_status(1000)})
    assert b.available == pytest.approx(1000)


def test_throttled_answer_is_waited_out(env: None) -> None:
    with ShopifyServer() as shop:
        ledger = Ledger()
        c = client(shop, ledger)
        ledger.send(c, [ledger.change(mug(1))])
        shop.available = 0.0  # another app emptied the bucket
        shop.restore = 200.0
        results = ledger.send(c, [ledger.change(mug(1, stock=77))])
        assert results["MUG-1"].ok and shop.stock("MUG-1") == 77
        assert shop.throttled >= 1


def test_location_option(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger, location="High Street")
    ledger.send(c, [ledger.change(mug(1, stock=3))])
    assert shop.catalog()["mug-1"]["variants"]["MUG-1"]["inventory"] == {"High Street": 3}
    with pytest.raises(PermanentSinkError, match="the shop has: Warehouse, High Street"):
        client(shop, ledger, location="Attic").send([ledger.change(mug(1, stock=4))])


def test_delete_and_unpublish(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(r) for r in [*SCENARIO, shirt("L", "29.90", 2)]])
    results = ledger.send(c, [ledger.change(ledger.records["SHIRT-M"], op="delete"),
                              ledger.change(ledger.records["MUG-2"], op="delete"),
                              ledger.change(ledger.records["MUG-1"], op="unpublish"),
                              ledger.change(ledger.records["SHIRT-S"], op="zero"),
                              ledger.change({"sku": "GONE"}, op="delete")])
    assert all(r.ok for r in results.values()), results
    cat = shop.catalog()
    assert set(cat) == {"shirt-1", "mug-1"}
    assert set(cat["shirt-1"]["variants"]) == {"SHIRT-S", "SHIRT-L"}
    assert cat["shirt-1"]["variants"]["SHIRT-S"]["inventory"] == {"Warehouse": 0}
    assert cat["mug-1"]["status"] == "DRAFT"
    assert cat["mug-1"]["variants"]["MUG-1"]["inventory"] == {"Warehouse": 0}
    # one variant of several unpublished: the product stays on sale, that variant at 0
    results = ledger.send(c, [ledger.change(ledger.records["SHIRT-L"], op="unpublish")])
    assert results["SHIRT-L"].ok
    cat = shop.catalog()
    assert cat["shirt-1"]["status"] == "ACTIVE"
    assert cat["shirt-1"]["variants"]["SHIRT-L"]["inventory"] == {"Warehouse": 0}
    # the last two variants go: the whole product goes
    results = ledger.send(c, [ledger.change(ledger.records[k], op="delete")
                              for k in ("SHIRT-S", "SHIRT-L")])
    assert all(r.ok for r in results.values()) and "shirt-1" not in shop.catalog()


def test_product_deleted_in_the_shop_is_recreated(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(mug(1))])
    with shop.lock:  # a merchant deletes it in the admin
        shop.delete_product(shop.catalog()["mug-1"]["id"])
    results = ledger.send(c, [ledger.change(mug(1, price="3.00"))])
    assert results["MUG-1"].ok and shop.catalog()["mug-1"]["variants"]["MUG-1"]["price"] == "3.00"
    assert remote(results["MUG-1"])["variant"] == shop.variant("MUG-1")["id"]


def test_api_2026_04_mandatory_cas_and_idempotency(shop: ShopifyServer, env: None) -> None:
    ledger = Ledger()
    c = client(shop, ledger, api_version="2026-04")
    ledger.send(c, [ledger.change(mug(1))])
    results = ledger.send(c, [ledger.change(mug(1, stock=5))])
    assert results["MUG-1"].ok and shop.stock("MUG-1") == 5
    # the same call without the directive and changeFromQuantity is refused there
    item = shop.variant("MUG-1")["item"]
    body: dict[str, Any] = {"query": "mutation S($input: InventorySetQuantitiesInput!) { "
            "inventorySetQuantities(input: $input) { userErrors { message } } }",
            "variables": {"input": {"name": "available", "reason": "correction", "quantities": [
                {"inventoryItemId": item, "locationId": shop.location_id(), "quantity": 1}]}}}
    answer = requests.post(f"{shop.url}/admin/api/2026-04/graphql.json", json=body,
                           headers={"X-Shopify-Access-Token": TOKEN}, timeout=5).json()
    assert answer["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert shop.stock("MUG-1") == 5


def test_bulk_product_set(env: None) -> None:
    with ShopifyServer(bulk_polls=2) as shop, ShopifyServer() as plain_shop:
        records = [*SCENARIO, *[mug(n) for n in range(3, 40)], {"sku": "BARE", "price": "1"}]
        ledger = Ledger()
        results = ledger.send(client(shop, ledger), [ledger.change(r) for r in records],
                              bulk=True)
        assert results["BARE"].message == "SKU BARE: Title can't be blank"
        assert all(r.ok for k, r in results.items() if k != "BARE")
        assert remote(results["MUG-5"])["variant"] == shop.variant("MUG-5")["id"]
        other = Ledger()
        other.send(client(plain_shop, other), [other.change(r) for r in records])
        assert plain(shop.catalog()) == plain(plain_shop.catalog())
        assert len(shop.uploads) == 0 and len(shop.bulk) == 1  # the upload was consumed


# -- the loopback's own rules (what the real Shopify answers; see tests/shops/shopify) --


def gql(shop: ShopifyServer, query: str, variables: dict[str, Any] | None = None,
        version: str = "2026-01") -> tuple[int, dict[str, Any]]:
    resp = requests.post(f"{shop.url}/admin/api/{version}/graphql.json", timeout=5,
                         json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": TOKEN})
    return resp.status_code, resp.json()


def test_costs_are_priced_as_shopify_documents(shop: ShopifyServer, env: None) -> None:
    from filebridge.sinks.api.shopify import LOCATIONS, LOOKUP, PRODUCT_SET, SET_QUANTITIES

    def cost(answer: dict[str, Any]) -> tuple[Any, Any]:
        c = answer["extensions"]["cost"]
        assert c["throttleStatus"]["maximumAvailable"] == STANDARD["maximum_available"]
        assert c["throttleStatus"]["restoreRate"] == STANDARD["restore_rate"] == 100
        return c["requestedQueryCost"], c["actualQueryCost"]

    # location {…} 1; locations(first: 250) { nodes {…} } 2 + 250; two locations exist
    assert cost(gql(shop, LOCATIONS)[1]) == (253, 1 + 2 + 2)
    # mutation 10 + product 1 + variants(first: 2): 2 + 2 × (node 1 + inventoryItem 1)
    # + userErrors 1
    shirt_set = {"identifier": {"handle": "shirt"}, "n": 2, "synchronous": True, "input": {
        "title": "Shirt", "productOptions": [{"name": "Size", "values": [{"name": "S"},
                                                                         {"name": "M"}]}],
        "variants": [{"sku": s, "optionValues": [{"optionName": "Size", "name": s}]}
                     for s in ("S", "M")]}}
    status, answer = gql(shop, PRODUCT_SET, shirt_set)
    assert status == 200 and answer["data"]["productSet"]["userErrors"] == []
    assert cost(answer) == (10 + 1 + 2 + 2 * 2 + 1, 18)
    # connection sized by first; the actual cost counts the nodes returned
    assert cost(gql(shop, LOOKUP, {"q": 'sku:"S" OR sku:"X"', "n": 4})[1]) == (
        2 + 4 * (1 + 1 + 1 + 1), 2 + 1 * 4)
    item = shop.variant("S")["item"]
    answer = gql(shop, SET_QUANTITIES, {"key": "k1", "input": {
        "name": "available", "reason": "correction", "quantities": [{
            "inventoryItemId": item, "locationId": shop.location_id(), "quantity": 3,
            "changeFromQuantity": 0}]}})[1]
    assert cost(answer) == (12, 12)  # no matter how many quantities: input is free
    # over 1000 points is refused before it runs, whatever the bucket holds
    dear = ("query D($q: String!) { productVariants(first: 250, query: $q) { nodes { id "
            "product { id variantsCount { count } } inventoryItem { id } } } }")
    answer = gql(shop, dear, {"q": "sku:S"})[1]
    assert answer["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "Query cost is 1002" in answer["errors"][0]["message"] and "data" not in answer
    # a drained bucket: THROTTLED, nothing applied, the cost still reported
    shop.available, shop.restore = 0.0, 0.001
    answer = gql(shop, SET_QUANTITIES, {"key": "k2", "input": {
        "name": "available", "reason": "correction", "quantities": [{
            "inventoryItemId": item, "locationId": shop.location_id(), "quantity": 9,
            "changeFromQuantity": 3}]}})[1]
    assert answer["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 12 and shop.stock("S") == 3


def test_api_versions_gate_what_the_sink_uses(shop: ShopifyServer, env: None) -> None:
    from filebridge.sinks.api.shopify import PRODUCT_SET

    with pytest.raises(ValueError, match="api_version 2025-10 is too old"):
        ShopifyOptions.model_validate({"format": "shopify_api", "url": shop.url,
                                       "token": "${SHOPIFY_TOKEN}", "api_version": "2025-10"})
    upsert = {"identifier": {"handle": "mug"}, "n": 1, "synchronous": True,
              "input": {"title": "Mug", "variants": [{"sku": "M", "optionValues": [
                  {"optionName": "Title", "name": "Default Title"}]}]}}
    # before 2025-04 productSet had no identifier: the document itself is refused
    status, answer = gql(shop, PRODUCT_SET, upsert, version="2025-01")
    assert status == 200 and "data" not in answer and shop.catalog() == {}
    assert answer["errors"][0]["extensions"]["code"] in ("variableRequiresValidType",
                                                         "argumentNotAccepted")
    # from 2025-04 it is an upsert by handle: twice is one product
    for _ in range(2):
        status, answer = gql(shop, PRODUCT_SET, upsert, version="2025-04")
        assert answer["data"]["productSet"]["userErrors"] == []
    assert list(shop.catalog()) == ["mug"]
    assert gql(shop, PRODUCT_SET, upsert, version="2026-02")[0] == 404  # no such version


def test_product_set_stocks_only_where_the_variant_is_stocked(shop: ShopifyServer,
                                                              env: None) -> None:
    from filebridge.sinks.api.shopify import PRODUCT_SET

    warehouse, street = shop.location_id("Warehouse"), shop.location_id("High Street")

    def product_set(variants: list[dict[str, Any]]) -> dict[str, Any]:
        answer = gql(shop, PRODUCT_SET, {"identifier": {"handle": "cap"}, "n": 2,
                                         "synchronous": True, "input": {
            "title": "Cap", "productOptions": [{"name": "Size", "values": [
                {"name": "S"}, {"name": "M"}]}], "variants": variants}})[1]
        return answer["data"]["productSet"]

    def variant(size: str, **more: Any) -> dict[str, Any]:
        return {"sku": f"CAP-{size}", "optionValues": [{"optionName": "Size", "name": size}],
                **more}
    # a new variant is stocked where its quantities say
    payload = product_set([variant("S", inventoryQuantities=[
        {"locationId": warehouse, "name": "available", "quantity": 4}])])
    assert payload["userErrors"] == []
    assert shop.catalog()["cap"]["variants"]["CAP-S"]["inventory"] == {"Warehouse": 4}
    # an existing one only where it is stocked already: High Street is not applied
    vid = payload["product"]["variants"]["nodes"][0]["id"]
    payload = product_set([variant("S", id=vid, inventoryQuantities=[
        {"locationId": warehouse, "name": "available", "quantity": 6},
        {"locationId": street, "name": "available", "quantity": 5}]),
        variant("M", inventoryQuantities=[
            {"locationId": street, "name": "available", "quantity": 2}])])
    assert payload["userErrors"] == []
    inventory = {s: v["inventory"] for s, v in shop.catalog()["cap"]["variants"].items()}
    assert inventory == {"CAP-S": {"Warehouse": 6}, "CAP-M": {"High Street": 2}}
