"""The woocommerce_api client carrying the whole catalog (categories, tags, filters,
specifications, sale dates, GTINs, images) into the loopback WooCommerce, asserted
on the shop's end state (tests/shops/woocommerce)."""

from __future__ import annotations

import calendar
import threading
import time
from functools import partial
from typing import Any

import pytest
import requests
from shops.woocommerce import WooServer
from test_api_woocommerce import Ledger, client, ok

from filebridge.catalog.spec import ProductSpec
from filebridge.sinks.api.base import Result
from filebridge.sinks.api.woocommerce import WooClient
from filebridge.sinks.api.woocommerce_model import Catalog

CDN = "https://cdn.example/img"
SPEC = Catalog(ProductSpec.model_validate({"key": "product", "options": [
    {"field": "size", "name": "Taglia", "order": "sizes"}, {"field": "colour", "name": "Colore"}]}))


SHOP = partial(WooServer, key="ck_good", secret="cs_good")


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WC_KEY", "ck_good")
    monkeypatch.setenv("WC_SECRET", "cs_good")


def attr(code: str, name: str, *values: str, filter: bool = True) -> dict[str, Any]:
    return {"code": code, "name": name, "filter": filter, "type": "text",
            "namespace": "custom", "values": list(values)}


def coat(size: str, colour: str, **f: Any) -> dict[str, Any]:
    """A variation record as the core builds it from the department sample."""
    return {"sku": f"C-{colour[:3].upper()}-{size}", "product": "C",
            "title": "Cappotto", "status": "active", "price": "459.00", "stock": 3,
            "barcode": f"80{abs(hash((size, colour))) % 10**11:011d}",
            "categories": [["Donna", "Capispalla", "Cappotti"]],
            "options": [{"field": "size", "name": "Taglia", "value": size},
                        {"field": "colour", "name": "Colore", "value": colour}],
            "attributes": [attr("material", "Materiale", "Lana"),
                           attr("colour_family", "Famiglia colore", colour),
                           attr("composition", "Composizione", "90% lana, 10% cachemire",
                                filter=False)],
            "images": [f"{CDN}/C_{colour}_1.jpg", f"{CDN}/C_{colour}_2.jpg"],
            "image_alt": f"Cappotto - {colour}", **f}


def send(wc: WooClient, ledger: Ledger, recs: list[dict[str, Any]]) -> list[Result]:
    changes = [ledger.change(r) for r in recs]
    return ledger.settle(changes, wc.send(changes))


