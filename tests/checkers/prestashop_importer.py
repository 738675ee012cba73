"""PrestaShop's CSV import (Advanced Parameters > Import, entities Products and
Combinations) re-implemented for tests: the parts that decide whether a row is
accepted and what it sets in the shop.

Read in PrestaShop/PrestaShop (8.x):
- ``controllers/admin/AdminImportController.php`` @601f1327: the field labels
  (``available_fields``), the separators (one character each, ``;`` and ``,`` by
  default), ``getMaskedRow`` (cells trimmed), ``fillInfo`` (a translated field sets
  the form's language and every language still empty: an empty cell blanks that
  language), ``split`` (fgetcsv on the multiple value separator: categories,
  images, image alt texts), ``getPrice`` (``,`` -> ``.``, ``%`` dropped, cast to a
  number), ``productImportOne`` (match by reference, price tax included divided by
  the tax rule's rate, categories by id or by path, link_rewrite from the name
  when missing or invalid, ``validateFields``/``validateFieldsLang`` or the product
  is not saved, one discount with dates, delete/add images, features split blindly
  on the separator and ``:``, quantity), ``productImportCreateCat`` and
  ``attributeImportOne`` (product by id or by reference, else the row is silently
  skipped; groups and values split blindly on the separator and ``:``, matched by
  index; a group or value created once, with its position; an invalid EAN-13
  dropped with a warning; a combination found by its reference is updated, else
  created; image positions pick among the product's images).
- ``classes/Validate.php``: isCatalogName, isGenericName, isReference, isEan13 (up
  to 13 digits, no check digit), isLinkRewrite (accented URLs off), isPrice,
  isUnsignedFloat, isDate, isCleanHtml.
- ``classes/Category.php`` (searchByPath, searchByName unrestricted: an exact name
  in any language, anywhere in the tree; searchByNameAndParentCategoryId);
  ``classes/AttributeGroup.php`` and ``classes/ProductAttribute.php`` (positions
  <= 0 mean "after the last", cleanPositions renumbers 0..n-1 by position);
  ``classes/Product.php`` (field definitions: name isCatalogName <= 128, reference
  isReference <= 64, ean13 isEan13 <= 13, link_rewrite isLinkRewrite <= 128);
  ``classes/SpecificPrice.php`` (``$reduction_tax = 1``: the import's discount
  amount is tax included); ``classes/stock/StockAvailable.php`` (``postSave``: a
  product's quantity becomes the sum of its combinations'); ``Product::
  addFeatureProductImport`` with ``install-dev/data/db_structure.sql`` (8.x keys
  ``feature_product`` by feature, product and value, so a feature keeps several
  values; 1.6 and early 1.7 keyed it by feature and product: the last value won,
  ``multiple_feature_values=False``). Features are only ever added by the import.

Assumptions where the database decides: name comparisons ignore case (MySQL's
default collations), rows with equal positions keep their id order, the first
row of a lookup is the lowest id.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

HOME, ROOT = 2, 1

PRODUCT_FIELDS = {
    "ID": "id", "Active (0/1)": "active", "Name": "name",
    "Categories (x,y,z...)": "category", "Price tax excluded": "price_tex",
    "Price tax included": "price_tin", "Tax rule ID": "id_tax_rules_group",
    "Cost price": "wholesale_price", "On sale (0/1)": "on_sale",
    "Discount amount": "reduction_price", "Discount percent": "reduction_percent",
    "Discount from (yyyy-mm-dd)": "reduction_from", "Discount to (yyyy-mm-dd)": "reduction_to",
    "Reference #": "reference", "Supplier reference #": "supplier_reference",
    "Supplier": "supplier", "Brand": "manufacturer", "EAN-13": "ean13", "UPC": "upc",
    "MPN": "mpn", "Ecotax": "ecotax", "Width": "width", "Height": "height", "Depth": "depth",
    "Weight": "weight", "Quantity": "quantity", "Minimal quantity": "minimal_quantity",
    "Visibility": "visibility", "Summary": "description_short", "Description": "description",
    "Tags (x,y,z...)": "tags", "Meta title": "meta_title", "Meta keywords": "meta_keywords",
    "Meta description": "meta_description", "Rewritten URL": "link_rewrite",
    "Image URLs (x,y,z...)": "image", "Image alt texts (x,y,z...)": "image_alt",
    "Delete existing images (0 = No, 1 = Yes)": "delete_existing_images",
    "Feature (Name:Value:Position:Customized)": "features",
    "Available online only (0 = No, 1 = Yes)": "online_only", "Condition": "condition",
    "ID / Name of the store": "shop", "Accessories (x,y,z...)": "accessories",
}
COMBINATION_FIELDS = {
    "Product ID": "id_product", "Product Reference": "product_reference",
    "Attribute (Name:Type:Position)*": "group", "Value (Value:Position)*": "attribute",
    "Supplier reference": "supplier_reference", "Reference": "reference", "EAN-13": "ean13",
    "UPC": "upc", "MPN": "mpn", "Cost price": "wholesale_price", "Impact on price": "price",
    "Ecotax": "ecotax", "Quantity": "quantity", "Minimal quantity": "minimal_quantity",
    "Impact on weight": "weight", "Default (0 = No, 1 = Yes)": "default_on",
    "Combination availability date": "available_date",
    "Choose among product images by position (1,2,3...)": "image_position",
    "Image URLs (x,y,z...)": "image_url", "Image alt texts (x,y,z...)": "image_alt",
    "ID / Name of the store": "shop",
}
LANG_FIELDS = ("name", "description", "description_short", "meta_title", "meta_keywords",
               "meta_description", "link_rewrite", "available_now", "available_later",
               "delivery_in_stock", "delivery_out_stock")
PRICE_FIELDS = ("price_tex", "price_tin", "reduction_price", "reduction_percent",
                "wholesale_price", "ecotax")


# Validate.php ---------------------------------------------------------------
def is_catalog_name(s: str) -> bool:
    return re.fullmatch(r"[^<>;=#{}]*", s) is not None


def is_generic_name(s: str) -> bool:
    return not s or re.fullmatch(r"[^<>={}]*", s) is not None


def is_reference(s: str) -> bool:
    return re.fullmatch(r"[^<>;={}]*", s) is not None


def is_ean13(s: str) -> bool:
    return not s or re.fullmatch(r"[0-9]{0,13}", s) is not None


def is_link_rewrite(s: str) -> bool:
    return re.fullmatch(r"[_a-zA-Z0-9\-]+", s) is not None


def is_price(s: str) -> bool:
    return re.fullmatch(r"[0-9]{1,10}(\.[0-9]{1,9})?", s) is not None


def is_date(s: str) -> bool:
    m = re.fullmatch(r"([0-9]{4})-(0?[0-9]|1[0-2])-(0?[0-9]|[1-2][0-9]|3[01])"
                     r"( [0-9]{2}:[0-9]{2}:[0-9]{2})?", s)
    if not m:
        return False
    try:
        date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return False
    return True


def is_clean_html(s: str) -> bool:
    return not re.search(r"<[\s]*script|<[\s]*(i?frame|form|input|embed|object)", s, re.I)


def str2url(s: str) -> str:
    """Tools::str2url with accented URLs off."""
    a = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    a = re.sub(r"[^a-z0-9\s'\:/\[\]-]", "", a)
    return re.sub(r"[\s'\:/\[\]-]+", "-", a).strip("-")


def php_number(s: str) -> Decimal:
    """(float) of a PHP string: its leading number, else 0."""
    m = re.match(r"\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?", s or "")
    try:
        return Decimal(m.group(0).strip()) if m else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def php_float_text(d: Decimal) -> str:
    """How PHP prints the float a price became (what isPrice then checks)."""
    n = d.normalize()
    return format(n, "f") if n != n.to_integral() else str(int(n))


# fgetcsv ------------------------------------------------------------------------
def fgetcsv(text: str, delimiter: str, enclosure: str = '"', escape: str = "\\"
            ) -> list[list[str]]:
    """Lines as PHP's fgetcsv reads them: a field opening with the enclosure runs to
    the closing one (a doubled enclosure is one; the escape character keeps the next
    character, both kept); what follows the closing enclosure is kept as it is."""
    rows: list[list[str]] = []
    row: list[str] = []
    cell: list[str] = []
    i, n = 0, len(text)
    quoted = started = False
    while i < n:
        c = text[i]
        if quoted:
            if c == escape and i + 1 < n:
                cell += [c, text[i + 1]]
                i += 2
                continue
            if c == enclosure:
                if i + 1 < n and text[i + 1] == enclosure:
                    cell.append(enclosure)
                    i += 2
                    continue
                quoted = False
                i += 1
                continue
            cell.append(c)
            i += 1
            continue
        if c == enclosure and not started:
            quoted = started = True
            i += 1
            continue
        if c == delimiter:
            row.append("".join(cell))
            cell, started = [], False
            i += 1
            continue
        if c in "\r\n":
            row.append("".join(cell))
            rows.append(row)
            row, cell, started = [], [], False
            i += 2 if c == "\r" and i + 1 < n and text[i + 1] == "\n" else 1
            continue
        cell.append(c)
        started = True
        i += 1
    if cell or row or started:
        row.append("".join(cell))
        rows.append(row)
    return rows


def split(value: str, separator: str) -> list[str]:
    """AdminImportController::split: one fgetcsv line on the multiple value separator."""
    if not value:
        return []
    lines = fgetcsv(value, separator)
    return lines[0] if lines else []


# the shop -----------------------------------------------------------------------
@dataclass
class Category:
    id: int
    name: dict[str, str]
    parent: int


@dataclass
class Image:
    id: int
    url: str
    position: int
    cover: bool
    legend: dict[str, str] = field(default_factory=dict)


@dataclass
class Combination:
    id: int
    reference: str
    attributes: list[tuple[str, str]]
    ean13: str
    price: Decimal
    weight: Decimal
    quantity: int
    default: bool
    images: list[int]
    wholesale_price: Decimal = Decimal(0)


@dataclass
class Product:
    id: int
    reference: str = ""
    name: dict[str, str] = field(default_factory=dict)
    description: dict[str, str] = field(default_factory=dict)
    description_short: dict[str, str] = field(default_factory=dict)
    link_rewrite: dict[str, str] = field(default_factory=dict)
    active: bool = True
    price: Decimal = Decimal(0)
    id_tax_rules_group: int = 0
    wholesale_price: Decimal = Decimal(0)
    ean13: str = ""
    weight: Decimal = Decimal(0)
    quantity: int = 0
    manufacturer: str = ""
    categories: list[int] = field(default_factory=list)
    default_category: int = HOME
    features: list[tuple[str, str]] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    discount: dict[str, str] | None = None
    combinations: list[Combination] = field(default_factory=list)

    def combination(self, reference: str) -> Combination:
        [c] = [c for c in self.combinations if c.reference == reference]
        return c


@dataclass
class Result:
    lines: int = 0
    saved: list[str] = field(default_factory=list)  # references saved
    failed: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)  # rows silently skipped
    mismatches: list[tuple[int, str]] = field(default_factory=list)  # positions, alignment


class PrestaShop:
    """A shop's catalog as the importer leaves it."""

    def __init__(self, languages: tuple[str, ...] = ("it",), tax_rates: dict[int, Decimal]
                 | None = None, multiple_feature_values: bool = True):
        self.languages = languages
        self.default = languages[0]
        self.tax_rates = tax_rates or {}
        # 8.x keeps several values of one feature on a product (1.7 kept the last).
        self.multiple_feature_values = multiple_feature_values
        home = {lang: "Home" for lang in languages}
        self.categories = {ROOT: Category(ROOT, {lang: "Root" for lang in languages}, 0),
                           HOME: Category(HOME, home, ROOT)}
        self.products: list[Product] = []
        self.groups: dict[str, dict] = {}  # name -> {id, type, position, declared}
        self.values: dict[tuple[str, str], dict] = {}  # (group, value) -> {id, position}
        self.features: dict[str, int] = {}
        self.declared: dict[tuple[str, ...], str] = {}
        self._ids = {"product": 0, "category": HOME, "image": 0, "group": 0, "value": 0,
                     "combination": 0}

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # lookups -----------------------------------------------------------------------
    def product(self, reference: str) -> Product:
        [p] = [p for p in self.products if p.reference == reference]
        return p

    def by_reference(self, reference: str) -> Product | None:
        return next((p for p in self.products if p.reference == reference), None)

    def path(self, cid: int) -> str:
        names = []
        while cid not in (HOME, ROOT, 0):
            c = self.categories[cid]
            names.append(c.name[self.default])
            cid = c.parent
        return " > ".join(reversed(names))

    def group_values(self, group: str) -> list[str]:
        """A group's values in the shop's order."""
        mine = [(v["position"], v["id"], name) for (g, name), v in self.values.items()
                if g == group]
        return [name for _, _, name in sorted(mine)]

    def _search_by_name(self, name: str) -> Category | None:
        hits = [c for c in self.categories.values()
                if any(n.casefold() == name.casefold() for n in c.name.values())]
        return min(hits, key=lambda c: c.id) if hits else None

    def _search_under(self, lang: str, name: str, parent: int) -> Category | None:
        hits = [c for c in self.categories.values() if c.parent == parent and c.id != HOME
                and c.name.get(lang, "").casefold() == name.casefold()]
        return min(hits, key=lambda c: c.id) if hits else None

    def _create_category(self, name: str, parent: int | None, res: Result) -> None:
        name = name.strip()
        slug = str2url(name)
        if not is_catalog_name(name) or len(name) > 128 or not slug or not is_link_rewrite(slug):
            res.errors.append(f"{name} (ID: null) cannot be saved")
            return
        cid = self._next("category")
        self.categories[cid] = Category(cid, {lang: name for lang in self.languages},
                                        parent or HOME)

    def _search_by_path(self, path: str, res: Result) -> Category | None:
        """Category::searchByPath with productImportCreateCat as the creator."""
        category: Category | None = None
        parent: int | None = None
        for name in path.strip().split("/"):
            category = self._search_under(self.default, name, parent) if parent \
                else self._search_by_name(name)
            if category is None:
                self._create_category(name, parent, res)
                category = self._search_by_name(name)  # by the bare name: the core's way
            if category is not None:
                parent = category.id
        return category

    # products -------------------------------------------------------------------
    def import_products(self, path: Path, lang: str | None = None, *, match_ref: bool = True,
                        separator: str = ";", multiple_value_separator: str = ",",
                        skip: int = 1) -> Result:
        lang = lang or self.default
        mv = multiple_value_separator
        res = Result()
        lines = fgetcsv(path.read_text(encoding="utf-8"), separator)
        header, body = lines[0], lines[skip:]
        mask = {PRODUCT_FIELDS[h]: i for i, h in enumerate(header)}  # KeyError: unmappable
        for n, line in enumerate(body, skip + 1):
            res.lines += 1
            if len(line) == 1 and not line[0]:
                res.warnings.append("There is an empty row in the file that won't be imported.")
                continue
            info = {k: (line[i].strip() if i < len(line) else "") for k, i in mask.items()}
            self._product_row(n, info, lang, match_ref, mv, res)
        return res

    def _product_row(self, n: int, info: dict[str, str], lang: str, match_ref: bool,
                     mv: str, res: Result) -> None:
        info.pop("id", None)  # forceIDs off
        existing = self.by_reference(info["reference"]) if match_ref and info.get(
            "reference") else None
        p = existing or Product(0)
        new = existing is None
        fields: dict[str, object] = {}
        for key, value in info.items():
            if key in LANG_FIELDS:
                current = getattr(p, key, None)
                merged = dict(current) if isinstance(current, dict) else {}
                for lg in self.languages:
                    if not merged.get(lg) or lg == lang:
                        merged[lg] = value
                fields[key] = merged
            elif value or value == "0":
                fields[key] = split(value, mv) if key in ("category", "image", "image_alt") \
                    else value
        name = fields.get("name", p.name)
        assert isinstance(name, dict)
        price = p.price
        if "price_tex" in fields:
            price = php_number(str(fields["price_tex"]).replace(",", ".").replace("%", ""))
        elif "price_tin" in fields:
            price = php_number(str(fields["price_tin"]).replace(",", ".").replace("%", ""))
            rules = int(php_number(str(fields.get("id_tax_rules_group", p.id_tax_rules_group))))
            rate = self.tax_rates.get(rules)
            if rules and rate is None:
                res.warnings.append(f"line {n}: Unknown tax rule group ID {rules}")
            if rate:
                price = (price / (1 + rate / 100)).quantize(Decimal("0.000001"))
        ean = str(fields.get("ean13", p.ean13))
        reference = str(fields.get("reference", p.reference))
        link = fields.get("link_rewrite", p.link_rewrite)
        assert isinstance(link, dict)
        slug = (link.get(lang) or "").strip()
        if not slug or not is_link_rewrite(slug):
            slug = str2url(name.get(lang, "")) or "friendly-url-autogeneration-failed"
            link = {lg: slug for lg in self.languages} if not is_link_rewrite(
                (link.get(lang) or "").strip()) else {**link, lang: slug}
        else:
            link = {**link, lang: slug}
        weight = php_number(str(fields.get("weight", p.weight)).replace(",", "."))
        wholesale = php_number(str(fields.get("wholesale_price", p.wholesale_price))
                               .replace(",", "."))
        problems = []
        for lg, v in name.items():
            if not is_catalog_name(v) or len(v) > 128:
                problems.append(f"name ({lg}) {v!r} is invalid (isCatalogName, 128)")
        for lg, v in link.items():
            if len(v) > 128 or not is_link_rewrite(v):
                problems.append(f"link_rewrite ({lg}) {v!r} is invalid")
        for key in ("description", "description_short"):
            texts = fields.get(key)
            for lg, v in (texts if isinstance(texts, dict) else {}).items():
                if not is_clean_html(v):
                    problems.append(f"{key} ({lg}) is not clean HTML")
        if not is_reference(reference) or len(reference) > 64:
            problems.append(f"reference {reference!r} is invalid (isReference, 64)")
        if not is_ean13(ean) or len(ean) > 13:
            problems.append(f"ean13 {ean!r} is invalid (isEan13)")
        if not is_price(php_float_text(price)):
            problems.append(f"price {price} is invalid (isPrice)")
        if not is_price(php_float_text(wholesale)):
            problems.append(f"wholesale_price {wholesale} is invalid (isPrice)")
        if weight < 0:
            problems.append(f"weight {weight} is invalid (isUnsignedFloat)")
        if problems:
            res.failed.append((n, f"{name.get(lang) or 'No Name'} (ID: No ID) cannot be "
                                  "saved: " + "; ".join(problems)))
            return
        if new:
            p.id = self._next("product")
            self.products.append(p)
            p.categories = [HOME]
        p.reference, p.name, p.link_rewrite, p.price = reference, name, link, price
        p.ean13, p.weight, p.wholesale_price = ean, weight, wholesale
        for key in ("description", "description_short"):
            if key in fields:
                setattr(p, key, fields[key])
        if "active" in fields:
            p.active = bool(int(php_number(str(fields["active"]))))
        if "id_tax_rules_group" in fields:
            p.id_tax_rules_group = int(php_number(str(fields["id_tax_rules_group"])))
        if "manufacturer" in fields:
            p.manufacturer = str(fields["manufacturer"])
        cats = fields.get("category")
        if isinstance(cats, list) and cats:
            ids: list[int] = []
            for value in cats:
                if value.strip().isdigit():
                    ids.append(int(value))
                    continue
                c = self._search_by_path(value, res)
                if c is None:
                    res.errors.append(f"{value.strip()} cannot be saved")
                else:
                    ids.append(c.id)
            p.categories = list(dict.fromkeys(ids))
            if p.categories and p.default_category not in p.categories:
                p.default_category = p.categories[0]
        res.saved.append(p.reference)
        reduction = php_number(str(fields.get("reduction_price", "0")).replace(",", "."))
        if reduction > 0:
            start, end = str(fields.get("reduction_from", "")), str(fields.get("reduction_to",
                                                                               ""))
            p.discount = {"amount": str(reduction), "tax": "included",
                          "from": start if is_date(start) else "0000-00-00 00:00:00",
                          "to": end if is_date(end) else "0000-00-00 00:00:00"}
        if str(fields.get("delete_existing_images", "0")) not in ("", "0"):
            gone = {i.id for i in p.images}
            p.images = []
            for comb in p.combinations:
                comb.images = [i for i in comb.images if i not in gone]
        urls = fields.get("image")
        if isinstance(urls, list):
            alts = fields.get("image_alt") or []
            assert isinstance(alts, list)
            had = bool(p.images)
            for n, url in enumerate(urls):
                url = url.strip()
                alt = alts[n] if n < len(alts) else ""
                if not url or (alt and (not is_generic_name(alt) or len(alt) > 128)):
                    res.warnings.append(f"Product #{p.id}: the picture ({url}) cannot be saved.")
                    continue
                p.images.append(Image(self._next("image"), url.replace(" ", "%20"),
                                      max([i.position for i in p.images], default=0) + 1,
                                      n == 0 and not had,
                                      {lg: alt for lg in self.languages} if alt else {}))
        feats = fields.get("features")
        if isinstance(feats, str):
            for single in feats.split(mv):
                if not single:
                    continue
                tab = single.split(":")
                fname = tab[0].strip()
                fvalue = tab[1].strip() if len(tab) > 1 else ""
                if not fname or not fvalue:
                    continue
                if not is_generic_name(fname) or len(fname) > 128 or not is_generic_name(
                        fvalue) or len(fvalue) > 255:
                    raise ValueError(f"line {n}: feature {fname}:{fvalue} fails validation: "
                                     "PrestaShopException stops the import")
                self.features.setdefault(fname, len(self.features) + 1)
                if not self.multiple_feature_values:
                    p.features = [f for f in p.features if f[0] != fname]
                if (fname, fvalue) not in p.features:
                    p.features.append((fname, fvalue))
        if not p.combinations:
            p.quantity = int(php_number(str(fields.get("quantity", p.quantity if not new
                                                       else 0))))

    # combinations ------------------------------------------------------------------
    def import_combinations(self, path: Path, *, match_ref: bool = True, separator: str = ";",
                            multiple_value_separator: str = ",", skip: int = 1) -> Result:
        mv = multiple_value_separator
        res = Result()
        lines = fgetcsv(path.read_text(encoding="utf-8"), separator)
        header, body = lines[0], lines[skip:]
        mask = {COMBINATION_FIELDS[h]: i for i, h in enumerate(header)}
        declared = self.declared  # the position each group and value was created with
        for n, line in enumerate(body, skip + 1):
            res.lines += 1
            if len(line) == 1 and not line[0]:
                continue
            info = {k: (line[i].strip() if i < len(line) else "") for k, i in mask.items()}
            for k, v in {"reference": "", "ean13": "", "price": "0", "quantity": "0",
                         "weight": "0", "wholesale_price": "0", "default_on": ""}.items():
                if not info.get(k):
                    info[k] = v
            self._combination_row(n, info, match_ref, mv, declared, res)
        return res

    def _combination_row(self, n: int, info: dict[str, str], match_ref: bool, mv: str,
                         declared: dict[tuple[str, ...], str], res: Result) -> None:
        p = None
        if info.get("id_product"):
            p = next((x for x in self.products if x.id == int(info["id_product"])), None)
        elif match_ref and info.get("product_reference"):
            p = self.by_reference(info["product_reference"])
        if p is None:
            res.dropped.append((n, f"no product {info.get('product_reference')!r}: the row is "
                                   "skipped without a message"))
            return
        images: list[int] = []
        if info.get("image_position"):
            for pos in info["image_position"].split(mv):
                hit = next((i for i in p.images if i.position == int(php_number(pos))), None)
                if hit is not None:
                    images.append(hit.id)
            if not images:
                res.warnings.append(f"line {n}: No image was found for combination with "
                                    f"id_product = {p.id} and image position = "
                                    f"{info['image_position']}.")
        groups: dict[int, str] = {}
        for key, group in enumerate(info.get("group", "").split(mv)):
            if not group:
                continue
            tab = group.split(":")
            gname = tab[0].strip()
            gtype = tab[1].strip() if len(tab) > 1 else "select"
            pos = tab[2].strip() if len(tab) > 2 else ""
            groups[key] = gname
            if gname in self.groups:
                before = declared.get(("group", gname))
                if before is not None and pos != before:
                    res.mismatches.append((n, f"attribute {gname}: position {pos!r}, earlier "
                                              f"{before!r}; the first is kept"))
                continue
            if not is_generic_name(gname) or not gname or len(gname) > 64:
                res.errors.append(f"line {n}: attribute group {gname!r} is invalid")
                continue
            position = int(php_number(pos)) if pos and pos != "0" else -1
            if position <= 0:
                position = max((g["position"] for g in self.groups.values()), default=-1) + 1
            self.groups[gname] = {"id": self._next("group"), "type": gtype,
                                  "color": gtype == "color", "position": position}
            declared[("group", gname)] = pos
            self._clean_groups()
        attrs: list[tuple[str, str]] = []
        for key, attribute in enumerate(info.get("attribute", "").split(mv)):
            if not attribute:
                continue
            tab = attribute.split(":")
            value = tab[0].strip()
            pos = tab[1].strip() if len(tab) > 1 else ""
            if key not in groups:
                res.mismatches.append((n, f"value {value!r} at place {key + 1} has no "
                                          "attribute there: ignored by the importer"))
                continue
            g = groups[key]
            if (g, value) not in self.values:
                if not is_generic_name(value) or not value or len(value) > 128:
                    res.errors.append(f"line {n}: value {value!r} is invalid")
                    continue
                position = int(php_number(pos)) if pos and pos != "0" else -1
                if position <= 0:
                    position = max((v["position"] for (gg, _), v in self.values.items()
                                    if gg == g), default=-1) + 1
                self.values[(g, value)] = {"id": self._next("value"), "position": position}
                declared[(g, value)] = pos
                self._clean_values(g)
            else:
                before = declared.get((g, value))
                if before is not None and pos != before:
                    res.mismatches.append((n, f"{g} value {value!r}: position {pos!r}, "
                                              f"earlier {before!r}; the first is kept"))
            attrs.append((g, value))
        given = [a for a in info.get("attribute", "").split(mv) if a]
        if len(groups) != len(given):
            res.mismatches.append((n, f"{len(groups)} attributes and {len(given)} values"))
        if not attrs:
            return
        ean = info["ean13"]
        if not is_ean13(ean):
            res.warnings.append(f'EAN-13 "{ean}" has incorrect value for product with ID '
                                f"{p.id}.")
            ean = ""
        default = bool(int(php_number(info["default_on"]))) if info["default_on"] else False
        if default:
            for c in p.combinations:
                c.default = False
        combo = next((c for c in p.combinations if info["reference"]
                      and c.reference == info["reference"]), None)
        values = dict(price=php_number(info["price"].replace(",", ".")),
                      weight=php_number(info["weight"].replace(",", ".")),
                      wholesale_price=php_number(info["wholesale_price"].replace(",", ".")),
                      ean13=ean, images=images, attributes=attrs,
                      quantity=int(php_number(info["quantity"])))
        if combo is None:
            combo = Combination(self._next("combination"), info["reference"], default=default,
                                **values)  # type: ignore[arg-type]
            p.combinations.append(combo)
        else:
            for k, v in values.items():
                setattr(combo, k, v)
            if default:
                combo.default = True
        if not any(c.default for c in p.combinations):
            p.combinations[0].default = True
        # StockAvailable::postSave: the product's quantity is its combinations' sum.
        p.quantity = sum(c.quantity for c in p.combinations)
        res.saved.append(combo.reference)

    def _clean_groups(self) -> None:
        for i, (_, g) in enumerate(sorted(self.groups.items(),
                                          key=lambda kv: (kv[1]["position"], kv[1]["id"]))):
            g["position"] = i

    def _clean_values(self, group: str) -> None:
        mine = sorted(((k, v) for k, v in self.values.items() if k[0] == group),
                      key=lambda kv: (kv[1]["position"], kv[1]["id"]))
        for i, (_, v) in enumerate(mine):
            v["position"] = i
