"""PrestaShop's CSV import (Advanced Parameters > Import): a products file per
language and a combinations file, published together.

What PrestaShop's importer does with a file decides what is written (read in
PrestaShop/PrestaShop ``controllers/admin/AdminImportController.php`` @601f1327,
``classes/Validate.php``, ``classes/Category.php`` (searchByPath),
``classes/AttributeGroup.php``, ``classes/ProductAttribute.php``; re-implemented in
tests/checkers/prestashop_importer.py):

- **Files and order of import**, each with "Use product reference as key" on
  (without it the importer creates a new product per row, and a combination row
  naming a product by reference is silently skipped) and one header line to skip:
  ``<path>.<lang>.csv`` for the first language (entity Products, the form's
  language set to it), then ``<path>.combinations.csv`` (entity Combinations),
  then ``<path>.<lang>.csv`` of the other languages (entity Products, each with its
  language). Columns are matched by hand in the import form: every header is
  PrestaShop's own label, so the matching is made once and saved.
- **One language per run**: the form's language decides which translation a
  cell sets, and an empty cell of a translated column *blanks* that language (the
  importer's fillInfo); a product's first import copies its text into every
  language still empty. So the other languages' files carry only the reference,
  name, summary, description and URL, with the default language's text where a
  translation is missing (what the shop would show anyway). Categories, features,
  brand and attribute names and values exist in the default language only: the
  importer creates them with the same text in every language.
- **Categories** are paths written ``Donna/Capispalla/Giacche`` (levels joined by
  ``/``, what ``Category::searchByPath`` splits on; a level holding ``/`` cannot be
  written). Missing levels are created; the first level is looked up by name
  anywhere in the tree, and after creating a level the importer looks the new
  one up by its bare name, so a level name used under two parents may attach the
  product to the wrong branch: such names are listed as warnings.
- **Separators**: ``delimiter`` (``;``) and ``multiple_value_separator`` (``,``)
  are the import form's two options. Categories and image URLs/alt texts are split
  like a CSV line (a value holding the separator is written in double quotes);
  features, attributes, values and image positions are split blindly on the
  separator and on ``:``, so such a value cannot be carried: its product is refused
  with the reason (choose another separator, e.g. ``|``).
- **Names** follow ``Validate::isCatalogName`` (no ``< > ; = # { }``, at most 128
  characters), features, attributes and values ``isGenericName`` (no ``< > = {
  }``), the reference ``isReference``; the EAN-13 ``isEan13`` (up to 13 digits:
  an invalid one fails a product row and is dropped from a combination). A
  product the importer would refuse is refused here, with its rows.
- **Prices**: one product price (the default combination's) and each
  combination's impact on it; a product price tax included is divided by the tax
  rule's rate by the importer, an impact is stored as it is (tax excluded), so
  with ``prices: tax_included`` and variants priced differently ``tax_rate`` must
  be given. A sale is the importer's one discount per product (``Discount
  amount``, applied tax included by PrestaShop) with its dates, the end at
  23:59:59; variants whose sales differ cannot be carried (a warning). ``On sale
  (0/1)`` is not written: it is a badge that outlives the sale's dates.
- **Stock**: a combination row always sets its quantity (an empty or absent cell
  sets 0, the importer's default), and PrestaShop makes the product's quantity
  the sum of its combinations'.
- **Features** (filters and specifications) are added by the import, never
  removed: a value the ERP drops stays on the product until removed in the shop.
  PrestaShop 8 keeps several values of one feature (colour family: Nero, Marrone);
  1.6 and early 1.7 kept the last one.
- **Images**: the product's images in order (the first is the cover) with their
  alt texts, and ``Delete existing images`` 1 so a new import replaces them
  instead of adding copies; each combination names its images by position, so a
  product is written with every combination it has (this file's and, from the
  ledger's memory, the others), whose quantities are the last ones sent.
- **Positions**: attribute groups and values carry 1-based positions (a ``0``
  means "at the end" to the importer); PrestaShop keeps the position a value was
  created with and renumbers the group after each new value. The values earlier
  done files created are remembered in the ledger, in the shop's order
  (``attribute_values``, filebridge/ledger/attribute_values.py), so a later file's
  new value is placed among them (an M arriving after XS, S, L goes after S); one
  that belongs first or second cannot be placed by the importer and goes last (a
  warning). Values reordered or created by hand in the shop are not known.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from filebridge.catalog.product import Product
from filebridge.catalog.sizes import ordered
from filebridge.catalog.values import blank, integer, money, text
from filebridge.errors import OutputError
from filebridge.ledger import attribute_values
from filebridge.records import Batch
from filebridge.registry import REGISTRY
from filebridge.sinks.base import SinkContext
from filebridge.sinks.productfile import (
    ProductFileOptions,
    ProductFileSink,
    ProductRefused,
    pattern_fields,
)
from filebridge.sinks.woocommerce_csv import GRAMS, _suffixed

STATUSES = ("active", "draft", "archived")
CATALOG_NAME = re.compile(r"^[^<>;=#{}]*$")  # Validate::isCatalogName
GENERIC_NAME = re.compile(r"^[^<>={}]*$")  # Validate::isGenericName
REFERENCE = re.compile(r"^[^<>;={}]*$")  # Validate::isReference
EAN13 = re.compile(r"^[0-9]{0,13}$")  # Validate::isEan13 (no check digit test)
NAME_MAX = 128  # ProductSettings::MAX_NAME_LENGTH, Category and attribute names

# The import form's labels (AdminImportController::__construct, 8.x), by field key.
PRODUCT_LABELS = {
    "reference": "Reference #", "active": "Active (0/1)", "name": "Name",
    "category": "Categories (x,y,z...)", "price_tin": "Price tax included",
    "price_tex": "Price tax excluded", "id_tax_rules_group": "Tax rule ID",
    "wholesale_price": "Cost price", "reduction_price": "Discount amount",
    "reduction_from": "Discount from (yyyy-mm-dd)", "reduction_to": "Discount to (yyyy-mm-dd)",
    "manufacturer": "Brand", "ean13": "EAN-13", "weight": "Weight", "quantity": "Quantity",
    "description_short": "Summary", "description": "Description",
    "link_rewrite": "Rewritten URL", "image": "Image URLs (x,y,z...)",
    "image_alt": "Image alt texts (x,y,z...)",
    "delete_existing_images": "Delete existing images (0 = No, 1 = Yes)",
    "features": "Feature (Name:Value:Position:Customized)",
}
COMBINATION_LABELS = {
    "product_reference": "Product Reference", "group": "Attribute (Name:Type:Position)*",
    "attribute": "Value (Value:Position)*", "reference": "Reference", "ean13": "EAN-13",
    "wholesale_price": "Cost price", "price": "Impact on price", "quantity": "Quantity",
    "weight": "Impact on weight", "default_on": "Default (0 = No, 1 = Yes)",
    "image_position": "Choose among product images by position (1,2,3...)",
}
SIX = Decimal("0.000001")  # PrestaShop stores prices and impacts as decimal(20,6)


class PrestaShopCsvOptions(ProductFileOptions):
    """PrestaShop CSV import: products per language and their combinations."""

    format: Literal["prestashop_csv"] = Field(description="PrestaShop products and "
                                              "combinations import CSVs")
    delimiter: str = Field(";", min_length=1, max_length=1, description="the import "
                           "form's field separator")
    multiple_value_separator: str = Field(",", min_length=1, max_length=1, description=(
        "the import form's multiple value separator (categories, images, features, "
        "attributes); a feature or attribute value holding it is refused, so pick one "
        "the catalog does not use, e.g. '|'"))
    reference: str = Field("{key}", description="the product's reference (Reference #, "
                           "the key of 'Use product reference as key'): a template over "
                           "{key} and the fields of its first row; a product with one SKU "
                           "and no options uses its SKU")
    prices: Literal["tax_included", "tax_excluded"] = Field(
        "tax_included", description="whether the prices are tax included (Price tax "
        "included: PrestaShop takes the tax out with the tax rule's rate) or excluded")
    tax_rules_id: int | None = Field(None, ge=0, description="Tax rule ID of every product "
                                     "(the id of the tax rules group in the shop)")
    tax_rate: Decimal | None = Field(None, ge=0, description="the rate of tax_rules_id in "
                                     "percent (e.g. 22): needed to write tax-excluded "
                                     "impacts when variants' tax-included prices differ")
    weight_unit: Literal["kg", "g", "lbs", "oz"] = Field(
        "kg", description="the shop's weight unit (Shop Parameters > Localization)")
    types: dict[str, Literal["select", "radio", "color"]] = Field(
        default_factory=dict, description="attribute type per option field (default "
        "select), e.g. {colour: color}; a color group shows swatches")

    @field_validator("reference")
    @classmethod
    def _template(cls, v: str) -> str:
        pattern_fields(v)
        return v

    @field_validator("delimiter", "multiple_value_separator")
    @classmethod
    def _separator(cls, v: str) -> str:
        if v in ('"', ":", "/", "\\", "\n", "\r"):
            raise ValueError(f"{v!r} cannot separate: PrestaShop's importer gives it "
                             "another meaning")
        return v


def str2url(s: str) -> str:
    """A URL slug as PrestaShop's Tools::str2url makes one (accented URLs off): ASCII
    lower case, other characters as '-'."""
    ascii_ = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    ascii_ = re.sub(r"[^a-z0-9\s'\:/\[\]-]", "", ascii_)
    return re.sub(r"[\s'\:/\[\]-]+", "-", ascii_).strip("-")


def split_cell(values: list[str], sep: str) -> str:
    """Items of a cell the importer splits as a CSV line (AdminImportController::split,
    fgetcsv on the multiple value separator): an item holding the separator or a
    quote goes in quotes, quotes doubled."""
    out = []
    for v in values:
        if sep in v or '"' in v or "\n" in v:
            v = '"' + v.replace('"', '""') + '"'
        out.append(v)
    return sep.join(out)


def _kg(grams: Decimal, unit: str) -> Decimal:
    w = grams / GRAMS[unit]
    return w.normalize() if w else Decimal(0)


def _dec(d: Decimal) -> str:
    q = d.quantize(SIX, ROUND_HALF_UP).normalize()
    return format(q if q else Decimal(0), "f")


@REGISTRY.sink("prestashop_csv")
class PrestaShopCsvSink(ProductFileSink):
    Options = PrestaShopCsvOptions
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"status": STATUSES}
    LANDS: ClassVar[dict[str, str]] = {
        "sku": "Reference (combination); Reference # of a product with one SKU",
        "title": "Name (and Rewritten URL), per language file",
        "description": "Description, per language file",
        "short_description": "Summary, per language file",
        "handle": "Rewritten URL", "vendor": "Brand",
        "categories": "Categories (paths A/B/C; created when missing)",
        "status": "Active (draft and archived 0)", "published": "Active",
        "price": "Price tax included/excluded; Impact on price (combination)",
        "sale_price": "Discount amount (one per product)",
        "sale_from": "Discount from", "sale_to": "Discount to (23:59:59)",
        "cost": "Cost price", "barcode": "EAN-13",
        "stock": "Quantity (combination; a product's is the sum)",
        "weight": "Weight (<weight_unit>), Impact on weight",
        "image": "Image URLs; a combination's image position",
        "images": "Image URLs; a combination's image positions",
        "image_alt": "Image alt texts",
    }
    CARRIES: ClassVar[dict[str, str]] = {
        "translations": "a products file per language (name, summary, description, URL); "
                        "categories, features and attribute values in the default "
                        "language only",
        "categories": "Categories (paths A/B/C; the importer creates missing levels)",
        "filters": "features Name:Value:Position (the faceted search module filters on "
                   "them)",
        "specs": "features Name:Value:Position",
        "sale_dates": "Discount amount, Discount from / to (one discount per product)",
        "images": "Image URLs and alt texts in order; combinations by image position",
        "barcode": "EAN-13 (product and combination)",
    }
    PARTLY: ClassVar[dict[str, str]] = {
        "translations": "PrestaShop's import creates categories, features, attribute "
                        "names and values with the default language's text in every "
                        "language (option labels and translated categories are not "
                        "imported)",
        "sale_dates": "one discount per product: variants whose sales differ get none "
                      "(a warning)",
    }

    # the contract -------------------------------------------------------
    def start(self, ctx: SinkContext) -> None:
        super().start(ctx)
        self.languages = list(self.job.map.languages) if self.job is not None else []
        self.values: dict[str, dict[str, None]] = {}  # option field -> values, first seen
        self.levels: dict[str, tuple[str, ...]] = {}  # category level -> its parent path
        self.warned: set[str] = set()
        self._ranks: dict[str, dict[str, int]] | None = None
        self.created: dict[str, list[str]] = {}  # option field -> values, shop order
        self.declared: dict[str, dict[str, int]] = {}  # option field -> value -> position
        self.earlier: dict[str, list[str]] = {}  # option field -> earlier files' values
        if self.job is not None:  # what earlier done files created: the group as it is
            for field, values in attribute_values.load(self.job.ledger, self.job.profile,
                                                       self.id).items():
                self.earlier[field] = [v for v, _ in values]
                self.created[field] = [v for v, _ in values]
                self.declared[field] = dict(values)

    def _write_products(self) -> None:
        super()._write_products()
        # The groups as this file leaves them; they count for later files once it is done.
        job, ctx = self.job, self.ctx
        if job is not None and ctx is not None and ctx.file_id is not None:
            attribute_values.save(job.ledger, job.profile, self.id, ctx.file_id, [
                (f, [(v, self.declared[f][v]) for v in shop])
                for f, shop in self.created.items() if shop])

    def write(self, batch: Batch) -> None:
        spec = self.ctx.product if self.ctx is not None else None
        for o in spec.option_specs() if spec is not None else []:
            if o.field in batch.names:
                seen = self.values.setdefault(o.field, {})
                for v in batch.column(o.field).to_pylist():
                    if not blank(v):
                        seen.setdefault(text(v).strip(), None)
        super().write(batch)

    def delimiter(self) -> str:
        return self.o.delimiter

    def files(self) -> dict[str, str]:
        langs = self._langs()
        if langs == [None]:
            out = {"products": self.o.path}
        else:
            out = {f"products:{lang}": _suffixed(self.o.path, lang) for lang in langs
                   if lang is not None}
        out["combinations"] = _suffixed(self.o.path, "combinations")
        return out

    def _langs(self) -> list[str | None]:
        langs = getattr(self, "languages", None)
        if langs is None:
            langs = list(self.job.map.languages) if self.job is not None else []
        return list(langs) or [None]

    def _main(self) -> str:
        first = self._langs()[0]
        return "products" if first is None else f"products:{first}"

    # headers --------------------------------------------------------------
    def header(self, name: str) -> list[str]:
        has = self.has
        if name == "combinations":
            keys = ["product_reference", "group", "attribute", "reference", "default_on"]
            keys += [k for k, present in (
                ("ean13", has("barcode")), ("wholesale_price", has("cost")),
                ("price", has("price")), ("quantity", has("stock")),
                ("weight", has("weight")), ("image_position", has("image"))) if present]
            return [COMBINATION_LABELS[k] for k in keys]
        if name != self._main():  # another language: its text only
            keys = ["reference", "name", "link_rewrite"]
            keys += [k for k, c in (("description_short", "short_description"),
                                    ("description", "description")) if has(c)]
            return [PRODUCT_LABELS[k] for k in keys]
        price = "price_tin" if self.o.prices == "tax_included" else "price_tex"
        attrs = self.job.map.attributes if self.job is not None else {}
        keys = ["reference", "active", "name", "link_rewrite"]
        keys += [k for k, present in (
            ("category", has("categories")), (price, has("price")),
            ("id_tax_rules_group", self.o.tax_rules_id is not None),
            ("wholesale_price", has("cost")),
            ("reduction_price", has("sale_price")),
            ("reduction_from", has("sale_price")), ("reduction_to", has("sale_price")),
            ("manufacturer", has("vendor")), ("ean13", has("barcode")),
            ("weight", has("weight")), ("quantity", has("stock")),
            ("description_short", has("short_description")),
            ("description", has("description")),
            ("image", has("image")), ("image_alt", has("image") and has("image_alt")),
            ("delete_existing_images", has("image")),
            ("features", any("attr:" + c in self.present for c in attrs)),
        ) if present]
        return [PRODUCT_LABELS[k] for k in keys]

    # rows -----------------------------------------------------------------
    def rows(self, p: Product, known: set[str]) -> Iterator[tuple[str, dict[str, str]]]:
        mv = self.o.multiple_value_separator
        reference = self._reference(p)
        self._check_name(p, "title", text(p.get("title")), "Name")
        if not REFERENCE.match(reference) or len(reference) > 64:
            raise ProductRefused(f"product {p.key}: reference {reference!r} is not one "
                                 "PrestaShop takes (no < > ; = { }, at most 64 "
                                 "characters)", "sku")
        for rec in p.variants:
            self._check_ean(rec)
        titles = {lang: text(p.get("title", lang) or p.get("title"))
                  for lang in self._langs()[1:] if lang is not None}
        for lang, title in titles.items():
            self._check_name(p, f"title@{lang}", title, "Name")
        price, impacts = self._prices(p)
        cells = {PRODUCT_LABELS["reference"]: reference,
                 PRODUCT_LABELS["active"]: self._active(p),
                 PRODUCT_LABELS["name"]: text(p.get("title")),
                 PRODUCT_LABELS["link_rewrite"]: self._slug(p, None),
                 PRODUCT_LABELS["description_short"]: text(p.get("short_description")),
                 PRODUCT_LABELS["description"]: text(p.get("description")),
                 PRODUCT_LABELS["category"]: self._categories(p),
                 PRODUCT_LABELS["price_tin" if self.o.prices == "tax_included"
                                else "price_tex"]: text(price),
                 PRODUCT_LABELS["id_tax_rules_group"]: text(self.o.tax_rules_id),
                 PRODUCT_LABELS["features"]: self._features(p)}
        vendor = text(p.get("vendor"))
        if vendor and (not CATALOG_NAME.match(vendor) or len(vendor) > 64):
            raise ProductRefused(f"product {p.key}: brand {vendor!r} is not a name "
                                 "PrestaShop takes (no < > ; = # { }, at most 64)", "vendor")
        cells[PRODUCT_LABELS["manufacturer"]] = vendor
        cells.update(self._sale(p))
        first = p.variants[0]
        cost = money(first.get("cost"), "cost", first["sku"])
        cells[PRODUCT_LABELS["wholesale_price"]] = text(cost)
        grams = money(first.get("weight"), "weight", first["sku"])
        if grams is not None:
            cells[PRODUCT_LABELS["weight"]] = text(_kg(grams, self.o.weight_unit))
        stocks = [integer(r.get("stock"), "stock", r["sku"]) for r in p.variants]
        if any(s is not None for s in stocks):
            cells[PRODUCT_LABELS["quantity"]] = str(sum(s or 0 for s in stocks))
        if p.simple:
            cells[PRODUCT_LABELS["ean13"]] = text(first.get("barcode"))
        images = p.images
        if images:
            alts = p.image_alts()
            cells[PRODUCT_LABELS["image"]] = split_cell(images, mv)
            cells[PRODUCT_LABELS["image_alt"]] = split_cell([alts.get(u, "") for u in images],
                                                            mv)
            cells[PRODUCT_LABELS["delete_existing_images"]] = "1"
        out: list[tuple[str, dict[str, str]]] = [(self._main(), cells)]
        if not p.simple:
            out += self._combinations(p, reference, impacts, grams)
        for lang, title in titles.items():
            out.append((f"products:{lang}", {
                PRODUCT_LABELS["reference"]: reference, PRODUCT_LABELS["name"]: title,
                PRODUCT_LABELS["link_rewrite"]: self._slug(p, lang),
                PRODUCT_LABELS["description_short"]: text(
                    p.get("short_description", lang) or p.get("short_description")),
                PRODUCT_LABELS["description"]: text(
                    p.get("description", lang) or p.get("description"))}))
        yield from out

    def _reference(self, p: Product) -> str:
        first = p.variants[0]
        if p.simple:  # no combinations: the product is the SKU
            return first["sku"]
        fields = {**{o["field"]: o["value"] for o in first.get("options", [])}, **first,
                  "key": p.key}
        try:
            return self.o.reference.format(**fields)
        except (KeyError, IndexError) as e:
            raise OutputError(f"reference {self.o.reference!r}: unknown field {e}; known: "
                              + ", ".join(["key", *fields])) from None

    def _check_name(self, p: Product, field: str, name: str, what: str) -> None:
        if not name.strip():
            raise ProductRefused(f"product {p.key}: no {what} (PrestaShop requires one)",
                                 field)
        if not CATALOG_NAME.match(name) or len(name) > NAME_MAX:
            bad = "".join(sorted(set(re.findall(r"[<>;=#{}]", name))))
            why = f"holds {bad!r}" if bad else f"is longer than {NAME_MAX} characters"
            raise ProductRefused(f"product {p.key}: {what} {name!r} {why}: PrestaShop's "
                                 "isCatalogName refuses it (no < > ; = # { }, at most "
                                 f"{NAME_MAX} characters) and would not import the "
                                 "product", field)

    def _check_ean(self, rec: dict[str, Any]) -> None:
        ean = text(rec.get("barcode")).strip()
        if ean and not EAN13.match(ean):
            raise ProductRefused(f"SKU {rec['sku']}: EAN-13 {ean!r} is not up to 13 digits: "
                                 "PrestaShop's isEan13 refuses it", "barcode")

    def _active(self, p: Product) -> str:
        status = text(p.get("status")).strip().lower()
        if status and status not in STATUSES:
            raise OutputError(f"product {p.key}: status {status!r} is not one of "
                              + ", ".join(STATUSES))
        return "0" if status in ("draft", "archived") or p.get("published") is False else "1"

    def _slug(self, p: Product, lang: str | None) -> str:
        given = p.get("handle", lang) if lang else p.get("handle")
        slug = str2url(text(given)) if not blank(given) else str2url(
            text((p.get("title", lang) if lang else None) or p.get("title")))
        if not slug:
            raise ProductRefused(f"product {p.key}: cannot make a URL (Rewritten URL) from "
                                 "its name; map a handle", "handle")
        return slug[:128]

    def _categories(self, p: Product) -> str:
        paths = p.get("categories") or []
        if not paths and not blank(p.get("category")):
            paths = [[text(p.get("category"))]]
        items = []
        for path in paths:
            for n, level in enumerate(path):
                if "/" in level:
                    raise ProductRefused(f"product {p.key}: category {level!r} holds '/', "
                                         "which PrestaShop's importer reads as a level "
                                         "separator", "categories")
                if not CATALOG_NAME.match(level) or len(level) > NAME_MAX:
                    raise ProductRefused(f"product {p.key}: category {level!r} is not a "
                                         "name PrestaShop takes (isCatalogName: no < > ; = "
                                         "# { }, at most 128 characters)", "categories")
                self._level(p, level, tuple(path[:n]))
            items.append("/".join(path))
        return split_cell(items, self.o.multiple_value_separator)

    def _level(self, p: Product, level: str, parent: tuple[str, ...]) -> None:
        """Warn once about a level name used under two parents (or at the top and
        below): the importer may attach products to the other one."""
        key = level.casefold()
        before = self.levels.setdefault(key, parent)
        if before != parent and key not in self.warned:
            self.warned.add(key)
            if self.ctx is not None and self.ctx.report is not None:
                where = " / ".join(x or "(top)" for x in ("/".join(before), "/".join(parent)))
                self.ctx.report.warn(
                    p.variants[0].get("line"), "categories",
                    f"{self.o.format}: category {level!r} appears under two parents "
                    f"({where}): PrestaShop's importer finds a created or top level "
                    "category by its name alone and may file products under the other "
                    "one; rename one of them or check the tree after the import")

    def _features(self, p: Product) -> str:
        mv = self.o.multiple_value_separator
        declared = list(self.job.map.attributes) if self.job is not None else []
        items = []
        have = {a["code"]: a for a in p.attributes}
        simple_options = [(o.name, v) for o, v in zip(p.options, p.option_values(
            p.variants[0]), strict=True)] if p.simple else []
        rows = [(have[c]["name"], have[c]["values"], n) for n, c in enumerate(declared, 1)
                if c in have]
        rows += [(name, [v], len(declared) + n) for n, (name, v) in
                 enumerate(simple_options, 1) if v]
        for name, values, pos in rows:
            for v in [name, *values]:
                bad = [c for c in (mv, ":") if c in v]
                if bad or not GENERIC_NAME.match(v) or len(v) > 255:
                    why = (f"holds {bad[0]!r}, which the importer splits features on"
                           if bad else "is not a name PrestaShop takes (isGenericName: no "
                           "< > = { }, at most 255 characters)")
                    raise ProductRefused(f"product {p.key}: feature {name} {v!r} {why}; "
                                         "choose another multiple_value_separator or "
                                         "change the value", "attributes")
            items += [f"{name}:{v}:{pos}" for v in values]
        return mv.join(items)


    def _prices(self, p: Product) -> tuple[Decimal | None, dict[str, Decimal]]:
        """The product's price (its default combination's) and each combination's
        impact on it, tax excluded as PrestaShop stores impacts."""
        prices = {r["sku"]: money(r.get("price"), "price", r["sku"]) for r in p.variants}
        base = prices[p.variants[0]["sku"]]
        impacts: dict[str, Decimal] = {}
        for sku, v in prices.items():
            d = (v or Decimal(0)) - (base or Decimal(0))
            if d and self.o.prices == "tax_included" and self.o.tax_rules_id:
                if self.o.tax_rate is None:
                    raise ProductRefused(f"product {p.key}: SKU {sku} costs {v}, the product "
                                         f"{base}: PrestaShop stores the difference tax "
                                         "excluded; set tax_rate (the rate of "
                                         "tax_rules_id)", "price")
                d = d / (1 + self.o.tax_rate / 100)
            impacts[sku] = d
        return base, impacts

    def _sale(self, p: Product) -> dict[str, str]:
        """The importer's one discount per product: an amount with its dates."""
        sales: set[tuple[Decimal, Any, Any] | None] = set()
        for r in p.variants:
            sale = money(r.get("sale_price"), "sale_price", r["sku"])
            price = money(r.get("price"), "price", r["sku"])
            if sale is None or price is None:
                sales.add(None)
                continue
            sales.add((price - sale, r.get("sale_from"), r.get("sale_to")))
        if sales == {None} or not sales:
            return {}
        if len(sales) > 1:
            if self.ctx is not None and self.ctx.report is not None:
                self.ctx.report.warn(p.variants[0].get("line"), "sale_price",
                                     f"{self.o.format}: product {p.key}: its variants' sales "
                                     "differ; PrestaShop's import sets one discount per "
                                     "product, so none is written")
            return {}
        (one,) = sales
        if one is None:
            return {}
        amount, start, end = one
        if amount <= 0:
            return {}
        if self.o.prices == "tax_excluded" and self.o.tax_rules_id:
            if self.o.tax_rate is None:
                raise ProductRefused(f"product {p.key}: PrestaShop applies a discount amount "
                                     "tax included; set tax_rate to convert it", "sale_price")
            amount = amount * (1 + self.o.tax_rate / 100)
        return {PRODUCT_LABELS["reduction_price"]: _dec(amount),
                PRODUCT_LABELS["reduction_from"]: text(start),
                # A date alone is midnight: the sale would end as its last day begins.
                PRODUCT_LABELS["reduction_to"]: f"{end} 23:59:59" if end else ""}

    def ranks(self) -> dict[str, dict[str, int]]:
        """Per option field, each value's place among the group's: earlier files' and
        this file's."""
        if self._ranks is None:
            spec = self.ctx.product if self.ctx is not None else None
            self._ranks = {
                o.field: {v: n for n, v in enumerate(ordered(
                    [*self.earlier.get(o.field, []), *self.values.get(o.field, {})],
                    o.order))}
                for o in (spec.option_specs() if spec is not None else [])}
        return self._ranks

    def _position(self, p: Product, field: str, value: str) -> int:
        """The position to declare for a value, so that PrestaShop lists it in order.

        The importer keeps the position a value is created with and renumbers the
        group 0..n-1 after each new value (ties: the older value first); a position
        of 0 or less means "after the last". So a value goes after the last one when
        it ranks last, else declares its predecessor's position; it cannot be put
        first or second among values created before it (a warning says so). The
        group starts as earlier done files left it (the ledger's attribute_values)."""
        declared = self.declared.setdefault(field, {})
        if value in declared:
            return declared[value]
        ranks = self.ranks().get(field, {})
        shop = self.created.setdefault(field, [])
        rank = ranks.get(value, len(ranks))
        k = sum(1 for v in shop if ranks.get(v, len(ranks)) < rank)
        n = len(shop)
        if k == n:
            pos = n + 1
            shop.append(value)
        elif k >= 2:
            pos = k - 1
            shop.insert(k, value)
        else:
            pos = n + 1
            shop.append(value)
            if self.ctx is not None and self.ctx.report is not None:
                self.ctx.report.warn(p.variants[0].get("line"), field,
                                     f"{self.o.format}: product {p.key}: {field} {value!r} "
                                     f"belongs before {shop[k]!r}, created earlier ("
                                     + ("by an earlier file" if shop[k] in
                                        self.earlier.get(field, []) else "in this file")
                                     + "); PrestaShop's import cannot put a new value "
                                     "first or second, so it is listed last: reorder it "
                                     "in Catalog > Attributes")
        declared[value] = pos
        return pos

    def _combinations(self, p: Product, reference: str, impacts: dict[str, Decimal],
                      grams: Decimal | None) -> list[tuple[str, dict[str, str]]]:
        mv = self.o.multiple_value_separator
        spec = self.ctx.product if self.ctx is not None else None
        groups_order = [o.field for o in spec.option_specs()] if spec is not None else []
        groups = []
        for o in p.options:
            kind = self.o.types.get(o.field, "select")
            self._check_generic(p, o.name, f"option {o.name}", o.field)
            groups.append(f"{o.name}:{kind}:{groups_order.index(o.field) + 1}")
        group_cell = mv.join(groups)
        for o in p.options:
            for v in o.values:
                self._check_generic(p, v, f"{o.name} value", o.field)
        images = p.images
        out = []
        for i, rec in enumerate(p.variants):
            values = [f"{v}:{self._position(p, o.field, v)}"
                      for o, v in zip(p.options, p.option_values(rec), strict=True)]
            mine = rec.get("images") or ([rec["image"]] if rec.get("image") else [])
            cells = {COMBINATION_LABELS["product_reference"]: reference,
                     COMBINATION_LABELS["group"]: group_cell,
                     COMBINATION_LABELS["attribute"]: mv.join(values),
                     COMBINATION_LABELS["reference"]: rec["sku"],
                     COMBINATION_LABELS["default_on"]: "1" if i == 0 else "0",
                     COMBINATION_LABELS["ean13"]: text(rec.get("barcode")),
                     COMBINATION_LABELS["wholesale_price"]: text(
                         money(rec.get("cost"), "cost", rec["sku"])),
                     COMBINATION_LABELS["price"]: _dec(impacts[rec["sku"]]),
                     COMBINATION_LABELS["image_position"]: mv.join(
                         str(images.index(u) + 1) for u in mine if u in images)}
            stock = integer(rec.get("stock"), "stock", rec["sku"])
            cells[COMBINATION_LABELS["quantity"]] = "" if stock is None else str(stock)
            mine_g = money(rec.get("weight"), "weight", rec["sku"])
            if mine_g is not None:
                cells[COMBINATION_LABELS["weight"]] = text(
                    _kg(mine_g - (grams or Decimal(0)), self.o.weight_unit)) \
                    if mine_g != (grams or 0) else "0"
            out.append(("combinations", cells))
        return out

    def _check_generic(self, p: Product, v: str, what: str, field: str) -> None:
        mv = self.o.multiple_value_separator
        bad = [c for c in (mv, ":") if c in v]
        if bad:
            raise ProductRefused(f"product {p.key}: {what} {v!r} holds {bad[0]!r}, which "
                                 "PrestaShop's combinations import splits on; choose "
                                 "another multiple_value_separator or change the value",
                                 field)
        if not GENERIC_NAME.match(v) or len(v) > NAME_MAX:
            raise ProductRefused(f"product {p.key}: {what} {v!r} is not a name PrestaShop "
                                 "takes (isGenericName: no < > = { }, at most 128 "
                                 "characters)", field)