def at(day: str) -> float:
    return float(calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%S")))


def test_a_variable_product_with_everything_it_has(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger)
    wc.use(SPEC)
    recs = [coat(s, c) for c in ("Nero", "Cammello") for s in ("M", "S", "L")]
    ok(send(wc, ledger, recs))
    p = shop.catalog()["C"]
    assert (p["type"], p["name"], p["status"]) == ("variable", "Cappotto", "publish")
    assert shop.categories_of("C") == ["Donna > Capispalla > Cappotti"]
    attrs = {a["name"]: a for a in p["attributes"]}
    assert [(a["name"], a["id"] != 0, a["variation"], a["visible"]) for a in p["attributes"]] \
        == [("Taglia", False, True, True), ("Colore", False, True, True),
            ("Materiale", True, False, True), ("Famiglia colore", True, False, True),
            ("Composizione", False, False, True)]
    assert attrs["Taglia"]["options"] == ["S", "M", "L"]  # size order, not file order
    assert attrs["Composizione"]["options"] == ["90% lana, 10% cachemire"]
    assert shop.filter_index("Famiglia colore") == {"Nero": ["C"], "Cammello": ["C"]}
    assert shop.filter_index("Materiale") == {"Lana": ["C"]}
    front = shop.shop.storefront("C")
    assert len(front["variations"]) == 6
    assert front["variations"]["C-NER-M"] == {"Taglia": "M", "Colore": "Nero"}
    assert shop.images_of("C") == [(f"{CDN}/C_Nero_1.jpg", "Cappotto - Nero"),
                                   (f"{CDN}/C_Nero_2.jpg", "Cappotto - Nero"),
                                   (f"{CDN}/C_Cammello_1.jpg", "Cappotto - Cammello"),
                                   (f"{CDN}/C_Cammello_2.jpg", "Cappotto - Cammello")]
    assert shop.images_of("C-CAM-S") == [(f"{CDN}/C_Cammello_1.jpg", "Cappotto - Cammello")]
    assert all(n == 1 for n in shop.downloads.values()) and len(shop.downloads) == 4
    v = next(v for v in p["variations"] if v["sku"] == "C-NER-M")
    assert v["global_unique_id"] == recs[0]["barcode"]


def test_categories_are_made_parent_by_parent_once_by_parallel_senders(
        shop: WooServer) -> None:
    # a category someone made by hand, in another case: found, not made again
    requests.post(f"{shop.url}/wp-json/wc/v3/products/categories", json={"name": "donna"},
                  auth=("ck_good", "cs_good"), timeout=5)
    wc = client(shop)
    paths = [["Donna", "Capispalla", "Cappotti"], ["Donna", "Capispalla", "Piumini"],
             ["Donna", "Maglieria"], ["Collezione", "Essenziali"]]
    batches = [[ledger_free(f"S{t}-{i}", categories=[paths[(t + i) % 4], paths[i % 4]])
                for i in range(6)] for t in range(4)]
    # a lost answer: the categories were made, the retried batch meets them
    shop.faults.drop(1, after=True, match="/products/categories/batch")
    out: list[list[Result]] = []
    threads = [threading.Thread(target=lambda b=b: out.append(
        wc.send([Ledger().change(r) for r in b]))) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for rs in out for r in rs), [r.message for rs in out for r in rs]
    assert shop.category_paths() == [
        "Collezione", "Collezione > Essenziali", "Uncategorized", "donna",
        "donna > Capispalla", "donna > Capispalla > Cappotti",
        "donna > Capispalla > Piumini", "donna > Maglieria"]
    assert shop.categories_of("S1-1") == ["donna > Capispalla > Piumini", "donna > Maglieria"]
    assert not shop.faults.queue


def ledger_free(sku: str, **f: Any) -> dict[str, Any]:
    return {"sku": sku, "title": f"Product {sku}", "price": "10.00", "stock": 1, **f}


def test_the_shops_own_terms_and_attributes_stay_ours_are_replaced(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger)
    rec = ledger_free("K", categories=[["Donna", "Abiti"]], tags=["FW26"],
                      attributes=[attr("material", "Materiale", "Lana")])
    ok(send(wc, ledger, [rec]))
    assert shop.categories_of("K") == ["Donna > Abiti"]  # not Uncategorized
    pid = shop.catalog()["K"]["id"]
    # the merchant adds a category, a tag and an attribute of their own
    auth = ("ck_good", "cs_good")
    sale = requests.post(f"{shop.url}/wp-json/wc/v3/products/categories",
                         json={"name": "Saldi"}, auth=auth, timeout=5).json()
    here = requests.get(f"{shop.url}/wp-json/wc/v3/products/{pid}", auth=auth,
                        timeout=5).json()
    requests.put(f"{shop.url}/wp-json/wc/v3/products/{pid}", auth=auth, timeout=5, json={
        "categories": [{"id": c["id"]} for c in here["categories"]] + [{"id": sale["id"]}],
        "tags": [{"id": t["id"]} for t in here["tags"]] + [{"name": "Promo"}],
        "attributes": [{"id": a["id"], "options": a["options"], "visible": True}
                       for a in here["attributes"]] + [
            {"name": "Vestibilità", "options": ["Regolare"], "visible": True}]})
    # the ERP moves it, retags it and changes its material
    ok(send(wc, ledger, [dict(rec, categories=[["Donna", "Abiti", "Midi"]], tags=["SS27"],
                              attributes=[attr("material", "Materiale", "Viscosa")])]))
    assert shop.categories_of("K") == ["Donna > Abiti > Midi", "Saldi"]
    assert shop.tags_of("K") == ["Promo", "SS27"]
    attrs = {a["name"]: a["options"] for a in shop.catalog()["K"]["attributes"]}
    assert attrs == {"Materiale": ["Viscosa"], "Vestibilità": ["Regolare"]}
    assert shop.filter_index("Materiale") == {"Lana": [], "Viscosa": ["K"]}


def test_an_attribute_the_shop_refuses_refuses_what_needs_it_in_the_shops_words(
        shop: WooServer) -> None:
    wc = client(shop)
    recs = [ledger_free("T1", attributes=[attr("kind", "Type", "Wool")]),
            ledger_free("T2", attributes=[attr("kind", "Type", "Silk")]),
            ledger_free("T3", attributes=[attr("material", "Materiale", "Lana")])]
    results = wc.send([Ledger().change(r) for r in recs])
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].message == (
        'SKU T1: the shop refused the global attribute Type: Slug "type" is not allowed '
        "because it is a reserved term. Change it, please. (woocommerce_rest_cannot_create)")
    # asked once per run, not once per record
    assert [p for m, p, _ in shop.calls if m == "POST"].count("/products/attributes") == 2
    assert set(shop.catalog()) == {"T3"}


