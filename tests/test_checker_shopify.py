"""The Shopify CSV checker (tests/checkers/shopify_csv.py) on small hand-written files.

Each test feeds a file Shopify's documented rules accept or refuse and looks at what the
simulated store holds afterwards and at what the checker reports."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from checkers.shopify_csv import (
    NOT_STOCKED,
    ShopifyStore,
    import_inventory,
    import_products,
)

CURRENT = ["Title", "URL handle", "Description", "Vendor", "Type", "Tags",
           "Published on online store", "Status", "SKU", "Barcode", "Option1 name",
           "Option1 value", "Option2 name", "Option2 value", "Price", "Compare-at price",
           "Inventory tracker", "Inventory quantity", "Weight value (grams)",
           "Product image URL", "Image position", "Image alt text", "Variant image URL"]
LEGACY_OF = {"URL handle": "Handle", "Description": "Body (HTML)",
             "Published on online store": "Published", "SKU": "Variant SKU",
             "Barcode": "Variant Barcode", "Option1 name": "Option1 Name",
             "Option1 value": "Option1 Value", "Option2 name": "Option2 Name",
             "Option2 value": "Option2 Value", "Price": "Variant Price",
             "Compare-at price": "Variant Compare At Price",
             "Inventory tracker": "Variant Inventory Tracker",
             "Inventory quantity": "Variant Inventory Qty",
             "Weight value (grams)": "Variant Grams", "Product image URL": "Image Src",
             "Image position": "Image Position", "Image alt text": "Image Alt Text",
             "Variant image URL": "Variant Image"}
IMG = "https://cdn.example.com/{}.jpg"
# A tee in two sizes and two colours, a red and a blue picture, and a mug without variants.
TEE = [
    {"Title": "Tee", "URL handle": "tee", "Description": "<p>Cotton</p>", "Vendor": "Acme",
     "Type": "Shirts", "Tags": "summer, cotton, summer", "Published on online store": "TRUE",
     "Status": "active", "SKU": "T-S-R", "Barcode": "8012345000012", "Option1 name": "Size",
     "Option1 value": "S", "Option2 name": "Colour", "Option2 value": "Red",
     "Price": "19.90", "Compare-at price": "25.00", "Inventory tracker": "shopify",
     "Inventory quantity": "5", "Weight value (grams)": "200",
     "Product image URL": IMG.format("red"), "Image position": "1", "Image alt text": "Red",
     "Variant image URL": IMG.format("red")},
    {"URL handle": "tee", "SKU": "T-M-R", "Option1 value": "M", "Option2 value": "Red",
     "Price": "19.90", "Inventory tracker": "shopify", "Inventory quantity": "3",
     "Weight value (grams)": "210", "Variant image URL": IMG.format("red")},
    {"URL handle": "tee", "SKU": "T-S-B", "Option1 value": "S", "Option2 value": "Blue",
     "Price": "21.00", "Inventory tracker": "shopify", "Inventory quantity": "0",
     "Weight value (grams)": "200", "Variant image URL": IMG.format("blue")},
    {"URL handle": "tee", "Product image URL": IMG.format("blue"), "Image position": "2",
     "Image alt text": "Blue"},
    {"Title": "Mug", "URL handle": "mug", "Vendor": "Acme", "Published on online store": "FALSE",
     "Status": "draft", "SKU": "MUG", "Option1 name": "Title",
     "Option1 value": "Default Title", "Price": "7.50", "Weight value (grams)": "350"},
]


def write(tmp_path: Path, header: list[str], rows: list[dict[str, str]],
          name: str = "products.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            assert set(row) <= set(header), set(row) - set(header)
            w.writerow([row.get(h, "") for h in header])
    return path


def legacy(rows: list[dict[str, str]]) -> tuple[list[str], list[dict[str, str]]]:
    return ([LEGACY_OF.get(h, h) for h in CURRENT],
            [{LEGACY_OF.get(k, k): v for k, v in r.items()} for r in rows])


def messages(res) -> list[str]:
    return [e.message for e in res.errors]


def imported(tmp_path, rows, header=CURRENT, store=None, overwrite=True, name="p.csv"):
    store = store or ShopifyStore(["Web"])
    return store, import_products(store, write(tmp_path, header, rows, name),
                                  overwrite=overwrite)


def test_a_clean_file_becomes_products_variants_and_images(tmp_path):
    store, res = imported(tmp_path, TEE)
    assert res.errors == []
    assert (res.created, res.updated, res.dialect) == (["tee", "mug"], [], "current")
    p = store.product("tee")
    assert (p.title, p.body_html, p.vendor, p.product_type, p.status, p.published) == \
        ("Tee", "<p>Cotton</p>", "Acme", "Shirts", "active", True)
    assert p.tags == ["summer", "cotton"]
    assert p.options == [("Size", ["S", "M"]), ("Colour", ["Red", "Blue"])]
    assert [(v.sku, v.options, v.price, v.compare_at_price, v.grams, v.inventory_qty, v.image)
            for v in p.variants] == [
        ("T-S-R", ("S", "Red"), Decimal("19.90"), Decimal("25.00"), 200, 5, IMG.format("red")),
        ("T-M-R", ("M", "Red"), Decimal("19.90"), None, 210, 3, IMG.format("red")),
        ("T-S-B", ("S", "Blue"), Decimal("21.00"), None, 200, 0, IMG.format("blue"))]
    assert p.images == [(IMG.format("red"), 1, "Red"), (IMG.format("blue"), 2, "Blue")]
    mug = store.product("mug")
    assert (mug.published, mug.status, mug.options) == \
        (False, "draft", [("Title", ["Default Title"])])
    assert [(v.sku, v.options, v.inventory_qty) for v in mug.variants] == \
        [("MUG", ("Default Title",), None)]  # no tracker: no quantity
    assert store.available("T-M-R", "Web") == 3


def test_the_legacy_dialect_gives_the_same_store(tmp_path):
    current, _ = imported(tmp_path, TEE)
    header, rows = legacy(TEE)
    old, res = imported(tmp_path, rows, header, name="legacy.csv")
    assert res.errors == [] and res.dialect == "legacy"
    for handle in ("tee", "mug"):
        assert old.product(handle) == current.product(handle)


def test_headers_of_the_other_dialect_or_unknown_are_ignored_and_reported(tmp_path):
    header = CURRENT + ["Variant Price", "Option1 Value", "Colour", "Seo Title"]
    store, res = imported(tmp_path, TEE, header)
    assert [(e.row, e.column) for e in res.errors] == [
        (1, "Variant Price"), (1, "Option1 Value"), (1, "Colour"), (1, "Seo Title")]
    assert "legacy header" in res.errors[0].message
    assert "'SEO title'" in res.errors[3].message
    assert store.product("tee").variants[0].price == Decimal("19.90")


def test_file_level_refusals(tmp_path):
    store = ShopifyStore(["Web"])
    no_title = write(tmp_path, ["URL handle", "Vendor"], [{"URL handle": "a", "Vendor": "Ab"}])
    assert "no Title column" in messages(import_products(store, no_title))[0]
    # Variant columns without Option1 name/value: "Data dependencies" in the help page.
    no_options = write(tmp_path, ["Title", "URL handle", "SKU", "Price"],
                       [{"Title": "A", "URL handle": "a", "SKU": "A", "Price": "1.00"}])
    msg = messages(import_products(store, no_options))
    assert len(msg) == 1 and "need the Option1 name and Option1 value" in msg[0]
    twice = write(tmp_path, ["Title", "Title"], [{"Title": "A"}])
    assert "appears twice" in messages(import_products(store, twice))[0]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert messages(import_products(store, empty)) == ["refused: the file is empty (no header "
                                                       "line)"]
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("Title\nCaffè\n".encode("cp1252"))
    assert "not UTF-8" in messages(import_products(store, latin1))[0]
    bad_quote = tmp_path / "quote.csv"
    bad_quote.write_bytes(b'Title,Vendor\nA,"Ac"me\n')
    assert import_products(store, bad_quote).errors[0].row == 2
    assert store.handles() == []


def test_a_header_only_file_imports_nothing_and_says_so(tmp_path):
    store, res = imported(tmp_path, [])
    assert messages(res) == ["ignored: the file has a header and no rows, so there is "
                             "nothing to import"]
    assert store.handles() == []


def test_a_byte_order_mark_is_reported(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfTitle\nAa\n")
    store = ShopifyStore(["Web"])
    res = import_products(store, path)
    assert "byte order mark" in messages(res)[0]
    assert store.product("aa").title == "Aa"  # no handle column: made from the title


def test_a_file_over_15_mb_is_refused(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("Title,Description\n")
        line = "T," + "x" * 998 + "\n"
        for _ in range(15_000):
            f.write(line)
        f.write(line)
    store = ShopifyStore(["Web"])
    res = import_products(store, path)
    assert [(e.row, e.message[:40]) for e in res.errors] == [
        (0, "refused: the file has 15,016,019 bytes; ")]
    assert store.handles() == []


def test_product_fields_on_later_rows_are_ignored_and_reported(tmp_path):
    rows = [dict(r) for r in TEE]
    rows[1].update({"Title": "Tee (other)", "Vendor": "Acme", "Option1 name": "Taglia"})
    store, res = imported(tmp_path, rows)
    assert [(e.row, e.column) for e in res.errors] == [(3, "Title"), (3, "Option1 name")]
    assert all(m.startswith("ignored: product tee:") for m in messages(res))
    p = store.product("tee")
    assert (p.title, p.options[0][0]) == ("Tee", "Size")


def test_rows_of_a_handle_must_be_consecutive(tmp_path):
    rows = [TEE[0], TEE[4], TEE[1]]
    store, res = imported(tmp_path, rows)
    assert [(e.row, e.column) for e in res.errors] == [(4, "URL handle")]
    assert "comes back after other products" in res.errors[0].message
    assert [v.sku for v in store.product("tee").variants] == ["T-S-R"]


@pytest.mark.parametrize("handle", ["Tee", "tee shirt", "tè", "tee.2"])
def test_handles_are_lower_case_letters_digits_and_dashes(tmp_path, handle):
    rows = [{**TEE[4], "URL handle": handle}]
    store, res = imported(tmp_path, rows)
    assert res.refused == [handle] and "only lower-case letters" in messages(res)[0]
    assert store.handles() == []


def test_overwrite_blank_cells_clear_and_omitted_columns_keep(tmp_path):
    store, _ = imported(tmp_path, TEE)
    header = ["Title", "URL handle", "Type", "Tags", "Option1 name", "Option1 value",
              "Option2 name", "Option2 value", "Price", "Compare-at price", "SKU",
              "Product image URL", "Image position", "Image alt text"]
    rows = [{"Title": "Tee 2", "URL handle": "tee", "Option1 name": "Size",
             "Option1 value": "S", "Option2 name": "Colour", "Option2 value": "Red",
             "Price": "18.00", "SKU": "T-S-R", "Product image URL": IMG.format("red"),
             "Image position": "1", "Image alt text": "Red"},
            {"URL handle": "tee", "Option1 value": "M", "Option2 value": "Red",
             "Price": "18.00", "SKU": "T-M-R"},
            {"URL handle": "tee", "Option1 value": "S", "Option2 value": "Blue",
             "Price": "21.00", "Compare-at price": "30.00", "SKU": "T-S-B"},
            {"URL handle": "tee", "Product image URL": IMG.format("blue"),
             "Image position": "2", "Image alt text": "Blue"}]
    res = import_products(store, write(tmp_path, header, rows, "again.csv"), overwrite=True)
    assert res.errors == [] and res.updated == ["tee"]
    p = store.product("tee")
    # Included and blank: cleared. Left out: kept.
    assert (p.title, p.product_type, p.tags, p.vendor, p.body_html) == \
        ("Tee 2", "", [], "Acme", "<p>Cotton</p>")
    assert [(v.price, v.compare_at_price, v.barcode, v.grams, v.image, v.inventory_qty)
            for v in p.variants] == [
        (Decimal("18.00"), None, "8012345000012", 200, IMG.format("red"), 5),
        (Decimal("18.00"), None, "", 210, IMG.format("red"), 3),
        (Decimal("21.00"), Decimal("30.00"), "", 200, IMG.format("blue"), 0)]


def test_without_overwrite_an_existing_handle_is_skipped(tmp_path):
    store, _ = imported(tmp_path, TEE)
    rows = [{**TEE[4], "Title": "Big mug", "Price": "9.00"}]
    res = import_products(store, write(tmp_path, CURRENT, rows, "b.csv"), overwrite=False)
    assert res.skipped == ["mug"] and res.updated == []
    assert "overwrite is off" in messages(res)[0]
    assert store.product("mug").title == "Mug"


def test_option_rules(tmp_path):
    # Option1 name blank on the first row of a product with variants.
    _, res = imported(tmp_path, [{**TEE[0], "Option1 name": ""}, TEE[1]])
    assert res.refused == ["tee"] and "Option1 name is required" in messages(res)[0]
    # A variant row without a value for a named option.
    _, res = imported(tmp_path, [TEE[0], {**TEE[1], "Option2 value": ""}])
    assert res.refused == ["tee"] and "Option2 value is required" in messages(res)[0]
    # A value without its option name.
    _, res = imported(tmp_path, [{**TEE[4], "Option2 value": "Big"}])
    assert res.refused == ["mug"] and "Option2 value 'Big' without" in messages(res)[0]
    # The same option values twice.
    _, res = imported(tmp_path, [TEE[0], {**TEE[1], "Option1 value": "S", "SKU": "X"}])
    assert res.refused == ["tee"]
    assert "the variant S / Red is already on line 2" in messages(res)[0]
    # Default Title twice: Shopify's "The variant Default Title already exists".
    _, res = imported(tmp_path, [TEE[4], {"URL handle": "mug", "Option1 value": "Default Title",
                                          "Price": "1.00"}])
    assert "Default Title is already on line 2" in messages(res)[0]
    # Option2 without Option1.
    _, res = imported(tmp_path, [{**TEE[0], "Option1 name": "", "Option1 value": ""}])
    assert "Option2 name without Option1 name" in " ".join(messages(res))


def test_a_fourth_option_does_not_exist(tmp_path):
    header = CURRENT + ["Option4 name", "Option4 value"]
    store, res = imported(tmp_path, [{**TEE[4], "Option4 name": "Lid"}], header)
    assert [(e.column, e.message) for e in res.errors] == [
        ("Option4 name", "ignored: 'Option4 name' is not a Shopify product CSV header"),
        ("Option4 value", "ignored: 'Option4 value' is not a Shopify product CSV header")]
    assert store.product("mug").options == [("Title", ["Default Title"])]


def test_option_values_keep_the_order_of_the_rows(tmp_path):
    rows = [{**TEE[0], "Option1 value": "XL"}, {**TEE[1], "Option1 value": "S"},
            {**TEE[2], "Option1 value": "M"}, TEE[3]]
    store, res = imported(tmp_path, rows)
    assert res.errors == []
    assert store.product("tee").options == [("Size", ["XL", "S", "M"]),
                                            ("Colour", ["Red", "Blue"])]


def test_images_follow_their_positions(tmp_path):
    rows = [{**TEE[0], "Image position": "3"}, TEE[1], TEE[2],
            {"URL handle": "tee", "Product image URL": IMG.format("back"),
             "Image position": "1"},
            {"URL handle": "tee", "Product image URL": IMG.format("blue"), "Image position": ""}]
    store, res = imported(tmp_path, rows)
    assert [(e.row, e.column) for e in res.errors] == [(6, "Image position")]
    assert "without a position" in res.errors[0].message
    assert [(u, n) for u, n, _ in store.product("tee").images] == [
        (IMG.format("back"), 1), (IMG.format("red"), 2), (IMG.format("blue"), 3)]


def test_a_variant_image_missing_from_the_product_images_is_added_after_them(tmp_path):
    rows = [TEE[0], TEE[1], TEE[2]]  # no image row for blue
    store, res = imported(tmp_path, rows)
    assert [(e.row, e.column) for e in res.errors] == [(4, "Variant image URL")]
    assert "is not among the product's images" in res.errors[0].message
    assert [(u, n) for u, n, _ in store.product("tee").images] == [
        (IMG.format("red"), 1), (IMG.format("blue"), 2)]


def test_image_cells_that_cannot_be_used(tmp_path):
    rows = [TEE[4], {"URL handle": "mug", "Product image URL": "mug.jpg", "Image position": "2"},
            {"URL handle": "mug", "Image position": "3"},
            {"URL handle": "mug", "Product image URL": IMG.format("mug"),
             "Image position": "x", "Image alt text": "a" * 513}]
    store, res = imported(tmp_path, rows)
    assert [(e.row, e.column, e.message.split(":")[0]) for e in res.errors] == [
        (3, "Product image URL", "ignored"), (4, "Image position", "ignored"),
        (5, "Image alt text", "warning"), (5, "Image position", "warning")]
    assert store.product("mug").images == [(IMG.format("mug"), 1, "a" * 513)]


@pytest.mark.parametrize(("column", "value", "expect"), [
    ("Published on online store", "yes", "refused"),
    ("Published on online store", "true", "warning"),
    ("Status", "live", "refused"),
    ("Status", "", "refused"),
    ("Status", "Active", "warning"),
    ("Vendor", "A", "refused"),
    ("Price", "19,90", "refused"),
    ("Price", "€7.50", "refused"),
    ("Price", "1,234.00", "refused"),
    ("Price", "7.505", "refused"),
    ("Price", "-1.00", "refused"),
    ("Price", "", "refused"),
    ("Weight value (grams)", "1.5", "refused"),
    ("Weight value (grams)", "", "warning"),
    ("Inventory tracker", "amazon", "refused"),
    ("Continue selling when out of stock", "maybe", "refused"),
    ("Continue selling when out of stock", "", "warning"),
    ("Charge tax", "", "warning"),
    ("Charge tax", "yes", "refused"),
])
def test_values_shopify_refuses_or_warns_about(tmp_path, column, value, expect):
    header = CURRENT + ["Continue selling when out of stock", "Charge tax"]
    row = {**TEE[4], "Continue selling when out of stock": "deny", "Charge tax": "TRUE"}
    store, res = imported(tmp_path, [{**row, column: value}], header)
    assert len(res.errors) == 1, res.errors
    e = res.errors[0]
    assert (e.row, e.column) == (2, column)
    assert e.message.startswith(f"{expect}: product mug: ")
    assert (store.handles() == []) == (expect == "refused")


def test_a_comma_in_a_price_says_why(tmp_path):
    _, res = imported(tmp_path, [{**TEE[4], "Price": "19,90"}])
    assert "has a comma" in res.errors[0].message
    assert "thousands separator" in res.errors[0].message


def test_published_blank_publishes_and_values_apply(tmp_path):
    store, res = imported(tmp_path, [{**TEE[4], "Published on online store": ""},
                                     {**TEE[4], "URL handle": "cup", "Title": "Cup", "SKU": "CUP",
                                      "Published on online store": "true", "Status": "Archived"}])
    assert store.product("mug").published is True
    cup = store.product("cup")
    assert (cup.published, cup.status) == (True, "archived")
    assert len(res.errors) == 2  # the two spellings are reported


def test_tags(tmp_path):
    store, res = imported(tmp_path, [{**TEE[4], "Tags": " a, b ,,a , c"}])
    assert res.errors == [] and store.product("mug").tags == ["a", "b", "c"]
    _, res = imported(tmp_path, [{**TEE[4], "Tags": ",".join(f"t{i}" for i in range(251))}])
    assert res.refused == ["mug"] and "251 tags, at most 250" in res.errors[0].message


def test_inventory_quantity_is_for_single_location_stores(tmp_path):
    store = ShopifyStore(["Milano", "Web"])
    _, res = imported(tmp_path, TEE, store=store)
    assert [(e.row, e.column) for e in res.errors] == [(2, "Inventory quantity"),
                                                       (3, "Inventory quantity"),
                                                       (4, "Inventory quantity")]
    assert all("single-location stores" in m and "inventory CSV" in m for m in messages(res))
    assert [v.inventory_qty for v in store.product("tee").variants] == [None] * 3
    assert store.available("T-S-R", "Milano") is None


def test_a_quantity_on_an_untracked_variant_is_ignored(tmp_path):
    store, res = imported(tmp_path, [{**TEE[4], "Inventory quantity": "4"}])
    assert [(e.row, e.column) for e in res.errors] == [(2, "Inventory quantity")]
    assert "not tracked" in res.errors[0].message
    assert store.available("MUG", "Web") is None
    _, res = imported(tmp_path, [{**TEE[4], "Inventory tracker": "shopify",
                                  "Inventory quantity": "4.0"}])
    assert res.refused == ["mug"] and "not a whole number" in res.errors[0].message


def test_overwriting_with_fewer_variants_and_images_is_reported(tmp_path):
    """What a file of changed SKUs only does to a product loaded in full (issue 10, defect 5):
    its one variant's image becomes image 1 and the rest of the product is not in the file."""
    full, _ = imported(tmp_path, TEE)
    changed = [{**TEE[0], **TEE[2], "Price": "22.00", "Product image URL": IMG.format("blue"),
                "Image position": "1", "Image alt text": ""}]
    res = import_products(full, write(tmp_path, CURRENT, changed, "changes.csv"),
                          overwrite=True)
    assert res.updated == ["tee"]
    msg = messages(res)
    assert any("variants S / Red, M / Red are not in the file" in m for m in msg)
    assert any(f"images {IMG.format('red')} are not in the file" in m for m in msg)
    # The same product loaded in full, with the new price, is a different product.
    reference, _ = imported(tmp_path, [TEE[0], TEE[1], {**TEE[2], "Price": "22.00"}, TEE[3],
                                       TEE[4]], name="reference.csv")
    assert full.product("tee").images == [(IMG.format("blue"), 1, "")]
    assert reference.product("tee").images[0] == (IMG.format("red"), 1, "Red")
    assert full.product("tee") != reference.product("tee")
    assert full.differences(reference)[:3] == [
        "tee.options: [('Size', ['S']), ('Colour', ['Blue'])] != "
        "[('Size', ['S', 'M']), ('Colour', ['Red', 'Blue'])]",
        f"tee.images: [('{IMG.format('blue')}', 1, '')] != [('{IMG.format('red')}', 1, 'Red'), "
        f"('{IMG.format('blue')}', 2, 'Blue')]",
        "tee.variants: [('S', 'Blue')] != [('S', 'Red'), ('M', 'Red'), ('S', 'Blue')]"]
    # Writing the whole product instead leaves the shop as a full load would.
    whole = [TEE[0], TEE[1], {**TEE[2], "Price": "22.00"}, TEE[3]]
    again, _ = imported(tmp_path, TEE)
    res = import_products(again, write(tmp_path, CURRENT, whole, "whole.csv"), overwrite=True)
    assert res.errors == []
    assert again.differences(reference) == []


