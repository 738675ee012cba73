"""The WooCommerce product CSV sink, driven directly, its output parsed back with csv."""

import csv
from decimal import Decimal

import pyarrow as pa
import pytest
from helpers import run_sink

from filebridge.records import Batch
from filebridge.sinks.woocommerce_csv import WooCsvOptions, WooCsvSink

SPEC = {"key": "article", "options": ["size", {"field": "colour", "name": "Colore"}]}


def money(*values):
    return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 2))


def batches():
    """Product A1's rows are split over both batches and not contiguous."""
    b1 = Batch.from_pydict({
        "article": ["A1", "B2", "A1"],
        "sku": ["A1-S-RED", "B2", "A1-M-RED"],
        "title": ["=Tee", "Mug", None],
        "description": ["Cotton", "Stoneware", None],
        "category": ["Clothing > Tshirts", "Home > Kitchen", None],
        "tags": ["summer, cotton", None, None],
        "size": ["S", None, "M"],
        "colour": ["red", None, "red"],
        "price": money("19.90", "7.50", "19.90"),
        "compare_at_price": money("25.00", None, None),
        "stock": pa.array([5, 0, 3], pa.int64()),
        "status": ["active", "draft", None],
        "weight": pa.array([250, 400, 250], pa.int64()),
    }, [2, 3, 4])
    b2 = Batch.from_pydict({
        "article": ["C3", "A1"],
        "sku": ["C3-XL", "A1-S-BLU"],
        "title": ["Cap", None],
        "description": [None, None],
        "category": [None, None],
        "tags": [None, None],
        "size": ["XL", "S"],
        "colour": [None, "blu, navy"],
        "price": money("12.00", "19.90"),
        "compare_at_price": money("10.00", None),  # not greater: no sale
        "stock": pa.array([None, 7], pa.int64()),
        "status": ["archived", None],
        "weight": pa.array([None, 250], pa.int64()),
    }, [5, 6])
    return [b1, b2]


