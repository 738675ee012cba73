"""The Shopify product CSV sink, driven directly, its output parsed back with csv."""

import csv
import os
from decimal import Decimal

import pyarrow as pa
import pytest
from helpers import run_sink

from filebridge.mapping import ProductSpec
from filebridge.records import Batch
from filebridge.sinks.products import ProductGrouper
from filebridge.sinks.shopify_csv import ShopifyCsvOptions, ShopifyCsvSink

SPEC = {"key": "article", "options": ["size", {"field": "colour", "name": "Colore"}]}
IMAGES = "https://cdn.example.com/img/{article}_{colour}.jpg"


def money(*values):
    return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 2))


def batches():
    """Product A1's rows are split over both batches and not contiguous."""
    b1 = Batch.from_pydict({
        "article": ["A1", "B2", "A1"],
        "sku": ["A1-S-RED", "B2", "A1-M-RED"],
        "title": ["Tee", "Mug", None],
        "description": ["<p>Cotton</p>", None, None],
        "size": ["S", None, "M"],
        "colour": ["red", None, "red"],
        "price": money("19.90", "7.50", "19.90"),
        "compare_at_price": money("25.00", None, None),
        "stock": pa.array([5, 0, 3], pa.int64()),
        "published": [True, False, True],
        "status": ["Active", "draft", None],
        "tags": ["summer, cotton", None, None],
        "barcode": pa.array([None, None, None], pa.string()),  # a column without data
    }, [2, 3, 4])
    b2 = Batch.from_pydict({
        "article": ["C 3/x", "A1"],
        "sku": ["C3-XL", "A1-S-BLUE"],
        "title": ['Caffè, "speciale"', "Tee (ignored: not the first row)"],
        "description": [None, None],
        "size": ["XL", "S"],
        "colour": [None, "blu navy"],
        "price": money("1234567.89", "19.90"),
        "compare_at_price": money(None, None),
        "stock": pa.array([None, 7], pa.int64()),
        "published": [True, True],
        "status": ["archived", None],
        "tags": [None, None],
        "barcode": pa.array([None, None], pa.string()),
    }, [5, 6])
    return [b1, b2]


