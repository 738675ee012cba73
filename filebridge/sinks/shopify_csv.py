"""Shopify's product CSV (Admin -> Products -> Import), one row per variant, and
for stores with several locations the inventory CSV beside it.

Shopify's rules (help.shopify.com "Using CSV files to import and export
products"; checked in tests/checkers/shopify_csv.py):

- Rows sharing a handle are one product; its first row carries the product
  fields, later rows only the variant's. With "Overwrite products with matching
  handles" a blank cell of an *included* column clears the value and an omitted
  column keeps it, so only columns some record carries data for are written.
- A product is written whole, every variant (this file's and, from the ledger's
  memory, those it does not list) in option order, and its images in one fixed
  order: a file that changes one variant gives the shop the same product a full
  load gives (image 1 stays image 1).
- Images 2..n get rows of their own (handle, URL, position, alt text); a variant
  image is also among the product's images.
- ``Inventory quantity`` only works for single-location stores: with
  ``locations`` the quantities go to an inventory CSV instead, one row per
  variant and location.
- A sale (``sale_price`` with ``sale_from``/``sale_to``) in force on the file's
  date becomes Price = sale price and Compare-at price = price; Shopify has no
  scheduled sale price in its CSV, so the file of the day the sale starts or ends
  carries the change.
- Filter attributes and specifications become metafield columns
  ``Name (product.metafields.<namespace>.<code>)``; the metafield definitions
  (which make them storefront filters) are created by the shopify_api sink.
  Per-market prices: ``Price / <Market>`` columns. Translations are not in the
  product CSV (Shopify imports them through its translation CSV or API).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import Field

from filebridge.catalog.prices import in_force, selling  # noqa: F401  (in_force: re-exported)
from filebridge.catalog.product import Product
from filebridge.catalog.spec import MarketPrices
from filebridge.catalog.values import blank, integer, text
from filebridge.errors import Bug, OutputError
from filebridge.options import Model, OutputPath
from filebridge.registry import REGISTRY
from filebridge.sinks.productfile import ProductFileOptions, ProductFileSink

# (column id, header in the 2024+ dialect), in the order Shopify's template uses.
CURRENT = [
    ("title", "Title"), ("handle", "URL handle"), ("description", "Description"),
    ("vendor", "Vendor"), ("category", "Product category"), ("product_type", "Type"),
    ("tags", "Tags"), ("published", "Published on online store"), ("status", "Status"),
    ("sku", "SKU"), ("barcode", "Barcode"),
    ("o1n", "Option1 name"), ("o1v", "Option1 value"), ("o2n", "Option2 name"),
    ("o2v", "Option2 value"), ("o3n", "Option3 name"), ("o3v", "Option3 value"),
    ("price", "Price"), ("compare_at_price", "Compare-at price"), ("cost", "Cost per item"),
    ("tracker", "Inventory tracker"), ("stock", "Inventory quantity"),
    ("weight", "Weight value (grams)"), ("img", "Product image URL"), ("pos", "Image position"),
    ("alt", "Image alt text"), ("image", "Variant image URL"),
    ("seo_title", "SEO title"), ("seo_description", "SEO description"),
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
    ("img", "Image Src"), ("pos", "Image Position"), ("alt", "Image Alt Text"),
    ("image", "Variant Image"), ("cost", "Cost per item"), ("seo_title", "SEO Title"),
    ("seo_description", "SEO Description"), ("status", "Status"),
]
PRODUCT_LEVEL = ("title", "description", "vendor", "category", "product_type", "tags",
                 "published", "status", "seo_title", "seo_description")
STATUSES = ("active", "draft", "archived")
# The documented "All quantity types" export (help.shopify.com, Inventory CSV): On hand
# is applied, Available recomputed; the newer header's "On hand (current)" must equal
# the shop's figure at import time, which an ERP export cannot know.
INVENTORY_HEADER = ["Handle", "Title", "Option1 Name", "Option1 Value", "Option2 Name",
                    "Option2 Value", "Option3 Name", "Option3 Value", "SKU", "HS Code", "COO",
                    "Location", "Incoming", "Unavailable", "Committed", "Available",
                    "On hand"]


class InventoryFile(Model):
    """Shopify's inventory CSV, for stores with several locations."""

    path: OutputPath = Field(description="the inventory CSV, e.g. "
                             "'outbox/shopify/{stem}.inventory.csv'")
    locations: dict[str, str] = Field(min_length=1, description="Shopify location name -> "
                                      "mapped field with the quantity there, e.g. {Milano: "
                                      "stock_milano, Web: stock_web}")


