"""A re-implementation of Magento 2's product import (System > Data Transfer > Import,
entity Products, behaviour Add/Update) and of MSI's source-items import (entity Stock
Sources), to check the files filebridge writes against what a real shop ends up with.

    shop = MagentoShop(stores={"default": 1, "en": 2}, attributes={...})
    res = import_products(shop, path)        # res.errors: [(line, message)]
    shop.product("P-A1").value("name", "en"), .children, .categories, .gallery
    res = import_sources(shop, path)         # shop.source_items[(source, sku)]

Read in magento/magento2 (the repository is over the size ``fetch`` brings here; these
are the versions in the file index, each at the commit named):

- ``app/code/Magento/CatalogImportExport/Model/Import/Product.php`` @001f7ebb (messages,
  ``_fieldsMap``, ``dateAttrCodes``) and its 2.4 ``validateRow`` / ``_saveProducts`` /
  ``isNeedToValidateUrlKey`` / ``getUrlKey`` / ``parseAttributesWithoutWrappedValues`` /
  ``parseMultiselectValues`` / ``_customFieldsMapping`` (additional_attributes are parsed
  before a row is validated): a store-view row of a new SKU must carry product_type and
  attribute_set_code; a URL key is checked per store (a default row takes it in every
  store) unless the row is Not Visible Individually; within a bunch the first value per
  SKU, attribute and store wins, and a store-view row of a SKU new to the shop also
  sets the default (store 0) value when the bunch has none yet. A value on a
  store-view row is saved by the attribute's scope: global (``price`` and
  ``special_price`` when the shop's catalog price scope is global) for store 0, the
  default everywhere; website (price scope website) for every store of the row's
  website (``getStoreIdToWebsiteStoreIds``); store for that store.
- ``.../Import/Product/Validator.php`` @0486d099: ``isAttributeValid`` (select and
  multiselect values must be existing option labels, case-insensitive; decimals
  ``is_numeric``; datetimes ``strtotime``; varchar < 255 characters).
- ``.../Import/Product/CategoryProcessor.php`` @04a6368e: paths split on an unescaped
  ``/``, matched case-insensitively from the tree root, missing levels created; several
  paths split on the multiple value separator.
- ``.../Import/Product/Type/AbstractType.php``: ``clearEmptyData`` (an empty cell changes
  nothing in Add/Update; ``__EMPTY__VALUE__`` becomes null: modelled as removing the
  value at that row's scope, so a store view falls back to the default [unverified:
  the save of a null value was not read]); ImportExport
  ``Model/Import/Entity/AbstractEntity.php`` ``_prepareRowForDb`` turns '' into null.
- ``app/code/Magento/ConfigurableImportExport/Model/Import/Product/Type/Configurable.php``
  @02097628: ``_parseVariations`` / ``_parseVariationLabels`` (``|`` between variations,
  the multiple value separator between pairs, ``=``, values trimmed), ``isRowValid`` (a
  child twice: "SKU %s contains duplicated variations"), ``_collectAssocIds`` and
  ``_processSuperData``: a child SKU the shop does not have is silently not linked, nor
  one whose option values repeat another's, nor one lacking a value of a used
  attribute; super attributes are global selects.
- ``Magento/Framework/Filesystem/File/Read::readCsv`` (PHP ``fgetcsv``, escape ``\\``).

magento/inventory ``InventoryImportExport/Model/Import`` (Sources.php @3b182cd2,
Validator/QtyValidator.php @ffe37278, SkuValidator.php @420d0f54, SourceItemConvert.php
@0eab08e1): columns ``source_code,sku,status,quantity``; a missing column or a
non-numeric quantity is an error, status defaults to 1; nothing checks that the SKU
exists in the catalog (such items are kept in ``orphans`` here so tests can refuse
them), and source items of composite products (configurables) are recorded in
``composite`` (MSI manages no stock for them).

Images: Validator/Media.php @62567cb9 accepts a URL (PHP FILTER_VALIDATE_URL) or a path
under the import folder; only http(s) URLs without blanks are accepted here.

Stricter than Magento on purpose (never more lenient): a date must be one of the forms
PHP reads unambiguously (Y-m-d, Y-m-d H:i[:s], m/d/Y, d.m.Y, d-m-Y; PHP also reads words
like "next monday"); an ``additional_attributes`` code the shop does not have is an
error (Magento ignores it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

SEP = ","
MULTI = "|"
EMPTY = "__EMPTY__VALUE__"
NOT_VISIBLE = "Not Visible Individually"
VISIBILITY = {"Not Visible Individually": 1, "Catalog": 2, "Search": 3, "Catalog, Search": 4}
TYPES = ("simple", "configurable", "virtual")
FIELDS_MAP = {"base_image": "image", "base_image_label": "image_label",
              "thumbnail_image": "thumbnail", "thumbnail_image_label": "thumbnail_label",
              "product_online": "status", "special_price_from_date": "special_from_date",
              "special_price_to_date": "special_to_date"}
# Columns that are not attributes (special columns and stock/link data).
SPECIAL = {"sku", "store_view_code", "attribute_set_code", "product_type", "categories",
           "product_websites", "additional_attributes", "additional_images",
           "additional_image_labels", "qty", "is_in_stock", "configurable_variations",
           "configurable_variation_labels"}


@dataclass
class Attr:
    """An EAV attribute of the shop: ``input`` select, multiselect, text, textarea,
    decimal, datetime, int; ``scope`` global, website or store."""

    code: str
    input: str = "text"
    scope: str = "store"
    options: list[str] = field(default_factory=list)  # admin labels
    required: bool = False

    def option(self, label: str) -> str | None:
        low = {o.lower(): o for o in self.options}
        return low.get(label.lower())


def system_attributes() -> dict[str, Attr]:
    a = [Attr("name", "text", "store", required=True), Attr("description", "textarea"),
         Attr("short_description", "textarea"), Attr("meta_title"),
         Attr("meta_description", "textarea"), Attr("url_key"),
         Attr("price", "decimal", "global"), Attr("special_price", "decimal", "global"),
         Attr("special_from_date", "datetime", "global"),
         Attr("special_to_date", "datetime", "global"), Attr("weight", "decimal", "global"),
         Attr("status", "int", "website"), Attr("visibility", "int", "store"),
         Attr("image"), Attr("image_label"), Attr("small_image"), Attr("small_image_label"),
         Attr("thumbnail"), Attr("thumbnail_label")]
    return {x.code: x for x in a}


@dataclass
class Item:
    """A product as the shop holds it after imports."""

    sku: str
    type: str
    attribute_set: str
    values: dict[int, dict[str, str]] = field(default_factory=dict)  # store id -> code -> value
    websites: set[str] = field(default_factory=set)
    categories: set[tuple[str, ...]] = field(default_factory=set)  # paths from the root
    children: list[str] = field(default_factory=list)
    super_labels: dict[str, str] = field(default_factory=dict)
    qty: Decimal | None = None
    in_stock: bool | None = None
    gallery: list[tuple[str, str]] = field(default_factory=list)  # (image, label) in order

    def value(self, code: str, store: str | int | None = None, shop: MagentoShop | None = None
              ) -> str | None:
        sid = store if isinstance(store, int) else (shop.stores[store] if store and shop
                                                    else 0)
        if sid and code in self.values.get(sid, {}):
            return self.values[sid][code]
        return self.values.get(0, {}).get(code)


@dataclass
class MagentoShop:
    stores: dict[str, int] = field(default_factory=lambda: {"default": 1})
    websites: set[str] = field(default_factory=lambda: {"base"})
    attribute_sets: set[str] = field(default_factory=lambda: {"Default"})
    attributes: dict[str, Attr] = field(default_factory=dict)  # besides the system ones
    root: str = "Default Category"
    url_suffix: str = ".html"
    sources: set[str] = field(default_factory=lambda: {"default"})
    products: dict[str, Item] = field(default_factory=dict)  # lower-case sku -> item
    category_ids: dict[tuple[str, ...], int] = field(default_factory=dict)
    url_rewrites: dict[tuple[int, str], str] = field(default_factory=dict)  # (store, path)
    source_items: dict[tuple[str, str], tuple[Decimal, int]] = field(default_factory=dict)
    # store view code -> its website's code; a store not listed is in the first website
    store_websites: dict[str, str] = field(default_factory=dict)

    def website_stores(self, view: str) -> list[int]:
        """StoreResolver::getStoreIdToWebsiteStoreIds: the store ids of the view's website."""
        first = sorted(self.websites)[0]
        mine = self.store_websites.get(view, first)
        return [sid for code, sid in self.stores.items()
                if self.store_websites.get(code, first) == mine]

    def __post_init__(self) -> None:
        self.attributes = {**system_attributes(), **self.attributes}
        self.category_ids.setdefault((self.root.lower(),), 2)

    def product(self, sku: str) -> Item:
        return self.products[sku.lower()]

    def value(self, sku: str, code: str, store: str | None = None) -> str | None:
        return self.product(sku).value(code, store, self)