def test_sale_dates_cover_the_last_day_and_the_shop_runs_the_sale(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger)
    rec = ledger_free("S", price="100.00", sale_price="80.00", sale_from="2027-01-01",
                      sale_to="2027-01-06")
    ok(send(wc, ledger, [rec]))
    got = shop.catalog()["S"]
    assert (got["regular_price"], got["sale_price"]) == ("100.00", "80.00")
    assert (got["date_on_sale_from"], got["date_on_sale_to"]) == ("2027-01-01T00:00:00",
                                                                  "2027-01-06T23:59:59")
    requests_before = shop.requests
    price = {}
    for moment in ("2026-12-31T21:59:59", "2026-12-31T22:00:00",  # the site is UTC+2
                   "2027-01-06T21:59:59", "2027-01-06T22:00:00"):
        shop.now = at(moment)
        price[moment] = shop.catalog()["S"]["price"]
    assert price == {"2026-12-31T21:59:59": "100.00", "2026-12-31T22:00:00": "80.00",
                     "2027-01-06T21:59:59": "80.00", "2027-01-06T22:00:00": "100.00"}
    assert shop.requests == requests_before  # nothing had to be sent on either day
    # the ERP ends the sale early: the sale price and its dates go
    ok(send(wc, ledger, [dict(rec, sale_price=None, sale_from=None, sale_to=None)]))
    got = shop.catalog()["S"]
    assert (got["sale_price"], got["date_on_sale_from"], got["date_on_sale_to"]) == (
        "", None, None)
    # a compare-at price above the price is a sale without dates, as in the CSV sink
    ok(send(wc, ledger, [dict(rec, sale_price=None, sale_from=None, sale_to=None,
                              price="70.00", compare_at_price="90.00")]))
    got = shop.catalog()["S"]
    assert (got["regular_price"], got["sale_price"], got["on_sale"]) == ("90.00", "70.00",
                                                                         True)


def test_a_duplicate_gtin_is_refused_in_the_shops_words(shop: WooServer) -> None:
    wc = client(shop)
    results = wc.send([Ledger().change(r) for r in (
        ledger_free("G1", barcode="8012345600014"), ledger_free("G2", barcode="8012345600014"),
        coat("M", "Nero", barcode="8012345600021"), coat("S", "Nero", barcode="8012345600021"))])
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[1].message == ("SKU G2: Invalid or duplicated GTIN, UPC, EAN or ISBN. "
                                  "(product_invalid_global_unique_id)")
    assert results[3].message.startswith("SKU C-NER-S: Invalid or duplicated GTIN")
    assert "G2" not in shop.catalog()


def test_variations_the_product_cannot_tell_apart_are_refused(shop: WooServer) -> None:
    wc = client(shop)
    twin = dict(coat("M", "Nero"), sku="C-NER-M-BIS", barcode="8000000000001")
    results = wc.send([Ledger().change(r) for r in (coat("M", "Nero"), twin)])
    assert [r.ok for r in results] == [True, False]
    assert "SKUs C-NER-M and C-NER-M-BIS have the same options" in results[1].message
    assert [v["sku"] for v in shop.catalog()["C"]["variations"]] == ["C-NER-M"]