class ShopifyCsvOptions(ProductFileOptions):
    """Shopify product CSV: products with up to 3 options, variants and images."""

    format: Literal["shopify_csv"] = Field(description="Shopify product import CSV")
    dialect: Literal["current", "legacy"] = Field(
        "current", description="current: the 2024+ headers (URL handle, Product image URL…); "
                               "legacy: the older ones (Handle, Variant SKU, Image Src…)")
    inventory: bool | InventoryFile = Field(
        True, description="true: Inventory quantity in the product CSV (single-location "
        "stores only); false: no stock; or an inventory CSV per location, {path, locations}")
    markets: dict[str, MarketPrices] = Field(
        default_factory=dict, description="per-market prices (Shopify Markets), market name "
        "-> {price, compare_at_price} mapped fields: 'Price / <market>' columns")


def handle_of(key: str) -> str:
    """Shopify-style handle: lower case ASCII, other characters as '-'."""
    ascii_ = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")
    if not slug:
        raise OutputError(f"product {key!r}: cannot make a URL handle from its key; map a "
                          "handle field")
    return slug


@REGISTRY.sink("shopify_csv")
class ShopifyCsvSink(ProductFileSink):
    Options = ShopifyCsvOptions
    MAX_OPTIONS = 3
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"status": STATUSES}
    LANDS: ClassVar[dict[str, str]] = {
        "sku": "SKU", "handle": "URL handle (default: the product key as a handle)",
        "title": "Title", "description": "Description", "vendor": "Vendor",
        "product_type": "Type", "category": "Product category", "tags": "Tags",
        "status": "Status", "published": "Published on online store",
        "price": "Price (Compare-at price during a sale)",
        "compare_at_price": "Compare-at price",
        "sale_price": "Price on the days of the sale", "barcode": "Barcode",
        "cost": "Cost per item",
        "stock": "Inventory quantity (or the inventory CSV)",
        "weight": "Weight value (grams)", "image": "Variant image URL, Product image URL",
        "images": "Product image URL rows, Variant image URL", "image_alt": "Image alt text",
        "seo_title": "SEO title", "seo_description": "SEO description",
    }
    CARRIES: ClassVar[dict[str, str]] = {
        "filters": "metafield columns (filters once shopify_api made their definitions)",
        "specs": "metafield columns",
        "sale_dates": "the price in force on the file's date (Price, Compare-at price)",
        "market_prices": "Price / <Market>, Compare-at price / <Market>",
        "images": "image rows in order with alt text, Variant image URL",
        "barcode": "Barcode",
        "locations": "inventory: {path, locations}: the inventory CSV",
    }

    def files(self) -> dict[str, str]:
        out = {"main": self.o.path}
        if isinstance(self.o.inventory, InventoryFile):
            out["inventory"] = self.o.inventory.path
        return out

    def quantities(self) -> dict[str, str]:
        return self.o.inventory.locations if isinstance(self.o.inventory, InventoryFile) else {}

    def derived(self, rec: dict[str, Any]) -> dict[str, Any]:
        # The day a sale starts or ends changes what the shop shows: a new record.
        return {"selling": selling(rec, self.today)} if rec.get("sale_price") else {}

    @property
    def today(self) -> date:
        return self.ctx.today if self.ctx is not None else date.today()

    def _columns(self) -> list[tuple[str, str]]:
        has = self.has
        wanted = {"handle", "title", "sku", "o1n", "o1v"}
        wanted |= {c for c in PRODUCT_LEVEL + ("barcode", "weight", "cost") if has(c)}
        if has("price") or has("compare_at_price") or has("sale_price"):
            wanted |= {"price", "compare_at_price"}
        spec = self.ctx.product if self.ctx is not None else None
        for n in range(2, (len(spec.option_specs()) if spec else 0) + 1):
            wanted |= {f"o{n}n", f"o{n}v"}
        if self.o.inventory is True and has("stock"):
            wanted |= {"stock", "tracker"}
        if isinstance(self.o.inventory, InventoryFile):
            wanted.add("tracker")  # tracked variants are what the inventory file moves
        if has("image"):
            wanted |= {"img", "pos", "image"}
            if has("image_alt"):
                wanted.add("alt")
        self.wanted = wanted
        cols = [c for c in (CURRENT if self.o.dialect == "current" else LEGACY)
                if c[0] in wanted]
        attrs = self.job.map.attributes if self.job is not None else {}
        cols += [(f"attr:{code}", f"{a.label(code)} (product.metafields.{a.namespace}.{code})")
                 for code, a in attrs.items() if "attr:" + code in self.present]
        compare_word = "Compare-at price" if self.o.dialect == "current" \
            else "Compare At Price"
        for market, m in self.o.markets.items():
            cols.append((f"price#{market}", f"Price / {market}"))
            if m.compare_at_price:
                cols.append((f"compare#{market}", f"{compare_word} / {market}"))
        return cols

    def header(self, name: str) -> list[str]:
        if name == "inventory":
            return INVENTORY_HEADER
        self.columns = self._columns()
        self.names = dict(self.columns)
        return [h for _, h in self.columns]

    def rows(self, p: Product, known: set[str]) -> Iterator[tuple[str, dict[str, str]]]:
        if not hasattr(self, "names"):
            self.header("main")
        names = self.names
        given = p.get("handle")
        handle = text(given) if not blank(given) else handle_of(p.key)
        alts = p.image_alts()
        images = p.images
        for i, rec in enumerate(p.variants):
            cells = self._variant(p, rec, handle)
            if i == 0:
                cells.update(self._head(p))
                if images:
                    cells.update(img=images[0], pos="1", alt=alts.get(images[0], ""))
            yield "main", {names[c]: v for c, v in cells.items() if c in names}
        for n, url in enumerate(images[1:], 2):
            extra = {"handle": handle, "img": url, "pos": str(n), "alt": alts.get(url, "")}
            yield "main", {names[c]: v for c, v in extra.items() if c in names}
        if isinstance(self.o.inventory, InventoryFile):
            yield from self._inventory(p, handle)


    def _head(self, p: Product) -> dict[str, str]:
        """The product-level cells of a product's first row."""
        head = {c: text(p.get(c)) for c in ("title", "description", "vendor", "category",
                                            "product_type", "seo_title", "seo_description")}
        head["tags"] = ", ".join(p.get("tags") or [])
        published = p.get("published")
        if published is not None:
            head["published"] = "TRUE" if published else "FALSE"
        status = text(p.get("status")).strip().lower()
        if status and status not in STATUSES:
            raise OutputError(f"product {p.key}: status {status!r} is not one of "
                              + ", ".join(STATUSES))
        head["status"] = status
        for a in p.attributes:
            head["attr:" + a["code"]] = ", ".join(a["values"])
        for n, o in enumerate([] if p.simple else p.options, 1):
            head[f"o{n}n"] = o.name
        if p.simple:
            head.update(o1n="Title")
        return head

    def _variant(self, p: Product, rec: dict[str, Any], handle: str) -> dict[str, str]:
        sku = rec["sku"]
        price, compare = selling(rec, self.today)
        images = rec.get("images") or ([rec["image"]] if rec.get("image") else [])
        cells = {"handle": handle, "sku": sku, "price": price, "compare_at_price": compare,
                 "barcode": text(rec.get("barcode")), "weight": text(rec.get("weight")),
                 "cost": text(rec.get("cost")),
                 "image": images[0] if images else ""}
        stock = integer(rec.get("stock"), "stock", sku) if "stock" in self.wanted else None
        if stock is not None:
            cells.update(stock=str(stock), tracker="shopify")
        if isinstance(self.o.inventory, InventoryFile):
            cells["tracker"] = "shopify"
        values = [] if p.simple else p.option_values(rec)
        for n, v in enumerate(values, 1):
            cells[f"o{n}v"] = v
        if p.simple:
            cells["o1v"] = "Default Title"
        for market, prices in (rec.get("prices") or {}).items():
            cells[f"price#{market}"] = prices.get("price", "")
            cells[f"compare#{market}"] = prices.get("compare_at_price", "")
        return cells

    def _inventory(self, p: Product, handle: str) -> Iterator[tuple[str, dict[str, str]]]:
        if not isinstance(self.o.inventory, InventoryFile):
            raise Bug("expected isinstance(self.o.inventory, InventoryFile)")
        for rec in p.variants:
            if "ordinal" not in rec:
                continue  # quantities only for this file's SKUs
            quantities = rec.get("locations") or {}
            options = [] if p.simple else p.options
            values = [] if p.simple else p.option_values(rec)
            cells = {"Handle": handle, "Title": text(p.get("title")), "SKU": rec["sku"]}
            for n, (o, v) in enumerate(zip(options, values, strict=True), 1):
                cells[f"Option{n} Name"] = o.name
                cells[f"Option{n} Value"] = v
            if p.simple:
                cells.update({"Option1 Name": "Title", "Option1 Value": "Default Title"})
            for location in self.o.inventory.locations:
                q = quantities.get(location)
                if q is None:
                    continue
                yield "inventory", {**cells, "Location": location, "On hand": str(q)}