@dataclass
class Result:
    errors: list[tuple[int, str]] = field(default_factory=list)  # (CSV line, message)
    dropped_links: list[tuple[str, str, str]] = field(default_factory=list)  # parent, child, why
    created_categories: list[tuple[str, ...]] = field(default_factory=list)
    orphans: list[tuple[str, str]] = field(default_factory=list)  # (source, sku) not in catalog
    composite: list[tuple[str, str]] = field(default_factory=list)
    imported: int = 0


# -- reading ------------------------------------------------------------------------

def read_php_csv(text: str, delimiter: str = ",") -> list[list[str]]:
    """PHP's fgetcsv with enclosure '"' and escape '\\': inside quotes a backslash
    keeps the next character (and itself), a doubled quote is one quote."""
    rows: list[list[str]] = []
    i, n = 0, len(text)
    while i < n:
        row: list[str] = []
        while True:
            cell = []
            if i < n and text[i] == '"':
                i += 1
                while i < n:
                    c = text[i]
                    if c == "\\" and i + 1 < n:
                        cell += [c, text[i + 1]]
                        i += 2
                    elif c == '"' and i + 1 < n and text[i + 1] == '"':
                        cell.append('"')
                        i += 2
                    elif c == '"':
                        i += 1
                        break
                    else:
                        cell.append(c)
                        i += 1
                while i < n and text[i] not in (delimiter, "\n", "\r"):
                    cell.append(text[i])  # what follows a closing quote is kept
                    i += 1
            else:
                while i < n and text[i] not in (delimiter, "\n", "\r"):
                    cell.append(text[i])
                    i += 1
            row.append("".join(cell))
            if i < n and text[i] == delimiter:
                i += 1
                continue
            if i < n and text[i] == "\r":
                i += 1
            if i < n and text[i] == "\n":
                i += 1
            break
        rows.append(row)
    return rows