def test_renaming_an_option_recreates_the_variants(tmp_path):
    store, _ = imported(tmp_path, TEE)
    rows = [{**TEE[0], "Option1 name": "Taglia", "Barcode": ""}, TEE[1], TEE[2], TEE[3]]
    header = [h for h in CURRENT if h not in ("Inventory quantity", "Barcode")]
    rows = [{k: v for k, v in r.items() if k in header} for r in rows]
    res = import_products(store, write(tmp_path, header, rows, "renamed.csv"), overwrite=True)
    assert [(e.column, e.message.split(":")[0]) for e in res.errors] == [
        ("Option1 name", "warning")]
    assert "Shopify recreates the variants" in res.errors[0].message
    p = store.product("tee")
    assert p.options[0] == ("Taglia", ["S", "M"])
    # Barcode and Inventory quantity are not in the file: recreated variants lost them.
    assert [(v.barcode, v.inventory_qty) for v in p.variants] == [("", None)] * 3


def test_leaving_out_the_option_columns_replaces_the_variants(tmp_path):
    store, _ = imported(tmp_path, TEE)
    res = import_products(store, write(tmp_path, ["Title", "URL handle"],
                                       [{"Title": "Tee", "URL handle": "tee"}], "t.csv"),
                          overwrite=True)
    assert "replaces the product's variants with one default variant" in messages(res)[0]
    assert [v.options for v in store.product("tee").variants] == [("Default Title",)]


