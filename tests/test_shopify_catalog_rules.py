"""What the loopback Shopify refuses in the catalog resources (as Shopify documents
it: see each module of tests/shops/shopify), what those calls cost, and how the
shopify_api client behaves when a product's parts change: images, categories,
definitions made by the merchant, automated collections, media deleted in the shop."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import requests
from shops.shopify import TOKEN, ShopifyServer
from test_api_shopify import Ledger

from filebridge.catalog.spec import AttributeSpec, OptionSpec, ProductSpec
from filebridge.sinks.api.shopify import ShopifyClient, ShopifyOptions
from filebridge.sinks.api.shopify_steps import DIGESTS, METAFIELDS_SET

CDN = "https://cdn.example/img"


SHOP = partial(ShopifyServer, locales=("it", "en"),
               price_lists={"gid://shopify/PriceList/5": "CHF"})


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_TOKEN", TOKEN)


def gql(shop: ShopifyServer, query: str, variables: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    resp = requests.post(f"{shop.url}/admin/api/2026-01/graphql.json", timeout=5,
                         json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": TOKEN})
    return resp.json()


def client(shop: ShopifyServer, ledger: Ledger, **extra: Any) -> ShopifyClient:
    options = ShopifyOptions.model_validate({
        "format": "shopify_api", "url": shop.url, "token": "${SHOPIFY_TOKEN}",
        "limits": {"max_backoff": 0.05}, **extra})
    c = ShopifyClient(options, ledger.state())
    c.spec = ProductSpec(key="article", options=[
        OptionSpec(field="size", name="Taglia", names={"en": "Size"}, order="sizes"),
        OptionSpec(field="colour", name="Colore", names={"en": "Colour"})])
    c.languages = ["it", "en"]
    return c


def dress(size: str, colour: str = "Rosso", **more: Any) -> dict[str, Any]:
    code = colour[:3].upper()
    rec = {"sku": f"AB-{code}-{size}", "product": "AB", "title": "Abito", "price": "99.00",
           "stock": 3, "categories": [["Donna", "Abiti"]],
           "images": [f"{CDN}/AB_{code}_1.jpg", f"{CDN}/AB_{code}_2.jpg"],
           "image_alt": f"Abito - {colour}",
           "translations": {"en": {"title": "Dress", "image_alt": f"Dress - {colour}"}},
           "options": [{"field": "size", "name": "Taglia", "names": {"en": "Size"},
                        "value": size},
                       {"field": "colour", "name": "Colore", "names": {"en": "Colour"},
                        "value": colour}],
           "attributes": [{"code": "material", "name": "Materiale", "filter": True,
                           "type": "text", "namespace": "custom", "values": ["Seta"],
                           "translations": {"en": ["Silk"]}}]}
    rec.update(more)
    return rec


def product(shop: ShopifyServer, handle: str = "ab") -> dict[str, Any]:
    return shop.products[shop.handles[handle]]


# -- the server's rules --------------------------------------------------------------


def test_translations_need_the_current_digest_and_an_added_locale(shop, env):
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(dress("M"))])
    pid = shop.handles["ab"]
    content = gql(shop, DIGESTS, {"ids": [pid], "n": 1})["data"][
        "translatableResourcesByIds"]["nodes"][0]["translatableContent"]
    title = next(x for x in content if x["key"] == "title")
    register = ("mutation T($r: ID!, $t: [TranslationInput!]!) { translationsRegister("
                "resourceId: $r, translations: $t) { translations { key } userErrors { code "
                "field message } } }")

    def codes(**t: Any) -> list[str | None]:
        item = {"locale": "en", "key": "title", "value": "Gown",
                "translatableContentDigest": title["digest"], **t}
        answer = gql(shop, register, {"r": pid, "t": [item]})
        return [e["code"] for e in answer["data"]["translationsRegister"]["userErrors"]]

    assert codes(translatableContentDigest="0" * 64) == ["INVALID_TRANSLATABLE_CONTENT"]
    assert codes(locale="de") == ["INVALID_LOCALE_FOR_SHOP"]
    assert codes(locale="it") == ["INVALID_LOCALE_FOR_SHOP"]  # the primary
    assert codes(key="colour") == ["INVALID_KEY_FOR_MODEL"]
    assert codes(value=" ") == ["BLANK"]
    assert shop.translations_of(pid, "en")["title"] == ("Dress", False)
    assert codes() == []
    # the title changes: the translation is now outdated, and its old digest refused
    ledger.send(c, [ledger.change(dress("M", title="Abito lungo"))])
    assert shop.translations_of(pid, "en")["title"] == ("Dress", False)  # re-registered
    assert codes() == ["INVALID_TRANSLATABLE_CONTENT"]


def test_metafield_values_must_match_their_definition(shop, env):
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(dress("M"))])
    pid = shop.handles["ab"]

    def codes(*items: dict[str, Any]) -> list[str | None]:
        answer = gql(shop, METAFIELDS_SET, {"metafields": [
            {"ownerId": pid, "namespace": "custom", "key": "material", **i} for i in items]})
        return [e["code"] for e in answer["data"]["metafieldsSet"]["userErrors"]]

    assert shop.definitions()["custom.material"]["type"] == "list.single_line_text_field"
    assert codes({"type": "single_line_text_field", "value": "Seta"}) == ["INVALID_TYPE"]
    assert codes({"value": "Seta"}) == ["INVALID_VALUE"]  # not a JSON list
    assert codes({"value": '["a\\nb"]'}) == ["INVALID_VALUE"]  # single line only
    assert codes(*[{"value": '["x"]'}] * 26) == ["LESS_THAN_OR_EQUAL_TO"]
    # atomic: one bad value, nothing written
    assert codes({"value": '["Lino"]'}, {"value": "Lino"}) == ["INVALID_VALUE"]
    assert shop.metafields_of("ab")["custom.material"][1] == '["Seta"]'
    create = ("mutation D($d: MetafieldDefinitionInput!) { metafieldDefinitionCreate("
              "definition: $d) { createdDefinition { id } userErrors { code field message "
              "} } }")
    again = gql(shop, create, {"d": {"name": "M", "namespace": "custom", "key": "material",
                                     "type": "single_line_text_field",
                                     "ownerType": "PRODUCT"}})
    assert [e["code"] for e in again["data"]["metafieldDefinitionCreate"]["userErrors"]] == [
        "TAKEN"]


def test_collections_price_lists_and_files_refuse_what_shopify_refuses(shop, env):
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(dress("M"))])
    pid = shop.handles["ab"]
    create = ("mutation C($i: CollectionInput!) { collectionCreate(input: $i) { collection "
              "{ id } userErrors { field message } } }")
    answer = gql(shop, create, {"i": {"title": "Abiti", "handle": "donna-abiti"}})
    assert answer["data"]["collectionCreate"]["userErrors"][0]["field"] == ["handle"]
    smart = shop.add_smart_collection("saldi", "Saldi")
    add = ("mutation A($id: ID!, $ids: [ID!]!) { collectionAddProducts(id: $id, productIds: "
           "$ids) { collection { id } userErrors { field message } } }")
    assert "smart collection" in gql(shop, add, {"id": smart, "ids": [pid]})["data"][
        "collectionAddProducts"]["userErrors"][0]["message"]
    donna = shop.collection("donna")["id"]
    assert gql(shop, add, {"id": donna, "ids": [pid]})["data"]["collectionAddProducts"][
        "userErrors"]  # already in it
    prices = ("mutation P($id: ID!, $p: [PriceListPriceInput!]!) { priceListFixedPricesAdd("
              "priceListId: $id, prices: $p) { prices { price { amount } } userErrors { code "
              "field message } } }")
    vid = shop.variant("AB-ROS-M")["id"]
    eur = {"price": {"amount": "90", "currencyCode": "EUR"}, "variantId": vid}
    assert gql(shop, prices, {"id": "gid://shopify/PriceList/5", "p": [eur]})["data"][
        "priceListFixedPricesAdd"]["userErrors"][0]["code"] == "PRICE_LIST_CURRENCY_MISMATCH"
    assert gql(shop, prices, {"id": "gid://shopify/PriceList/6", "p": [eur]})["data"][
        "priceListFixedPricesAdd"]["userErrors"][0]["code"] == "PRICE_LIST_NOT_FOUND"
    from filebridge.sinks.api.shopify import PRODUCT_SET
    bad_file: dict[str, Any] = {"identifier": {"id": pid}, "n": 1, "synchronous": True, "input": {
        "files": [{"originalSource": f"{CDN}/a.jpg"}],
        "productOptions": [{"name": "Taglia", "values": [{"name": "M"}]},
                           {"name": "Colore", "values": [{"name": "Rosso"}]}],
        "variants": [{"id": vid, "optionValues": [{"optionName": "Taglia", "name": "M"},
                                                   {"optionName": "Colore", "name": "Rosso"}],
                      "file": {"originalSource": f"{CDN}/b.jpg"}}]}}
    errors = gql(shop, PRODUCT_SET, bad_file)["data"]["productSet"]["userErrors"]
    assert errors[0]["field"][-1] == "file"  # a variant's file must be among the files
    bad_file["input"]["files"] = [{"id": "gid://shopify/MediaImage/999999"}]
    del bad_file["input"]["variants"][0]["file"]
    errors = gql(shop, PRODUCT_SET, bad_file)["data"]["productSet"]["userErrors"]
    assert errors[0]["code"] == "FILE_DOES_NOT_EXIST"


def test_new_calls_are_priced_as_shopify_documents(shop, env):
    query = ("mutation T($r: ID!, $t: [TranslationInput!]!) { a: translationsRegister("
             "resourceId: $r, translations: $t) { userErrors { code } } b: "
             "translationsRegister(resourceId: $r, translations: $t) { userErrors { code } } }")
    answer = requests.post(f"{shop.url}/admin/api/2026-01/graphql.json", timeout=5, json={
        "query": query, "variables": {"r": "gid://shopify/Product/1", "t": []}},
        headers={"X-Shopify-Access-Token": TOKEN}).json()
    # two mutation fields of 10, each with a list of objects priced as one object
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 2 * (10 + 1)
    answer = requests.post(f"{shop.url}/admin/api/2026-01/graphql.json", timeout=5, json={
        "query": DIGESTS, "variables": {"ids": ["gid://shopify/Product/1"], "n": 10}},
        headers={"X-Shopify-Access-Token": TOKEN}).json()
    # a connection sized by first: 2 + 10 × (node 1 + translatableContent 1)
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 2 + 10 * 2
    assert answer["extensions"]["cost"]["actualQueryCost"] == 2  # no such product


# -- the client as parts change ---------------------------------------------------------


def test_a_new_colour_downloads_only_its_photos_and_keeps_the_order(shop, env):
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(dress(s)) for s in ("M", "S")])
    media = [m["id"] for m in product(shop)["media"]]
    assert [u for u, _ in shop.catalog()["ab"]["media"]] == [f"{CDN}/AB_ROS_1.jpg",
                                                              f"{CDN}/AB_ROS_2.jpg"]
    results = ledger.send(c, [ledger.change(dress("S", "Blu"))])
    assert results["AB-BLU-S"].ok, results
    cat = shop.catalog()["ab"]
    assert [u for u, _ in cat["media"]] == [f"{CDN}/AB_ROS_1.jpg", f"{CDN}/AB_ROS_2.jpg",
                                            f"{CDN}/AB_BLU_1.jpg", f"{CDN}/AB_BLU_2.jpg"]
    assert [m["id"] for m in product(shop)["media"]][:2] == media  # kept, not re-made
    assert set(shop.downloads.values()) == {1}
    assert cat["variants"]["AB-BLU-S"]["image"] == f"{CDN}/AB_BLU_1.jpg"
    assert cat["variants"]["AB-ROS-M"]["image"] == f"{CDN}/AB_ROS_1.jpg"
    assert cat["options"] == {"Taglia": ["S", "M"], "Colore": ["Rosso", "Blu"]}
    blue = product(shop)["media"][2]
    assert shop.translations_of(blue["id"], "en")["alt"] == ("Dress - Blu", False)


def test_media_deleted_in_the_shop_are_sent_again_by_url(shop, env):
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(dress("M"))])
    product(shop)["media"] = []  # a merchant removed the photos in the admin
    results = ledger.send(c, [ledger.change(dress("M", image_alt="Abito rosso"))])
    assert results["AB-ROS-M"].ok, results
    assert [a for _, a in shop.catalog()["ab"]["media"]] == ["Abito rosso", "Abito rosso"]
    assert shop.downloads[f"{CDN}/AB_ROS_1.jpg"] == 2


def test_a_product_leaving_a_category_leaves_its_collection(shop, env):
    ledger = Ledger()
    c = client(shop, ledger)
    ledger.send(c, [ledger.change(dress("M"))])
    assert shop.collection("donna-abiti")["products"] == ["ab"]
    results = ledger.send(c, [ledger.change(dress("M", categories=[["Donna", "Cerimonia"]]))])
    assert results["AB-ROS-M"].ok, results
    assert shop.collection("donna-abiti")["products"] == []
    assert shop.collection("donna-cerimonia")["products"] == ["ab"]
    assert shop.collection("donna")["products"] == ["ab"]  # still under Donna


def test_an_automated_collection_refuses_the_product_plainly(shop, env):
    shop.add_smart_collection("donna-abiti", "Abiti")
    ledger = Ledger()
    c = client(shop, ledger)
    results = ledger.send(c, [ledger.change(dress("M"))])
    assert not results["AB-ROS-M"].ok
    assert "donna-abiti is an automated collection" in results["AB-ROS-M"].message


def test_a_definition_the_merchant_made_as_single_text_is_used_as_such(shop, env):
    create = ("mutation D($d: MetafieldDefinitionInput!) { metafieldDefinitionCreate("
              "definition: $d) { createdDefinition { id } userErrors { code } } }")
    gql(shop, create, {"d": {"name": "Materiale", "namespace": "custom", "key": "material",
                             "type": "single_line_text_field", "ownerType": "PRODUCT"}})
    ledger = Ledger()
    c = client(shop, ledger)
    rec = dress("M")
    rec["attributes"][0]["values"] = ["Seta", "Cotone"]
    results = ledger.send(c, [ledger.change(rec)])
    assert results["AB-ROS-M"].ok, results
    assert shop.metafields_of("ab")["custom.material"] == ("single_line_text_field",
                                                           "Seta, Cotone")


def test_price_lists_and_channels(shop, env):
    ledger = Ledger()
    c = client(shop, ledger, prices={"gid://shopify/PriceList/5": {"price": "price_chf"}},
               publications=["Online Store"])
    rec = dress("M", prices={"gid://shopify/PriceList/5": {"price": "105.00",
                                                             "compare_at_price": "120.00"}})
    assert ledger.send(c, [ledger.change(rec)])["AB-ROS-M"].ok
    assert shop.fixed_prices("gid://shopify/PriceList/5") == {
        "AB-ROS-M": ("105.00", "120.00", "CHF")}
    assert shop.channels_of("ab") == {"Online Store"}
    with pytest.raises(ValueError, match="price lists are named by their id"):
        ShopifyOptions.model_validate({"format": "shopify_api", "url": shop.url,
                                       "token": "${SHOPIFY_TOKEN}",
                                       "prices": {"Svizzera": {"price": "price_chf"}}})


def test_attribute_spec_types_become_metafield_types():
    from filebridge.sinks.api.shopify_catalog import metafield_type, metafield_value

    spec = AttributeSpec(name="Peso")
    assert spec.filter and metafield_type({"filter": True, "type": "text"}) == \
        "list.single_line_text_field"
    assert metafield_type({"filter": False, "type": "text"}) == "single_line_text_field"
    assert metafield_type({"filter": True, "type": "number"}) == "list.number_decimal"
    assert metafield_type({"filter": True, "type": "boolean"}) == "boolean"
    assert metafield_value("list.single_line_text_field", ["Lana", "Seta"]) == \
        '["Lana", "Seta"]'
    assert metafield_value("boolean", ["Sì"]) == "true"


# -- photos without a public folder: staged uploads, then originalSource -----------------
def stored(folder: Any, *pictures: bytes) -> list[str]:
    import hashlib

    out = []
    for data in pictures:
        name = f"{hashlib.sha256(data).hexdigest()}.jpg"
        (folder / name).write_bytes(data)
        out.append(f"photo:{name}")
    return out


def test_stored_photos_are_staged_uploaded_and_become_the_products_media(
        shop, env, tmp_path):
    import hashlib

    from shops.images import jpeg

    from filebridge.photos.store import PhotoStore

    pics = {c: [jpeg(f"{c}-{i}".encode()) for i in (1, 2)] for c in ("Rosso", "Blu")}
    refs = {c: stored(tmp_path, *p) for c, p in pics.items()}
    ledger = Ledger()
    c = client(shop, ledger)
    c.photos = PhotoStore(tmp_path)
    results = ledger.send(c, [ledger.change(dress(s, "Rosso", images=refs["Rosso"]))
                              for s in ("M", "S")])
    assert all(r.ok for r in results.values()), results
    assert shop.staged_uploads == 2 and c.staged.uploads == 2
    cat = shop.catalog()["ab"]
    # The media are the staged files, in order, with their bytes; the variant's the first.
    sources = [u for u, _ in cat["media"]]
    assert [hashlib.sha256(shop.staged_files[u]).digest() for u in sources] == [
        hashlib.sha256(d).digest() for d in pics["Rosso"]]
    assert cat["variants"]["AB-ROS-M"]["image"] == sources[0]
    # A new colour: only its photos are staged; the others are kept by media id.
    results = ledger.send(c, [ledger.change(dress("S", "Blu", images=refs["Blu"]))])
    assert results["AB-BLU-S"].ok, results
    assert shop.staged_uploads == 4
    assert [u for u, _ in shop.catalog()["ab"]["media"]][:2] == sources
    # A new run (a new client) with the same photos: nothing staged again.
    again = client(shop, ledger)
    again.photos = PhotoStore(tmp_path)
    results = ledger.send(again, [ledger.change(dress("S", "Blu", images=refs["Blu"],
                                                      price="89.00"))])
    assert results["AB-BLU-S"].ok and shop.staged_uploads == 4
    # A picture the store lacks refuses its product, naming it; nothing is staged.
    gone = "photo:" + "0" * 64 + ".jpg"
    results = ledger.send(c, [ledger.change(dress("M", "Verde", images=[gone],
                                                  product="CD", sku="CD-VER-M"))])
    assert not results["CD-VER-M"].ok and gone in results["CD-VER-M"].message
    assert shop.staged_uploads == 4


def test_the_staged_target_refuses_what_the_storage_refuses(shop, env):
    from shops.images import jpeg

    data = jpeg(b"one")
    stage = ("mutation S($i: [StagedUploadInput!]!) { stagedUploadsCreate(input: $i) { "
             "stagedTargets { url resourceUrl parameters { name value } } userErrors { field "
             "message } } }")

    def target(**over: Any) -> dict[str, Any]:
        inp = {"resource": "IMAGE", "filename": "a.jpg", "mimeType": "image/jpeg",
               "httpMethod": "POST", "fileSize": str(len(data)), **over}
        return gql(shop, stage, {"i": [inp]})["data"]["stagedUploadsCreate"]

    def post(t: dict[str, Any], fields: list[tuple[str, str]] | None = None,
             body: bytes = data) -> requests.Response:
        params = fields if fields is not None else [(p["name"], p["value"])
                                                    for p in t["parameters"]]
        return requests.post(t["url"], data=params, files={"file": ("a.jpg", body)},
                             timeout=5)

    assert target(mimeType="text/plain")["userErrors"]
    assert target(filename="")["userErrors"]
    assert target(httpMethod="PUT")["userErrors"]
    t = target()["stagedTargets"][0]
    missing = [(p["name"], p["value"]) for p in t["parameters"] if p["name"] != "policy"]
    assert post(t, missing).status_code == 403  # every parameter is required
    wrong = [(n, "x" if n == "x-goog-signature" else v) for n, v in missing] + [
        ("policy", next(p["value"] for p in t["parameters"] if p["name"] == "policy"))]
    assert post(t, wrong).status_code == 403
    assert post(t, body=data + b"\x00").status_code == 400  # not the declared size
    assert post(t, body=b"x" * len(data)).status_code == 400  # not the declared type
    # productSet naming a target nothing was uploaded to is refused.
    set_q = ("mutation P($input: ProductSetInput!) { productSet(input: $input, synchronous: "
             "true) { product { id } userErrors { field message code } } }")
    inp = {"title": "X", "productOptions": [{"name": "Title", "values": [{"name": "Default "
           "Title"}]}], "variants": [{"optionValues": [{"optionName": "Title", "name":
                                      "Default Title"}]}],
           "files": [{"originalSource": t["resourceUrl"], "contentType": "IMAGE"}]}
    errors = gql(shop, set_q, {"input": inp})["data"]["productSet"]["userErrors"]
    assert errors and "could not be found" in errors[0]["message"]
    assert post(t).status_code == 201
    assert not gql(shop, set_q, {"input": inp})["data"]["productSet"]["userErrors"]
    assert shop.staged_files[t["resourceUrl"]] == data
    # A target used after its policy expired is refused.
    shop.staged_ttl = 0.0
    late = target()["stagedTargets"][0]
    assert post(late).status_code == 403


def test_stored_photos_in_a_bulk_load(shop, env, tmp_path):
    """The bulk productSet stages the photos first; a product whose photo cannot be
    had is refused alone, the others run."""
    from shops.images import jpeg

    from filebridge.photos.store import PhotoStore

    refs = stored(tmp_path, jpeg(b"bulk-1"), jpeg(b"bulk-2"))
    ledger = Ledger()
    c = client(shop, ledger)
    c.photos = PhotoStore(tmp_path)
    gone = "photo:" + "1" * 64 + ".jpg"
    results = ledger.send(c, [ledger.change(dress("M", images=refs)),
                              ledger.change(dress("M", "Verde", images=[gone], product="CD",
                                                  sku="CD-VER-M"))], bulk=True)
    assert results["AB-ROS-M"].ok, results
    assert not results["CD-VER-M"].ok and gone in results["CD-VER-M"].message
    assert shop.staged_uploads == 2
    assert [shop.staged_files[u] for u, _ in shop.catalog()["ab"]["media"]] == [
        (tmp_path / r[6:]).read_bytes() for r in refs]