def format_url_key(s: str) -> str:
    """Magento\\Framework\\Filter\\TranslitUrl (its table maps & to 'and', ß to 'ss',
    accented letters to their base)."""
    s = s.replace("&", " and ").replace("ß", "ss")
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]+", "-", s.lower()).strip("-")


DATE_FORMS = [("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"),
              ("%Y-%m-%d %H:%M:%S", r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}"),
              ("%Y-%m-%d %H:%M", r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}"),
              ("%m/%d/%Y", r"\d{1,2}/\d{1,2}/\d{4}"), ("%d.%m.%Y", r"\d{1,2}\.\d{1,2}\.\d{4}"),
              ("%d-%m-%Y", r"\d{1,2}-\d{1,2}-\d{4}")]


def php_date(v: str) -> date | None:
    """The day PHP's strtotime / new DateTime() reads, for the forms above; None where
    PHP gives false (e.g. 31/12/2026: a slash means month/day/year)."""
    v = v.strip()
    for fmt, rx in DATE_FORMS:
        if re.fullmatch(rx, v):
            try:
                return datetime.strptime(v, fmt).date()
            except ValueError:
                return None
    return None


def parse_additional(cell: str) -> dict[str, str]:
    """Product::parseAttributesWithoutWrappedValues."""
    out: dict[str, str] = {}
    code = ""
    for piece in cell.split(SEP):
        if "=" not in piece:
            if not code:
                continue
            out[code] += SEP + piece
            continue
        code, value = piece.split("=", 1)
        code = code.lower()
        out[code] = value
    return out


def parse_variations(cell: str) -> list[dict[str, str]]:
    """Configurable::_parseVariations: one dict per variation with 'sku' and values."""
    out = []
    for var in cell.split(MULTI):
        pairs: dict[str, str] = {}
        for nv in var.split(SEP):
            parts = nv.split("=")
            name = parts[0].strip()
            if name:
                pairs[name] = parts[1].strip() if len(parts) > 1 else ""
        if pairs.get("sku"):
            out.append(pairs)
    return out


