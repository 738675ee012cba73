"""The department collection sample (samples/catalogo, a spreadsheet from IT) through
profiles/catalogo-donna.yaml into WooCommerce's and Shopify's import files, and what
the shops end up with: WooCommerce's importer re-implemented (tests/checkers)."""

from __future__ import annotations

from datetime import date

from checkers.shopify_csv import ShopifyStore, import_products
from checkers.woocommerce_importer import WooShop, import_csv
from test_samples import REPO, check_ack, read_csv, rejects, run, work  # noqa: F401

SAMPLE = REPO / "samples" / "catalogo" / "REPARTO_DONNA_FW26.xlsx"
PROFILE = "catalogo-donna.yaml"


def sale_running(today: date | None = None) -> bool:
    today = today or date.today()
    return date(2026, 12, 1) <= today <= date(2027, 1, 6)


def woo_import(shop: WooShop, out: dict, stem: str = "REPARTO_DONNA_FW26") -> None:
    for name, update in ((f"woocommerce/{stem}.update.csv", True),
                         (f"woocommerce/{stem}.new.csv", False)):
        if name in out:
            res = import_csv(shop, out[name], update_existing=update)
            assert not res.failed and not res.skipped and not res.not_imported, (
                res.failed, res.skipped, res.not_imported)


def test_the_collection_reaches_woocommerce_whole(work):
    outcome, out = run(work, PROFILE, SAMPLE)
    assert outcome.tally.as_dict() == {"read": 57, "sent": 55, "unchanged": 0,
                                       "rejected": 2, "skipped": 0, "queued": 0}
    check_ack(out, outcome)
    bad = rejects(out)
    reasons = {n: r["reason"] for n, r in bad.items() if r["level"] == "reject"}
    assert "not a valid EAN-13" in reasons[9]
    assert reasons[16] == ("sku D26FW1002-NER-XL appears twice: line 15 and line 16; line 15 "
                           "is kept")  # the row typed twice: only the copy is refused
    shop = WooShop()
    woo_import(shop, out)
    coat = shop.product("P-D26FW1001")
    assert (coat.type, coat.status, coat.name) == ("variable", "publish",
                                                    "Cappotto doppiopetto in lana")
    attrs = {a[0]: a for a in coat.attributes}
    assert attrs["Taglia"][1] == ["XS", "S", "M", "L"]  # the sheet had M, XS, L, S
    assert attrs["Materiale"][1] == ["Lana"] and attrs["Famiglia colore"][1] == [
        "Marrone", "Nero"]
    assert attrs["Composizione"][1] == ["90% lana, 10% cachemire"]
    assert len(shop.visible_variations("P-D26FW1001")) == 7  # NER-XS: its EAN is wrong
    boots = {a[0]: a for a in shop.product("P-D26FW1040").attributes}
    assert boots["Taglia"][1] == ["36", "37", "37.5", "38", "39"]
    sweater = shop.product("P-D26FW1010")
    assert sorted(sweater.categories) == ["Collezione > Essenziali", "Donna > Maglieria"]
    scarf = shop.product("D26FW1050-GRI-TU")  # one SKU, no choice to make: a simple product
    assert scarf.type == "simple" and scarf.parent_sku is None
    m = shop.product("D26FW1001-CAM-M")
    assert (m.regular_price, m.sale_price) == ("459.00", "369.00")
    assert str(m.date_on_sale_to).startswith("2027-01-06 23:59")
    assert m.global_unique_id == "8012345600014"
    assert m.on_sale == sale_running()  # the shop's clock is today's
    shirt = shop.product("D26FW1060-ECR-M")
    assert shirt.sale_price == "" and shirt.stock_quantity is not None


def shopify_store():
    return ShopifyStore(markets=["Svizzera"], metafields={
        f"custom.{code}": "single_line_text_field"
        for code in ("material", "colour_family", "composition", "care", "origin")})


