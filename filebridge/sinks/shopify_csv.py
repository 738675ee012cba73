"""Shopify's product CSV (Admin -> Products -> Import), one row per variant.

Reads canonical record fields (see :mod:`filebridge.sinks.products`): ``title``
(required), ``description``, ``vendor``, ``product_type``, ``category`` (Product
category), ``tags``, ``status``, ``published``, ``handle``; per variant ``sku``
(required), ``barcode``, ``price``, ``compare_at_price``, ``stock``, ``weight``
(grams), ``image``. Variants are grouped by ``map.product`` (key + up to 3
options); without it every row is a product of its own (Option1 Title / Default
Title).

Shopify overwrites a product's value with a blank cell of an *included* column and
keeps it when the column is left out, so only the columns some record carries
data for are written (handle, Title, Option1 and SKU always). The first row of a
product carries the product fields, later rows only the variant's; images 2..n get
rows of their own holding only handle, URL and position.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import Field

from filebridge.records import Batch
from filebridge.registry import REGISTRY
from filebridge.sinks.base import FileSink, SinkContext
from filebridge.sinks.shop import (
    CsvRows,
    Product,
    ShopRecords,
    ShopSinkOptions,
    boolean,
    integer,
    money,
    text,
)

# (column id, header in the 2024+ dialect), in the order Shopify's template uses.
CURRENT = [
    ("title", "Title"), ("handle", "URL handle"), ("description", "Description"),
    ("vendor", "Vendor"), ("category", "Product category"), ("product_type", "Type"),
    ("tags", "Tags"), ("published", "Published on online store"), ("status", "Status"),
    ("sku", "SKU"), ("barcode", "Barcode"),
    ("o1n", "Option1 name"), ("o1v", "Option1 value"), ("o2n", "Option2 name"),
    ("o2v", "Option2 value"), ("o3n", "Option3 name"), ("o3v", "Option3 value"),
    ("price", "Price"), ("compare_at_price", "Compare-at price"),
    ("tracker", "Inventory tracker"), ("stock", "Inventory quantity"),
    ("weight", "Weight value (grams)"), ("img", "Product image URL"), ("pos", "Image position"),
    ("image", "Variant image URL"),
]
LEGACY = [
    ("handle", "Handle"), ("title", "Title"), ("description", "Body (HTML)"),
    ("vendor", "Vendor"), ("category", "Product Category"), ("product_type", "Type"),
    ("tags", "Tags"), ("published", "Published"),
    ("o1n", "Option1 Name"), ("o1v", "Option1 Value"), ("o2n", "Option2 Name"),
    ("o2v", "Option2 Value"), ("o3n", "Option3 Name"), ("o3v", "Option3 Value"),
    ("sku", "Variant SKU"), ("weight", "Variant Grams"), ("tracker", "Variant Inventory Tracker"),
    ("stock", "Variant Inventory Qty"), ("price", "Variant Price"),
    ("compare_at_price", "Variant Compare At Price"), ("barcode", "Variant Barcode"),
    ("img", "Image Src"), ("pos", "Image Position"), ("image", "Variant Image"),
    ("status", "Status"),
]
PRODUCT_LEVEL = ("title", "description", "vendor", "category", "product_type", "tags",
                 "published", "status")
STATUSES = ("active", "draft", "archived")


class ShopifyCsvOptions(ShopSinkOptions):
    """Shopify product CSV: products with up to 3 options, variants and images."""

    format: Literal["shopify_csv"] = Field(description="Shopify product import CSV")
    dialect: Literal["current", "legacy"] = Field(
        "current", description="current: the 2024+ headers (URL handle, Product image URL…); "
                               "legacy: the older ones (Handle, Variant SKU, Image Src…)")
    inventory: bool = Field(True, description="write Inventory quantity and tracker when "
                            "records carry stock (single-location stores only)")


def handle_of(key: str) -> str:
    """Shopify-style handle: lower case ASCII, other characters as '-'."""
    ascii_ = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    if not slug:
        raise ValueError(f"product {key!r}: cannot make a URL handle from its key; map a "
                         "handle field")
    return slug


@REGISTRY.sink("shopify_csv")
class ShopifyCsvSink(FileSink):
    Options = ShopifyCsvOptions

    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.staged = ctx.stage(self.o.path, self.o.done_file)
        self.records = ShopRecords(self.o, ctx, max_options=3)

    def write(self, batch: Batch) -> None:
        mask = self.changed(batch)
        self.sent(batch, mask)
        self.records.add(batch if mask is None else batch.filter(mask))

    def _columns(self) -> list[tuple[str, str]]:
        r = self.records
        wanted = {"handle", "title", "sku", "o1n", "o1v"}
        wanted |= {c for c in PRODUCT_LEVEL + ("barcode", "price", "compare_at_price",
                                               "weight", "image") if r.has(c)}
        for n in range(2, r.option_count() + 1):
            wanted |= {f"o{n}n", f"o{n}v"}
        if self.o.inventory and r.has("stock"):
            wanted |= {"stock", "tracker"}
        if r.has("image"):
            wanted |= {"img", "pos"}
        self.wanted = wanted
        return [c for c in (CURRENT if self.o.dialect == "current" else LEGACY)
                if c[0] in wanted]

    def finish(self) -> None:
        try:
            columns = self._columns()
            names = dict(columns)
            with self.staged.open("wb") as f:
                out = CsvRows(f, [h for _, h in columns])
                for p in self.records.products():
                    for cells in self._rows(p):
                        out.add({names[c]: v for c, v in cells.items() if c in names})
                out.flush()
        finally:
            self.close()

    def close(self) -> None:
        self.records.close()

    def _head(self, p: Product) -> dict[str, str]:
        """The product-level cells of a product's first row."""
        head = {c: text(p.first(c)) for c in ("title", "description", "vendor", "category",
                                              "product_type", "tags") if c in self.wanted}
        published = boolean(p.first("published"))
        if published is not None:
            head["published"] = "TRUE" if published else "FALSE"
        status = text(p.first("status")).strip().lower()
        if status and status not in STATUSES:
            raise ValueError(f"product {p.key}: status {status!r} is not one of "
                             + ", ".join(STATUSES))
        head["status"] = status
        return head

    def _rows(self, p: Product) -> list[dict[str, str]]:
        given = p.first("handle")
        handle = text(given) if given is not None else handle_of(p.key)
        images = p.images()
        want, f = self.wanted, p.f
        rows = []
        for i, r in enumerate(p.rows):
            sku = text(r.get(f["sku"]))
            cells = {"handle": handle, "sku": sku, "image": p.urls[i] or ""}
            for c in ("price", "compare_at_price"):
                if c in want:
                    cells[c] = text(money(r.get(f[c]), c, sku))
            for c in ("barcode", "weight"):
                if c in want:
                    cells[c] = text(r.get(f[c]))
            stock = integer(r.get(f["stock"]), "stock", sku) if "stock" in want else None
            if stock is not None:
                cells.update(stock=str(stock), tracker="shopify")
            for n, o in enumerate(p.options, 1):
                cells[f"o{n}v"] = text(r.get(o.field))
                if i == 0:
                    cells[f"o{n}n"] = o.label
            if not p.options and len(p.rows) == 1:  # a product without variants
                cells.update(o1n="Title", o1v="Default Title")
            if i == 0:
                cells.update(self._head(p))
                if images:
                    cells.update(img=images[0], pos="1")
            rows.append(cells)
        rows += [{"handle": handle, "img": url, "pos": str(n)}
                 for n, url in enumerate(images[1:], 2)]
        return rows