def test_metafield_columns_need_a_definition(tmp_path):
    header = CURRENT + ["Material (product.metafields.custom.material)",
                        "Layers (product.metafields.custom.layers)",
                        "Fit (product.metafields.custom.fit)",
                        "Care (variant.metafields.custom.care)"]
    store = ShopifyStore(["Web"], metafields={"custom.material": "single_line_text_field",
                                              "custom.layers": "number_integer"})
    rows = [{**TEE[4], "Material (product.metafields.custom.material)": "Ceramic",
             "Layers (product.metafields.custom.layers)": "2",
             "Fit (product.metafields.custom.fit)": "Slim"}]
    _, res = imported(tmp_path, rows, header, store=store)
    assert [e.column for e in res.errors] == ["Fit (product.metafields.custom.fit)",
                                              "Care (variant.metafields.custom.care)"]
    assert "no metafield definition for custom.fit" in res.errors[0].message
    assert store.product("mug").metafields == {"custom.material": "Ceramic",
                                               "custom.layers": "2"}
    rows = [{**rows[0], "Layers (product.metafields.custom.layers)": "two"}]
    _, res = imported(tmp_path, rows, header, store=ShopifyStore(
        ["Web"], metafields={"custom.layers": "number_integer"}))
    assert res.refused == ["mug"]


