"""The Shopify product CSV sink, its files imported by a checker that applies
Shopify's documented import rules (tests/checkers/shopify_csv.py) into a simulated
store: what the store holds is what is asserted, day after day, and a nightly
changes-only file must leave the store exactly as a full load would."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

import pyarrow as pa
from checkers.shopify_csv import ShopifyStore, import_inventory, import_products
from helpers import run_sink

from filebridge.ledger.sqlite import SqliteLedger
from filebridge.records import Batch
from filebridge.sinks.shopify_csv import ShopifyCsvOptions, ShopifyCsvSink

SPEC = {"key": "article", "options": [{"field": "size", "name": "Size", "order": "sizes"},
                                      {"field": "colour", "name": "Colour"}]}
ATTRS = {"material": {"name": "Material"}, "care": {"name": "Care", "filter": False}}
IMG = "https://cdn.example.com/{}.jpg"


def money(*values):
    return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 2))


def batch(items, first_line=2):
    keys = list(dict.fromkeys(k for r in items for k in r))
    data = {k: [r.get(k) for r in items] for k in keys}
    for k in ("price", "sale_price", "compare_at_price", "price_ch"):
        if k in data:
            data[k] = money(*data[k])
    for k in ("stock", "stock_milano", "stock_web", "weight"):
        if k in data:
            data[k] = pa.array(data[k], pa.int64())
    return Batch.from_pydict(data, list(range(first_line, first_line + len(items))))


def tee(size, colour, **over):
    return {"article": "TEE", "sku": f"TEE-{size}-{colour[0]}", "title": "Tee",
            "description": "<p>Cotton</p>", "vendor": "Acme", "status": "active",
            "size": size, "colour": colour, "price": "19.90", "stock": 5, "weight": 200,
            "barcode": "8012345000012" if (size, colour) == ("S", "Red") else None,
            "images": [IMG.format(f"tee-{colour.lower()}-1"),
                       IMG.format(f"tee-{colour.lower()}-2")],
            "image_alt": f"Tee {colour}", "material": "Cotton", "care": "30°"} | over


def day(tmp_path, ledger, file_id, items, today=date(2026, 12, 6), **options):
    out = tmp_path / "out"
    for f in out.glob("*.csv"):
        f.unlink()
    o = ShopifyCsvOptions.model_validate({"format": "shopify_csv", "path": "out/{stem}.csv",
                                          **options})
    report = run_sink(ShopifyCsvSink(o), tmp_path, [batch(items)], SPEC, attributes=ATTRS,
                      ledger=ledger, file_id=file_id, today=today)
    return report, {f.name: f for f in out.glob("*.csv")}


def store(**kw):
    return ShopifyStore(metafields={"custom.material": "single_line_text_field",
                                    "custom.care": "single_line_text_field"}, **kw)


def load(s, files, name="x.csv"):
    res = import_products(s, files[name], overwrite=True)
    assert not res.errors and not res.refused, res.errors
    return res


def full_collection():
    return [tee(size, colour) for colour in ("Red", "Blue") for size in ("L", "S", "M")]


def test_a_collection_lands_as_shopify_would_import_it(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    report, files = day(tmp_path, ledger, 1, full_collection())
    assert report.tally.sent == 6 and not report.warnings
    s = store()
    load(s, files)
    p = s.product("tee")
    assert p.title == "Tee" and p.status == "active" and p.vendor == "Acme"
    assert p.options == [("Size", ["S", "M", "L"]), ("Colour", ["Red", "Blue"])]
    assert [v.sku for v in p.variants] == ["TEE-S-R", "TEE-S-B", "TEE-M-R", "TEE-M-B",
                                           "TEE-L-R", "TEE-L-B"]
    assert [(u.rsplit("/", 1)[1], pos, alt) for u, pos, alt in p.images] == [
        ("tee-red-1.jpg", 1, "Tee Red"), ("tee-red-2.jpg", 2, "Tee Red"),
        ("tee-blue-1.jpg", 3, "Tee Blue"), ("tee-blue-2.jpg", 4, "Tee Blue")]
    red = p.variant(("S", "Red"))
    assert (red.price, red.barcode, red.grams, red.inventory_qty) == (
        Decimal("19.90"), "8012345000012", 200, 5)
    assert red.image == IMG.format("tee-red-1")
    assert p.metafields == {"custom.material": "Cotton", "custom.care": "30°"}


def test_a_changes_only_file_leaves_the_store_as_a_full_load_would(tmp_path):
    """Defect 5: one variant changed; the product is written whole, in the same
    variant and image order, so the store equals one that loaded the full file."""
    ledger = SqliteLedger(tmp_path / "l.db")
    _, first = day(tmp_path, ledger, 1, full_collection(), mode="changes")
    nightly = store()
    load(nightly, first)
    second = [t | ({"price": "17.90"} if t["sku"] == "TEE-M-B" else {})
              for t in full_collection()]
    report, files = day(tmp_path, ledger, 2, second, mode="changes")
    assert (report.tally.sent, report.tally.unchanged) == (6, 0)
    load(nightly, files)
    reference = store()
    _, full = day(tmp_path, SqliteLedger(tmp_path / "other.db"), 1, second)
    load(reference, full)
    assert nightly.differences(reference) == []
    # A partial export with only that variant: the others come from the ledger.
    [m_blue] = [t for t in second if t["sku"] == "TEE-M-B"]
    report, files = day(tmp_path, ledger, 3, [m_blue | {"stock": 0}], mode="changes")
    load(nightly, files)
    assert nightly.product("tee").variant(("M", "Blue")).inventory_qty == 0
    assert len(nightly.product("tee").variants) == 6
    assert [pos for _, pos, _ in nightly.product("tee").images] == [1, 2, 3, 4]


def test_nothing_changed_writes_no_file(tmp_path):
    """Defect 6."""
    ledger = SqliteLedger(tmp_path / "l.db")
    day(tmp_path, ledger, 1, full_collection(), mode="changes")
    report, files = day(tmp_path, ledger, 2, full_collection(), mode="changes")
    assert files == {} and report.tally.unchanged == 6


def test_a_sale_is_the_price_of_its_days(tmp_path):
    """Shopify's CSV has no scheduled sale: the price in force on the file's day; the
    day the sale starts, the product is written again even though the row is the same."""
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [t | {"sale_price": "14.90", "sale_from": "2026-12-10", "sale_to": "2026-12-24"}
             for t in full_collection()]
    _, files = day(tmp_path, ledger, 1, items, mode="changes", today=date(2026, 12, 6))
    s = store()
    load(s, files)
    assert s.product("tee").variant(("S", "Red")).price == Decimal("19.90")
    report, files = day(tmp_path, ledger, 2, items, mode="changes", today=date(2026, 12, 10))
    assert report.tally.sent == 6
    load(s, files)
    v = s.product("tee").variant(("S", "Red"))
    assert (v.price, v.compare_at_price) == (Decimal("14.90"), Decimal("19.90"))
    _, files = day(tmp_path, ledger, 3, items, mode="changes", today=date(2026, 12, 25))
    load(s, files)
    v = s.product("tee").variant(("S", "Red"))
    assert (v.price, v.compare_at_price) == (Decimal("19.90"), None)


def test_stock_per_location_goes_to_the_inventory_file(tmp_path):
    """Defect 7: a store with two locations gets no Inventory quantity in the product
    file (single-location only) but an inventory file per variant and location."""
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [t | {"stock_milano": i, "stock_web": 10 + i}
             for i, t in enumerate(full_collection())]
    _, files = day(tmp_path, ledger, 1, items, inventory={
        "path": "out/{stem}.inventory.csv",
        "locations": {"Milano": "stock_milano", "Web": "stock_web"}})
    s = store(locations=["Milano", "Web"])
    load(s, files)
    res = import_inventory(s, files["x.inventory.csv"])
    assert not res.errors, res.errors
    assert (s.available("TEE-S-R", "Milano"), s.available("TEE-S-R", "Web")) == (1, 11)
    assert (s.available("TEE-M-B", "Milano"), s.available("TEE-M-B", "Web")) == (5, 15)
    with open(files["x.csv"], encoding="utf-8") as f:
        assert "Inventory quantity" not in next(csv.reader(f))


def test_markets_and_the_legacy_dialect(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [t | {"price_ch": "22.00"} for t in full_collection()]
    _, files = day(tmp_path, ledger, 1, items, dialect="legacy",
                   markets={"Switzerland": {"price": "price_ch"}})
    s = store(markets=["Switzerland"])
    res = load(s, files)
    assert res.dialect == "legacy"
    assert s.product("tee").market_prices["Switzerland"]["TEE-S-R"][0] == Decimal("22.00")


def test_products_that_cannot_be_imported_are_refused_by_row(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = full_collection() + [
        tee("S", "Red", sku="TEE-S-R2"),  # the same options as TEE-S-R
        {"article": "BIG", "sku": "BIG-1", "title": "Big", "size": "S", "colour": "Red",
         "price": "9.00", "status": "active", "weight": 300},
        {"article": "BIG", "sku": "BIG-2", "title": "Big", "size": "M", "colour": None,
         "price": "9.00", "status": "active", "weight": 300}]
    report, files = day(tmp_path, ledger, 1, items)
    reasons = {r.line: r.reason for r in report.rejects() if r.level == "reject"}
    assert report.tally.rejected == 2 and report.tally.sent == 7
    assert "the same options" in reasons[8] and "has no Colour" in reasons[10]
    s = store()
    load(s, files)
    assert [v.sku for v in s.product("big").variants] == ["BIG-1"]


def test_a_title_that_starts_like_a_formula_is_listed_not_changed(tmp_path):
    ledger = SqliteLedger(tmp_path / "l.db")
    items = [{"article": "MUG", "sku": "MUG", "title": "=Mug", "price": "5.00",
              "status": "active"}]
    report, files = day(tmp_path, ledger, 1, items)
    [w] = [r for r in report.rejects() if r.level == "warning"]
    assert w.field == "Title" and "formula" in w.reason
    s = store()
    load(s, files)
    assert s.product("mug").title == "=Mug"
