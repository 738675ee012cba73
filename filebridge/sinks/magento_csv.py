"""Magento 2's product import files (System > Data Transfer > Import): the
``catalog_product`` CSV (entity Products, behaviour Add/Update) and, for Multi-Source
Inventory, the ``stock_sources`` CSV per source beside it, published together.

What Magento's importer does with a file decides what is written (checked against a
re-implementation in tests/checkers/magento_importer.py, read from magento/magento2
CatalogImportExport, ConfigurableImportExport and ImportExport, and magento/inventory
InventoryImportExport):

- **A product with variants** is a ``configurable`` and its ``simple`` children. The
  children come first (``visibility`` Not Visible Individually, their option values
  in ``additional_attributes``), then the configurable with
  ``configurable_variations`` listing every child the shop has from this sink (this
  file's and, from the ledger's memory, the others) and
  ``configurable_variation_labels`` naming each option. One SKU and nothing to choose
  is one visible simple product.
- **An empty cell changes nothing** (the importer turns '' into null and drops it in
  Add/Update), so only what a record carries is set.
- **Store views**: each translated product gets a row per store view of its language
  (``store_views``) with ``store_view_code`` and only the translated texts (name,
  descriptions, SEO texts, ``url_key``) and text specifications. The importer keeps
  the first value it meets per store, and a store-view row of a product new to the
  shop also sets the default value: so the default row, which carries every one of
  those columns, always comes first, and a store-view row never holds a column of
  global scope (categories would create a second category tree named in that
  language). Rows of new products must repeat ``product_type`` and
  ``attribute_set_code`` (Product::validateRow checks them on every row).
- **url_key** is unique per store (the importer refuses a key another SKU has,
  "Url key: ... was already generated for an item with the SKU", and a product's
  old keys stay its own as redirects): ``handle`` when mapped, else the title and
  the product key. A key another product has, in this file or in an earlier one
  (the ledger's ``url_keys``, filebridge/ledger/url_keys.py), refuses the later
  product. Children get the title and their SKU.
- **Categories** are paths from ``root_category`` (``Default Category/Donna/
  Capispalla``), created by the importer when missing, default language only.
- **Filters and specifications** go to ``additional_attributes`` (``code=value``,
  several values of a multiselect joined by ``|``); select and multiselect values
  are option labels that must exist in the shop (the importer does not create
  options: "Value for 'x' attribute contains incorrect value"), and so must the
  option attributes of the children (global Dropdowns / swatches).
- **Prices**: ``price``; a sale is ``special_price`` with ``special_price_from_date`` /
  ``special_price_to_date`` (Magento applies it on those days, end day included);
  a compare-at price above the price makes it the price and the price a special
  price without dates.
- **Prices per website** (``website_prices``, only with ``price_scope: website``):
  a row per SKU and website with a store view's code and only the price (and a
  special price when a compare-at price is above it). Magento's importer
  (Product::_saveProducts) saves a store-view row's value of a website-scoped
  attribute for every store of that view's website, and of a global one for store
  0, the default of every website: with the catalog price scope global such a row
  would replace the price everywhere, so the option is refused then. A sale of the
  default row (special_price) shows in a website that has no special price of its
  own.
- **Stock**: ``qty`` / ``is_in_stock`` in the product file (the default source), or
  with ``sources:`` the MSI source-items file ``source_code,sku,status,quantity``
  per source, for simple SKUs only. MSI sells the sources' quantity minus the
  reservations of open orders; in a stock profile that also pulls the shop's orders
  through its ``magento_api`` output, ``reservations_of: <that output's id>`` writes
  the stock that output sets (what may be sold plus the units still reserved:
  filebridge/stock/push.py), so an imported file does not count an unshipped order
  twice either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from filebridge.catalog.product import Product
from filebridge.catalog.spec import check_languages
from filebridge.catalog.values import blank, integer, money, text
from filebridge.ledger import url_keys
from filebridge.options import Model, OutputPath
from filebridge.registry import REGISTRY
from filebridge.sinks.magento_cells import (
    CODE,
    SEP,
    CellError,
    attribute_pairs,
    category_paths,
    image_url,
    url_key,
    variation,
)
from filebridge.sinks.productfile import ProductFileOptions, ProductFileSink, ProductRefused

NOT_VISIBLE = "Not Visible Individually"
VISIBLE = "Catalog, Search"
STATUSES = ("active", "draft", "archived")
GRAMS = {"kgs": Decimal(1000), "lbs": Decimal("453.59237")}
# Store-scoped texts a store-view row carries: canonical -> column.
TEXTS = {"title": "name", "description": "description",
         "short_description": "short_description", "seo_title": "meta_title",
         "seo_description": "meta_description"}
IMAGES = ["base_image", "base_image_label", "small_image", "small_image_label",
          "thumbnail_image", "thumbnail_image_label", "additional_images",
          "additional_image_labels"]
SOURCES_HEADER = ["source_code", "sku", "status", "quantity"]  # stock_sources sample
EMPTY = "__EMPTY__VALUE__"  # Import::DEFAULT_EMPTY_ATTRIBUTE_VALUE_CONSTANT: clears a value


class SourcesFile(Model):
    """Magento's MSI source-items import file (entity Stock Sources)."""

    path: OutputPath = Field(description="the source-items CSV, e.g. "
                             "'outbox/magento/{stem}.sources.csv'")
    sources: dict[str, str] = Field(default_factory=dict, description="MSI source code -> "
                                    "mapped field with the quantity there, e.g. {milano: "
                                    "stock_milano, web: stock_web}; empty: the stock field "
                                    "in the source 'default'")


