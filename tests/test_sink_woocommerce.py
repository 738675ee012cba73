"""The WooCommerce product CSV sink, its files imported by a re-implementation of
WooCommerce's own importer (tests/checkers/woocommerce_importer.py) into a
simulated shop: what the shop ends up with is what is asserted, day after day."""

import csv
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from checkers.woocommerce_importer import WooShop, import_csv
from helpers import run_sink

from filebridge.errors import OutputError
from filebridge.ledger.sqlite import SqliteLedger
from filebridge.records import Batch
from filebridge.sinks.woocommerce_csv import WooCsvOptions, WooCsvSink

SPEC = {"key": "article", "parent": {"fields": {"title": "prefix"}},
        "options": [{"field": "size", "name": "Taglia", "order": "sizes"},
                    {"field": "colour", "name": "Colore"}]}
ATTRS = {"material": {"name": "Materiale"}, "composition": {"name": "Composizione",
                                                          "filter": False}}


def money(*values):
    return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 2))


def rows(items, first_line=2):
    """A batch from row dicts (missing keys are null)."""
    keys = list(dict.fromkeys(k for r in items for k in r))
    data = {k: [r.get(k) for r in items] for k in keys}
    for k in ("price", "sale_price", "compare_at_price"):
        if k in data and all(v is None or "," not in v for v in data[k]):
            data[k] = money(*data[k])  # typed, as a mapping gives them (else text)
    if "stock" in data:
        data["stock"] = pa.array(data["stock"], pa.int64())
    return Batch.from_pydict(data, list(range(first_line, first_line + len(items))))


def jacket(size, colour, **over):
    sku = f"GIA-{size}-{colour[:3].upper()}"
    base = {"article": "GIA", "sku": sku, "title": f"Giacca trapuntata - {size}",
            "size": size, "colour": colour, "price": "189.00", "stock": 3,
            "barcode": {"S": "8012345000005", "M": "8012345000012", "L": "8012345000029",
                        "XL": "8012345000036"}[size] if colour == "Nero" else None,
            "categories": ["Donna > Capispalla > Giacche"], "material": "Nylon",
            "composition": "100% nylon", "status": "active",
            "images": [f"https://cdn.example.com/GIA_{colour}.jpg"]}
    return base | over


def sink(tmp_path, **options):
    o = WooCsvOptions.model_validate({"format": "woocommerce_csv", "path": "out/{stem}.csv",
                                      "parent_sku": "P-{key}", **options})
    return WooCsvSink(o)


def day(tmp_path, ledger, file_id, items, **options):
    out = tmp_path / "out"
    for f in out.glob("*.csv"):
        f.unlink()
    report = run_sink(sink(tmp_path, **options), tmp_path, [rows(items)], SPEC,
                      attributes=ATTRS, ledger=ledger, file_id=file_id)
    return report, {f.name: f for f in out.glob("*.csv")}


def imported(shop, files, stem="x"):
    """As an operator would: the update file with 'Update existing products', then the
    new one without."""
    results = {}
    if f"{stem}.update.csv" in files:
        results["update"] = import_csv(shop, files[f"{stem}.update.csv"], update_existing=True)
    if f"{stem}.new.csv" in files:
        results["new"] = import_csv(shop, files[f"{stem}.new.csv"], update_existing=False)
    for r in results.values():
        assert not r.failed and not r.skipped and not r.not_imported, (r.failed, r.skipped,
                                                                       r.not_imported)
    return results