def test_market_price_columns(tmp_path):
    header = CURRENT + ["Price / Europe", "Compare-at price / Europe", "Price / Mars",
                        "Included / Europe"]
    store = ShopifyStore(["Web"], markets=["Europe"])
    rows = [{**TEE[0], "Price / Europe": "24.00", "Compare-at price / Europe": "30.00",
             "Included / Europe": "TRUE"},
            {**TEE[1], "Price / Europe": "24.00"}, TEE[2], TEE[3]]
    _, res = imported(tmp_path, rows, header, store=store)
    assert [e.column for e in res.errors] == ["Price / Mars"]
    p = store.product("tee")
    assert p.market_prices == {"Europe": {"T-S-R": (Decimal("24.00"), Decimal("30.00")),
                                          "T-M-R": (Decimal("24.00"), None)}}
    assert p.markets_included == {"Europe": True}
    _, res = imported(tmp_path, [{**TEE[4], "Price / Europe": "24,00"}], header,
                      store=ShopifyStore(["Web"], markets=["Europe"]))
    assert "refused" in res.errors[-1].message and "has a comma" in res.errors[-1].message


def test_duplicate_skus_are_reported(tmp_path):
    _, res = imported(tmp_path, [TEE[0], {**TEE[1], "SKU": "T-S-R"}])
    assert [(e.row, e.column) for e in res.errors] == [(3, "SKU")]
    assert "also on line 2" in res.errors[0].message