class WebsitePrice(Model):
    """The mapped fields of one website's prices."""

    price: str = Field(description="mapped field with the price in that website")
    compare_at_price: str | None = Field(None, description="mapped field with its "
                                         "compare-at price (above the price: the price, "
                                         "and the price its special_price)")


class MagentoCsvOptions(ProductFileOptions):
    """Magento 2 product import CSV (System > Data Transfer > Import, Products)."""

    format: Literal["magento_csv"] = Field(description="Magento 2 catalog_product import "
                                           "CSV (and the MSI source-items CSV)")
    parent_sku: str = Field("{key}", description="SKU of the configurable made for each "
                            "product key, e.g. 'P-{key}'; not one of the children's SKUs")
    attribute_set: str = Field("Default", description="attribute_set_code of every "
                               "product (it must hold the option and filter attributes)")
    websites: list[str] = Field(["base"], min_length=1, description="product_websites: "
                                "the website codes products are in")
    root_category: str = Field("Default Category", description="name of the root "
                               "category the category paths start under")
    attributes: dict[str, str] = Field(default_factory=dict, description="profile field "
                                       "-> Magento attribute code where they differ, for "
                                       "options and map.attributes, e.g. {colour: color}")
    store_views: dict[str, str | list[str]] = Field(
        default_factory=dict, description="language -> store view code(s) showing it, "
        "e.g. {en: en, de: [de, ch_de]}: a row per product and store view with its texts")
    barcode_attribute: str | None = Field(None, description="the text attribute holding "
                                          "the barcode (Magento has none of its own), "
                                          "e.g. ean")
    weight_unit: Literal["kgs", "lbs"] = Field("lbs", description="the shop's weight unit; "
                                               "weights in grams are converted")
    variant_images: bool = Field(True, description="also give each child its own images "
                                 "(shown when the shopper picks the variant)")
    sources: SourcesFile | None = Field(None, description="MSI: quantities per source in "
                                        "the source-items CSV {path, sources} instead of "
                                        "qty in the product file")
    reservations_of: str | None = Field(None, description="stock profiles: the id of the "
                                        "magento_api output of the same shop, whose orders "
                                        "are pulled; the stock written is what may be sold "
                                        "plus the units those orders still hold reserved "
                                        "(MSI sells the sources minus the reservations), as "
                                        "that output's is; not with a sources map")

    price_scope: Literal["global", "website"] = Field(
        "global", description="the shop's Catalog Price Scope (Stores > Configuration > "
        "Catalog > Price): website_prices need website")
    website_prices: dict[str, WebsitePrice] = Field(
        default_factory=dict, description="store view code -> {price, compare_at_price} "
        "mapped fields: a row per SKU with that store_view_code and its price, which "
        "Magento keeps for the view's whole website (price_scope: website)")

    @property
    def markets(self) -> dict[str, WebsitePrice]:
        """The website prices as the product-file records carry them (``prices``)."""
        return self.website_prices

    @model_validator(mode="after")
    def _price_scope(self) -> MagentoCsvOptions:
        if self.website_prices and self.price_scope != "website":
            raise ValueError("website_prices need price_scope: website: with the catalog "
                             "price scope global, Magento's importer saves a price on a "
                             "store-view row as the default price of every website "
                             "(Product::_saveProducts); set the shop's Catalog Price "
                             "Scope to Website and price_scope: website, or leave "
                             "website_prices out")
        return self

    @field_validator("store_views")
    @classmethod
    def _languages(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        check_languages(list(v))
        return v

    @field_validator("attributes")
    @classmethod
    def _codes(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [c for c in v.values() if not CODE.match(c)]
        if bad:
            raise ValueError(f"not Magento attribute codes: {', '.join(bad)} (lower case "
                             "letters, digits, _; a letter first)")
        return v

    @field_validator("barcode_attribute")
    @classmethod
    def _barcode(cls, v: str | None) -> str | None:
        if v is not None and not CODE.match(v):
            raise ValueError(f"{v!r} is not a Magento attribute code")
        return v

    @field_validator("parent_sku")
    @classmethod
    def _parent_pattern(cls, v: str) -> str:
        try:
            v.format(key="K")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"{v!r}: the only placeholder is {{key}} ({e})") from None
        return v


@REGISTRY.sink("magento_csv")
class MagentoCsvSink(ProductFileSink):
    Options = MagentoCsvOptions
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"status": STATUSES}
    LANDS: ClassVar[dict[str, str]] = {
        "sku": "sku (a configurable's own: parent_sku)", "title": "name",
        "description": "description", "short_description": "short_description",
        "seo_title": "meta_title", "seo_description": "meta_description",
        "handle": "url_key (default: title and product key)",
        "categories": "categories (Default Category/A/B)",
        "status": "product_online (draft, archived: 2)", "published": "product_online",
        "price": "price", "compare_at_price": "price when above price (price is then "
        "special_price)", "sale_price": "special_price",
        "sale_from": "special_price_from_date", "sale_to": "special_price_to_date",
        "stock": "qty, is_in_stock (or the source-items CSV)",
        "weight": "weight (weight_unit), from grams",
        "barcode": "additional_attributes: barcode_attribute",
        "image": "base_image, small_image, thumbnail_image, additional_images",
        "images": "base_image (first), additional_images",
        "image_alt": "*_image_label, additional_image_labels",
    }
    CARRIES: ClassVar[dict[str, str]] = {
        "translations": "store-view rows (store_views: language -> codes): names, "
                        "descriptions, SEO texts, url_key, text specifications",
        "categories": "categories paths under root_category (created when missing)",
        "filters": "additional_attributes: Dropdown / Multiple Select labels (the options "
                   "must exist)",
        "specs": "additional_attributes: text attributes, per store view when translated",
        "sale_dates": "special_price, special_price_from_date / special_price_to_date",
        "images": "base/small/thumbnail image, additional_images in order, with labels",
        "barcode": "additional_attributes: the text attribute named by barcode_attribute",
        "locations": "sources: {path, sources}: the MSI source-items CSV per source",
    }

    @classmethod
    def notes(cls, options: MagentoCsvOptions, profile: Any) -> list[str]:
        """What a profile gives this output that its files leave out."""
        m = profile.map
        out = []
        views = set(options.store_views)
        missing = [lang for lang in m.languages[1:] if lang not in views]
        if missing:
            out.append(f"no store view for {', '.join(missing)} (store_views: language -> "
                       "codes): texts in those languages are not written")
        unknown = [lang for lang in options.store_views if lang not in m.languages[1:]]
        if unknown:
            out.append(f"store_views name {', '.join(unknown)}, not among the profile's "
                       "other languages (map.languages): no rows for those store views")
        if views and m.languages[1:]:
            out.append("option values, filter values and category names in other "
                       "languages are store labels of the shop's options and categories, "
                       "which the product import does not set (magento_api does)")
        fields = options.fields or {}
        if fields.get("barcode", "barcode") in m.fields and not options.barcode_attribute:
            out.append("a barcode field but no barcode_attribute: barcodes are not written")
        return out

    def files(self) -> dict[str, str]:
        out = {"main": self.o.path}
        if self.o.sources is not None:
            out["sources"] = self.o.sources.path
        return out

    def quantities(self) -> dict[str, str]:
        return dict(self.o.sources.sources) if self.o.sources is not None else {}

    def code(self, field: str) -> str:
        return self.o.attributes.get(field, field)

    def views(self, lang: str) -> list[str]:
        v = self.o.store_views.get(lang, [])
        return [v] if isinstance(v, str) else list(v)

    # -- the files --------------------------------------------------------------
    def header(self, name: str) -> list[str]:
        if name == "sources":
            return SOURCES_HEADER
        has = self.has
        spec = self.ctx.product if self.ctx is not None else None
        cols = ["sku", "store_view_code", "attribute_set_code", "product_type"]
        if has("categories"):
            cols.append("categories")
        cols += ["product_websites", "name"]
        cols += [c for c in ("description", "short_description") if has(c)]
        if has("weight"):
            cols.append("weight")
        cols += ["product_online", "visibility"]
        if has("price") or has("compare_at_price") or has("sale_price") or \
                self.o.website_prices:
            cols += ["price", "special_price"]
        if has("sale_from") or has("sale_to"):
            cols += ["special_price_from_date", "special_price_to_date"]
        cols.append("url_key")
        cols += [c for n, c in TEXTS.items() if c.startswith("meta_") and has(n)]
        if has("image"):
            cols += IMAGES
        cols.append("additional_attributes")
        if self.o.sources is not None:
            cols.append("is_in_stock")  # the quantities are in the source-items file
        elif has("stock"):
            cols += ["qty", "is_in_stock"]
        if spec is not None and spec.option_specs():
            cols += ["configurable_variations", "configurable_variation_labels"]
        return list(dict.fromkeys(cols))

    def _write_products(self) -> None:
        super()._write_products()
        # The file's URL keys, claimed in the spool as its products were written, go to
        # the ledger; they count for later files once this one is done.
        job, ctx = self.job, self.ctx
        if job is not None and ctx is not None and ctx.file_id is not None:
            url_keys.claim(job.ledger, job.profile, self.id, ctx.file_id,
                           self.spool.claimed())

    def _owners(self, keys: list[str]) -> tuple[dict[str, str], set[str]]:
        """Who has ``keys``: products of this file (the spool), then of earlier files
        (the ledger); and which of them this file's."""
        out = self.spool.owners(keys)
        mine = set(out)
        rest = [k for k in keys if k not in out]
        if rest and self.job is not None:
            out.update(url_keys.owners(self.job.ledger, self.job.profile, self.id, rest))
        return out, mine

    def rows(self, p: Product, known: set[str]) -> Iterator[tuple[str, dict[str, str]]]:
        try:
            keys = self._url_keys(p)
            rows = list(self._rows(p, keys))
            for _, cells in rows:
                _php_csv_safe(cells)
        except CellError as e:
            raise ProductRefused(f"product {p.key}: {e}", e.field) from None
        # A default row's key is the product's in every store, so a key is taken
        # whichever language it was made for; claimed in the spool (on disk): one per
        # product of the file.
        self.spool.claim(list(keys.values()), p.key)
        yield from rows

    def _rows(self, p: Product, keys: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
        base = self._product(p)
        if p.simple:
            rec = p.variants[0]
            cells = {**base, **self._variant(p, rec, own_images=True), "sku": rec["sku"],
                     "product_type": "simple", "visibility": VISIBLE, "url_key": keys[""]}
            values = [(self.code(o.field), [v]) for o, v in
                      zip(p.options, p.option_values(rec), strict=True) if v]
            cells["additional_attributes"] = attribute_pairs(
                values + self._barcode(rec) + self._attributes(p.attributes))
            yield "main", cells
            yield from self._views(p, rec["sku"], "simple", keys)
            yield from self._website_prices(rec)
            yield from self._stock(p)
            return
        parent = self.o.parent_sku.format(key=p.key)
        if any(r["sku"] == parent for r in p.variants):
            raise ProductRefused(f"product {p.key}: the configurable's SKU {parent} is also "
                                 "a child's SKU; set parent_sku, e.g. 'P-{key}'")
        codes = [self.code(o.field) for o in p.options]
        for rec in p.variants:
            if "ordinal" not in rec:
                continue  # a child this file does not carry is in the shop already
            chosen = p.option_values(rec)
            cells = {**self._variant(p, rec, own_images=self.o.variant_images),
                     "sku": rec["sku"], "attribute_set_code": self.o.attribute_set,
                     "product_type": "simple", "product_websites": base["product_websites"],
                     "product_online": base["product_online"], "visibility": NOT_VISIBLE,
                     "name": " ".join([text(p.get("title")), *chosen]).strip(),
                     "url_key": url_key(text(p.get("title")), rec["sku"])}
            # The child's own filter values too: layered navigation filters a
            # configurable by its children's values.
            cells["additional_attributes"] = attribute_pairs(
                [(c, [v]) for c, v in zip(codes, chosen, strict=True)] + self._barcode(rec)
                + self._attributes(rec.get("attributes", [])))
            yield "main", cells
            yield from self._website_prices(rec)
        head = {**base, "sku": parent, "product_type": "configurable", "visibility": VISIBLE,
                "url_key": keys[""],
                "additional_attributes": attribute_pairs(self._attributes(p.attributes)),
                "configurable_variations": "|".join(
                    variation(r["sku"], list(zip(codes, p.option_values(r), strict=True)))
                    for r in p.variants),
                "configurable_variation_labels": SEP.join(
                    f"{c}={o.name}" for c, o in zip(codes, p.options, strict=True))}
        head.update(self._gallery(p.variants, p.images))
        if any(r.get("stock") is not None or r.get("locations") for r in p.variants):
            head["is_in_stock"] = "1" if any(self._quantity(r) > 0 for r in p.variants) \
                else "0"
        yield "main", head
        yield from self._views(p, parent, "configurable", keys)
        yield from self._stock(p)

    def _product(self, p: Product) -> dict[str, str]:
        status = text(p.get("status")).strip().lower()
        if status and status not in STATUSES:
            raise ProductRefused(f"product {p.key}: status {status!r} is not one of "
                                 + ", ".join(STATUSES), "status")
        online = "" if not status and p.get("published") is None else (
            "2" if status in ("draft", "archived") or p.get("published") is False else "1")
        cells = {"attribute_set_code": self.o.attribute_set,
                 "product_websites": SEP.join(self.o.websites), "product_online": online,
                 "categories": category_paths(self.o.root_category,
                                              p.get("categories") or [])}
        cells.update({col: text(p.get(n)) for n, col in TEXTS.items()})
        for n, col in TEXTS.items():
            if n != "title" and not cells[col] and self._was(p, n):
                cells[col] = EMPTY  # an empty cell would keep the old text
        return cells

    def _was(self, p: Product, name: str, lang: str | None = None) -> bool:
        """Whether this sink wrote a value of ``name`` for one of the file's SKUs before."""
        for r in p.variants:
            raw = getattr(self, "previous", {}).get(r["sku"]) if "ordinal" in r else None
            if raw is None:
                continue
            prev = json.loads(raw)
            v = prev.get("translations", {}).get(lang, {}).get(name) if lang else prev.get(name)
            if not blank(v):
                return True
        return False

    def _url_keys(self, p: Product) -> dict[str, str]:
        """The product's URL key by language ('' the default); checked unique per store
        within the file (the importer refuses a key another SKU has in the store)."""
        out = {}
        for lang in ["", *self.o.store_views]:
            handle = p.get("handle", lang or None)
            title = p.get("title", lang or None)
            if lang and blank(handle) and blank(title):
                continue
            key = url_key(text(handle)) if not blank(handle) else url_key(
                text(title if not blank(title) else p.get("title")), p.key)
            if not key:
                raise ProductRefused(f"product {p.key}: no URL key can be made from its "
                                     "title and key; map a handle field", "handle")
            out[lang] = key
        owners, mine = self._owners(sorted(set(out.values())))
        clash = [(lang, k) for lang, k in out.items() if owners.get(k, p.key) != p.key]
        if clash:
            lang, k = clash[0]
            where = "" if k in mine else " (in an earlier file)"
            raise ProductRefused(f"product {p.key}: url_key {k!r}"
                                 + (f" (store view {', '.join(self.views(lang))})" if lang
                                    else "") + f" is product {owners[k]}'s already{where}; "
                                 "Magento refuses a URL key another product has: map a "
                                 "handle field", "handle")
        return out

    def _variant(self, p: Product, rec: dict[str, Any], own_images: bool) -> dict[str, str]:
        sku = rec["sku"]
        price = money(rec.get("price"), "price", sku)
        compare = money(rec.get("compare_at_price"), "compare_at_price", sku)
        sale = money(rec.get("sale_price"), "sale_price", sku)
        cells = {"price": text(price), "special_price": text(sale),
                 "special_price_from_date": text(rec.get("sale_from")) if sale else "",
                 "special_price_to_date": text(rec.get("sale_to")) if sale else ""}
        if sale is None and compare is not None and price is not None and compare > price:
            cells.update(price=text(compare), special_price=text(price))
        prev = json.loads(getattr(self, "previous", {}).get(sku) or "{}")
        for col, names in (("special_price", ("sale_price", "compare_at_price")),
                           ("special_price_from_date", ("sale_from",)),
                           ("special_price_to_date", ("sale_to",))):
            if not cells[col] and any(not blank(prev.get(n)) for n in names):
                cells[col] = EMPTY  # the sale is over: an empty cell would keep it
        grams = money(rec.get("weight"), "weight", sku)
        if grams is not None:
            w = grams / GRAMS[self.o.weight_unit]
            cells["weight"] = text(w.normalize() if w else Decimal(0))
        if self.o.sources is None:
            stock = integer(rec.get("stock"), "stock", sku)
            if stock is not None:
                cells.update(qty=str(stock), is_in_stock="1" if stock > 0 else "0")
        elif rec.get("locations") or rec.get("stock") is not None:
            cells["is_in_stock"] = "1" if self._quantity(rec) > 0 else "0"
        if own_images:
            images = rec.get("images") or ([rec["image"]] if rec.get("image") else [])
            cells.update(self._gallery([rec], images if not p.simple else p.images))
        return cells

    def _quantity(self, rec: dict[str, Any]) -> int:
        if self.o.sources is not None and self.o.sources.sources:
            return sum((rec.get("locations") or {}).values())
        return integer(rec.get("stock"), "stock", rec["sku"]) or 0

    def _gallery(self, recs: list[dict[str, Any]], images: list[str]) -> dict[str, str]:
        if not images:
            return {}
        alts: dict[str, str] = {}
        for r in recs:
            for url in r.get("images") or ([r["image"]] if r.get("image") else []):
                alts.setdefault(url, text(r.get("image_alt")))
        labels = []
        for url in images:
            label = alts.get(url, "")
            if SEP in label:  # additional_image_labels splits on it: labels would shift
                self._warn(recs[0], "image_alt", f"the image label {label!r} holds {SEP!r} "
                           "(additional_image_labels splits on it): not written")
                label = ""
            labels.append(label)
        first = image_url(images[0])
        return {"base_image": first, "base_image_label": labels[0], "small_image": first,
                "small_image_label": labels[0], "thumbnail_image": first,
                "thumbnail_image_label": labels[0],
                "additional_images": SEP.join(image_url(u) for u in images),
                "additional_image_labels": SEP.join(labels) if any(labels) else ""}

    def _warn(self, rec: dict[str, Any], field: str, why: str) -> None:
        if self.ctx is not None and self.ctx.report is not None:
            self.ctx.report.warn(rec.get("line"), field, f"{self.o.format}: {why}")

    def _barcode(self, rec: dict[str, Any]) -> list[tuple[str, list[str]]]:
        if self.o.barcode_attribute and not blank(rec.get("barcode")):
            return [(self.o.barcode_attribute, [text(rec["barcode"])])]
        return []

    def _attributes(self, attrs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
        return [(self.code(a["code"]), list(a["values"])) for a in attrs if a["values"]]

    def _views(self, p: Product, sku: str, kind: str, keys: dict[str, str]
               ) -> Iterator[tuple[str, dict[str, str]]]:
        """A row per store view of each translated language: its texts only."""
        for lang in self.o.store_views:
            cells = {col: text(p.get(n, lang)) or (EMPTY if self._was(p, n, lang) else "")
                     for n, col in TEXTS.items()}  # EMPTY: the store shows the default again
            specs = [(self.code(a["code"]), a["translations"][lang]) for a in p.attributes
                     if not a["filter"] and lang in a.get("translations", {})]
            cells["additional_attributes"] = attribute_pairs(specs)
            if lang in keys:
                cells["url_key"] = keys[lang]
            if not any(cells.values()):
                continue
            for view in self.views(lang):
                yield "main", {**cells, "sku": sku, "store_view_code": view,
                               "attribute_set_code": self.o.attribute_set,
                               "product_type": kind}

    def _website_prices(self, rec: dict[str, Any]) -> Iterator[tuple[str, dict[str, str]]]:
        """A row per website price of a SKU (price_scope website): the importer saves
        a website-scoped price of a store-view row for every store of its website."""
        sku = rec["sku"]
        for view in self.o.website_prices:
            got = (rec.get("prices") or {}).get(view)
            if not got:
                continue
            price = money(got.get("price"), f"price in {view}", sku)
            compare = money(got.get("compare_at_price"), f"compare_at_price in {view}", sku)
            cells = {"sku": sku, "store_view_code": view, "product_type": "simple",
                     "attribute_set_code": self.o.attribute_set, "price": text(price)}
            if compare is not None and price is not None and compare > price:
                cells.update(price=text(compare), special_price=text(price))
            yield "main", cells

    def _stock(self, p: Product) -> Iterator[tuple[str, dict[str, str]]]:
        if self.o.sources is None:
            return
        for rec in p.variants:
            if "ordinal" not in rec:
                continue
            if self.o.sources.sources:
                where = {s: q for s, q in (rec.get("locations") or {}).items()}
            else:
                q = integer(rec.get("stock"), "stock", rec["sku"])
                where = {} if q is None else {"default": q}
            for source, q in where.items():
                yield "sources", {"source_code": source, "sku": rec["sku"],
                                  "status": "1" if q > 0 else "0", "quantity": str(q)}


def _php_csv_safe(cells: dict[str, str]) -> None:
    """Magento reads the file with PHP's fgetcsv, whose escape character is a
    backslash: in a quoted cell a backslash before a quote, or ending the cell, makes
    the quote part of the text and the rest of the line shifts."""
    for col, v in cells.items():
        if '\\"' in v or v.endswith("\\") and any(c in v for c in ',"\n\r'):
            raise CellError(f"{col}: {v[:60]!r} has a backslash before a quote or at the end "
                            "of a quoted cell, which Magento's CSV reader (PHP fgetcsv) "
                            "reads as an escape: the rest of the row would shift", col)