def test_a_collection_lands_whole_and_every_variation_is_listed(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket(s, c) for c in ("Nero", "Blu") for s in ("XL", "S", "M", "L")]
    sale = next(j for j in items if j["sku"] == "GIA-M-BLU")  # on sale for December
    sale.update(sale_price="149.00", sale_from="2026-12-01", sale_to="2026-12-31")
    report, files = day(tmp_path, ledger, 1, items)
    assert report.tally.sent == 8 and report.tally.rejected == 0
    assert set(files) == {"x.new.csv"}  # nothing existed: one create file
    shop = WooShop()
    res = imported(shop, files)
    assert res["new"].mapping["Meta: _global_unique_id"]  # the barcode column is imported
    parent = shop.product("P-GIA")
    assert (parent.type, parent.status, parent.name) == ("variable", "publish",
                                                          "Giacca trapuntata")
    assert parent.categories == ["Donna > Capispalla > Giacche"]
    attrs = {a[0]: a for a in parent.attributes}
    # Sizes in the shop's order whatever the rows' order; filter and spec not variations.
    assert attrs["Taglia"][1] == ["S", "M", "L", "XL"] and attrs["Taglia"][3]
    assert attrs["Materiale"][1] == ["Nylon"] and not attrs["Materiale"][3] and attrs[
        "Materiale"][4]
    assert attrs["Composizione"][1] == ["100% nylon"] and not attrs["Composizione"][4]
    assert len(shop.visible_variations("P-GIA")) == 8  # defect 1: none left as a draft
    m_blu = shop.product("GIA-M-BLU")
    assert (m_blu.regular_price, m_blu.sale_price) == ("189.00", "149.00")
    assert str(m_blu.date_on_sale_from).startswith("2026-12-01")
    assert str(m_blu.date_on_sale_to).startswith("2026-12-31 23:59")  # the whole last day
    assert shop.product("GIA-S-NER").global_unique_id == "8012345000005"  # defect 2
    assert shop.product("GIA-S-NER").stock_quantity == 3


def test_a_day_later_one_change_and_a_new_size_keep_every_variation(tmp_path):
    """Defects 3 and 4: a changes-only file lists one size and one colour; the parent
    must still carry every value, new SKUs go to the create file, known ones to the
    update file, and after importing both the shop lists every variation."""
    ledger = SqliteLedger(tmp_path / "l.db")
    first = [jacket(s, c) for c in ("Nero", "Blu") for s in ("S", "M", "L")]
    _, files = day(tmp_path, ledger, 1, first, mode="changes")
    shop = WooShop()
    imported(shop, files)
    assert len(shop.visible_variations("P-GIA")) == 6
    second = [j | ({"stock": 1} if j["sku"] == "GIA-M-BLU" else {}) for j in first] + [
        jacket("XL", "Blu")]
    report, files = day(tmp_path, ledger, 2, second, mode="changes")
    assert (report.tally.sent, report.tally.unchanged) == (7, 0)  # the product is rewritten
    with open(files["x.update.csv"], encoding="utf-8", newline="") as f:
        update = list(csv.DictReader(f))
    with open(files["x.new.csv"], encoding="utf-8", newline="") as f:
        new = list(csv.DictReader(f))
    assert [r["SKU"] for r in new] == ["GIA-XL-BLU"]
    assert update[0]["SKU"] == "P-GIA" and update[0]["Attribute 1 value(s)"] == "S, M, L, XL"
    imported(shop, files)
    assert len(shop.visible_variations("P-GIA")) == 7
    assert shop.product("GIA-M-BLU").stock_quantity == 1
    # A third day with only that variation in the file (a partial export): the parent
    # still lists every colour and size from the ledger's memory.
    report, files = day(tmp_path, ledger, 3, [jacket("M", "Blu", stock=0)], mode="changes")
    with open(files["x.update.csv"], encoding="utf-8", newline="") as f:
        parent = next(csv.DictReader(f))
    assert parent["Attribute 1 value(s)"] == "S, M, L, XL"
    assert parent["Attribute 2 value(s)"] == "Nero, Blu"
    imported(shop, files)
    assert len(shop.visible_variations("P-GIA")) == 7
    assert shop.product("GIA-M-BLU").stock_status == "outofstock"


def test_nothing_changed_writes_no_file(tmp_path):
    """Defect 6: a changes-only run with nothing new delivers no header-only file."""
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("S", "Nero"), jacket("M", "Nero")]
    day(tmp_path, ledger, 1, items, mode="changes")
    report, files = day(tmp_path, ledger, 2, items, mode="changes")
    assert files == {} and (report.tally.sent, report.tally.unchanged) == (0, 2)
    report, files = day(tmp_path, ledger, 3, items, mode="changes", empty=True)
    assert set(files) == {"x.new.csv", "x.update.csv"}
    assert files["x.update.csv"].read_text().count("\n") == 1  # asked for: header only


