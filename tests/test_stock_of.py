"""``ShopClient.stock_of`` (what ``filebridge reconcile`` compares with) for Shopify,
Magento and Vendure: stock set through ``send()`` reads back; a SKU the shop lacks is
None; a figure changed in the shop behind the client's back is seen; and the figure
is the one at the sink's ``location``, where the client writes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from shops.magento import TOKEN as MAGENTO_TOKEN
from shops.magento import MagentoServer
from shops.shopify import TOKEN as SHOPIFY_TOKEN
from shops.shopify import ShopifyServer
from shops.vendure import PASSWORD, USER, VendureShop

from filebridge.sinks.api.base import Change, State
from filebridge.sinks.api.magento import MagentoClient, MagentoOptions
from filebridge.sinks.api.shopify import STOCK_CHUNK, ShopifyClient, ShopifyOptions
from filebridge.sinks.api.vendure import VendureClient, VendureOptions

_ids = itertools.count(1)
NOBODY = State(lambda product: [])


def changes(*records: dict[str, Any], op: str = "upsert") -> list[Change]:
    out = []
    for r in records:
        n = next(_ids)
        out.append(Change(n, r["sku"], op, r, f"idem-{n}"))  # type: ignore[arg-type]
    return out


def item(sku: str, stock: int, **more: Any) -> dict[str, Any]:
    return {"sku": sku, "title": f"Item {sku}", "price": "9.90", "stock": stock, **more}


def sent(client: Any, *records: dict[str, Any]) -> None:
    results = client.send(changes(*records))
    assert all(r.ok for r in results), results


# -- Shopify ---------------------------------------------------------------------------


def test_shopify_stock_of(monkeypatch):
    monkeypatch.setenv("SHOPIFY_TOKEN", SHOPIFY_TOKEN)

    def client(**extra: Any) -> ShopifyClient:
        return ShopifyClient(ShopifyOptions.model_validate({
            "format": "shopify_api", "url": shop.url, "token": "${SHOPIFY_TOKEN}",
            "limits": {"max_backoff": 0.05}, **extra}), NOBODY)

    with ShopifyServer() as shop:
        main, street = client(), client(sync="stock", location="High Street")
        many = [f"SH-{i:03}" for i in range(STOCK_CHUNK + 5)]  # two searches
        sent(main, item("SH-A", 5), item('SH "quoted"', 7),
             *(item(s, i) for i, s in enumerate(many)))
        requests = shop.requests
        got = main.stock_of(["SH-A", 'SH "quoted"', "SH-NOPE", *many])
        assert got == {"SH-A": 5, 'SH "quoted"': 7, "SH-NOPE": None,
                       **{s: i for i, s in enumerate(many)}}
        assert shop.requests - requests == 2  # the location is known; one search per chunk
        assert main.stock_of([]) == {}

        shop.add_order([("SH-A", 3)])  # a web sale behind the client's back: 5 - 3
        assert main.stock_of(["SH-A"]) == {"SH-A": 2}

        # Per location: the level where the client writes; not stocked there: None.
        shop.set_stock('SH "quoted"', 0, "High Street")  # stocked there by a clerk
        sent(street, {"sku": 'SH "quoted"', "stock": 11})
        assert street.stock_of(["SH-A", 'SH "quoted"']) == {"SH-A": None, 'SH "quoted"': 11}
        assert main.stock_of(['SH "quoted"']) == {'SH "quoted"': 7}
        assert shop.stock('SH "quoted"', "High Street") == 11
        main.close()
        street.close()


# -- Magento ---------------------------------------------------------------------------


def test_magento_stock_of(monkeypatch):
    monkeypatch.setenv("MAGENTO_TOKEN", MAGENTO_TOKEN)

    def client(**extra: Any) -> MagentoClient:
        return MagentoClient(MagentoOptions.model_validate({
            "url": server.url, "token": "${MAGENTO_TOKEN}",
            "limits": {"max_backoff": 0.05}, **extra}), NOBODY)

    with MagentoServer() as server:
        main, b = client(), client(sync="stock", location="warehouse_b")
        many = [f"MG-{i:03}" for i in range(130)]  # two sku-in groups of at most 100
        sent(main, item("MG-A", 5), item("MG,COMMA", 3), item("MG-ZERO", 0),
             *(item(s, i) for i, s in enumerate(many)))
        got = main.stock_of(["MG-A", "MG,COMMA", "MG-ZERO", "MG-NOPE", *many])
        assert got == {"MG-A": 5, "MG,COMMA": 3, "MG-ZERO": 0, "MG-NOPE": None,
                       **{s: i for i, s in enumerate(many)}}

        with server.lock:  # a shipment (source deduction) and a fractional count, by hand
            server.source_items[("MG-A", "default")]["quantity"] = 2.0
            server.source_items[("MG-ZERO", "default")]["quantity"] = 4.5
        assert main.stock_of(["MG-A", "MG-ZERO"]) == {"MG-A": 2, "MG-ZERO": 4}

        # Per source: the item where the client writes; no source item there: None.
        sent(b, {"sku": "MG,COMMA", "stock": 11})
        assert b.stock_of(["MG-A", "MG,COMMA"]) == {"MG-A": None, "MG,COMMA": 11}
        assert main.stock_of(["MG,COMMA"]) == {"MG,COMMA": 3}
        main.close()
        b.close()


# -- Vendure (real) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def vendure():
    with VendureShop(USER, PASSWORD) as s:
        yield s


def test_vendure_stock_of(vendure, monkeypatch):
    monkeypatch.setenv("VENDURE_TEST_USER", USER)
    monkeypatch.setenv("VENDURE_TEST_PASSWORD", PASSWORD)

    def client(**extra: Any) -> VendureClient:
        return VendureClient(VendureOptions.model_validate({
            "url": vendure.url, "username": "${VENDURE_TEST_USER}",
            "password": "${VENDURE_TEST_PASSWORD}", "limits": {"max_backoff": 0.05},
            **extra}), NOBODY)

    main, b = client(), client(sync="stock", location="Warehouse B")
    sent(main, item("VE-A", 4), item("VE-B", 6), item("VE-DUP", 1))
    assert main.stock_of(["VE-A", "VE-B", "VE-NOPE"]) == {"VE-A": 4, "VE-B": 6,
                                                          "VE-NOPE": None}

    a = vendure.variants("VE-A")[0]["id"]
    vendure.gql("mutation($i:[UpdateProductVariantInput!]!){updateProductVariants(input:$i)"
                "{id}}", {"i": [{"id": a, "stockOnHand": 9}]})  # by hand, in the admin
    assert main.stock_of(["VE-A"]) == {"VE-A": 9}

    # Per location: Warehouse B's level where the client writes there; without a
    # location, the default location's (not the variant's sum over all locations).
    sent(b, {"sku": "VE-B", "stock": 11})
    assert vendure.variants("VE-B")[0]["stock_levels"] == {"Default Stock Location": 6,
                                                           "Warehouse B": 11}
    assert b.stock_of(["VE-B", "VE-NOPE"]) == {"VE-B": 11, "VE-NOPE": None}
    assert main.stock_of(["VE-B"]) == {"VE-B": 6}

    # A second variant with the same SKU, made by hand: which one is meant is unknown.
    pid = vendure.gql("mutation($i:CreateProductInput!){createProduct(input:$i){id}}", {
        "i": {"translations": [{"languageCode": "en", "name": "Copy", "slug": "ve-dup-copy",
                                "description": ""}]}})["createProduct"]["id"]
    vendure.gql("mutation($i:[CreateProductVariantInput!]!){createProductVariants(input:$i)"
                "{id}}", {"i": [{"productId": pid, "sku": "VE-DUP", "stockOnHand": 1,
                                 "translations": [{"languageCode": "en", "name": "Copy"}]}]})
    assert len(vendure.variants("VE-DUP")) == 2
    assert main.stock_of(["VE-DUP", "VE-A"]) == {"VE-DUP": None, "VE-A": 9}
    main.close()
    b.close()