# -- the inventory CSV ------------------------------------------------------------------

NEWEST = ["Handle", "Title", "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value",
          "Option3 Name", "Option3 Value", "SKU", "HS Code", "COO", "Location", "Bin name",
          "Incoming (not editable)", "Unavailable (not editable)", "Committed (not editable)",
          "Available (not editable)", "On hand (current)", "On hand (new)"]


def two_locations(tmp_path) -> ShopifyStore:
    store = ShopifyStore(["Milano", "Web"])
    rows = [{k: v for k, v in r.items() if k != "Inventory quantity"} for r in TEE]
    res = import_products(store, write(tmp_path, CURRENT, rows, "tee.csv"), overwrite=True)
    assert res.errors == []
    return store


def level(handle, size, colour, location, current, new, sku="") -> dict[str, str]:
    return {"Handle": handle, "Option1 Name": "Size", "Option1 Value": size,
            "Option2 Name": "Colour", "Option2 Value": colour, "SKU": sku,
            "Location": location, "On hand (current)": current, "On hand (new)": new}


def test_inventory_rows_set_each_location(tmp_path):
    store = two_locations(tmp_path)
    rows = [level("tee", "S", "Red", "Milano", "0", "4", "T-S-R"),
            level("tee", "S", "Red", "Web", "0", "6"),
            level("tee", "M", "Red", "Web", "0", "Not stocked"),
            level("tee", "S", "Blue", "Web", "0", "-2"),
            level("tee", "S", "Blue", "Milano", "0", "")]
    res = import_inventory(store, write(tmp_path, NEWEST, rows, "inv.csv"))
    assert res.errors == [] and res.header == "newest"
    assert [(sku, loc, new) for sku, loc, _, new in res.changed] == [
        ("T-S-R", "Milano", 4), ("T-S-R", "Web", 6), ("T-M-R", "Web", NOT_STOCKED),
        ("T-S-B", "Web", -2)]
    assert (store.available("T-S-R", "Milano"), store.available("T-S-R", "Web")) == (4, 6)
    assert store.level("T-M-R", "Web") == NOT_STOCKED
    assert store.available("T-M-R", "Web") is None
    assert store.available("T-S-B", "Milano") is None  # blank: unchanged


