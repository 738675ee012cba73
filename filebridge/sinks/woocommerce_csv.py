"""WooCommerce's product CSV importer file: variable products and their variations.

Reads canonical record fields (see :mod:`filebridge.sinks.products`): ``title``
(required, Name), ``description``, ``category`` (``Parent > Child`` paths, comma
list), ``tags``, ``status``, ``published``; per variant ``sku`` (required),
``barcode``, ``price``, ``compare_at_price``, ``stock``, ``weight`` (grams),
``image``. ``vendor``, ``product_type`` and ``handle`` have no Woo column.

With ``map.product`` each product becomes a ``variable`` parent row (SKU from
``parent_sku``, every attribute with all its values) followed by one
``variation`` row per SKU; a product whose rows fill in no option, or any row
without ``map.product``, is ``simple``. Parents come before their variations.

Prices: ``Regular price`` is ``price``; when ``compare_at_price`` is greater than
``price``, Regular price is ``compare_at_price`` and ``Sale price`` is ``price``.
Published: status draft -> -1, archived -> 0 (private), published false -> -1,
otherwise 1. Only columns some record carries data for are written; names get no
``'`` prefix (the importer would keep it, section 2.1 of the spec).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from filebridge.records import Batch
from filebridge.registry import REGISTRY
from filebridge.sinks.base import FileSink, SinkContext
from filebridge.sinks.shop import (
    CsvRows,
    Product,
    ShopRecords,
    ShopSinkOptions,
    blank,
    boolean,
    integer,
    money,
    pattern_fields,
    text,
)

STATUSES = ("active", "draft", "archived")
GTIN = "GTIN, UPC, EAN, or ISBN"


class WooCsvOptions(ShopSinkOptions):
    """WooCommerce product CSV (Products -> Import)."""

    format: Literal["woocommerce_csv"] = Field(description="WooCommerce product import CSV")
    parent_sku: str = Field("{key}", description="SKU of a variable product's parent row: "
                            "a template over {key} (the product key) and the fields of its "
                            "first row, e.g. 'P-{article}'")
    global_attributes: bool = Field(True, description="attributes are global (pa_ "
                                    "taxonomies shared by products) rather than custom")
    weight_unit: Literal["kg", "g"] = Field("kg", description="the store's weight unit: the "
                                            "Weight column header must match it")

    @field_validator("parent_sku")
    @classmethod
    def _template(cls, v: str) -> str:
        pattern_fields(v)
        return v


def esc(v: Any) -> str:
    """One value inside a Woo list cell: a literal comma is written \\,."""
    return text(v).replace(",", "\\,")


def listed(v: Any) -> str:
    return ", ".join(esc(x) for x in v if not blank(x)) if isinstance(v, list) else text(v)


def prices(price: Decimal | None, compare: Decimal | None) -> tuple[str, str]:
    """(Regular price, Sale price)."""
    if price is not None and compare is not None and compare > price:
        return text(compare), text(price)
    return text(price), ""


def published(status: str, flag: bool | None) -> str:
    if status == "draft" or (flag is False and status != "archived"):
        return "-1"
    if status == "archived":
        return "0"
    return "1" if status == "active" or flag else ""


@REGISTRY.sink("woocommerce_csv")
class WooCsvSink(FileSink):
    Options = WooCsvOptions

    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.staged = ctx.stage(self.o.path, self.o.done_file)
        self.records = ShopRecords(self.o, ctx)

    def write(self, batch: Batch) -> None:
        mask = self.changed(batch)
        self.sent(batch, mask)
        self.records.add(batch if mask is None else batch.filter(mask))

    def _header(self) -> list[str]:
        r = self.records
        attrs = r.option_count() if r.spec else 0
        cols = ["Type", "SKU"] + (["Parent"] if attrs else []) + ["Name"]
        optional = [
            (r.has("status") or r.has("published"), ["Published"]),
            (r.has("description"), ["Description"]), (r.has("category"), ["Categories"]),
            (r.has("tags"), ["Tags"]), (r.has("image"), ["Images"]),
            (r.has("price") or r.has("compare_at_price"), ["Regular price"]),
            (r.has("compare_at_price"), ["Sale price"]),
            (r.has("stock"), ["Stock", "In stock?"]),
            (r.has("weight"), [f"Weight ({self.o.weight_unit})"]), (r.has("barcode"), [GTIN]),
        ]
        cols += [c for present, names in optional if present for c in names]
        for n in range(1, attrs + 1):
            cols += [f"Attribute {n} name", f"Attribute {n} value(s)", f"Attribute {n} visible",
                     f"Attribute {n} global"]
        return cols

    def finish(self) -> None:
        try:
            with self.staged.open("wb") as f:
                out = CsvRows(f, self._header())
                for p in self.records.products():
                    for cells in self._rows(p):
                        out.add(cells)
                out.flush()
        finally:
            self.close()

    def close(self) -> None:
        self.records.close()

    def _product(self, p: Product) -> dict[str, str]:
        status = text(p.first("status")).strip().lower()
        if status and status not in STATUSES:
            raise ValueError(f"product {p.key}: status {status!r} is not one of "
                             + ", ".join(STATUSES))
        return {"Name": text(p.first("title")),
                "Published": published(status, boolean(p.first("published"))),
                "Description": text(p.first("description")),
                "Categories": listed(p.first("category")), "Tags": listed(p.first("tags")),
                "Images": ", ".join(esc(u) for u in p.images())}

    def _variant(self, p: Product, i: int) -> dict[str, str]:
        r = p.rows[i]
        sku = text(p.get(r, "sku"))
        regular, sale = prices(money(p.get(r, "price"), "price", sku),
                               money(p.get(r, "compare_at_price"), "compare_at_price", sku))
        cells = {"SKU": sku, "Regular price": regular, "Sale price": sale,
                 "Images": esc(p.urls[i] or ""), GTIN: text(p.get(r, "barcode"))}
        stock = integer(p.get(r, "stock"), "stock", sku)
        if stock is not None:  # a non-empty Stock turns on stock management
            cells.update({"Stock": str(stock), "In stock?": "1" if stock > 0 else "0"})
        grams = money(p.get(r, "weight"), "weight", sku)
        if grams is not None:
            w = grams / 1000 if self.o.weight_unit == "kg" else grams
            cells[f"Weight ({self.o.weight_unit})"] = text(w.normalize() if w else Decimal(0))
        return cells

    def _rows(self, p: Product) -> list[dict[str, str]]:
        if not p.options:  # nothing tells variants apart: one simple product per row
            return [{**self._product(p), **self._variant(p, i), "Type": "simple"}
                    for i in range(len(p.rows))]
        first = p.rows[0]
        try:
            parent = self.o.parent_sku.format(**{**first, "key": p.key})
        except (KeyError, IndexError) as e:
            raise ValueError(f"parent_sku {self.o.parent_sku!r}: unknown field {e}; known: "
                             + ", ".join(["key", *first])) from None
        if any(text(p.get(r, "sku")) == parent for r in p.rows):
            raise ValueError(f"product {p.key}: the parent SKU {parent} is also a variant's "
                             "SKU; set parent_sku, e.g. 'P-{key}'")
        flag = "1" if self.o.global_attributes else "0"
        head = {**self._product(p), "Type": "variable", "SKU": parent}
        for n, o in enumerate(p.options, 1):
            values = dict.fromkeys(text(r.get(o.field)) for r in p.rows)
            head.update({f"Attribute {n} name": o.label,
                         f"Attribute {n} value(s)": ", ".join(esc(v) for v in values),
                         f"Attribute {n} visible": "1", f"Attribute {n} global": flag})
        rows = [head]
        for i, r in enumerate(p.rows):
            cells = {**self._variant(p, i), "Type": "variation", "Parent": parent}
            for n, o in enumerate(p.options, 1):
                cells.update({f"Attribute {n} name": o.label,
                              f"Attribute {n} value(s)": esc(r.get(o.field)),
                              f"Attribute {n} global": flag})
            rows.append(cells)
        return rows
