"""The loopback WooCommerce's catalog rules straight through REST, each as the real
WordPress/WooCommerce code behaves (sources in tests/shops/woocommerce/*.py): what
the woocommerce_api sink's tests rely on must hold here first."""

from __future__ import annotations

import calendar
import time
from functools import partial
from typing import Any

import requests
from shops.woocommerce import WooServer

AUTH = ("ck_t", "cs_t")


SHOP = partial(WooServer, key="ck_t", secret="cs_t")


def api(shop: WooServer, method: str, path: str, body: Any = None, **params: Any) -> Any:
    resp = requests.request(method, f"{shop.url}/wp-json/wc/v3{path}", json=body,
                            params=params or None, auth=AUTH, timeout=5)
    return resp.status_code, resp.json()


def at(day: str) -> float:
    """Epoch seconds of a UTC ``YYYY-MM-DDTHH:MM:SS``."""
    return float(calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%S")))


# -- categories and tags: wp_insert_term ----------------------------------------------


def test_a_category_name_is_unique_among_its_siblings_only(shop: WooServer) -> None:
    status, donna = api(shop, "POST", "/products/categories", {"name": "Donna"})
    assert status == 201 and donna["parent"] == 0 and donna["slug"] == "donna"
    _, coats = api(shop, "POST", "/products/categories", {"name": "Cappotti",
                                                          "parent": donna["id"]})
    # the same name under the same parent: refused, with the existing term's id
    status, err = api(shop, "POST", "/products/categories", {"name": "Cappotti",
                                                             "parent": donna["id"]})
    assert (status, err["code"], err["data"]["resource_id"]) == (400, "term_exists",
                                                                 coats["id"])
    assert err["message"] == "A term with the name provided already exists with this parent."
    # another case is refused too (its slug is a sibling's), another accent is not
    status, err = api(shop, "POST", "/products/categories", {"name": "cappotti",
                                                             "parent": donna["id"]})
    assert (status, err["data"]["resource_id"]) == (400, coats["id"])
    status, accent = api(shop, "POST", "/products/categories", {"name": "Cappottì",
                                                                "parent": donna["id"]})
    assert status == 201 and accent["slug"] == "cappotti-donna"
    # under another parent the name is free; the slug takes the parent's
    _, uomo = api(shop, "POST", "/products/categories", {"name": "Uomo"})
    status, other = api(shop, "POST", "/products/categories", {"name": "Cappotti",
                                                               "parent": uomo["id"]})
    assert status == 201 and other["slug"] == "cappotti-uomo"
    status, err = api(shop, "POST", "/products/categories", {"name": "X", "parent": 99999})
    assert (status, err["code"]) == (400, "missing_parent")
    status, err = api(shop, "POST", "/products/categories", {"parent": donna["id"]})
    assert (status, err["code"]) == (400, "rest_missing_callback_param")
    assert shop.category_paths() == ["Donna", "Donna > Cappotti", "Donna > Cappottì",
                                     "Uncategorized", "Uomo", "Uomo > Cappotti"]


def test_tags_are_flat_and_refuse_a_name_in_any_case(shop: WooServer) -> None:
    _, fw = api(shop, "POST", "/products/tags", {"name": "FW26"})
    status, err = api(shop, "POST", "/products/tags", {"name": "fw26"})
    assert (status, err["code"], err["data"]["resource_id"]) == (400, "term_exists", fw["id"])
    assert err["message"] == "A term with the name provided already exists in this taxonomy."
    status, err = api(shop, "POST", "/products/tags", {"name": "SS27", "parent": fw["id"]})
    assert (status, err["code"]) == (400, "woocommerce_rest_taxonomy_not_hierarchical")
    # batches answer per item, in an HTTP 200
    status, got = api(shop, "POST", "/products/tags/batch",
                      {"create": [{"name": "SS27"}, {"name": "FW26"}]})
    assert status == 200 and "id" in got["create"][0]
    assert got["create"][1]["error"]["data"]["resource_id"] == fw["id"]
    status, got = api(shop, "GET", "/products/tags", per_page=1, page=2)
    assert status == 200 and [t["name"] for t in got] == ["SS27"]


# -- global attributes: wc_create_attribute -------------------------------------------


def test_global_attribute_slugs_as_woocommerce_checks_them(shop: WooServer) -> None:
    status, mat = api(shop, "POST", "/products/attributes", {"name": "Materiale"})
    assert status == 201 and (mat["slug"], mat["type"], mat["order_by"]) == (
        "pa_materiale", "select", "menu_order")
    refusals = {
        "Composizione del tessuto esterno": 'Slug "composizione-del-tessuto-esterno" is too '
                                            "long (28 characters max). Shorten it, please.",
        "Type": 'Slug "type" is not allowed because it is a reserved term. Change it, please.',
        "materiale": 'Slug "materiale" is already in use. Change it, please.',
    }
    for name, message in refusals.items():
        status, err = api(shop, "POST", "/products/attributes", {"name": name})
        assert (status, err["code"], err["message"]) == (400, "woocommerce_rest_cannot_create",
                                                         message)
    status, err = api(shop, "POST", "/products/attributes", {"name": "Type", "slug": "kind"})
    assert status == 201
    _, listed = api(shop, "GET", "/products/attributes")
    assert [a["name"] for a in listed] == ["Materiale", "Type"]
    status, err = api(shop, "GET", "/products/attributes/999/terms")
    assert (status, err["code"]) == (404, "woocommerce_rest_taxonomy_invalid")
    _, lana = api(shop, "POST", f"/products/attributes/{mat['id']}/terms", {"name": "Lana"})
    status, err = api(shop, "POST", f"/products/attributes/{mat['id']}/terms", {"name": "LANA"})
    assert (status, err["data"]["resource_id"]) == (400, lana["id"])


# -- products -----------------------------------------------------------------------------


def test_categories_and_tags_are_set_by_id_and_unknown_ones_dropped(shop: WooServer) -> None:
    _, cat = api(shop, "POST", "/products/categories", {"name": "Donna"})
    status, p = api(shop, "POST", "/products", {"name": "A", "sku": "A", "categories": [
        {"id": cat["id"]}, {"id": 424242}, {"name": "Uomo"}], "tags": [{"name": "FW26"}]})
    assert status == 201 and [c["name"] for c in p["categories"]] == ["Donna"]
    assert shop.tags_of("A") == ["FW26"]  # a tag by name is found or made
    _, b = api(shop, "POST", "/products", {"name": "B", "sku": "B"})
    assert [c["name"] for c in b["categories"]] == ["Uncategorized"]  # the default one
    _, b = api(shop, "PUT", f"/products/{b['id']}", {"categories": [{"id": cat["id"]}]})
    assert shop.categories_of("B") == ["Donna"]
    _, listed = api(shop, "GET", "/products", category=str(cat["id"]))
    assert sorted(p["sku"] for p in listed) == ["A", "B"]


def test_global_attributes_on_products_and_variations(shop: WooServer) -> None:
    _, size = api(shop, "POST", "/products/attributes", {"name": "Taglia"})
    _, mat = api(shop, "POST", "/products/attributes", {"name": "Materiale"})
    api(shop, "POST", f"/products/attributes/{size['id']}/terms", {"name": "S"})
    status, p = api(shop, "POST", "/products", {
        "name": "Coat", "sku": "C", "type": "variable", "attributes": [
            {"id": size["id"], "variation": True, "visible": True, "options": ["S", "M"]},
            {"id": mat["id"], "visible": True, "options": ["Lana"]},
            {"id": 4242, "options": ["lost"]},  # no such attribute: nothing is kept
            {"name": "Fit"}]})  # a custom one without options is left out
    assert status == 201
    assert [(a["name"], a["options"], a["variation"]) for a in p["attributes"]] == [
        ("Taglia", ["S", "M"], True), ("Materiale", ["Lana"], False)]
    # the product's save made the missing terms (M, Lana)
    _, terms = api(shop, "GET", f"/products/attributes/{mat['id']}/terms")
    assert [t["name"] for t in terms] == ["Lana"]
    _, v = api(shop, "POST", f"/products/{p['id']}/variations", {
        "sku": "C-S", "regular_price": "10", "attributes": [{"id": size["id"], "option": "s"}]})
    _, w = api(shop, "POST", f"/products/{p['id']}/variations", {
        "sku": "C-M", "regular_price": "10", "attributes": [{"name": "Taglia", "option": "M"}]})
    # by id: the term named s (any case) is stored by its slug; by name: no custom
    # attribute of that name, so nothing is kept and C-M sells for any size
    assert [(a["name"], a["option"]) for a in v["attributes"]] == [("Taglia", "S")]
    assert w["attributes"] == []
    assert shop.shop.storefront("C") == {"options": {"Taglia": ["S", "M"]}, "variations": {
        "C-S": {"Taglia": "S"}, "C-M": {"Taglia": None}}}
    # layered navigation finds the product by its material, through REST too
    assert shop.filter_index("Materiale") == {"Lana": ["C"]}
    lana = terms[0]["id"]
    _, found = api(shop, "GET", "/products", attribute="pa_materiale", attribute_term=str(lana))
    assert [f["sku"] for f in found] == ["C"]


def test_gtins_are_cleaned_and_unique(shop: WooServer) -> None:
    status, a = api(shop, "POST", "/products", {"sku": "A", "global_unique_id": "801 2345-6"})
    assert status == 201 and a["global_unique_id"] == "8012345-6"
    status, err = api(shop, "POST", "/products", {"sku": "B", "global_unique_id": "80123456"})
    assert status == 201
    status, err = api(shop, "POST", "/products/batch", {"create": [
        {"sku": "C", "global_unique_id": "8012345-6"}, {"sku": "D", "global_unique_id": "1X2"}]})
    c, d = err["create"]
    assert c["error"]["code"] == "product_invalid_global_unique_id"
    assert c["error"]["message"] == "Invalid or duplicated GTIN, UPC, EAN or ISBN."
    assert c["error"]["data"]["resource_id"] == a["id"]
    assert d["error"]["code"] == "product_invalid_global_unique_id_format"
    assert set(shop.catalog()) == {"A", "B"}  # nothing of the refused ones was made


def test_sale_dates_are_site_time_and_an_end_date_alone_ends_the_day_it_names(
        shop: WooServer) -> None:
    # the site is UTC+2: 2027-01-06T23:59:59 local is 21:59:59 UTC
    _, p = api(shop, "POST", "/products", {
        "sku": "S", "regular_price": "100", "sale_price": "80",
        "date_on_sale_from": "2027-01-01T00:00:00", "date_on_sale_to": "2027-01-06T23:59:59"})
    assert (p["date_on_sale_from_gmt"], p["date_on_sale_to_gmt"]) == ("2026-12-31T22:00:00",
                                                                      "2027-01-06T21:59:59")
    _, q = api(shop, "POST", "/products", {
        "sku": "Q", "regular_price": "100", "sale_price": "80",
        "date_on_sale_to": "2027-01-06"})  # midnight as the 6th begins
    prices = {}
    for moment in ("2026-12-31T21:59:59", "2026-12-31T22:00:00", "2027-01-05T22:30:00",
                   "2027-01-06T21:59:59", "2027-01-06T22:00:00"):
        shop.now = at(moment)
        got = {x["sku"]: x["price"] for x in api(shop, "GET", "/products", sku="S,Q")[1]}
        prices[moment] = (got["S"], got["Q"])
    assert prices == {"2026-12-31T21:59:59": ("100", "80"),
                      "2026-12-31T22:00:00": ("80", "80"),
                      "2027-01-05T22:30:00": ("80", "100"),  # Q ended as the 6th began
                      "2027-01-06T21:59:59": ("80", "100"),
                      "2027-01-06T22:00:00": ("100", "100")}
    # the daily cron ends the sale in the data as well; "" clears a date, null keeps it
    shop.scheduled_sales()
    _, s = api(shop, "GET", f"/products/{p['id']}")
    assert (s["sale_price"], s["date_on_sale_to"]) == ("", None)
    _, q = api(shop, "PUT", f"/products/{q['id']}", {"sale_price": "70",
                                                      "date_on_sale_to": None})
    assert q["sale_price"] == "70" and q["date_on_sale_to"] is None  # the cron cleared it
    status, err = api(shop, "PUT", f"/products/{q['id']}", {"date_on_sale_to": "6/1/2027"})
    assert (status, err["code"]) == (400, "rest_invalid_param")


def test_images_are_downloaded_from_src_every_time_and_reused_by_id(shop: WooServer) -> None:
    url = "https://cdn.example/a_1.jpg"
    _, p = api(shop, "POST", "/products", {"sku": "P", "images": [
        {"src": url, "alt": "Front", "name": url}, {"src": "https://cdn.example/a_2.jpg"}]})
    first = p["images"][0]
    assert (first["alt"], first["name"]) == ("Front", url)
    assert first["src"].endswith("/wp-content/uploads/2026/12/a_1.jpg")
    # the same src again is a second download and a second attachment
    _, p = api(shop, "PUT", f"/products/{p['id']}", {"images": [{"src": url}]})
    assert shop.downloads[url] == 2 and p["images"][0]["id"] != first["id"]
    assert p["images"][0]["src"].endswith("/a_1-1.jpg")
    # by id: no download; the alt given is saved on the picture
    _, p = api(shop, "PUT", f"/products/{p['id']}", {"images": [{"id": first["id"],
                                                                 "alt": "Back"}]})
    assert shop.downloads[url] == 2 and shop.images_of("P") == [(url, "Back")]
    status, err = api(shop, "PUT", f"/products/{p['id']}", {"images": [{"id": 987654}]})
    assert (status, err["code"], err["message"]) == (
        400, "woocommerce_product_invalid_image_id", "#987654 is an invalid image ID.")
    # a picture that cannot be fetched fails the product; what it fetched first goes
    shop.broken_images.add("https://cdn.example/gone.jpg")
    before = len(shop.media.attachments)
    status, err = api(shop, "POST", "/products", {"sku": "Q", "images": [
        {"src": "https://cdn.example/q.jpg"}, {"src": "https://cdn.example/gone.jpg"}]})
    assert (status, err["code"]) == (400, "woocommerce_product_image_upload_error")
    assert err["message"] == ("Error getting remote image https://cdn.example/gone.jpg. "
                              "Error: Not Found")
    assert "Q" not in shop.catalog() and len(shop.media.attachments) == before
    status, err = api(shop, "POST", "/products", {"sku": "R", "images": [
        {"src": "https://cdn.example/sheet.pdf"}]})
    assert err["message"] == ("Invalid image: Sorry, you are not allowed to upload this file "
                              "type.")