def render(tmp_path, batches, product=SPEC, **options):
    o = WooCsvOptions.model_validate({"format": "woocommerce_csv", "path": "{stem}.csv",
                                      **options})
    run_sink(WooCsvSink(o), tmp_path, batches, product)
    with open(tmp_path / "x.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def test_variable_products_and_variations(tmp_path):
    header, rows = render(tmp_path, batches(), parent_sku="P-{key}",
                          images="https://cdn.example.com/{article}_{colour}.jpg")
    assert header == ["Type", "SKU", "Parent", "Name", "Published", "Description", "Categories",
                      "Tags", "Images", "Regular price", "Sale price", "Stock", "In stock?",
                      "Weight (kg)",
                      "Attribute 1 name", "Attribute 1 value(s)", "Attribute 1 visible",
                      "Attribute 1 global",
                      "Attribute 2 name", "Attribute 2 value(s)", "Attribute 2 visible",
                      "Attribute 2 global"]
    assert [(r["Type"], r["SKU"], r["Parent"]) for r in rows] == [
        ("variable", "P-A1", ""), ("variation", "A1-S-RED", "P-A1"),
        ("variation", "A1-M-RED", "P-A1"), ("variation", "A1-S-BLU", "P-A1"),
        ("simple", "B2", ""),
        ("variable", "P-C3", ""), ("variation", "C3-XL", "P-C3")]
    parent, red_s, red_m, blu, mug, cap, cap_xl = rows
    assert parent == {
        "Type": "variable", "SKU": "P-A1", "Parent": "", "Name": "=Tee",  # no ' prefix
        "Published": "1", "Description": "Cotton", "Categories": "Clothing > Tshirts",
        "Tags": "summer, cotton",
        "Images": "https://cdn.example.com/A1_red.jpg, "
                  "https://cdn.example.com/A1_blu%2C%20navy.jpg",
        "Regular price": "", "Sale price": "", "Stock": "", "In stock?": "", "Weight (kg)": "",
        "Attribute 1 name": "Size", "Attribute 1 value(s)": "S, M",
        "Attribute 1 visible": "1", "Attribute 1 global": "1",
        "Attribute 2 name": "Colore", "Attribute 2 value(s)": "red, blu\\, navy",
        "Attribute 2 visible": "1", "Attribute 2 global": "1"}
    assert red_s == {
        "Type": "variation", "SKU": "A1-S-RED", "Parent": "P-A1", "Name": "", "Published": "",
        "Description": "", "Categories": "", "Tags": "",
        "Images": "https://cdn.example.com/A1_red.jpg",
        "Regular price": "25.00", "Sale price": "19.90", "Stock": "5", "In stock?": "1",
        "Weight (kg)": "0.25",
        "Attribute 1 name": "Size", "Attribute 1 value(s)": "S", "Attribute 1 visible": "",
        "Attribute 1 global": "1", "Attribute 2 name": "Colore", "Attribute 2 value(s)": "red",
        "Attribute 2 visible": "", "Attribute 2 global": "1"}
    assert (red_m["Regular price"], red_m["Sale price"], red_m["Attribute 1 value(s)"]) == \
        ("19.90", "", "M")
    assert blu["Attribute 2 value(s)"] == "blu\\, navy"
    assert mug["Type"] == "simple" and mug["Parent"] == "" and mug["Attribute 1 name"] == ""
    assert (mug["Name"], mug["Published"], mug["Regular price"], mug["Stock"],
            mug["In stock?"], mug["Weight (kg)"]) == ("Mug", "-1", "7.50", "0", "0", "0.4")
    # C3 fills in only the size: one attribute, numbered from 1.
    assert (cap["Published"], cap["Attribute 1 name"], cap["Attribute 1 value(s)"],
            cap["Attribute 2 name"]) == ("0", "Size", "XL", "")
    assert (cap_xl["Regular price"], cap_xl["Sale price"], cap_xl["Stock"]) == \
        ("12.00", "", "")


def test_simple_products_without_product_spec(tmp_path):
    b = Batch.from_pydict({"sku": ["S-1", "S-2"], "title": ["One", "Two, too"],
                           "price": money("5.00", "6.00"),
                           "compare_at_price": money("8.00", None),
                           "published": [True, False]}, [1, 2])
    header, rows = render(tmp_path, [b], product=None, global_attributes=False,
                          weight_unit="g")
    assert header == ["Type", "SKU", "Name", "Published", "Regular price", "Sale price"]
    assert rows == [
        {"Type": "simple", "SKU": "S-1", "Name": "One", "Published": "1",
         "Regular price": "8.00", "Sale price": "5.00"},
        {"Type": "simple", "SKU": "S-2", "Name": "Two, too", "Published": "-1",
         "Regular price": "6.00", "Sale price": ""}]


def test_custom_attributes_and_parent_sku_default(tmp_path):
    b = Batch.from_pydict({"article": ["A", "A"], "sku": ["A-S", "A-M"], "title": ["T", None],
                           "size": ["S", "M"], "colour": ["red", "red"]}, [1, 2])
    _, rows = render(tmp_path, [b], global_attributes=False)
    assert rows[0]["SKU"] == "A" and rows[1]["Parent"] == "A"
    assert {r["Attribute 1 global"] for r in rows} == {"0"}


def test_parent_sku_clash_and_duplicates(tmp_path):
    b = Batch.from_pydict({"article": ["A", "A"], "sku": ["A", "A-M"], "title": ["T", None],
                           "size": ["S", "M"], "colour": ["red", "red"]}, [1, 2])
    with pytest.raises(ValueError, match="parent SKU A is also a variant's SKU"):
        render(tmp_path, [b])
    b = Batch.from_pydict({"article": ["A", "A"], "sku": ["A-S", "A-S"], "title": ["T", None],
                           "size": ["S", "M"], "colour": ["red", "red"]}, [1, 2])
    with pytest.raises(ValueError, match="product A: SKU A-S appears twice"):
        render(tmp_path, [b])


def test_unparseable_price_is_an_error(tmp_path):
    b = Batch.from_pydict({"sku": ["S-1"], "title": ["One"], "price": ["19,90"]}, [1])
    with pytest.raises(ValueError, match="SKU S-1: price '19,90' is not a number"):
        render(tmp_path, [b], product=None)