def test_inventory_rows_shopify_refuses(tmp_path):
    store = two_locations(tmp_path)
    rows = [level("tee", "S", "Red", "Roma", "0", "1"),
            level("tee", "S", "Green", "Web", "0", "1"),
            level("cup", "S", "Red", "Web", "0", "1"),
            level("tee", "S", "Red", "Web", "0", "1", sku="T-M-R"),
            level("tee", "S", "Red", "Web", "0", "1.5"),
            level("tee", "M", "Red", "Web", "3", "1"),
            level("tee", "M", "Red", "Milano", "", "1"),
            level("tee", "S", "Blue", "Web", "0", "2"),
            level("tee", "S", "Blue", "Web", "0", "3")]
    res = import_inventory(store, write(tmp_path, NEWEST, rows, "inv.csv"))
    assert [(e.row, e.column) for e in res.errors] == [
        (2, "Location"), (3, "Option1 Value"), (4, "Handle"), (5, "SKU"), (6, "On hand (new)"),
        (7, "On hand (current)"), (8, "On hand (current)"), (10, "Location")]
    assert all(m.startswith("refused: ") for m in messages(res))
    assert "already on line 9" in res.errors[-1].message
    assert [(sku, loc, new) for sku, loc, _, new in res.changed] == [("T-S-B", "Web", 2)]


