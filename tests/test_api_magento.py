"""The magento_api client driven directly with Change lists against the loopback
Magento server (tests/shops/magento.py), whose catalog is read back."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from shops.magento import TOKEN, MagentoServer

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.sinks.api.base import Change, State
from filebridge.sinks.api.magento import MagentoClient, MagentoOptions

_ids = itertools.count(1)


@pytest.fixture
def server():
    with MagentoServer() as s:
        yield s


@pytest.fixture
def make(server, monkeypatch):
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    clients = []

    def make(**opts):
        o = {"url": server.url, "token": "${MAGENTO_TOKEN}",
             "limits": {"max_backoff": 0.05, "retries": 6}, **opts}
        client = MagentoClient(MagentoOptions.model_validate(o), State(lambda p: []))
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def change(sku, op="upsert", remote=None, attempts=0, **record):
    return Change(id=next(_ids), key=sku, op=op, record={"sku": sku, **record},
                  idem=f"i{sku}", remote=remote or {}, attempts=attempts)


def by_id(results):
    return {r.id: r for r in results}


def product(sku, **over):
    return change(sku, **{"title": f"Shirt {sku}", "price": "19.90", "stock": 5, **over})


def test_create_then_update_round_trip(server, make):
    client = make()
    first = [change("A1", title="Tee", price="19.90", stock=3, weight=250,
                    description="Cotton", handle="tee-a1", status="active"),
             change("B2", title="Mug", price="7.5", stock=0, published=False)]
    results = by_id(client.send(first))
    assert all(r.ok for r in results.values())
    cat = server.catalog()
    a1, b2 = cat["A1"], cat["B2"]
    assert (a1["name"], a1["price"], a1["status"], a1["visibility"]) == (
        "Tee", Decimal("19.90"), 1, 4)
    assert a1["weight"] == Decimal("0.5512")  # 250 g in lbs, the shop's default unit
    assert a1["custom_attributes"] == {"description": "Cotton", "url_key": "tee-a1"}
    assert a1["stock"] == {"default": (3.0, 1)}
    assert b2["status"] == 2 and b2["stock"] == {"default": (0.0, 0)}
    remote = results[first[0].id].remote
    assert remote == {"id": a1["id"]}

    update = change("A1", remote=remote, title="Tee v2", price="21.00", stock=9)
    results = by_id(client.send([update]))
    assert results[update.id].ok and results[update.id].remote is None  # id already known
    a1 = server.catalog()["A1"]
    assert (a1["name"], a1["price"], a1["stock"]["default"]) == ("Tee v2", Decimal("21.00"),
                                                                 (9.0, 1))
    assert server.creates["A1"] == 1 and server.applied["A1"] == 4  # 2 saves + 2 stock sets


def test_compare_at_price_becomes_special_price(server, make):
    make().send([change("S1", title="Sale", price="10.00", compare_at_price="15.00")])
    s1 = server.catalog()["S1"]
    assert s1["price"] == Decimal("15.00")
    assert s1["custom_attributes"]["special_price"] == "10.00"


def test_stock_only_update(server, make):
    server.add_product("K1", qty=1)
    server.add_product("K2", qty=1, source="warehouse_b")
    client = make(sync="stock", location="warehouse_b")
    changes = [change("K1", stock=4), change("K2", stock=0), change("NOPE", stock=2)]
    results = by_id(client.send(changes))
    assert results[changes[0].id].ok and results[changes[1].id].ok
    assert results[changes[0].id].remote == {"id": server.catalog()["K1"]["id"]}
    assert not results[changes[2].id].ok
    assert results[changes[2].id].message == "SKU NOPE is not in the shop"
    cat = server.catalog()
    assert cat["K1"]["stock"] == {"default": (1.0, 1), "warehouse_b": (4.0, 1)}
    assert cat["K2"]["stock"] == {"warehouse_b": (0.0, 0)}
    assert cat["K1"]["name"] == "K1"  # the product itself untouched
    assert "NOPE" not in cat and server.orphans() == []

    # Next run: ids known, so no search is needed, only the stock request.
    before = server.requests
    again = [change("K1", remote={"id": cat["K1"]["id"]}, stock=7)]
    assert by_id(client.send(again))[again[0].id].ok
    assert server.requests - before == 1


def test_lenient_shop_never_gets_orphan_stock(tmp_path):
    """Released Magento stores a source item for any SKU (magento/magento2#38154):
    the lookup keeps an unknown SKU from becoming an orphan row."""
    with MagentoServer(unknown_skus="store") as server:
        server.add_product("K1")
        client = MagentoClient(MagentoOptions.model_validate(
            {"url": server.url, "token": "file:" + _token_file(tmp_path), "sync": "stock"}),
            State(lambda p: []))
        r = by_id(client.send([c := change("GHOST", stock=3), change("K1", stock=3)]))
        assert not r[c.id].ok and server.orphans() == []
        assert server.catalog()["K1"]["stock"]["default"] == (3.0, 1)


def _token_file(folder):
    path = folder / "magento.token"
    path.write_text(TOKEN + "\n")
    return str(path)


def test_one_bad_item_does_not_block_its_batch(server, make):
    """The shop fails the whole source-items request on the first bad SKU; the
    client drops the SKU the message names and applies the rest."""
    for i in range(10):
        server.add_product(f"P{i}")
    client = make(sync="stock")
    # Remote ids given: no lookup, so the shop itself must refuse the unknown SKUs.
    changes = [change(f"P{i}", remote={"id": 999}, stock=i + 1) for i in range(10)]
    changes[3] = change("GONE1", remote={"id": 998}, stock=1)
    changes[7] = change("GONE2", remote={"id": 997}, stock=1)
    results = by_id(client.send(changes))
    bad = {c.id for c in changes if c.key.startswith("GONE")}
    assert {i for i, r in results.items() if not r.ok} == bad
    msg = results[changes[3].id].message
    assert msg == ('SKU GONE1: Validation Failed: Product with requested "sku": "GONE1" '
                   'was was not found.')
    cat = server.catalog()
    assert all(cat[f"P{i}"]["stock"]["default"] == (i + 1.0, 1) for i in range(10)
               if i not in (3, 7))
    assert server.applied["GONE1"] == 0 and server.orphans() == []


def test_bad_item_found_by_halving_when_the_message_names_none(monkeypatch):
    """Some versions answer "Could not save Source Item" for an unknown SKU: the
    client halves the batch until the bad item stands alone."""
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    with MagentoServer(unknown_skus="fk") as server:
        for i in range(16):
            server.add_product(f"P{i}")
        client = MagentoClient(MagentoOptions.model_validate(
            {"url": server.url, "token": "${MAGENTO_TOKEN}", "sync": "stock"}),
            State(lambda p: []))
        changes = [change(f"P{i}", remote={"id": 1}, stock=2) for i in range(16)]
        changes[5] = change("GONE", remote={"id": 1}, stock=2)
        results = by_id(client.send(changes))
        assert [c.key for c in changes if not results[c.id].ok] == ["GONE"]
        assert results[changes[5].id].message == "SKU GONE: Could not save Source Item"
        assert all(server.catalog()[f"P{i}"]["stock"]["default"] == (2.0, 1)
                   for i in range(16) if i != 5)
        assert server.orphans() == []


def test_catalog_item_errors_are_per_product(server, make):
    long_sku = "X" * 65
    changes = [product("OK1"), change(long_sku, title="Too long", price="1"),
               change("NOPRICE", title="No price"), product("OK2")]
    results = by_id(make().send(changes))
    assert [results[c.id].ok for c in changes] == [True, False, False, True]
    assert results[changes[1].id].message == f"SKU {long_sku}: SKU length should be 64 " \
        "characters maximum."
    assert results[changes[2].id].message == ('SKU NOPRICE: The "price" attribute value is '
                                               'empty. Set the attribute and try again.')
    assert set(server.catalog()) == {"OK1", "OK2"}


def test_input_limit_is_learned_and_never_exceeded_again(tmp_path):
    """With Web API input limits on, an array over the limit is a 400 for the
    whole request; the client learns the limit from the answer."""
    with MagentoServer(input_limit=20) as server:
        for i in range(150):
            server.add_product(f"L{i}")
        opts = {"url": server.url, "token": "file:" + _token_file(tmp_path), "sync": "stock"}
        client = MagentoClient(MagentoOptions.model_validate(opts), State(lambda p: []))
        changes = [change(f"L{i}", stock=i) for i in range(100)]
        assert all(r.ok for r in client.send(changes))
        assert server.oversized == 1 and client.array_limit == 20
        client.send([change(f"L{i}", stock=1) for i in range(100, 150)])
        assert server.oversized == 1  # no second refusal
        assert all(server.catalog()[f"L{i}"]["stock"]["default"] == (float(i), int(i > 0))
                   for i in range(100))

        # With batch_size at the shop's limit the client never triggers it at all.
        opts["limits"] = {"batch_size": 20}
        fresh = MagentoClient(MagentoOptions.model_validate(opts), State(lambda p: []))
        assert fresh.o.limits.batch_size == 20
        batch = [change(f"L{i}", stock=2) for i in range(fresh.o.limits.batch_size)]
        assert all(r.ok for r in fresh.send(batch)) and server.oversized == 1


def _end_state(server):
    return {sku: (p["name"], p["price"], p["stock"]) for sku, p in server.catalog().items()}


def _load(client, n=30):
    changes = [product(f"F{i}", stock=i) for i in range(n)]
    results = client.send(changes)
    assert all(r.ok for r in results)
    return results


def test_faults_are_survived_with_the_healthy_end_state(monkeypatch):
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    with MagentoServer() as healthy:
        _load(MagentoClient(MagentoOptions.model_validate(
            {"url": healthy.url, "token": "${MAGENTO_TOKEN}"}), State(lambda p: [])))
        want = _end_state(healthy)
    with MagentoServer() as server:
        client = MagentoClient(MagentoOptions.model_validate(
            {"url": server.url, "token": "${MAGENTO_TOKEN}",
             "limits": {"max_backoff": 0.05}}), State(lambda p: []))
        server.faults.fail(2, status=429, retry_after=1)
        server.faults.fail(2, status=503)
        server.faults.drop(2)
        server.faults.slow(1, 0.05)
        _load(client)
        assert _end_state(server) == want
        # 30 PUTs, the search, the source check, the stock request, 6 failed answers
        assert server.requests == 33 + 6


def test_rate_limit_429_with_retry_after(server, make):
    # 23 requests against a burst of 5 refilled at 10/s: throttled unless a request
    # took over 100 ms (at 200/s a busy machine never emptied the burst)
    server.rate_limit(burst=5, per_second=10)
    _load(make(), n=20)
    assert len(server.catalog()) == 20
    assert server.throttled > 0


def test_giving_up_is_retryable(server, make):
    server.faults.fail(50, status=503)
    with pytest.raises(RetryableSinkError, match="503"):
        make(limits={"max_backoff": 0.01, "retries": 2}).send([product("R1")])
    assert "R1" not in server.catalog()


def test_retried_create_does_not_duplicate(server, make):
    """The first attempt reached the shop but its answer was lost: the retry (and
    the outbox's later re-send with attempts > 0) upserts the same SKU."""
    client = make()
    server.faults.slow(1, 0)  # the search passes
    server.faults.drop_after(1)  # the PUT creates the product, its answer is lost
    c = product("D1")
    assert by_id(client.send([c]))[c.id].ok
    again = product("D1", attempts=1)
    assert by_id(client.send([again]))[again.id].ok
    assert server.applied["D1"] == 2 + 1 + 1 + 1  # PUT twice, stock, then PUT and stock
    assert server.creates["D1"] == 1 and len(server.catalog()) == 1
    assert server.catalog()["D1"]["stock"] == {"default": (5.0, 1)}


def test_wrong_token_is_permanent(server, make, monkeypatch):
    client = make()
    monkeypatch.setenv("MAGENTO_TOKEN", "wrong")
    bad = make()
    with pytest.raises(PermanentSinkError, match="The consumer isn't authorized to access "
                       "Magento_Catalog::products"):
        bad.send([product("W1")])
    assert server.catalog() == {} and client.send([product("W1")])[0].ok


def test_unknown_location_is_permanent(server, make):
    server.add_product("K1")
    with pytest.raises(PermanentSinkError, match='Source with code "nowhere" does not'):
        make(sync="stock", location="nowhere").send([change("K1", stock=1)])


def test_zero_unpublish_delete(server, make):
    client = make()
    made = by_id(client.send(cs := [product("Z1"), product("U1"), product("X1")]))
    rid = {c.key: made[c.id].remote for c in cs}
    ops = [change("Z1", op="zero", remote=rid["Z1"]), change("U1", op="unpublish",
                                                             remote=rid["U1"]),
           change("X1", op="delete", remote=rid["X1"]), change("GONE", op="delete"),
           change("GONE2", op="unpublish")]
    results = by_id(client.send(ops))
    assert all(r.ok for r in results.values())
    cat = server.catalog()
    assert cat["Z1"]["stock"]["default"] == (0.0, 0) and cat["Z1"]["status"] == 1
    assert cat["U1"]["status"] == 2 and cat["U1"]["stock"]["default"] == (5.0, 1)
    assert "X1" not in cat and "GONE2" not in cat
    assert results[ops[2].id].remote == {}


def test_send_bulk_async(server, make):
    server.add_product("OLD", name="Old", price="1")
    client = make(bulk_threshold=10)
    changes = [product(f"B{i}", stock=i) for i in range(25)]
    changes.append(change("OLD", title="Old renamed", price="2.50"))
    changes.append(change("Y" * 65, title="bad", price="1"))
    server.hold_bulk()
    threading.Timer(0.2, server.release_bulk).start()  # polling must wait for it
    results = by_id(client.send_bulk(changes))
    assert len(results) == len(changes)
    bad = changes[-1]
    assert not results[bad.id].ok and "SKU length should be 64" in results[bad.id].message
    assert all(results[c.id].ok for c in changes[:-1])
    cat = server.catalog()
    assert cat["B7"]["stock"]["default"] == (7.0, 1) and cat["B0"]["stock"]["default"] == (0.0, 0)
    assert cat["OLD"]["name"] == "Old renamed" and cat["OLD"]["price"] == Decimal("2.50")
    assert results[changes[3].id].remote == {"id": cat["B3"]["id"]}
    assert len(server.bulks) == 2  # one products bulk, one source-items bulk


def test_send_bulk_stock(server, make):
    for i in range(12):
        server.add_product(f"S{i}")
    client = make(sync="stock", bulk_threshold=5)
    changes = [change(f"S{i}", stock=3) for i in range(12)] + [change("NOSKU", stock=1)]
    results = by_id(client.send_bulk(changes))
    assert [results[c.id].ok for c in changes] == [True] * 12 + [False]
    assert all(p["stock"]["default"] == (3.0, 1) for p in server.catalog().values())


def test_benchmark_stock_10k(server, make):
    """10,000 stock updates in batches of 100 over 4 threads, as the core sends."""
    n = 10_000
    for i in range(n):
        server.add_product(f"Q{i}")
    client = make(sync="stock")
    ids = {sku: p["id"] for sku, p in server.catalog().items()}
    changes = [change(f"Q{i}", remote={"id": ids[f"Q{i}"]}, stock=i % 50) for i in range(n)]
    batches = [changes[i:i + 100] for i in range(0, n, 100)]
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        results = [r for rs in pool.map(client.send, batches) for r in rs]
    rate = n / (time.monotonic() - started)
    assert all(r.ok for r in results) and len(results) == n
    assert sum(server.applied.values()) == n
    print(f"magento stock: {rate:.0f} updates/s")
    assert rate > 2000


# -- store scope (tests/shops/magento/stores.py: Magento's PathProcessor and EAV saves) --


@pytest.fixture
def views():
    """A shop with two store views in one website: Italian (default) and English."""
    with MagentoServer(store_views={"default": "base", "en": "base"}) as s:
        yield s


def client_for(shop, monkeypatch, **opts):
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    o = {"url": shop.url, "token": "${MAGENTO_TOKEN}",
         "limits": {"max_backoff": 0.05, "retries": 2}, **opts}
    return MagentoClient(MagentoOptions.model_validate(o), State(lambda p: []))


def test_master_data_are_global_values_every_store_view_reads(views, monkeypatch):
    results = client_for(views, monkeypatch).send([product(
        "G1", title="Giacca", description="Lana", handle="giacca-g1")])
    assert all(r.ok for r in results)
    assert views.values("G1")[0]["name"] == "Giacca" and set(views.values("G1")) == {0}
    for store in ("default", "en", "all"):
        got = views.catalog(store)["G1"]
        assert (got["name"], got["custom_attributes"]["description"]) == ("Giacca", "Lana")


def test_a_store_view_code_writes_that_views_values_only(views, monkeypatch):
    client_for(views, monkeypatch).send([product("G2", title="Giacca", description="Lana")])
    english = client_for(views, monkeypatch, store_code="en")
    assert english.send([change("G2", title="Jacket", description="Wool")])[0].ok
    assert (views.catalog("en")["G2"]["name"],
            views.catalog("en")["G2"]["custom_attributes"]["description"]) == ("Jacket", "Wool")
    assert (views.catalog("default")["G2"]["name"],
            views.catalog("default")["G2"]["custom_attributes"]["description"]) == (
        "Giacca", "Lana")
    assert views.values("G2")[2] == {"name": "Jacket", "description": "Wool"}
    # created through a store view: the required name also gets a default value, the
    # optional description exists in that view only
    assert english.send([product("G3", title="Coat", description="Cashmere")])[0].ok
    assert views.catalog("all")["G3"]["name"] == "Coat"
    assert "description" not in views.catalog("default")["G3"]["custom_attributes"]
    assert views.catalog("en")["G3"]["custom_attributes"]["description"] == "Cashmere"


def test_one_store_view_saves_globally_whatever_the_code(server, make):
    assert make(store_code="default").send([product("S1", description="x")])[0].ok
    assert set(server.values("S1")) == {0}


def test_an_unknown_store_code_is_a_configuration_error(views, monkeypatch):
    wrong = client_for(views, monkeypatch, store_code="fr")
    with pytest.raises(PermanentSinkError, match="store code 'fr'.*not a store view"):
        wrong.send([product("F1")])
    # ids already known: no search first, the save itself says so, for every record
    with pytest.raises(PermanentSinkError, match="store code 'fr'"):
        wrong.send([product("F1", remote={"id": 7})])
    assert views.catalog("all") == {}