def test_the_collection_in_shopifys_file(work):
    _, out = run(work, PROFILE, SAMPLE)
    store = shopify_store()
    res = import_products(store, out["shopify/REPARTO_DONNA_FW26.csv"], overwrite=True)
    assert not res.errors and not res.refused, res.errors
    assert len(res.created) == 8
    coat_p = store.product("d26fw1001")
    assert coat_p.options == [("Taglia", ["XS", "S", "M", "L"]),
                              ("Colore", ["Cammello", "Nero"])]
    assert coat_p.metafields["custom.composition"] == "90% lana, 10% cachemire"
    rows = read_csv(out["shopify/REPARTO_DONNA_FW26.csv"])
    by_handle: dict[str, list[dict]] = {}
    for r in rows:
        by_handle.setdefault(r["URL handle"], []).append(r)
    coat = by_handle["d26fw1001"]
    variants = [r for r in coat if r["SKU"]]
    assert [r["Option1 value"] for r in variants] == ["XS", "S", "S", "M", "M", "L", "L"]
    assert coat[0]["Title"] == "Cappotto doppiopetto in lana"
    assert all(r["Title"] == "" for r in coat[1:])  # product fields on the first row only
    images = [(r["Product image URL"], r["Image position"]) for r in coat
              if r["Product image URL"]]
    assert [p for _, p in images] == [str(n) for n in range(1, len(images) + 1)]
    assert len(images) == 6  # three photos for each of two colours
    for r in variants:  # a variant's image is among the product's
        assert r["Variant image URL"] in {u for u, _ in images}
    price, compare = ("369.00", "459.00") if sale_running() else ("459.00", "")
    assert (variants[0]["Price"], variants[0]["Compare-at price"]) == (price, compare)
    assert variants[0]["Price / Svizzera"] == "489.00"
    assert coat[0]["Materiale (product.metafields.custom.material)"] == "Lana"
    scarf = by_handle["d26fw1050"]
    assert (scarf[0]["Option1 name"], scarf[0]["Option1 value"]) == ("Title", "Default Title")


def test_a_day_later_one_change_rewrites_that_product_only(work):
    # The same profile writing full files, under another name and ledger: a reference.
    text = (work / "profiles" / PROFILE).read_text(encoding="utf-8")
    (work / "profiles" / "catalogo-donna-full.yaml").write_text(
        text.replace("name: catalogo-donna", "name: catalogo-donna-full")
        .replace("mode: changes", "mode: full")
        .replace("../outbox/", "../outbox-full/"), encoding="utf-8")
    _, first = run(work, PROFILE, SAMPLE)
    shop = WooShop()
    woo_import(shop, first)
    from openpyxl import load_workbook

    wb = load_workbook(SAMPLE)
    ws = wb.active
    assert ws is not None  # openpyxl types it optional
    header = [c.value for c in ws[3]]
    col = header.index("GIACENZA") + 1
    for row in ws.iter_rows(min_row=4):
        if row[0].value == "D26FW1020" and row[1].value == "GRI" and row[2].value == "42":
            row[col - 1].value = 0
    changed = work / "changed.xlsx"
    wb.save(changed)
    outcome, out = run(work, PROFILE, changed, name="REPARTO_DONNA_FW27.xlsx")
    trousers = 8  # the whole product is written again, every variant
    assert outcome.tally.as_dict() == {"read": 57, "sent": trousers,
                                       "unchanged": 55 - trousers, "rejected": 2,
                                       "skipped": 0, "queued": 0}
    assert "woocommerce/REPARTO_DONNA_FW27.new.csv" not in out  # nothing new
    update = read_csv(out["woocommerce/REPARTO_DONNA_FW27.update.csv"])
    assert {r["Parent"] or r["SKU"] for r in update} == {"P-D26FW1020"}
    assert update[0]["Attribute 1 value(s)"] == "38, 40, 42, 44"
    woo_import(shop, out, "REPARTO_DONNA_FW27")
    assert len(shop.visible_variations("P-D26FW1020")) == 8
    assert shop.product("D26FW1020-GRI-42").stock_quantity == 0
    shopify = read_csv(out["shopify/REPARTO_DONNA_FW27.csv"])
    assert {r["URL handle"] for r in shopify} == {"d26fw1020"}
    # Nightly files into one store equal a full load of the second day's sheet.
    nightly, reference = shopify_store(), shopify_store()
    for files in (first, out):
        name = next(k for k in files if k.startswith("shopify/"))
        assert not import_products(nightly, files[name], overwrite=True).errors
    _, full = run(work, "catalogo-donna-full.yaml", changed, name="REPARTO_DONNA_FW27.xlsx")
    assert not import_products(reference, full["shopify/REPARTO_DONNA_FW27.csv"],
                               overwrite=True).errors
    assert nightly.differences(reference) == []