def test_the_older_inventory_header_and_untracked_variants(tmp_path):
    store = two_locations(tmp_path)
    older = ["Handle", "Title", "Option1 Name", "Option1 Value", "Option2 Name",
             "Option2 Value", "SKU", "Location", "Available", "On hand"]
    rows = [{"Handle": "tee", "Option1 Value": "S", "Option2 Value": "Red",
             "Location": "Web", "Available": "2", "On hand": "9"},
            {"Handle": "mug", "Option1 Value": "Default Title", "Location": "Web",
             "On hand": "1"}]
    res = import_inventory(store, write(tmp_path, older, rows, "old.csv"))
    assert res.header == "older"
    assert [(e.row, e.column) for e in res.errors] == [(1, ""), (3, "On hand")]
    assert "lacks Option3 Name, Option3 Value, HS Code, COO, Incoming, Unavailable, " \
        "Committed" in res.errors[0].message
    assert "is not tracked" in res.errors[1].message
    assert store.available("T-S-R", "Web") == 9  # On hand is applied, Available is not
    available_only = ["Handle", "Title", "Option1 Name", "Option1 Value", "Option2 Name",
                      "Option2 Value", "Option3 Name", "Option3 Value", "SKU", "HS Code", "COO",
                      "Location", "Available"]
    res = import_inventory(store, write(tmp_path, available_only, [
        {"Handle": "tee", "Option1 Value": "S", "Option2 Value": "Red", "Location": "Web",
         "Available": "7"}], "avail.csv"))
    assert res.errors == [] and store.available("T-S-R", "Web") == 7


def test_inventory_file_refusals(tmp_path):
    store = two_locations(tmp_path)
    res = import_inventory(store, write(tmp_path, ["Handle", "SKU", "Quantity"], [
        {"Handle": "tee", "SKU": "T-S-R", "Quantity": "1"}], "x.csv"))
    assert [e.column for e in res.errors] == ["Quantity", ""]
    assert "needs Location, On hand (new)" in res.errors[1].message
    res = import_inventory(store, write(tmp_path, NEWEST, [], "header.csv"))
    assert "header and no rows" in messages(res)[0]