def test_the_product_takes_its_fields_by_the_profiles_parent_rules(shop: WooServer) -> None:
    wc = client(shop)
    wc.use(Catalog(ProductSpec.model_validate({
        "key": "product", "options": [{"field": "size", "name": "Taglia", "order": "sizes"},
                                      {"field": "colour", "name": "Colore"}],
        "parent": {"fields": {"title": "prefix"}}})))
    ok(wc.send([Ledger().change(coat(s, "Nero", title=f"Cappotto - {s}"))
                for s in ("L", "M")]))
    p = shop.catalog()["C"]
    assert p["name"] == "Cappotto"
    assert p["attributes"][0]["options"] == ["M", "L"]


def test_global_options_are_filterable_and_the_variations_still_sell(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger, global_options=True)
    ok(send(wc, ledger, [coat(s, "Nero") for s in ("S", "M")]))
    p = shop.catalog()["C"]
    assert [(a["name"], a["id"] != 0, a["variation"]) for a in p["attributes"][:2]] == [
        ("Taglia", True, True), ("Colore", True, True)]
    assert shop.filter_index("Taglia") == {"S": ["C"], "M": ["C"]}
    assert shop.shop.storefront("C") == {
        "options": {"Taglia": ["S", "M"], "Colore": ["Nero"]},
        "variations": {"C-NER-S": {"Taglia": "S", "Colore": "Nero"},
                       "C-NER-M": {"Taglia": "M", "Colore": "Nero"}}}
    # a new size later: its term is made, the product's list grows, the old ones stay
    ok(send(wc, ledger, [coat("L", "Nero")]))
    assert shop.filter_index("Taglia") == {"S": ["C"], "M": ["C"], "L": ["C"]}
    assert set(shop.shop.storefront("C")["variations"]) == {"C-NER-S", "C-NER-M", "C-NER-L"}


def test_a_picture_the_shop_lost_is_sent_again_by_src(shop: WooServer) -> None:
    ledger = Ledger()
    wc = client(shop, ledger=ledger)
    rec = ledger_free("P", images=[f"{CDN}/p1.jpg", f"{CDN}/p2.jpg"], image_alt="Borsa")
    ok(send(wc, ledger, [rec]))
    # someone deletes a picture from the media library; the ledger still has its id
    gone = ledger.records["P"][1]["images"][f"{CDN}/p1.jpg"]
    del shop.media.attachments[gone]
    ok(send(wc, ledger, [dict(rec, image_alt="Borsa in pelle")]))
    assert shop.images_of("P") == [(f"{CDN}/p1.jpg", "Borsa in pelle"),
                                   (f"{CDN}/p2.jpg", "Borsa in pelle")]
    assert shop.downloads == {f"{CDN}/p1.jpg": 2, f"{CDN}/p2.jpg": 2}
    assert ledger.records["P"][1]["images"][f"{CDN}/p1.jpg"] != gone


def test_terms_are_cached_for_one_run_and_read_again_the_next(shop: WooServer) -> None:
    wc = client(shop)
    path = [["Donna", "Camicie & Bluse"]]
    ok(wc.send([Ledger().change(ledger_free("K", categories=path, tags=["Saldi & Outlet"]))]))
    made = len(shop.calls)
    ok(wc.send([Ledger().change(ledger_free("L", categories=path))]))
    assert [p for _, p, _ in shop.calls[made:]] == ["/products", "/products/batch"]
    # between runs someone deletes the category by hand
    auth = ("ck_good", "cs_good")
    cats = requests.get(f"{shop.url}/wp-json/wc/v3/products/categories",
                        params={"search": "Camicie"}, auth=auth, timeout=5).json()
    assert [c["name"] for c in cats] == ["Camicie &amp; Bluse"]  # as WordPress stores it
    requests.delete(f"{shop.url}/wp-json/wc/v3/products/categories/{cats[0]['id']}",
                    params={"force": "true"}, auth=auth, timeout=5)
    wc.forget()  # what the sink does when a run starts
    ok(wc.send([Ledger().change(ledger_free("M", categories=path,
                                            tags=["saldi & outlet"]))]))
    assert shop.categories_of("M") == ["Donna > Camicie & Bluse"]
    assert shop.category_paths().count("Donna > Camicie & Bluse") == 1
    assert shop.tags_of("M") == ["Saldi & Outlet"]  # found again, in its own spelling


