"""The magento_api client's catalog (configurables, options, categories, specs,
special prices, images) driven with Change lists against the loopback Magento, with
a small stand-in for the ledger's memory of acknowledged records; and the loopback's
own refusals, as Magento makes them."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
import requests
from shops.images import ImageHost
from shops.magento import TOKEN, MagentoServer

from filebridge.catalog.spec import AttributeSpec, OptionSpec, ProductSpec
from filebridge.errors import PermanentSinkError
from filebridge.ledger.changelog import Op
from filebridge.sinks.api.base import Change, State
from filebridge.sinks.api.magento import MagentoClient, MagentoOptions
from filebridge.sinks.api.magento_catalog import Catalog

_ids = itertools.count(1)
SPEC = ProductSpec(key="product", options=[
    OptionSpec(field="size", name="Taglia", order="sizes"),
    OptionSpec(field="colour", name="Colore")])
ATTRS = {"material": AttributeSpec(name="Materiale"),
         "composition": AttributeSpec(name="Composizione", filter=False)}


class Ledger:
    """What the outbox remembers per SKU: the acknowledged record and its ids."""

    def __init__(self) -> None:
        self.acked: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.gone: set[str] = set()  # zeroed or unpublished: not siblings any more

    def siblings(self, product: str) -> list[dict[str, Any]]:
        return [r | {"_remote": m} for sku, (r, m) in self.acked.items()
                if r.get("product") == product and sku not in self.gone]

    def change(self, rec: dict[str, Any], op: Op = "upsert") -> Change:
        prev, remote = self.acked.get(rec["sku"], (None, {}))
        return Change(next(_ids), rec["sku"], op, rec, "i", dict(remote), prev)

    def send(self, client: MagentoClient, recs: list[dict[str, Any]], op: Op = "upsert"
             ) -> dict[str, Any]:
        changes = [self.change(r, op) for r in recs]
        results = {r.id: r for r in client.send(changes)}
        for c in changes:
            r = results[c.id]
            if r.ok and op == "delete":
                self.acked.pop(c.key, None)
            elif r.ok:
                self.acked[c.key] = (c.record, {**c.remote, **(r.remote or {})})
                if op in ("zero", "unpublish"):
                    self.gone.add(c.key)
        return {c.key: results[c.id] for c in changes}


def shop_with(material_sets: tuple[int, ...] = (4,), **kw: Any) -> MagentoServer:
    shop = MagentoServer(store_views={"default": "base", "default_en": "base"}, **kw)
    shop.add_attribute("size", "select", "global")
    shop.add_attribute("material", "select", "global", sets=material_sets)
    shop.add_attribute("composition", "text", "store", filterable=0)
    shop.add_attribute("ean", "text", "global", filterable=0)
    return shop


SHOP = shop_with


@pytest.fixture
def host():
    with ImageHost() as h:
        yield h


def client(shop: MagentoServer, ledger: Ledger, monkeypatch: pytest.MonkeyPatch,
           **opts: Any) -> MagentoClient:
    monkeypatch.setenv("MAGENTO_TOKEN", TOKEN)
    o = {"url": shop.url, "token": "${MAGENTO_TOKEN}", "attributes": {"colour": "color"},
         "store_views": {"en": "default_en"}, "barcode_attribute": "ean",
         "limits": {"max_backoff": 0.05, "retries": 3}, **opts}
    c = MagentoClient(MagentoOptions.model_validate(o), State(ledger.siblings))
    c.use(Catalog(["it", "en"], SPEC, ATTRS))
    return c


def variant(sku: str, size: str, colour: str, **over: Any) -> dict[str, Any]:
    rec = {"sku": sku, "product": "G1", "title": "Giacca", "price": "100.00", "stock": 2,
           "translations": {"en": {"title": "Jacket"}},
           "options": [{"field": "size", "name": "Taglia", "value": size},
                       {"field": "colour", "name": "Colore", "value": colour,
                        "values": {"en": {"Nero": "Black", "Rosso": "Red"}.get(colour,
                                                                               colour)}}],
           "attributes": [{"code": "material", "name": "Materiale", "filter": True,
                           "type": "text", "namespace": "custom", "values": ["Lana"],
                           "translations": {"en": ["Wool"]}}],
           "categories": [["Donna", "Giacche"]]}
    rec.update(over)
    return rec


def test_a_configurable_with_translated_options_and_categories(shop, monkeypatch):
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    recs = [variant("G1-M-NER", "M", "Nero", barcode="8012345600014"),
            variant("G1-S-NER", "S", "Nero"), variant("G1-S-ROS", "S", "Rosso"),
            variant("G1-M-ROS", "M", "Rosso",
                    translations={"en": {"title": "Jacket",
                                         "categories": [["Women", "Jackets"]]}})]
    res = ledger.send(c, recs)
    assert all(r.ok for r in res.values()), res
    conf = shop.configurable("G1")
    assert conf["options"] == [("size", "Taglia", 0), ("color", "Colore", 1)]
    assert sorted(conf["children"]) == sorted(r["sku"] for r in recs)
    assert shop.ordered_labels("size") == ["S", "M"]  # sizes by scale, not by row
    assert shop.catalog("default_en")["G1"]["name"] == "Jacket"
    assert shop.category_paths("G1", "default_en") == ["Women > Jackets"]
    assert shop.category_paths("G1") == ["Donna > Giacche"]
    child = shop.catalog("all")["G1-M-NER"]
    assert child["custom_attributes"]["ean"] == "8012345600014"
    assert shop.label_of("color", child["custom_attributes"]["color"], "default_en") == \
        "Black"
    assert shop.label_of("material", shop.catalog("all")["G1"]["custom_attributes"][
        "material"], "default_en") == "Wool"

    # The same records again: nothing is written.
    before = len(shop.writes)
    ledger.send(c, recs[:1])
    assert [w for w in shop.writes[before:] if "source-items" not in w] == [
        "PUT /rest/all/V1/products/G1-M-NER"]

    # A new colour: its option made once, the child linked, the others kept.
    res = ledger.send(c, [variant("G1-M-BLU", "M", "Blu")])
    assert res["G1-M-BLU"].ok
    assert len(shop.configurable("G1")["children"]) == 5
    assert shop.ordered_labels("color") == ["Nero", "Rosso", "Blu"]


def test_an_existing_option_is_matched_without_case(shop, monkeypatch):
    """Magento refuses an admin label already there whatever its case."""
    shop.add_attribute("color", "select", "global", options=("NERO",))
    ledger = Ledger()
    res = ledger.send(client(shop, ledger, monkeypatch), [variant("G1-M-NER", "M", "Nero"),
                                                          variant("G1-S-NER", "S", "Nero")])
    assert all(r.ok for r in res.values())
    assert shop.ordered_labels("color") == ["NERO"]
    assert shop.option_creates == 3  # S, M and the material Lana: not Nero
    with requests.post(f"{shop.url}/rest/all/V1/products/attributes/color/options",
                       json={"option": {"label": "nero"}},
                       headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert (r.status_code, r.json()["message"]) == (
            400, 'Admin store attribute option label "%1" already exists.')


@pytest.mark.parametrize(("kind", "scope"), [("select", "store"), ("text", "global")])
def test_an_option_attribute_magento_cannot_use_stops_before_anything(monkeypatch, kind,
                                                                       scope):
    with shop_with() as shop:
        shop.add_attribute("color", kind, scope)
        ledger = Ledger()
        with pytest.raises(PermanentSinkError, match="global, user-defined Dropdown"):
            ledger.send(client(shop, ledger, monkeypatch), [variant("G1-M-NER", "M", "Nero"),
                                                            variant("G1-S-NER", "S", "Nero")])
        assert shop.products == {}


def test_an_attribute_outside_the_set_stops_the_sink(monkeypatch):
    """Magento drops such values without a word, so the sink says so first."""
    with shop_with(material_sets=(9,)) as shop:
        ledger = Ledger()
        with pytest.raises(PermanentSinkError, match="not in attribute set 4"):
            ledger.send(client(shop, ledger, monkeypatch), [variant("G1-M-NER", "M", "Nero"),
                                                            variant("G1-S-NER", "S", "Nero")])
        # the loopback drops it as Magento does
        put(shop, "all", "X1", {"sku": "X1", "name": "X", "price": 1, "custom_attributes": [
            {"attribute_code": "material", "value": "1"}, {"attribute_code": "nope",
                                                           "value": "x"}]})
        assert shop.catalog("all")["X1"]["custom_attributes"] == {"url_key": "x"}


def test_an_unknown_store_view_is_named(shop, monkeypatch):
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch, store_views={"en": "english"})
    with pytest.raises(PermanentSinkError, match="'english', which is not a store view"):
        ledger.send(c, [variant("G1-M-NER", "M", "Nero"), variant("G1-S-NER", "S", "Nero")])


def put(shop: MagentoServer, store: str, sku: str, product: dict[str, Any]
        ) -> requests.Response:
    with requests.put(f"{shop.url}/rest/{store}/V1/products/{sku}", json={"product": product},
                      headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        return r


def test_the_loopback_refuses_what_magento_refuses(shop):
    size_id = shop.attributes["size"]["attribute_id"]
    shop.add_attribute("fit", "select", "store")
    s_id = put(shop, "all", "C-S", {"sku": "C-S", "name": "S", "price": 1, "visibility": 1})
    assert s_id.status_code == 200
    child = s_id.json()["id"]
    conf = {"sku": "C", "name": "C", "type_id": "configurable",
            "extension_attributes": {"configurable_product_options": [
                {"attribute_id": str(size_id), "label": "Size", "position": 0,
                 "values": [{"value_index": 1}]}], "configurable_product_links": [child]}}
    r = put(shop, "all", "C", conf)  # the child has no size
    assert (r.status_code, r.json()["message"]) == (
        400, 'Product with id "%1" does not contain required attribute "%2".')
    assert "C" not in shop.products  # one transaction: nothing saved
    fit = shop.attributes["fit"]["attribute_id"]
    conf["extension_attributes"] = {"configurable_product_options": [
        {"attribute_id": str(fit), "label": "Fit", "position": 0,
         "values": [{"value_index": 1}]}]}
    r = put(shop, "all", "C", conf)
    assert (r.status_code, r.json()["message"]) == (
        400, "Something went wrong while saving option.")
    r = put(shop, "nowhere", "C", conf)
    assert (r.status_code, r.json()["message"]) == (404, "Request does not match any route.")
    r = put(shop, "all", "C-S", {"sku": "C-S", "media_gallery_entries": [
        {"media_type": "image", "label": "x", "position": 1, "content": {
            "base64_encoded_data": "aGVsbG8=", "type": "image/jpeg", "name": "x.jpg"}}]})
    assert (r.status_code, r.json()["message"]) == (
        400, "The image content must be valid base64 encoded data.")


def test_categories_follow_the_record(shop, monkeypatch):
    """A save only adds category links: a path the product left is unlinked."""
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    one = variant("S1", "M", "Nero", product="S1")  # one SKU: a visible simple product
    assert ledger.send(c, [one])["S1"].ok
    assert shop.category_paths("S1") == ["Donna > Giacche"]
    assert shop.catalog("all")["S1"]["visibility"] == 4
    moved = dict(one, categories=[["Donna", "Capispalla"], ["Saldi"]])
    assert ledger.send(c, [moved])["S1"].ok
    assert shop.category_paths("S1") == ["Donna > Capispalla", "Saldi"]
    assert shop.category_creates == 4


def test_a_sale_scheduled_then_removed(shop, monkeypatch):
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    sale = variant("S1", "M", "Nero", product="S1", sale_price="80.00",
                   sale_from="2026-12-01", sale_to="2027-01-06")
    assert ledger.send(c, [sale])["S1"].ok
    day = dt.date
    assert shop.final_price("S1", day(2026, 12, 24)) == Decimal("80.00")
    assert shop.final_price("S1", day(2027, 1, 7)) == Decimal("100.00")
    over = {k: v for k, v in sale.items() if not k.startswith("sale_")}
    assert ledger.send(c, [over])["S1"].ok
    assert "special_price" not in shop.catalog("all")["S1"]["custom_attributes"]
    assert shop.final_price("S1", day(2026, 12, 24)) == Decimal("100.00")


def test_photos_changed_are_the_only_ones_sent(shop, host, monkeypatch):
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    urls = [f"{host.url}/img/S1_{k}.jpg" for k in (1, 2, 3)]
    one = variant("S1", "M", "Nero", product="S1", images=urls, image_alt="Giacca nera")
    assert ledger.send(c, [one])["S1"].ok
    assert shop.uploads == 3
    first = shop.gallery("S1")
    # The second photo replaced, the third moved first: one upload, the rest kept.
    new = [urls[2], urls[0], f"{host.url}/img/S1_9.jpg"]
    assert ledger.send(c, [dict(one, images=new)])["S1"].ok
    assert shop.uploads == 4
    now = shop.gallery("S1")
    assert [g["file"] for g in now[:2]] == [first[2]["file"], first[0]["file"]]
    assert now[0]["types"] == ["image", "small_image", "thumbnail"] and now[1]["types"] == []
    assert [g["label"] for g in now] == ["Giacca nera"] * 3
    assert sum(host.hits.values()) == 4  # each picture downloaded once
    # A price change leaves the gallery alone (no media in the save).
    before = len(shop.writes)
    assert ledger.send(c, [dict(one, images=new, price="90.00")])["S1"].ok
    assert shop.uploads == 4 and shop.gallery("S1") == now
    assert len([w for w in shop.writes[before:] if "products/S1" in w]) == 1


def test_a_broken_photo_refuses_only_its_variant(shop, host, monkeypatch):
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    good = variant("G1-M-NER", "M", "Nero", images=[f"{host.url}/img/nero.jpg"])
    bad = variant("G1-S-ROS", "S", "Rosso", images=[f"{host.url}/img/missing.jpg"])
    res = ledger.send(c, [good, bad])
    assert res["G1-M-NER"].ok and not res["G1-S-ROS"].ok
    assert "missing.jpg" in res["G1-S-ROS"].message and "404" in res["G1-S-ROS"].message
    assert shop.configurable("G1")["children"] == ["G1-M-NER"]
    assert len(shop.gallery("G1")) == 1


def test_the_last_child_gone_takes_the_configurable(shop, monkeypatch):
    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    recs = [variant("G1-M-NER", "M", "Nero"), variant("G1-S-NER", "S", "Nero")]
    ledger.send(c, recs)
    ledger.send(c, recs[:1], op="unpublish")
    assert shop.catalog("all")["G1"]["status"] == 1  # one child still sells
    ledger.send(c, recs[1:], op="unpublish")
    assert shop.catalog("all")["G1"]["status"] == 2
    ledger.send(c, recs, op="delete")
    assert shop.products == {}


def test_website_prices_need_the_website_price_scope(monkeypatch):
    with shop_with() as shop:
        ledger = Ledger()
        c = client(shop, ledger, monkeypatch, prices={"base": {"price": "price_b"}})
        with pytest.raises(PermanentSinkError, match="Catalog Price Scope = Website"):
            ledger.send(c, [variant("S1", "M", "Nero", product="S1",
                                    prices={"base": {"price": "90.00"}})])
        assert shop.products == {}  # refused before anything was saved


def test_websites_put_products_where_the_profile_says(monkeypatch):
    """Through 'all' a new product joins every website; ``websites:`` names them."""
    with MagentoServer(store_views={"default": "base", "ch_it": "ch"}) as shop:
        shop.add_attribute("size", "select", "global")
        shop.add_attribute("material", "select", "global")
        shop.add_attribute("composition", "text", "store", filterable=0)
        ledger = Ledger()
        c = client(shop, ledger, monkeypatch, websites=["ch"], store_views={})
        recs = [variant("G1-M-NER", "M", "Nero"), variant("G1-S-NER", "S", "Nero")]
        assert all(r.ok for r in ledger.send(c, recs).values())
        ch = shop.websites["ch"]
        assert {p["website_ids"] == [ch] for p in shop.catalog("all").values()} == {True}
        with pytest.raises(PermanentSinkError, match="'nowhere'"):
            Ledger().send(client(shop, Ledger(), monkeypatch, websites=["nowhere"],
                                 store_views={}), [variant("X-M", "M", "Nero", product="X")])


def test_stored_photos_are_read_from_the_store_never_downloaded(shop, host, tmp_path,
                                                                monkeypatch):
    """Photos without a public folder: ``photo:`` references, their bytes read from the
    profile's store (filebridge/photos/store.py) and sent as base64 gallery entries."""
    import hashlib

    from shops.images import jpeg

    from filebridge.photos.store import PhotoStore

    ledger = Ledger()
    c = client(shop, ledger, monkeypatch)
    c.photos = PhotoStore(tmp_path)
    refs = []
    for tag in (b"front", b"back"):
        data = jpeg(tag)
        name = f"{hashlib.sha256(data).hexdigest()}.jpg"
        (tmp_path / name).write_bytes(data)
        refs.append(f"photo:{name}")
    one = variant("S1", "M", "Nero", product="S1", images=refs, image_alt="Giacca")
    assert ledger.send(c, [one])["S1"].ok
    assert shop.uploads == 2 and sum(host.hits.values()) == 0
    # The shop holds the stored bytes, in order.
    assert [g["sha256"] for g in shop.gallery("S1")] == [r[6:].split(".")[0] for r in refs]
    # Sent again (a reordered gallery): kept by id, nothing read or uploaded again.
    assert ledger.send(c, [dict(one, images=refs[::-1])])["S1"].ok
    assert shop.uploads == 2
    # A reference the store lacks, or one that is no stored name, refuses the record.
    gone = "photo:" + "0" * 64 + ".jpg"
    res = ledger.send(c, [variant("S2", "S", "Nero", product="S2", images=[gone]),
                          variant("S3", "S", "Nero", product="S3",
                                  images=["photo:../../etc/passwd"])])
    assert not res["S2"].ok and "not in the photo store" in res["S2"].message
    assert gone in res["S2"].message
    assert not res["S3"].ok and "not a photo reference" in res["S3"].message