def test_rows_that_cannot_be_variations_are_refused_and_the_rest_go_on(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("S", "Nero"), jacket("M", "Nero", sku="GIA-M2"), jacket("M", "Nero"),
             jacket("L", "Nero") | {"colour": None},
             {"article": "CAP", "sku": "CAP-1", "title": "Cap", "price": "12,00"}]
    report, files = day(tmp_path, ledger, 1, items)
    reasons = {r.line: r.reason for r in report.rejects() if r.level == "reject"}
    assert report.tally.rejected == 3 and report.tally.sent == 2
    assert "SKUs GIA-M2 and GIA-M-NER have the same options" in reasons[4]
    assert "SKU GIA-L-NER has no Colore" in reasons[5]
    assert "price '12,00' is not a number" in reasons[6]
    shop = WooShop()
    imported(shop, files)
    assert {v.sku for v in shop.visible_variations("P-GIA")} == {"GIA-S-NER", "GIA-M2"}


def test_variants_that_disagree_on_the_title_give_a_warning_and_formulas_are_listed(tmp_path):
    """Defects 9 and 10: the parent's title is the variants' common beginning (the
    profile says prefix), a stray suffix is a warning; a cell a spreadsheet would run
    as a formula is listed, the product's text left as the ERP wrote it."""
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [jacket("S", "Nero"), jacket("M", "Nero"),
             {"article": "MUG", "sku": "MUG-1", "title": "=HYPERLINK(\"x\")", "price": "5.00"}]
    report, files = day(tmp_path, ledger, 1, items)
    warnings = [r for r in report.rejects() if r.level == "warning"]
    assert any("disagree on title" in w.reason and "Giacca trapuntata" in w.reason
               for w in warnings)
    assert any(w.field == "Name" and "formula" in w.reason for w in warnings)
    shop = WooShop()
    imported(shop, files)
    assert shop.product("P-GIA").name == "Giacca trapuntata"
    assert shop.product("MUG-1").name == "=HYPERLINK(\"x\")"


def test_split_false_writes_one_file(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    _, files = day(tmp_path, ledger, 1, [jacket("S", "Nero")], split=False)
    assert set(files) == {"x.csv"}
    shop = WooShop()
    res = import_csv(shop, files["x.csv"])
    assert not res.failed and shop.by_sku("GIA-S-NER") is not None


def test_simple_products_and_prices(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [{"sku": "S-1", "title": "One", "price": "5.00", "compare_at_price": "8.00",
              "published": "1", "images": ["https://cdn.example.com/a.jpg",
                                           "https://cdn.example.com/b.jpg"]},
             {"sku": "S-2", "title": "Two, too", "price": "6.00", "published": "0"}]
    report = run_sink(WooCsvSink(WooCsvOptions.model_validate(
        {"format": "woocommerce_csv", "path": "out/{stem}.csv"})), tmp_path, [rows(items)],
        None, ledger=ledger)
    assert report.tally.sent == 2
    shop = WooShop()
    import_csv(shop, tmp_path / "out" / "x.new.csv")
    one, two = shop.product("S-1"), shop.product("S-2")
    assert (one.type, one.status, one.regular_price, one.sale_price) == (
        "simple", "publish", "8.00", "5.00")
    assert one.images == ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"]
    assert (two.status, two.name) == ("draft", "Two, too")


def test_parent_sku_clash_is_a_clear_error(tmp_path):
    import pytest

    ledger = SqliteLedger(tmp_path / "l.db")
    with pytest.raises(OutputError, match="parent SKU P-GIA is also a variant's SKU"):
        day(tmp_path, ledger, 1, [jacket("S", "Nero", sku="P-GIA"), jacket("M", "Nero")])


def test_files_are_named_beside_the_path(tmp_path):
    o = WooCsvOptions.model_validate({"format": "woocommerce_csv",
                                      "path": "out/products-{date}.csv"})
    assert WooCsvSink(o).paths() == ["out/products-{date}.new.csv",
                                     "out/products-{date}.update.csv"]
    assert Path("x").name == "x"
