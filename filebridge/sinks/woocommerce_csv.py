"""WooCommerce's product CSV importer files: simple and variable products with
their variations, categories, filter attributes, sale prices and barcodes.

What the importer does with a file decides what is written (checked against a
re-implementation of WooCommerce's importer in tests/checkers/woocommerce_importer.py,
read from woocommerce/woocommerce ``includes/admin/importers`` and
``includes/import``):

- **Create or update is per file**: the importer's "Update existing products"
  switch applies to a whole file; a SKU that exists fails in a create file and a
  SKU that does not exist is skipped in an update file. So one input becomes two
  files published together: ``<path>.new.csv`` (products and variations this
  sink never wrote: import with the switch off) and ``<path>.update.csv`` (those
  it wrote before: import with the switch on). ``split: false`` writes one file.
- **A parent replaces its attribute values wholesale**: a variable product's row
  always lists every value its variations have, from this file and from the
  ledger's memory of what this sink wrote before, so a file carrying one changed
  variation never orphans the others.
- **Published**: variations are written ``1`` like WooCommerce's own sample file
  (an empty cell makes a variation a draft the shop never lists); products follow
  ``status``/``published``: draft -> -1, archived -> 0 (private), else 1.
- Columns only where some record has data, so an update file never blanks what
  the ERP does not send; values inside list cells escape a literal comma as
  ``\\,``.

Canonical fields read (filebridge/catalog/record.py): title, description,
short_description, categories (paths ``A > B``; ``category`` is taken too),
tags, status, published; per variation sku, barcode, price (Regular price),
sale_price with sale_from/sale_to (or compare_at_price above price: then Regular
is compare_at_price and Sale is price), stock, weight (grams), image/images,
image_alt; filter attributes (map.attributes) as global attributes not used for
variations, specifications as ``Meta:`` columns. WooCommerce's importer has no
column for translations (multilingual plugins import per language with their
own tools), so languages beyond the first are not written: ``check`` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from filebridge.catalog.product import Product
from filebridge.catalog.values import blank, integer, money, text
from filebridge.errors import OutputError
from filebridge.registry import REGISTRY
from filebridge.sinks.productfile import ProductFileOptions, ProductFileSink, pattern_fields

STATUSES = ("active", "draft", "archived")
# The importer's automatic column mapping has no entry for the GTIN field's own
# label in every release; the meta column sets the same stored field
# (``_global_unique_id``) whichever release reads it.
GTIN = "Meta: _global_unique_id"


class WooCsvOptions(ProductFileOptions):
    """WooCommerce product CSV (Products -> Import)."""

    format: Literal["woocommerce_csv"] = Field(description="WooCommerce product import CSV")
    parent_sku: str = Field("{key}", description="SKU of a variable product's parent row: "
                            "a template over {key} (the product key) and the fields of its "
                            "first row, e.g. 'P-{article}'")
    global_attributes: bool = Field(True, description="attributes are global (pa_ "
                                    "taxonomies shared by products) rather than custom")
    weight_unit: Literal["kg", "g", "lbs", "oz"] = Field(
        "kg", description="the store's weight unit: the Weight column header must match it")
    split: bool = Field(True, description="write products this sink wrote before to "
                        "<path>.update.csv (import with 'Update existing products') and new "
                        "ones to <path>.new.csv; false: one file at path")

    @field_validator("parent_sku")
    @classmethod
    def _template(cls, v: str) -> str:
        pattern_fields(v)
        return v


def esc(v: Any) -> str:
    """One value inside a Woo list cell: a literal comma is written \\,."""
    return text(v).replace(",", "\\,")


def listed(values: list[Any]) -> str:
    return ", ".join(esc(x) for x in values if not blank(x))


def published(status: str, flag: bool | None) -> str:
    if status == "draft" or (flag is False and status != "archived"):
        return "-1"
    if status == "archived":
        return "0"
    return "1"


GRAMS = {"kg": Decimal(1000), "g": Decimal(1), "lbs": Decimal("453.59237"),
         "oz": Decimal("28.349523125")}


def _suffixed(path: str, suffix: str) -> str:
    head, dot, ext = path.rpartition(".")
    if not dot or "/" in ext or "}" in ext:
        return f"{path}.{suffix}"
    return f"{head}.{suffix}.{ext}"


@REGISTRY.sink("woocommerce_csv")
class WooCsvSink(ProductFileSink):
    Options = WooCsvOptions
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"status": STATUSES}
    LANDS: ClassVar[dict[str, str]] = {
        "sku": "SKU (a variable product's own SKU: parent_sku)",
        "title": "Name", "description": "Description",
        "short_description": "Short description",
        "categories": "Categories", "category": "Categories (when no categories)",
        "tags": "Tags", "status": "Published (draft -1, archived 0, else 1)",
        "published": "Published", "price": "Regular price",
        "compare_at_price": "Regular price when above price (price is then Sale price)",
        "sale_price": "Sale price", "sale_from": "Date sale price starts",
        "sale_to": "Date sale price ends (23:59:59)",
        "stock": "Stock, In stock?", "weight": "Weight (<weight_unit>), from grams",
        "barcode": "Meta: _global_unique_id", "image": "Images", "images": "Images",
    }
    CARRIES: ClassVar[dict[str, str]] = {
        "categories": "Categories (A > B paths; the importer creates them)",
        "filters": "global attributes, visible, not used for variations",
        "specs": "custom attributes (the product page's Additional information)",
        "sale_dates": "Sale price, Date sale price starts / ends (end: 23:59:59)",
        "images": "Images (first: featured), a variation's own image",
        "barcode": "Meta: _global_unique_id (the GTIN field)",
    }

    def files(self) -> dict[str, str]:
        if not self.o.split:
            return {"main": self.o.path}
        return {"new": _suffixed(self.o.path, "new"), "update": _suffixed(self.o.path, "update")}

    def header(self, name: str) -> list[str]:
        has = self.has
        spec = self.ctx.product if self.ctx is not None else None
        options = len(spec.option_specs()) if spec is not None else 0
        attrs = [a for a in (self.job.map.attributes if self.job else {}).items()
                 if "attr:" + a[0] in self.present]
        cols = ["Type", "SKU"] + (["Parent"] if options else []) + ["Name", "Published"]
        optional = [
            (has("short_description"), ["Short description"]),
            (has("description"), ["Description"]),
            (has("categories") or has("category"), ["Categories"]), (has("tags"), ["Tags"]),
            (has("image"), ["Images"]),
            (has("price") or has("compare_at_price") or has("sale_price"),
             ["Regular price", "Sale price"]),
            (has("sale_from") or has("sale_to"),
             ["Date sale price starts", "Date sale price ends"]),
            (has("stock"), ["Stock", "In stock?"]),
            (has("weight"), [f"Weight ({self.o.weight_unit})"]), (has("barcode"), [GTIN]),
        ]
        cols += [c for present, names in optional if present for c in names]
        for n in range(1, options + len(attrs) + 1):
            cols += [f"Attribute {n} name", f"Attribute {n} value(s)", f"Attribute {n} visible",
                     f"Attribute {n} global"]
        return cols

    def rows(self, p: Product, known: set[str]) -> Iterator[tuple[str, dict[str, str]]]:
        def where(sku: str) -> str:
            return "main" if not self.o.split else ("update" if sku in known else "new")

        if p.simple:
            rec = p.variants[0]
            cells = {**self._product(p), **self._variant(p, rec), "Type": "simple"}
            flag = "1" if self.o.global_attributes else "0"
            for n, (o, v) in enumerate(zip(p.options, p.option_values(rec), strict=True), 1):
                cells.update({f"Attribute {n} name": o.name, f"Attribute {n} value(s)": esc(v),
                              f"Attribute {n} visible": "1", f"Attribute {n} global": flag})
            cells.update(self._attributes(p, len(p.options) + 1))
            yield where(rec["sku"]), cells
            return
        parent = self._parent_sku(p)
        if any(r["sku"] == parent for r in p.variants):
            raise OutputError(f"product {p.key}: the parent SKU {parent} is also a variant's "
                              "SKU; set parent_sku, e.g. 'P-{key}'")
        flag = "1" if self.o.global_attributes else "0"
        head = {**self._product(p), "Type": "variable", "SKU": parent}
        for n, o in enumerate(p.options, 1):
            head.update({f"Attribute {n} name": o.name,
                         f"Attribute {n} value(s)": listed(o.values),
                         f"Attribute {n} visible": "1", f"Attribute {n} global": flag})
        head.update(self._attributes(p, len(p.options) + 1))
        # The parent is an update when any of its variations was written before.
        yield ("main" if not self.o.split else
               "update" if any(r["sku"] in known for r in p.variants) else "new"), head
        for rec in p.variants:
            if "ordinal" in rec:  # this file's variations (the others are in the shop)
                cells = {**self._variant(p, rec), "Type": "variation", "Parent": parent,
                         "Published": "1", "Name": text(p.get("title"))}
                values = p.option_values(rec)
                for n, (o, v) in enumerate(zip(p.options, values, strict=True), 1):
                    cells.update({f"Attribute {n} name": o.name,
                                  f"Attribute {n} value(s)": esc(v),
                                  f"Attribute {n} global": flag})
                yield where(rec["sku"]), cells

    def _parent_sku(self, p: Product) -> str:
        first = p.variants[0]
        fields = {**{o["field"]: o["value"] for o in first.get("options", [])}, **first,
                  "key": p.key}
        try:
            return self.o.parent_sku.format(**fields)
        except (KeyError, IndexError) as e:
            raise OutputError(f"parent_sku {self.o.parent_sku!r}: unknown field {e}; known: "
                              + ", ".join(["key", *fields])) from None

    def _product(self, p: Product) -> dict[str, str]:
        status = text(p.get("status")).strip().lower()
        if status and status not in STATUSES:
            raise OutputError(f"product {p.key}: status {status!r} is not one of "
                              + ", ".join(STATUSES))
        cats = [" > ".join(path) for path in p.get("categories") or []]
        if not cats and p.get("category"):
            cats = [text(p.get("category"))]
        flag = p.get("published")
        return {"Name": text(p.get("title")), "Published": published(status, flag),
                "Short description": text(p.get("short_description")),
                "Description": text(p.get("description")),
                "Categories": listed(cats), "Tags": listed(p.get("tags") or []),
                "Images": listed(p.images)}

    def _attributes(self, p: Product, first: int) -> dict[str, str]:
        """Filters become global attributes (the shop's layered navigation filters on
        them), specifications custom attributes (listed under "Additional
        information"); both visible, neither used for variations: the importer marks
        an attribute for variations only when variation rows name it."""
        flag = "1" if self.o.global_attributes else "0"
        cells: dict[str, str] = {}
        declared = self.job.map.attributes if self.job else {}
        have = {a["code"]: a for a in p.attributes}
        n = first
        for code, spec in declared.items():
            if "attr:" + code not in self.present:
                continue
            a = have.get(code)
            if a is not None:
                cells.update({f"Attribute {n} name": a["name"],
                              f"Attribute {n} value(s)": listed(a["values"]),
                              f"Attribute {n} visible": "1",
                              f"Attribute {n} global": flag if spec.filter else "0"})
            n += 1
        return cells

    def _variant(self, p: Product, rec: dict[str, Any]) -> dict[str, str]:
        sku = rec["sku"]
        price = money(rec.get("price"), "price", sku)
        compare = money(rec.get("compare_at_price"), "compare_at_price", sku)
        sale = money(rec.get("sale_price"), "sale_price", sku)
        if sale is None and compare is not None and price is not None and compare > price:
            price, sale = compare, price  # Shopify-style price/compare-at: the sale is on
        images = rec.get("images") or ([rec["image"]] if rec.get("image") else [])
        cells = {"SKU": sku, "Regular price": text(price), "Sale price": text(sale),
                 "Date sale price starts": text(rec.get("sale_from")),
                 # A date alone is midnight: the sale would end as its last day begins.
                 "Date sale price ends": f"{rec['sale_to']} 23:59:59" if rec.get("sale_to")
                 else "",
                 "Images": esc(images[0]) if images and not p.simple else listed(
                     p.images if p.simple else []),
                 GTIN: text(rec.get("barcode"))}
        stock = integer(rec.get("stock"), "stock", sku)
        if stock is not None:  # a non-empty Stock turns on stock management
            cells.update({"Stock": str(stock), "In stock?": "1" if stock > 0 else "0"})
        grams = money(rec.get("weight"), "weight", sku)
        if grams is not None:
            w = grams / GRAMS[self.o.weight_unit]
            cells[f"Weight ({self.o.weight_unit})"] = text(w.normalize() if w else Decimal(0))
        return cells