def render(tmp_path, batches, product=SPEC, **options):
    o = ShopifyCsvOptions.model_validate({"format": "shopify_csv", "path": "out/{stem}.csv",
                                          **options})
    run_sink(ShopifyCsvSink(o), tmp_path, batches, product)
    raw = (tmp_path / "out" / "x.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    with open(tmp_path / "out" / "x.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def test_current_dialect_products_variants_images(tmp_path):
    header, rows = render(tmp_path, batches(), images=IMAGES)
    assert header == ["Title", "URL handle", "Description", "Tags", "Published on online store",
                      "Status", "SKU", "Option1 name", "Option1 value", "Option2 name",
                      "Option2 value", "Price", "Compare-at price", "Inventory tracker",
                      "Inventory quantity", "Product image URL", "Image position",
                      "Variant image URL"]
    assert [(r["URL handle"], r["SKU"]) for r in rows] == [
        ("a1", "A1-S-RED"), ("a1", "A1-M-RED"), ("a1", "A1-S-BLUE"), ("a1", ""),
        ("b2", "B2"), ("c-3-x", "C3-XL")]
    first, second, third, image_row, mug, caffe = rows
    assert first == {
        "Title": "Tee", "URL handle": "a1", "Description": "<p>Cotton</p>",
        "Tags": "summer, cotton", "Published on online store": "TRUE", "Status": "active",
        "SKU": "A1-S-RED", "Option1 name": "Size", "Option1 value": "S",
        "Option2 name": "Colore", "Option2 value": "red", "Price": "19.90",
        "Compare-at price": "25.00", "Inventory tracker": "shopify", "Inventory quantity": "5",
        "Product image URL": "https://cdn.example.com/img/A1_red.jpg", "Image position": "1",
        "Variant image URL": "https://cdn.example.com/img/A1_red.jpg"}
    # Later variant rows leave every product-level cell blank.
    for r in (second, third):
        for col in ("Title", "Description", "Tags", "Published on online store", "Status",
                    "Option1 name", "Option2 name", "Product image URL", "Image position"):
            assert r[col] == "", (r["SKU"], col)
    assert (second["Option1 value"], second["Option2 value"], second["Price"]) == \
        ("M", "red", "19.90")
    assert (third["Option2 value"], third["Inventory quantity"], third["Variant image URL"]) \
        == ("blu navy", "7", "https://cdn.example.com/img/A1_blu%20navy.jpg")
    # The second distinct image gets a row of its own: handle, URL, position only.
    assert {k: v for k, v in image_row.items() if v} == {
        "URL handle": "a1", "Product image URL": "https://cdn.example.com/img/A1_blu%20navy.jpg",
        "Image position": "2"}
    # A product whose rows fill in no option has no variants: Title / Default Title.
    assert (mug["Option1 name"], mug["Option1 value"], mug["Option2 name"]) == \
        ("Title", "Default Title", "")
    assert (mug["Published on online store"], mug["Status"], mug["Price"]) == \
        ("FALSE", "draft", "7.50")
    assert (mug["Product image URL"], mug["Variant image URL"]) == ("", "")
    assert (caffe["Title"], caffe["Option1 name"], caffe["Option1 value"]) == \
        ('Caffè, "speciale"', "Size", "XL")
    assert (caffe["Price"], caffe["Status"], caffe["Inventory tracker"]) == \
        ("1234567.89", "archived", "")


def test_legacy_dialect_headers(tmp_path):
    header, rows = render(tmp_path, batches(), images=IMAGES, dialect="legacy")
    assert header == ["Handle", "Title", "Body (HTML)", "Tags", "Published", "Option1 Name",
                      "Option1 Value", "Option2 Name", "Option2 Value", "Variant SKU",
                      "Variant Inventory Tracker", "Variant Inventory Qty", "Variant Price",
                      "Variant Compare At Price", "Image Src", "Image Position",
                      "Variant Image", "Status"]
    assert rows[0]["Handle"] == "a1" and rows[0]["Variant SKU"] == "A1-S-RED"
    assert rows[0]["Published"] == "TRUE" and rows[0]["Variant Price"] == "19.90"


def test_only_columns_with_data_and_simple_products(tmp_path):
    b = Batch.from_pydict({
        "code": ["X-1", "X-2"], "name": ["One", "Two"],
        "vendor": ["Acme", None], "price": money("10.00", "0.10"),
        "weight": pa.array([250, None], pa.int64()),
        "stock": pa.array([1, 2], pa.int64()),
    }, [1, 2])
    header, rows = render(tmp_path, [b], product=None, inventory=False,
                          fields={"sku": "code", "title": "name"})
    assert header == ["Title", "URL handle", "Vendor", "SKU", "Option1 name", "Option1 value",
                      "Price", "Weight value (grams)"]
    assert rows == [
        {"Title": "One", "URL handle": "x-1", "Vendor": "Acme", "SKU": "X-1",
         "Option1 name": "Title", "Option1 value": "Default Title", "Price": "10.00",
         "Weight value (grams)": "250"},
        {"Title": "Two", "URL handle": "x-2", "Vendor": "", "SKU": "X-2",
         "Option1 name": "Title", "Option1 value": "Default Title", "Price": "0.10",
         "Weight value (grams)": ""}]


def test_handle_field_wins(tmp_path):
    b = Batch.from_pydict({"article": ["A"], "sku": ["A-1"], "title": ["T"], "size": ["S"],
                           "colour": ["red"], "handle": ["my-handle"]}, [1])
    _, rows = render(tmp_path, [b])
    assert rows[0]["URL handle"] == "my-handle"


def bad(tmp_path, rows, match):
    b = Batch.from_pydict({"article": [r[0] for r in rows], "sku": [r[1] for r in rows],
                           "title": ["T"] * len(rows), "size": [r[2] for r in rows],
                           "colour": [r[3] for r in rows]}, list(range(1, len(rows) + 1)))
    with pytest.raises(ValueError, match=match):
        render(tmp_path, [b])


def test_duplicate_sku_in_a_product(tmp_path):
    bad(tmp_path, [("A", "A-1", "S", "red"), ("A", "A-1", "M", "red")],
        r"product A: SKU A-1 appears twice \(lines 1 and 2\)")


def test_duplicate_option_combination(tmp_path):
    bad(tmp_path, [("A", "A-1", "S", "red"), ("B", "B-1", "S", "red"), ("A", "A-2", "S", "red")],
        r"product A: SKUs A-1 and A-2 have the same options \(Size=S, Colore=red\)")


def test_variant_missing_an_option_value(tmp_path):
    bad(tmp_path, [("A", "A-1", "S", "red"), ("A", "A-2", "M", None)],
        r"product A: SKU A-2 \(line 2\) has no Colore")


def test_bad_status_and_missing_title_field(tmp_path):
    b = Batch.from_pydict({"sku": ["A"], "title": ["T"], "status": ["live"]}, [1])
    with pytest.raises(ValueError, match="status 'live' is not one of active"):
        render(tmp_path, [b], product=None)
    b = Batch.from_pydict({"sku": ["A"]}, [1])
    with pytest.raises(ValueError, match="title"):
        render(tmp_path, [b], product=None)


def test_grouper_first_seen_order_and_cleanup():
    spec = ProductSpec.model_validate(SPEC)
    g = ProductGrouper("article", "sku", spec.option_specs(), max_options=3)
    for b in batches():
        g.add(b)
    got = [(k, [r["sku"] for r in rows]) for k, rows in g.products()]
    assert got == [("A1", ["A1-S-RED", "A1-M-RED", "A1-S-BLUE"]), ("B2", ["B2"]),
                   ("C 3/x", ["C3-XL"])]
    rows = dict(g.products())["A1"]
    assert rows[0]["price"] == Decimal("19.90")  # types survive the spool
    folder = g._dir.name
    g.close()
    assert not os.path.exists(folder)
