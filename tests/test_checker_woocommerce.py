"""The WooCommerce importer checker (tests/checkers), on small files written like WooCommerce's
own sample_products.csv: variable products with global attributes, variations that name their
parent by SKU, ``Clothing > Tshirts`` categories, image URL lists."""

import csv
from datetime import datetime
from pathlib import Path

import pytest
from checkers.woocommerce_importer import NotModelled, WooShop, import_csv, main
from checkers.woocommerce_mapping import preselected

ATTRS = ["Attribute 1 name", "Attribute 1 value(s)", "Attribute 1 visible",
         "Attribute 1 global", "Attribute 2 name", "Attribute 2 value(s)",
         "Attribute 2 visible", "Attribute 2 global"]
HEADER = ["Type", "SKU", "Name", "Published", "Description", "In stock?", "Stock",
          "Regular price", "Sale price", "Categories", "Tags", "Images", "Parent", *ATTRS]


def write(tmp_path: Path, rows: list[dict[str, str]], header: list[str] = HEADER,
          name: str = "in.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


def tee(published_variations: str = "1", sizes: str = "Large, Medium, Small") -> list[dict]:
    """The sample's V-neck tee: a variable parent and three colour variations, any size."""
    parent = {"Type": "variable", "SKU": "woo-vneck-tee", "Name": "V-Neck T-Shirt",
              "Published": "1", "Description": "A tee", "In stock?": "1",
              "Categories": "Clothing > Tshirts", "Tags": "cotton, summer",
              "Images": "https://img.example/vneck-tee-2.jpg, https://img.example/green.jpg",
              "Attribute 1 name": "Color", "Attribute 1 value(s)": "Blue, Green, Red",
              "Attribute 1 visible": "1", "Attribute 1 global": "1",
              "Attribute 2 name": "Size", "Attribute 2 value(s)": sizes,
              "Attribute 2 visible": "1", "Attribute 2 global": "1"}
    rows = [parent]
    for colour, price in (("Red", "20"), ("Green", "20"), ("Blue", "15")):
        rows.append({"Type": "variation", "SKU": f"woo-vneck-tee-{colour.lower()}",
                     "Name": f"V-Neck T-Shirt - {colour}", "Published": published_variations,
                     "In stock?": "1", "Regular price": price, "Parent": "woo-vneck-tee",
                     "Images": f"https://img.example/{colour}.jpg",
                     "Attribute 1 name": "Color", "Attribute 1 value(s)": colour,
                     "Attribute 1 global": "1", "Attribute 2 name": "Size",
                     "Attribute 2 value(s)": "", "Attribute 2 global": "1"})
    return rows


def test_header_mapping_as_the_mapping_screen_preselects_it():
    shop = WooShop()
    headers = ["ID", "type", "SKU", "NAME", "Published", "Regular price", "Sale price",
               "Date sale price starts", "Date sale price ends", "Categories", "Tags",
               "Images", "Parent", "Stock", "In stock?", "Weight (kg)", "Weight (lbs)",
               "Short description", "Description", "Attribute 1 name",
               "attribute 12 VALUE(S)", "Attribute 1 visible", "Attribute 1 global",
               "Meta: _name_en", "meta: Care", "Meta:NoSpace", "GTIN, UPC, EAN, or ISBN",
               "global_unique_id", "EAN", "Language", "Price", "Parent SKU", "Quantity",
               "Title", "post_content"]
    assert dict(zip(headers, preselected(headers, shop), strict=True)) == {
        "ID": "id", "type": "type", "SKU": "sku", "NAME": "name", "Published": "published",
        "Regular price": "regular_price", "Sale price": "sale_price",
        "Date sale price starts": "date_on_sale_from",
        "Date sale price ends": "date_on_sale_to", "Categories": "category_ids",
        "Tags": "tag_ids", "Images": "images", "Parent": "parent_id",
        "Stock": "stock_quantity", "In stock?": "stock_status", "Weight (kg)": "weight",
        "Weight (lbs)": "",                       # the unit must be the store's
        "Short description": "short_description", "Description": "description",
        "Attribute 1 name": "attributes:name1", "attribute 12 VALUE(S)": "attributes:value12",
        "Attribute 1 visible": "attributes:visible1",
        "Attribute 1 global": "attributes:taxonomy1",
        "Meta: _name_en": "meta:_name_en", "meta: Care": "meta:Care",   # key case kept
        "Meta:NoSpace": "meta:nospace",           # the lower-cased header is an option key
        "GTIN, UPC, EAN, or ISBN": "",            # issue #68736: no auto-mapping
        "global_unique_id": "global_unique_id",   # an option key is preselected
        "EAN": "", "Language": "",
        "Price": "regular_price", "Parent SKU": "parent_id", "Quantity": "stock_quantity",
        "Title": "name", "post_content": "description"}
    assert preselected(["Weight (lbs)"], WooShop(weight_unit="lbs")) == ["weight"]


def test_variable_product_like_the_sample(tmp_path):
    shop = WooShop()
    r = import_csv(shop, write(tmp_path, tee()))
    assert r.counts() == {"imported": 1, "imported_variations": 3, "updated": 0,
                          "skipped": 0, "failed": 0}
    assert r.not_imported == []
    tee_ = shop.product("WOO-VNECK-TEE")       # SKU lookups ignore case, like MySQL's
    assert tee_ is not None
    assert (tee_.type, tee_.status, tee_.name, tee_.description) == \
        ("variable", "publish", "V-Neck T-Shirt", "A tee")
    assert tee_.categories == ["Clothing > Tshirts"] and tee_.tags == ["cotton", "summer"]
    assert tee_.images == ["https://img.example/vneck-tee-2.jpg",
                           "https://img.example/green.jpg"]
    # Both attributes became "used for variations" when the variation rows named them.
    assert tee_.attributes == [("Color", ["Blue", "Green", "Red"], True, True, True),
                               ("Size", ["Large", "Medium", "Small"], True, True, True)]
    red = shop.product("woo-vneck-tee-red")
    assert red is not None
    assert (red.type, red.status, red.parent_sku, red.regular_price) == \
        ("variation", "publish", "woo-vneck-tee", "20")
    assert red.attributes == {"Color": "Red", "Size": ""}   # '' = any size
    assert red.name == "V-Neck T-Shirt - Red"              # generated, the CSV name ignored
    assert red.images == ["https://img.example/Red.jpg"] and red.categories == []
    assert [v.sku for v in shop.visible_variations("woo-vneck-tee")] == [
        "woo-vneck-tee-red", "woo-vneck-tee-green", "woo-vneck-tee-blue"]
    assert shop.category_paths() == ["Clothing", "Clothing > Tshirts", "Uncategorized"]


@pytest.mark.parametrize(("cell", "product", "variation"), [
    ("1", "publish", "publish"), ("0", "private", "private"), ("-1", "draft", "publish"),
    ("", "draft", "draft"), ("true", "publish", "publish"), ("false", "draft", "publish"),
    ("yes", "private", "private"), ("2", "draft", "draft")])
def test_published(tmp_path, cell, product, variation):
    rows = tee()
    rows[0]["Published"] = cell
    for v in rows[1:]:
        v["Published"] = cell
    shop = WooShop()
    import_csv(shop, write(tmp_path, rows))
    assert shop.product("woo-vneck-tee").status == product
    assert {v.status for v in shop.children("woo-vneck-tee")} == {variation}


def test_empty_published_variations_stay_hidden_after_the_parent_is_published(tmp_path):
    shop = WooShop()
    rows = tee(published_variations="")
    rows[0]["Published"] = "-1"               # imported as a draft, published by hand later
    import_csv(shop, write(tmp_path, rows))
    shop.set_status("woo-vneck-tee", "publish")
    assert shop.visible_variations("woo-vneck-tee") == []
    reasons = {why for _, why in shop.visibility("woo-vneck-tee")}
    assert reasons == {("status draft: read_children() loads only publish and private "
                       "variations, so it is not a child of the product at all")}


def test_prices_stock_and_weight(tmp_path):
    header = ["Type", "SKU", "Name", "Regular price", "Sale price", "Stock", "In stock?",
              "Weight (kg)"]
    rows = [{"SKU": "A", "Regular price": "12,50", "Stock": "12.7", "In stock?": "0",
             "Weight (kg)": "0,5"},
            {"SKU": "B", "Regular price": "1.234,50", "Sale price": "9.90", "Stock": "",
             "In stock?": "", "Weight (kg)": "0.250"},
            {"SKU": "C", "Regular price": "7", "Stock": "0", "In stock?": "1"},
            {"SKU": "D", "Stock": "", "In stock?": "backorder"}]
    for r in rows:
        r["Type"], r["Name"] = "simple", r["SKU"]
    shop = WooShop()
    import_csv(shop, write(tmp_path, rows, header))
    a, b, c, d = (shop.product(s) for s in "ABCD")
    assert (a.regular_price, a.weight) == ("1250", "0")        # a comma is not a decimal
    assert (a.manage_stock, a.stock_quantity, a.stock_status) == (True, 12, "instock")
    assert (b.regular_price, b.sale_price, b.weight) == ("1.23450", "9.90", "0.25")
    assert (b.manage_stock, b.stock_quantity, b.stock_status) == (False, None, "outofstock")
    assert (c.stock_quantity, c.stock_status) == (0, "outofstock")
    assert d.stock_status == "onbackorder"
    shop = WooShop(decimal_separator=",")                       # Settings -> General
    import_csv(shop, write(tmp_path, rows, header))
    assert [shop.product(s).regular_price for s in "AB"] == ["12.50", "1234.50"]
    assert shop.product("A").weight == "0"                      # floatval ignores the setting


def test_categories_are_paths_created_once(tmp_path):
    header = ["Type", "SKU", "Name", "Categories"]
    rows = [{"Type": "simple", "SKU": "J1", "Name": "J1",
             "Categories": "Donna > Capispalla > Giacche, Uomo > Giacche"},
            {"Type": "simple", "SKU": "J2", "Name": "J2",
             "Categories": "donna > capispalla > giacche"},
            {"Type": "simple", "SKU": "J3", "Name": "J3", "Categories": ""},
            {"Type": "simple", "SKU": "J4", "Name": "J4", "Categories": "Casa > "}]
    shop = WooShop()
    import_csv(shop, write(tmp_path, rows, header))
    j1, j2, j3, j4 = (shop.product(s) for s in ("J1", "J2", "J3", "J4"))
    assert j1.categories == ["Donna > Capispalla > Giacche", "Uomo > Giacche"]
    assert j1.category_ids[0] != j1.category_ids[1]             # two "Giacche" terms
    assert j2.category_ids == j1.category_ids[:1]               # same name, other case
    assert j3.categories == ["Uncategorized"] == j4.categories  # "Casa > " stops at ''


def test_a_parent_row_replaces_the_attribute_options(tmp_path):
    shop = WooShop()
    import_csv(shop, write(tmp_path, tee()))
    # An update that lists only this file's colour: Blue and Green variations are orphaned.
    rows = tee(sizes="Large, Medium, Small")
    rows[0]["Attribute 1 value(s)"] = "Red"
    r = import_csv(shop, write(tmp_path, rows[:2], name="upd.csv"), update_existing=True)
    assert [o.sku for o in r.updated] == ["woo-vneck-tee", "woo-vneck-tee-red"]
    assert shop.product("woo-vneck-tee").attributes[0] == ("Color", ["Red"], True, True, True)
    assert [v.sku for v in shop.visible_variations("woo-vneck-tee")] == ["woo-vneck-tee-red"]
    hidden = {v.sku: why for v, why in shop.visibility("woo-vneck-tee") if why}
    assert hidden == {
        "woo-vneck-tee-green": "Color 'Green' (stored as 'green') is not among the parent's "
                               "options ['Red']",
        "woo-vneck-tee-blue": "Color 'Blue' (stored as 'blue') is not among the parent's "
                              "options ['Red']"}


def test_update_existing_is_one_switch_per_file(tmp_path):
    shop = WooShop()
    import_csv(shop, write(tmp_path, tee()[:2]))
    path = write(tmp_path, tee(), name="again.csv")     # red exists, green and blue are new
    r = import_csv(shop, path, update_existing=False)
    assert [(o.sku, o.message) for o in r.skipped] == [
        ("woo-vneck-tee", "A product with this SKU already exists."),
        ("woo-vneck-tee-red", "A product with this SKU already exists.")]
    assert [o.sku for o in r.created] == ["woo-vneck-tee-green", "woo-vneck-tee-blue"]
    shop = WooShop()
    import_csv(shop, write(tmp_path, tee()[:2]))
    r = import_csv(shop, path, update_existing=True)
    assert [o.sku for o in r.updated] == ["woo-vneck-tee", "woo-vneck-tee-red"]
    assert [(o.sku, o.message) for o in r.skipped] == [
        ("woo-vneck-tee-green", "No matching product exists to update."),
        ("woo-vneck-tee-blue", "No matching product exists to update.")]
    assert [o.row for o in r.skipped] == [4, 5]


def test_parent_by_id_and_variations_before_their_parent(tmp_path):
    shop = WooShop()
    rows = tee()
    import_csv(shop, write(tmp_path, rows[:1]))
    parent_id = shop.product("woo-vneck-tee").id
    rows[1]["Parent"] = f"id:{parent_id}"
    r = import_csv(shop, write(tmp_path, rows[1:2], name="v.csv"))
    assert r.failed == [] and shop.product("woo-vneck-tee-red").parent_sku == "woo-vneck-tee"
    # A variation before its parent: the parent is still an empty placeholder.
    shop = WooShop()
    r = import_csv(shop, write(tmp_path, [rows[2], rows[0]], name="late.csv"))
    assert [(o.row, o.message) for o in r.failed] == [
        (2, 'Variation cannot be imported: The parent product has no "Color" attribute.')]
    assert shop.product("woo-vneck-tee").status == "publish"


def test_placeholders_and_orphans(tmp_path):
    header = ["Type", "SKU", "Name", "Published", "Regular price", "Parent"]
    rows = [{"Type": "variation", "SKU": "V1", "Published": "1", "Regular price": "5",
             "Parent": "NEVER"},
            {"Type": "variation", "SKU": "V2", "Published": "1", "Regular price": "5"}]
    shop = WooShop()
    r = import_csv(shop, write(tmp_path, rows, header))
    assert r.counts()["imported_variations"] == 2
    assert [(o.sku, o.message) for o in r.removed] == [
        ("NEVER", "deleted at cleanup: placeholder"),
        ("V1", "deleted at cleanup: variation of placeholder NEVER")]
    assert shop.by_sku("V1") is None and shop.by_sku("NEVER") is None
    v2 = shop.product("V2")
    assert v2.parent_sku is None and "saved without a parent" in r.created[1].message


def test_attribute_mismatches_and_global_attribute_names(tmp_path):
    rows = tee()
    rows[0]["Attribute 2 global"] = "0"                 # Size custom on the parent
    shop = WooShop()
    r = import_csv(shop, write(tmp_path, rows))
    assert {o.message for o in r.failed} == {
        ('Variation cannot be imported: The parent product has a custom "Size" attribute, '
        "but the row marks it as a global attribute.")}
    rows = tee()
    rows[0]["Attribute 2 name"] = "Type"
    r = import_csv(WooShop(), write(tmp_path, rows[:1], name="t.csv"))
    assert [o.message for o in r.failed] == [
        'Slug "type" is not allowed because it is a reserved term. Change it, please.']
    rows[0]["Attribute 2 name"] = "Composizione del tessuto esterno"
    r = import_csv(WooShop(), write(tmp_path, rows[:1], name="l.csv"))
    assert [o.message for o in r.failed] == [
        ('Slug "composizione-del-tessuto-esterno" is too long (28 characters max). '
        "Shorten it, please.")]


def test_a_value_outside_the_parent_options_hides_the_variation(tmp_path):
    rows = tee(sizes="Large")
    rows[1]["Attribute 2 value(s)"] = "Small"
    shop = WooShop()
    import_csv(shop, write(tmp_path, rows))
    assert shop.product("woo-vneck-tee-red").attributes == {"Color": "Red", "Size": "small"}
    assert "woo-vneck-tee-red" not in [v.sku for v in shop.visible_variations("woo-vneck-tee")]
    assert len(shop.visible_variations("woo-vneck-tee")) == 2


def test_sale_dates(tmp_path):
    header = ["Type", "SKU", "Name", "Regular price", "Sale price", "Date sale price starts",
              "Date sale price ends"]
    rows = [{"SKU": "S1", "Date sale price starts": "2026-05-01",
             "Date sale price ends": "2026-05-31"},
            {"SKU": "S2", "Date sale price starts": "31/05/2026",     # m/d/Y: month 31
             "Date sale price ends": "2026-05-31 23:59:59"},
            {"SKU": "S3", "Date sale price starts": "1780000000",
             "Date sale price ends": "2026-06-01T10:00:00+02:00"}]
    for r in rows:
        r.update({"Type": "simple", "Name": r["SKU"], "Regular price": "20",
                  "Sale price": "15"})
    shop = WooShop(now=datetime(2026, 5, 31, 12, 0))
    import_csv(shop, write(tmp_path, rows, header))
    s1, s2, s3 = (shop.product(s) for s in ("S1", "S2", "S3"))
    assert (s1.date_on_sale_from, s1.date_on_sale_to) == \
        (datetime(2026, 5, 1), datetime(2026, 5, 31))
    assert not s1.on_sale and s1.price == "20"     # the sale ended when 31 May began
    assert (s2.date_on_sale_from, s2.date_on_sale_to) == (None, datetime(2026, 5, 31, 23, 59, 59))
    assert s2.on_sale and s2.price == "15"
    assert (s3.date_on_sale_from, s3.date_on_sale_to) == \
        (datetime(2026, 5, 28, 20, 26, 40), datetime(2026, 6, 1, 8, 0))
    # An empty date cell never clears a date.
    rows = [{"Type": "simple", "SKU": "S1", "Name": "S1", "Date sale price ends": ""}]
    import_csv(shop, write(tmp_path, rows, header, "u.csv"), update_existing=True)
    assert shop.product("S1").date_on_sale_to == datetime(2026, 5, 31)
    rows = [{"Type": "simple", "SKU": "S4", "Name": "S4", "Date sale price ends": "31 May"}]
    with pytest.raises(NotModelled, match="line 2, column 'Date sale price ends'"):
        import_csv(shop, write(tmp_path, rows, header, "x.csv"))


def test_gtin_columns(tmp_path):
    header = ["Type", "SKU", "Name", "GTIN, UPC, EAN, or ISBN", "global_unique_id"]
    rows = [{"Type": "simple", "SKU": "G1", "Name": "G1", "GTIN, UPC, EAN, or ISBN": "1",
             "global_unique_id": "80-12345 000029"},
            {"Type": "simple", "SKU": "G3", "Name": "G3", "global_unique_id": "80-12345000029"},
            {"Type": "simple", "SKU": "G4", "Name": "G4", "global_unique_id": "12X4"}]
    shop = WooShop()
    r = import_csv(shop, write(tmp_path, rows, header))
    assert r.mapping["GTIN, UPC, EAN, or ISBN"] == ""
    assert shop.product("G1").global_unique_id == "80-12345000029"
    assert [(o.sku, o.message) for o in r.failed] == [
        ("G3", "Invalid or duplicated GTIN, UPC, EAN or ISBN."),
        ("G4", ("Invalid GTIN, UPC, EAN, or ISBN. The letter X is only valid as the final "
               "ISBN-10 check digit."))]
    header = ["Type", "SKU", "Name", "Meta: _global_unique_id"]
    rows = [{"Type": "simple", "SKU": "G2", "Name": "G2",
             "Meta: _global_unique_id": "8012345000036"},
            {"Type": "simple", "SKU": "G1", "Name": "G1", "Meta: _global_unique_id": ""}]
    import_csv(shop, write(tmp_path, rows, header, "meta.csv"), update_existing=True)
    import_csv(shop, write(tmp_path, rows, header, "meta.csv"))
    g2 = shop.product("G2")
    assert (g2.global_unique_id, g2.meta) == ("8012345000036", {})  # set_global_unique_id
    assert shop.product("G1").global_unique_id == ""     # an empty internal-meta cell clears


def test_meta_columns_and_the_kses_default(tmp_path):
    header = ["Type", "SKU", "Name", "Meta: _name_en", "Meta: Care", "Attribute 1 name",
              "Attribute 1 value(s)", "Attribute 1 global"]
    rows = [{"Type": "simple", "SKU": "Tom & Jerry", "Name": "Tom & Jerry <b>",
             "Meta: _name_en": "Wool <em>coat</em> & scarf<script>x</script>",
             "Meta: Care": "", "Attribute 1 name": "Material", "Attribute 1 value(s)":
             "Wool\\, merino, Silk", "Attribute 1 global": "0"}]
    shop = WooShop()
    import_csv(shop, write(tmp_path, rows, header))
    p = shop.product("Tom &amp; Jerry")
    assert p is not None and p.sku == "Tom &amp; Jerry"      # SKU goes through wp_kses_post
    assert p.name == "Tom & Jerry <b>"                        # names are not filtered
    assert p.meta == {"_name_en": "Wool <em>coat</em> &amp; scarf", "Care": ""}
    assert p.attributes == [("Material", ["Wool, merino", "Silk"], True, False, False)]


def test_file_details(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffSKU;Name;Type\r\nA1;Caff\xe8;simple\r\n;;\r\n0;0;0\r\n"
                     .encode("utf-8") + b"B2;Caf\xe8;simple\r\n")
    shop = WooShop()
    r = import_csv(shop, path, delimiter=";")
    assert r.mapping == {"SKU": "sku", "Name": "name", "Type": "type"}
    assert [o.row for o in r.created] == [2, 5]              # blank and all-'0' rows skipped
    assert shop.product("A1").name == "Caff\xe8" and shop.product("B2").name == "Caf?"
    header = ["Type", "SKU", "Name", "Images"]
    rows = [{"Type": "simple", "SKU": "I1", "Name": "I1", "Images": "photo.jpg"}]
    r = import_csv(WooShop(), write(tmp_path, rows, header))
    assert [o.message for o in r.failed] == ['Unable to use image "photo.jpg".']
    shop = WooShop(media={"2026/05/photo.jpg"})
    import_csv(shop, write(tmp_path, rows, header))
    assert shop.product("I1").images == ["photo.jpg"]
    rows[0]["Images"] = ""
    import_csv(shop, write(tmp_path, rows, header, "u.csv"), update_existing=True)
    assert shop.product("I1").images == ["photo.jpg"]         # an empty cell keeps them
    rows[0]["Images"] = "https://img.example/a.jpg, https://img.example/gone.jpg"
    shop.broken_urls.add("https://img.example/gone.jpg")
    r = import_csv(shop, write(tmp_path, rows, header, "b.csv"), update_existing=True)
    assert [o.message for o in r.failed] == [
        "Error getting remote image https://img.example/gone.jpg."]
    assert shop.product("I1").images == ["photo.jpg"]         # the row saved nothing


def test_report_and_command_line(tmp_path, capsys):
    rows = tee(published_variations="")
    path = write(tmp_path, rows)
    assert main([str(path), "--update", str(path)]) == 0
    out = capsys.readouterr().out
    assert "woo-vneck-tee (publish): storefront lists 0 of 3 variations" in out
    assert "hidden woo-vneck-tee-red: status draft" in out
    assert "(update_existing=True): {'imported': 0, 'imported_variations': 0, 'updated': 4" in out