def parse_labels(cell: str) -> dict[str, str]:
    out = {}
    for nv in cell.split(SEP):
        parts = nv.split("=")
        code = parts[0].strip()
        if code:
            out[code] = parts[1].strip() if len(parts) > 1 else ""
    return out


def split_categories(cell: str) -> list[tuple[str, ...]]:
    return [tuple(p.replace("\\/", "/") for p in re.split(r"(?<!\\)/", path))
            for path in cell.split(SEP)]


def _numeric(v: str) -> bool:
    try:
        Decimal(v.strip())
        return bool(re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", v))
    except InvalidOperation:
        return False


# -- the product import ---------------------------------------------------------------

def import_products(shop: MagentoShop, path: Path | str, bunch: int = 100,
                    skip_errors: bool = False) -> Result:
    """Validate every row, then (no errors, or ``skip_errors``) save bunch by bunch."""
    table = read_php_csv(Path(path).read_text("utf-8"))
    header = table[0]
    res = Result()
    if "sku" not in header:
        res.errors.append((1, "Missing required column sku"))
        return res
    rows: list[tuple[int, dict[str, str]]] = []
    for n, cells in enumerate(table[1:], 2):
        if len(cells) != len(header):
            res.errors.append((n, "Column count does not match header"))
            continue
        rows.append((n, dict(zip(header, cells, strict=True))))
    new_types: dict[str, str] = {}  # skus new in this file -> type
    url_keys: dict[tuple[int, str], str] = {}
    valid: list[tuple[int, dict[str, str]]] = []
    for n, raw in rows:
        row = _mapped(raw)
        errors = _validate(shop, row, new_types, url_keys)
        res.errors += [(n, e) for e in errors]
        if not errors:
            valid.append((n, row))
    if res.errors and not skip_errors:
        return res  # "Stop on Error": nothing is imported
    for i in range(0, len(valid), bunch):
        _save(shop, valid[i:i + bunch], res)
    _link(shop, valid, res)
    res.imported = len(valid)
    return res


def _mapped(raw: dict[str, str]) -> dict[str, str]:
    row = {FIELDS_MAP.get(k, k): v for k, v in raw.items()}
    if row.get("additional_attributes"):
        row.update(parse_additional(row["additional_attributes"]))
    return row


def _validate(shop: MagentoShop, row: dict[str, str], new_types: dict[str, str],
              url_keys: dict[tuple[int, str], str]) -> list[str]:
    errors: list[str] = []
    sku = row.get("sku", "")
    view = row.get("store_view_code", "")
    if not sku:
        return ["SKU is empty"]
    if len(sku) > 64:
        errors.append("Attribute sku exceeded max length")
    if view and view not in shop.stores:
        errors.append("Invalid value in Store column (store doesn't exist?)")
    exists = sku.lower() in shop.products
    ptype = row.get("product_type", "")
    if not exists:
        if ptype not in TYPES:
            return errors + ["Product Type is invalid or not supported"]
        if row.get("attribute_set_code", "") not in shop.attribute_sets:
            return errors + ["Invalid value for Attribute Set column (set doesn't exist?)"]
        new_types.setdefault(sku.lower(), ptype)
    for w in filter(None, row.get("product_websites", "").split(SEP)):
        if w not in shop.websites:
            errors.append("Invalid value in Website column (website does not exist?)")
    extra = parse_additional(row.get("additional_attributes", ""))
    for code in extra:
        if code not in shop.attributes:
            errors.append(f"additional_attributes: no attribute {code!r} in the shop")
    for code, value in row.items():
        a = shop.attributes.get(code)
        if a is None or code in SPECIAL or not value.strip() or value == EMPTY:
            continue
        errors += _attribute_errors(a, value)
    if not view and not exists:  # AbstractType::isRowValid: required values of a new SKU
        errors += [f'Please make sure attribute "{a.code}" is not empty.'
                   for a in shop.attributes.values()
                   if a.required and not row.get(a.code, "").strip()]
    errors += _variation_errors(shop, row)
    images = [row.get(k, "") for k in ("image", "small_image", "thumbnail")] + row.get(
        "additional_images", "").split(SEP)
    for url in filter(None, images):
        if not re.fullmatch(r"https?://[^\s/?#]+\.[^\s/?#]+(/[^\s]*)?", url):
            errors.append(f"Wrong URL/path used for attribute {url}")
    if _check_url_key(shop, row, exists):
        key = format_url_key(row["url_key"]) if row.get("url_key") else format_url_key(
            row.get("name", ""))
        stores = [shop.stores[view]] if view else list(shop.stores.values())
        for sid in stores:
            p = key + shop.url_suffix
            owner = url_keys.get((sid, p)) or shop.url_rewrites.get((sid, p))
            if owner is not None and owner.lower() != sku.lower():
                errors.append(f"Url key: '{key}' was already generated for an item with the "
                              f"SKU: '{owner}'. You need to specify the unique URL key "
                              "manually")
                break
            url_keys[(sid, p)] = sku
    return errors


def _attribute_errors(a: Attr, value: str) -> list[str]:
    if a.input == "select" and a.option(value) is None or a.input == "multiselect" and any(
            a.option(v) is None for v in value.split(MULTI)):
        return [f"Value for '{a.code}' attribute contains incorrect value, see acceptable "
                "values on settings specified for Admin"]
    if a.input == "decimal" and not _numeric(value):
        return [f"Value for '{a.code}' attribute contains incorrect value"]
    if a.input == "datetime" and php_date(value) is None:
        return [f"Value for '{a.code}' attribute contains incorrect value"]
    if a.input == "text" and len(value) >= 255:
        return [f"Attribute {a.code} exceeded max length"]
    return []


def _variation_errors(shop: MagentoShop, row: dict[str, str]) -> list[str]:
    errors = []
    seen: list[str] = []
    for var in parse_variations(row.get("configurable_variations", "")):
        if var["sku"] in seen:
            errors.append(f"SKU {var['sku']} contains duplicated variations")
        seen.append(var["sku"])
        for code, value in var.items():
            if code in ("sku", "display"):
                continue
            a = shop.attributes.get(code)
            if a is None or a.input != "select" or a.scope != "global":
                errors.append("Attribute with this code is not super")
            elif value and a.option(value) is None:
                errors.append("Invalid option value")
    return errors


def _check_url_key(shop: MagentoShop, row: dict[str, str], exists: bool) -> bool:
    """Product::isNeedToValidateUrlKey (behaviour append)."""
    if exists and not row.get("url_key"):
        return False
    return bool(row.get("url_key") or row.get("name")) and row.get("visibility") != NOT_VISIBLE


def _save(shop: MagentoShop, rows: list[tuple[int, dict[str, str]]], res: Result) -> None:
    """One bunch of Product::_saveProducts."""
    existed = set(shop.products)
    seen: set[tuple[str, str, int]] = set()  # (sku, code, store) set in this bunch
    for _, row in rows:
        sku = row["sku"]
        view = row.get("store_view_code", "")
        item = shop.products.get(sku.lower())
        if item is None:
            item = shop.products[sku.lower()] = Item(sku, row["product_type"],
                                                     row["attribute_set_code"])
        for w in filter(None, row.get("product_websites", "").split(SEP)):
            item.websites.add(w)
        if row.get("categories"):
            for path in split_categories(row["categories"]):
                item.categories.add(_upsert_category(shop, path, res))
        store = shop.stores[view] if view else 0
        for code, value in row.items():
            a = shop.attributes.get(code)
            if a is None or code in SPECIAL or value == "":
                continue  # _prepareRowForDb + clearEmptyData: an empty cell changes nothing
            v: str | None = None if value == EMPTY else value
            if v is not None and a.input == "datetime":
                v = php_date(v).isoformat()  # type: ignore[union-attr]
            if v is not None and code == "visibility":
                v = str(VISIBILITY[v])
            if v is not None and a.input in ("select", "multiselect"):
                v = MULTI.join(a.option(x) or x for x in v.split(MULTI))
            if v is not None and code == "url_key":
                v = format_url_key(v)
            stores = [0]
            if view:
                if a.scope == "store":
                    stores = [store]
                elif a.scope == "website":  # the stores of the row's website
                    stores = shop.website_stores(view)
                if sku.lower() not in existed:
                    stores.append(0)
            for sid in stores:
                if (sku.lower(), code, sid) in seen:
                    continue  # the first value of the bunch wins
                seen.add((sku.lower(), code, sid))
                if v is None:
                    item.values.get(sid, {}).pop(code, None)
                else:
                    item.values.setdefault(sid, {})[code] = v
        if not view and row.get("qty", "") != "":
            item.qty = Decimal(row["qty"])
        if not view and row.get("is_in_stock", "") != "":
            item.in_stock = row["is_in_stock"] == "1"
        _media(item, row)
        if row.get("configurable_variation_labels"):
            item.super_labels.update(parse_labels(row["configurable_variation_labels"]))
        if item.value("visibility") not in (None, "1") and item.value("url_key"):
            for sid in ([store] if view else list(shop.stores.values())):
                key = item.value("url_key", sid) or ""
                shop.url_rewrites[(sid, key + shop.url_suffix)] = item.sku


def _media(item: Item, row: dict[str, str]) -> None:
    images = [(row.get(k, ""), row.get(k + "_label", "")) for k in
              ("image", "small_image", "thumbnail")]
    extra = [x for x in row.get("additional_images", "").split(SEP) if x]
    labels = row.get("additional_image_labels", "").split(SEP)
    images += [(x, labels[i] if i < len(labels) else "") for i, x in enumerate(extra)]
    have = {u for u, _ in item.gallery}
    for url, label in images:
        if url and url not in have:
            item.gallery.append((url, label))
            have.add(url)
        elif url and label:
            item.gallery = [(u, label if u == url and not lb else lb) for u, lb in item.gallery]


def _upsert_category(shop: MagentoShop, path: tuple[str, ...], res: Result) -> tuple[str, ...]:
    key: tuple[str, ...] = ()
    for part in path:
        key += (part.lower(),)
        if key not in shop.category_ids:
            shop.category_ids[key] = len(shop.category_ids) + 2
            res.created_categories.append(key)
    return tuple(path)


def _link(shop: MagentoShop, rows: list[tuple[int, dict[str, str]]], res: Result) -> None:
    """Configurable::saveData after the products are saved."""
    for _, row in rows:
        if row.get("store_view_code") or not row.get("configurable_variations"):
            continue
        parent = shop.product(row["sku"])
        if parent.type != "configurable":
            continue
        combos: set[tuple[str, ...]] = set()
        for var in parse_variations(row["configurable_variations"]):
            child = shop.products.get(var["sku"].lower())
            codes = [c for c in var if c not in ("sku", "display")]
            if child is None:
                res.dropped_links.append((parent.sku, var["sku"], "no such product"))
                continue
            if var.get("display") == "0":
                if child.sku in parent.children:
                    parent.children.remove(child.sku)
                continue
            values = tuple(child.value(c) or "" for c in codes)
            if not all(values):
                res.dropped_links.append((parent.sku, child.sku, "no value for "
                                          + ", ".join(c for c, v in zip(codes, values,
                                                                        strict=True) if not v)))
                continue
            if values in combos:
                res.dropped_links.append((parent.sku, child.sku, "its values repeat"))
                continue
            combos.add(values)
            if child.sku not in parent.children:
                parent.children.append(child.sku)


# -- MSI source items -------------------------------------------------------------------

def import_sources(shop: MagentoShop, path: Path | str) -> Result:
    table = read_php_csv(Path(path).read_text("utf-8"))
    header, res = table[0], Result()
    for col in ("source_code", "sku", "quantity"):
        if col not in header:
            res.errors.append((1, f'Missing required column "{col}"'))
    if res.errors:
        return res
    good = []
    for n, cells in enumerate(table[1:], 2):
        row = dict(zip(header, cells, strict=True))
        if row["source_code"] not in shop.sources:
            res.errors.append((n, f'Source code "{row["source_code"]}" does not exists'))
        elif not _numeric(row["quantity"]):
            res.errors.append((n, '"quantity" contains incorrect value'))
        else:
            good.append(row)
    if res.errors:
        return res
    for row in good:
        status = int(row["status"]) if row.get("status", "") != "" else 1
        key = (row["source_code"], row["sku"])
        shop.source_items[key] = (Decimal(row["quantity"]), status)
        item = shop.products.get(row["sku"].lower())
        if item is None:
            res.orphans.append(key)
        elif item.type != "simple":
            res.composite.append(key)
    res.imported = len(good)
    return res