# -- photos without a public folder: /wp/v2/media, then images by id ---------------------
def stored(folder: Any, *pictures: bytes) -> list[str]:
    """The pictures in a photo store, as the records' photo: references."""
    import hashlib

    out = []
    for data in pictures:
        name = f"{hashlib.sha256(data).hexdigest()}.jpg"
        (folder / name).write_bytes(data)
        out.append(f"photo:{name}")
    return out


def test_stored_photos_are_uploaded_once_and_sent_by_id(
        shop: WooServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    from shops.images import jpeg

    from filebridge.photos.store import PhotoStore

    monkeypatch.setenv("WP_USER", "shopbot")
    monkeypatch.setenv("WP_PASSWORD", "abcd efgh ijkl mnop")
    pics = {c: [jpeg(f"{c}-{i}".encode()) for i in (1, 2)] for c in ("Nero", "Cammello")}
    guide = jpeg(b"guida taglie")  # on every colour: one attachment
    refs = {c: stored(tmp_path, *p, guide) for c, p in pics.items()}

    def coats(**f: Any) -> list[dict[str, Any]]:
        return [coat(s, c, images=refs[c], **f) for c in ("Nero", "Cammello")
                for s in ("M", "S")]

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    ledger = Ledger()
    wc = client(shop, ledger=ledger, wp_user="${WP_USER}", wp_password="${WP_PASSWORD}")
    wc.use(SPEC)
    wc.photos = PhotoStore(tmp_path)
    ok(send(wc, ledger, coats()))
    assert shop.wp.uploads == 5 and not shop.downloads  # nothing for WooCommerce to fetch
    assert shop.uploaded_of("C") == [
        (sha(d), f"Cappotto - {c}") for c in ("Nero", "Cammello")
        for d in [*pics[c], guide] if c == "Nero" or d is not guide]
    assert shop.uploaded_of("C-CAM-S") == [(sha(pics["Cammello"][0]), "Cappotto - Cammello")]
    # The next file (a new price): nothing uploaded again; the ids are remembered.
    ok(send(wc, ledger, coats(price="399.00")))
    assert shop.wp.uploads == 5
    assert all((ledger.records[r["sku"]][1].get("images") or {}).keys() <= set(refs[r["options"]
               [1]["value"]]) for r in coats())
    # The ledger lost (a crash between the uploads and the products' update): each
    # picture is found in the library by its name, not uploaded again.
    again = client(shop, ledger=Ledger(), wp_user="${WP_USER}",
                   wp_password="${WP_PASSWORD}")
    again.use(SPEC)
    again.photos = PhotoStore(tmp_path)
    changes = [Ledger().change(r) for r in coats(price="389.00")]
    ok(again.send(changes))
    assert shop.wp.uploads == 5
    # Bytes WordPress does not take as an image refuse the records showing them.
    bad = "photo:" + "ab" * 32 + ".jpg"
    (tmp_path / ("ab" * 32 + ".jpg")).write_bytes(b"this is no picture")
    res = send(wc, ledger, [coat("XL", "Nero", images=[bad, *refs["Nero"]])])
    assert not res[0].ok and "not allowed to upload this file type" in res[0].message, res
    assert bad in res[0].message
    assert shop.wp.uploads == 5


def test_stored_photos_need_a_wordpress_application_password(
        shop: WooServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from shops.images import jpeg

    from filebridge.errors import PermanentSinkError
    from filebridge.photos.store import PhotoStore

    refs = stored(tmp_path, jpeg(b"one"))
    monkeypatch.setenv("WP_USER", "shopbot")
    monkeypatch.setenv("WP_PASSWORD", "wrong")
    choices: list[dict[str, Any]] = [{}, {"wp_user": "${WP_USER}",
                                           "wp_password": "${WP_PASSWORD}"}]
    for opts in choices:
        ledger = Ledger()
        wc = client(shop, ledger=ledger, **opts)
        wc.use(SPEC)
        wc.photos = PhotoStore(tmp_path)
        with pytest.raises(PermanentSinkError) as e:
            send(wc, ledger, [coat("M", "Nero", images=refs)])
        assert ("wp_user and wp_password" if not opts else "invalid application password") \
            in str(e.value)
    assert shop.wp.uploads == 0


def test_the_loopback_media_library_refuses_what_wordpress_refuses(shop: WooServer) -> None:
    from shops.images import jpeg

    media = shop.url + "/wp-json/wp/v2/media"
    wp = ("shopbot", "abcd efgh ijkl mnop")
    photo = jpeg(b"x")

    def post(data: bytes = photo, auth: Any = wp,
             disposition: str = 'attachment; filename="a.jpg"') -> requests.Response:
        h = {"Content-Type": "image/jpeg", "Content-Disposition": disposition}
        return requests.post(media, data=data, auth=auth, timeout=10,
                             headers={k: v for k, v in h.items() if v})

    def code(r: requests.Response) -> tuple[int, str]:
        return r.status_code, r.json()["code"]

    assert code(post(auth=None)) == (401, "rest_cannot_create")
    assert code(post(auth=("ck_good", "cs_good"))) == (401, "rest_cannot_create")  # WC key
    assert code(post(auth=("shopbot", "nope"))) == (401, "incorrect_password")
    assert code(post(data=b"")) == (400, "rest_upload_no_data")
    assert code(post(disposition="")) == (400, "rest_upload_no_content_disposition")
    assert code(post(disposition="attachment")) == (400, "rest_upload_invalid_disposition")
    assert code(post(data=b"plain text")) == (500, "rest_upload_sideload_error")
    assert code(post(disposition='attachment; filename="a.exe"')) == (
        500, "rest_upload_sideload_error")
    r = post()
    assert r.status_code == 201 and r.json()["source_url"].endswith("/a.jpg")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    r2 = post(data=png)  # an image of another type: its own extension, a unique name
    assert r2.status_code == 201 and r2.json()["source_url"].endswith("/a.png")
    assert post().json()["source_url"].endswith("/a-1.jpg")
    found = requests.get(media, params={"search": "a", "media_type": "image"}, timeout=10)
    assert {a["id"] for a in found.json()} >= {r.json()["id"], r2.json()["id"]}
    # A product's image by an id the library does not have is refused.
    res = requests.post(shop.url + "/wp-json/wc/v3/products", auth=("ck_good", "cs_good"),
                        json={"name": "X", "images": [{"id": 999999}]}, timeout=10)
    assert res.status_code == 400 and "invalid image ID" in res.json()["message"]
    res = requests.post(shop.url + "/wp-json/wc/v3/products", auth=("ck_good", "cs_good"),
                        json={"name": "X", "images": [{"id": r.json()["id"]}]}, timeout=10)
    assert res.status_code == 201 and res.json()["images"][0]["id"] == r.json()["id"]


@pytest.mark.parametrize("after", [False, True], ids=["lost-request", "lost-answer"])
def test_an_upload_cut_short_is_not_made_twice(shop: WooServer, tmp_path: Any,
                                               monkeypatch: pytest.MonkeyPatch,
                                               after: bool) -> None:
    """A dropped connection on the upload: the library is searched for the picture
    before it is sent again, so it is uploaded once whether or not it had arrived."""
    from shops.images import jpeg

    from filebridge.photos.store import PhotoStore

    monkeypatch.setenv("WP_USER", "shopbot")
    monkeypatch.setenv("WP_PASSWORD", "abcd efgh ijkl mnop")
    refs = stored(tmp_path, jpeg(b"cut short"))
    ledger = Ledger()
    wc = client(shop, ledger=ledger, wp_user="${WP_USER}", wp_password="${WP_PASSWORD}")
    wc.use(SPEC)
    wc.photos = PhotoStore(tmp_path)
    shop.faults.drop(1, after=after, match="POST /wp-json/wp/v2/media")
    ok(send(wc, ledger, [coat("M", "Nero", images=refs)]))
    assert shop.wp.uploads == 1 and len(shop.uploaded_of("C")) == 1
