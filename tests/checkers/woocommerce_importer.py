"""A re-implementation of WooCommerce's product CSV importer (Products -> Import), to check the
files filebridge writes against what a real shop ends up with.

    shop = WooShop()
    result = import_csv(shop, path, update_existing=False)
    result.mapping          # header -> field key the mapping screen preselects ('' = not imported)
    result.created / .updated / .skipped / .failed   # (row, sku, message), row = CSV line
    shop.by_sku("A1-S").status, shop.visible_variations("A1")

Read in ``woocommerce/woocommerce`` (the repository is over the size ``fetch`` brings here, so
tags could not be listed; these are the newest versions in the file index, trunk of late 2026,
WooCommerce 11.1+; each commit is the one the file was read at):

- ``plugins/woocommerce/includes/import/class-wc-product-csv-importer.php`` @c0f343a9:
  ``read_file``, ``get_formatting_callback``, the ``parse_*`` functions, ``expand_data``,
  ``set_parsed_data`` and ``import`` (the update-existing rules and their messages).
- ``plugins/woocommerce/includes/import/abstract-wc-product-importer.php`` @01ea6f11:
  ``get_product_object``, ``process_item``, ``set_product_data`` (a parent's attribute list is
  replaced, ``is_variation`` kept from the existing attribute), ``set_variation_data`` (a
  variation naming an attribute its parent lacks is refused, since 11.1.0),
  ``get_variation_parent_attributes``, ``get_attribute_taxonomy_id``, ``explode_values``,
  ``unescape_data``.
- ``plugins/woocommerce/includes/admin/importers/class-wc-product-csv-importer-controller.php``
  @11adb472: the mapping (see :mod:`.woocommerce_mapping`), batches of 30 rows, and the
  cleanup after the last batch, which deletes the placeholders ("Import placeholder for
  ...") no row filled in, and their variations.
- ``plugins/woocommerce/includes/abstracts/abstract-wc-product.php`` @005c9ff4 (setters,
  ``validate_props``), ``includes/wc-attribute-functions.php`` @00bd597c (global attribute
  slugs: at most 28 characters, reserved words such as ``type`` refused),
  ``includes/wc-formatting-functions.php`` @012314de (``wc_format_decimal``).

PHP quirks kept on purpose because they decide what the shop gets:

- ``get_formatting_callback`` loops ``foreach ($regex_match_data_formatting as $regex =>
  $callback)``; when no pattern matches, ``$callback`` is left at the last one,
  ``wp_kses_post``. So SKU, Sale price, Tax class, attribute names and every other column
  without its own parser are run through ``wp_kses_post`` (a bare '&' becomes '&amp;'), not
  ``wc_clean``.
- ``parse_published_field`` returns '' for an empty cell and ``expand_data`` looks '' up in
  ``[-1 => draft, 0 => private, 1 => publish]``: empty (or any other number) is ``draft``
  for products and variations alike; only -1 on a ``variation`` row is turned into
  ``publish``. A variation's status is never -1 when ``process_item`` checks it, so that
  "variations cannot be drafts" line does nothing.
- ``set_variation_data``'s "Variation cannot be imported: Missing parent ID or parent does not
  exist yet." is returned, not thrown, and ``process_item`` ignores it: the variation is saved
  without a parent (counted as imported) and never shows.
- A price is ``wc_format_decimal``'d: with the store's decimal separator '.', "12,50" becomes
  1250.
- An empty date cell is null, and ``set_props`` skips nulls: it never clears a sale date.
- An empty Images cell changes nothing; an empty Categories cell removes the categories.
- With no SKU column, ``parse_id_field`` reads the first column as the row's SKU.

Values outside what is modelled raise :class:`NotModelled` (from :mod:`.wp_functions`).
"""

from __future__ import annotations

import codecs
import copy
import csv
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .woocommerce_mapping import is_shopify, preselected
from .woocommerce_shop import (
    PRODUCT_TYPES,
    Attribute,
    Product,
    ProductView,
    ShopError,
    WooShop,
)
from .wp_functions import (
    NotModelled,
    esc_url_raw,
    php_empty,
    php_floatval,
    php_intval,
    php_is_numeric,
    php_truthy,
    sanitize_file_name,
    sanitize_title,
    set_date_prop,
    strip_all_tags,
    strtotime_local,
    wc_clean,
    wc_format_decimal,
    wc_sanitize_taxonomy_name,
    wc_stock_amount,
    wc_string_to_bool,
    wp_kses_post,
)

__all__ = ["ImportResult", "NotModelled", "Outcome", "ProductView", "WooShop", "import_csv"]

BATCH_SIZE = 30  # woocommerce_product_import_batch_size
RESERVED = frozenset(
    ["attachment", "attachment_id", "author", "author_name", "calendar", "cat", "category",
     "category__and", "category__in", "category__not_in", "category_name", "comments_per_page",
     "comments_popup", "cpage", "day", "debug", "error", "exact", "feed", "hour", "link_category",
     "m", "minute", "monthnum", "more", "name", "nav_menu", "nopaging", "offset", "order",
     "orderby", "p", "page", "page_id", "paged", "pagename", "pb", "perm", "post", "post__in",
     "post__not_in", "post_format", "post_mime_type", "post_status", "post_tag", "post_type",
     "posts", "posts_per_archive_page", "posts_per_page", "preview", "robots", "s", "search",
     "second", "sentence", "showposts", "static", "subpost", "subpost_id", "tag", "tag__and",
     "tag__in", "tag__not_in", "tag_id", "tag_slug__and", "tag_slug__in", "taxonomy", "tb", "term",
     "type", "w", "withcomments", "withoutcomments", "year"])
IMAGE_TYPES = ("jpg", "jpeg", "jpe", "gif", "png", "bmp", "tif", "tiff", "ico", "webp", "avif",
               "heic")


class Outcome(NamedTuple):
    row: int        # the CSV line the row starts on (the header is line 1)
    sku: str
    message: str


@dataclass
class ImportResult:
    mapping: dict[str, str]
    created: list[Outcome] = field(default_factory=list)
    updated: list[Outcome] = field(default_factory=list)
    skipped: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    removed: list[Outcome] = field(default_factory=list)   # deleted by the final cleanup
    variations: set[int] = field(default_factory=set)     # rows counted as imported_variations

    @property
    def not_imported(self) -> list[str]:
        """Headers the mapping screen leaves on "Do not import"."""
        return [h for h, k in self.mapping.items() if not k]

    def counts(self) -> dict[str, int]:
        """The numbers WooCommerce's "Import complete!" screen shows."""
        return {"imported": len([o for o in self.created if o.row not in self.variations]),
                "imported_variations": len([o for o in self.created
                                            if o.row in self.variations]),
                "updated": len(self.updated), "skipped": len(self.skipped),
                "failed": len(self.failed)}


def _php_mb_substitute(e: UnicodeError) -> tuple[str, int]:
    # mb_convert_encoding($v, 'UTF-8', 'UTF-8') puts '?' for each invalid byte.
    assert isinstance(e, UnicodeDecodeError)
    return "?", e.start + 1


codecs.register_error("wc_mb_substitute", _php_mb_substitute)


def _read_rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """fgetcsv with '"' enclosure and no escape character; yields (start line, cells)."""
    with open(path, encoding="utf-8", errors="wc_mb_substitute", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar='"', doublequote=True,
                            escapechar=None, strict=False)
        last = 0
        for cells in reader:
            yield last + 1, cells
            last = reader.line_num


def _unescape(v: str) -> str:
    return v[1:] if v[:2] in ("'=", "'+", "'-", "'@") else v


def _explode(v: str, sep: str = ",") -> list[str]:
    return [x.replace("::separator::", ",").strip()
            for x in v.replace("\\,", "::separator::").split(sep)]


class _Importer:
    def __init__(self, shop: WooShop, path: Path, update_existing: bool, delimiter: str,
                 mapping: dict[str, str] | None):
        self.shop, self.path = shop, path
        self.update_existing, self.delimiter = update_existing, delimiter
        self.mapping_override = mapping

    # ------------------------------------------------------------ reading and parsing

    def run(self, batch_size: int) -> ImportResult:
        rows = _read_rows(self.path, self.delimiter)
        try:
            _, raw_keys = next(rows)
        except StopIteration:
            raise ValueError(f"{self.path}: the file is empty") from None
        keys = [wc_clean(re.sub(r"\\(.)", r"\1", k.strip(" \t\n\r\0\x0b")))
                for k in raw_keys]
        if keys:
            keys[0] = keys[0].removeprefix("\ufeff")
        self.keys = keys
        chosen = dict(zip(keys, preselected(keys, self.shop), strict=True))
        if self.mapping_override is not None:
            chosen.update(self.mapping_override)
        self.mapped = [chosen.get(k, k) for k in keys]
        self.result = ImportResult(mapping=chosen)
        self.shopify = is_shopify(keys)
        batch: list[tuple[int, list[str]]] = []
        for line, cells in rows:
            batch.append((line, cells))
            if len(batch) == batch_size:
                self._batch(batch)
                batch = []
        if batch:
            self._batch(batch)
        self._cleanup()
        return self.result

    def _batch(self, batch: list[tuple[int, list[str]]]) -> None:
        parsed = []
        for line, cells in batch:     # set_parsed_data runs for the whole batch first
            if all(php_empty(c) for c in cells):
                continue
            self.line, self.cells = line, cells
            parsed.append((line, self._expand(self._parse(cells))))
        for line, data in parsed:
            self.line = line
            self._import_row(line, data)

    def _parse(self, cells: list[str]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for i, value in enumerate(cells):
            key = self.mapped[i] if i < len(self.mapped) else ""
            if not key:
                continue
            try:
                data[key] = self._format(key, value)
            except NotModelled as e:
                raise NotModelled(f"{self.path}, line {self.line}, column "
                                  f"{self.keys[i]!r}: {e}") from None
        return data

    def _format(self, key: str, value: str) -> Any:
        simple: dict[str, Callable[[str], Any]] = {
            "id": self._parse_id, "type": self._parse_comma, "published": self._parse_published,
            "featured": self._parse_bool, "date_on_sale_from": self._parse_datetime,
            "date_on_sale_to": self._parse_datetime, "name": lambda v: v,
            "short_description": self._parse_description,
            "description": self._parse_description, "manage_stock": self._parse_bool,
            "low_stock_amount": self._parse_stock, "backorders": self._parse_backorders,
            "stock_status": self._parse_bool, "sold_individually": self._parse_bool,
            "width": self._parse_float, "length": self._parse_float,
            "height": self._parse_float, "weight": self._parse_float,
            "reviews_allowed": self._parse_bool, "purchase_note": wp_kses_post,
            "price": self._decimal, "regular_price": self._decimal,
            "stock_quantity": self._parse_stock, "category_ids": self._parse_categories,
            "tag_ids": self._parse_tags, "tag_ids_spaces": lambda v: self._parse_tags(v, " "),
            "shipping_class_id": self._parse_shipping_class, "images": self._parse_images,
            "parent_id": self._parse_relative, "grouped_products": self._parse_relative_list,
            "upsell_ids": self._parse_relative_list, "cross_sell_ids": self._parse_relative_list,
            "download_limit": lambda v: php_intval(_unescape(v)),
            "download_expiry": lambda v: php_intval(_unescape(v)),
            "product_url": esc_url_raw, "menu_order": php_intval,
            "tax_status": self._parse_tax_status, "cogs_value": self._parse_cogs}
        if key in simple:
            return simple[key](value)
        if re.search(r"attributes:value*", key):
            return self._parse_comma(value)
        if re.search(r"attributes:visible*", key) or re.search(r"attributes:taxonomy*", key):
            return self._parse_bool(value)
        if re.search(r"downloads:url*", key):
            raise NotModelled("downloadable files")
        return wp_kses_post(value)   # '/meta:*/' or, by the foreach quirk, everything else

    def _decimal(self, v: str) -> str:
        return wc_format_decimal(v, self.shop.decimal_separator)

    def _parse_comma(self, v: str) -> list[str]:
        if php_empty(v) and v != "0":
            return []
        return [wc_clean(x) for x in _explode(_unescape(v))]

    @staticmethod
    def _parse_bool(v: str) -> bool | str:
        return False if v == "0" else True if v == "1" else wc_clean(v)

    @staticmethod
    def _parse_float(v: str) -> float | str:
        return v if v == "" else php_floatval(_unescape(v))

    @staticmethod
    def _parse_stock(v: str) -> int | str:
        return v if v == "" else wc_stock_amount(_unescape(v))

    @staticmethod
    def _parse_tax_status(v: str) -> str:
        if v == "":
            return v
        v = _unescape(v)
        if v.lower() in ("true", "false"):
            v = "taxable" if wc_string_to_bool(v) else "none"
        return wc_clean(v)

    @staticmethod
    def _parse_published(v: str) -> float | str:
        if v == "":
            return v
        v = _unescape(v)
        if v.lower() in ("true", "false"):
            return 1.0 if wc_string_to_bool(v) else -1.0
        return php_floatval(v)

    @staticmethod
    def _parse_description(v: str) -> str:
        parts = [p.replace("\\n", "\n") for p in v.split("\\\\n")]
        return "\\\n".join(parts)

    @staticmethod
    def _parse_backorders(v: str) -> str:
        if php_empty(v):
            return "no"
        b = _Importer._parse_bool(v)
        return "notify" if b == "notify" else ("yes" if b else "no") if isinstance(b, bool) \
            else "no"

    @staticmethod
    def _parse_datetime(v: str) -> str | None:
        # parse_datetime_field: a Unix timestamp becomes ISO 8601 UTC; a string strtotime()
        # accepts is kept as is; anything else is null (ignored by set_props).
        if php_is_numeric(v):
            return f"@{v}"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[-+]\d{2}:\d{2})", v):
            return v
        if v.strip() == "":
            return None
        return v if strtotime_local(v) is not None else None

    def _parse_cogs(self, v: str) -> str | None:
        if v != "":
            raise NotModelled("Cost of goods")
        return None

    def _parse_categories(self, v: str) -> list[int]:
        if php_empty(v):
            return []
        ids = []
        for path in _explode(v):
            parent = 0
            names = [n.strip() for n in path.split(">")]
            for i, name in enumerate(names):
                if wp_kses_post(wc_clean(name)) == "":
                    break            # wp_insert_term: empty_term_name, "cannot continue"
                term = self.shop.category(name, parent)
                if i + 1 == len(names):
                    ids.append(term.id)
                else:
                    parent = term.id
        return ids

    def _parse_tags(self, v: str, sep: str = ",") -> list[int]:
        if php_empty(v):
            return []
        return [self.shop.tag(n).id for n in _explode(_unescape(v), sep)
                if wp_kses_post(wc_clean(n))]

    def _parse_shipping_class(self, v: str) -> int:
        return 0 if php_empty(v) else self.shop.shipping_class(v).id

    @staticmethod
    def _parse_images(v: str) -> list[str]:
        if php_empty(v):
            return []
        return [esc_url_raw(x) if "://" in x.lower() else sanitize_file_name(x)
                for x in _explode(v)]

    def _placeholder(self, name: str, sku: str = "", original_id: int | None = None) -> int:
        p = Product(0, status="importing", name=f"Import placeholder for {name}", sku=sku,
                    original_id=original_id, row=self.line)
        return self.shop.add(p).id

    def _parse_relative(self, v: str) -> int | str:
        if php_empty(v):
            return ""
        if m := re.fullmatch(r"id:(\d+)", v):
            pid = int(m[1])
            for p in self.shop.products.values():
                if p.original_id == pid:
                    return p.id
            if pid in self.shop.products:
                return pid
            if not self.update_existing:
                return self._placeholder(str(pid), original_id=pid)
            return pid
        return self.shop.id_by_sku(v) or self._placeholder(v, sku=v)

    def _parse_relative_list(self, v: str) -> list[int]:
        if php_empty(v):
            return []
        return [x for x in (self._parse_relative(s) for s in _explode(v))
                if isinstance(x, int) and x]

    def _parse_id(self, v: str) -> int:
        pid = max(php_intval(v), 0)
        if not pid:
            return 0
        for p in self.shop.products.values():
            if p.original_id == pid:
                return p.id
        if not self.update_existing:
            # array_search('sku', ...) is false without a SKU column: absint(false) is 0.
            col = self.mapped.index("sku") if "sku" in self.mapped else 0
            row_sku = self.cells[col] if col < len(self.cells) else ""
            if row_sku and (found := self.shop.id_by_sku(row_sku)):
                return found
            return self._placeholder(str(pid), sku=row_sku, original_id=pid)
        return pid

    def _expand(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.shopify and "meta:shopify_requires_shipping" in data \
                and not wc_string_to_bool(data.pop("meta:shopify_requires_shipping")):
            data.setdefault("type", []).append("virtual")
        if "images" in data:
            images = [i for i in data.pop("images")]
            data["raw_image_id"] = images.pop(0) if images else None
            if images:
                data["raw_gallery_image_ids"] = images
        if "type" in data:
            kinds = [t.lower() for t in data["type"]]
            data["type"] = next((t for t in kinds if t not in ("virtual", "downloadable")),
                                None) or "simple"
            data["virtual"] = "virtual" in kinds
            data["downloadable"] = "downloadable" in kinds
        if "published" in data:
            published = data.pop("published")
            if isinstance(published, float):
                published = int(published)
            status = {-1: "draft", 0: "private", 1: "publish"}.get(published, "draft") \
                if isinstance(published, int) else "draft"
            if data.get("type") == "variation" and published == -1:
                status = "publish"
            data["status"] = status
        if "stock_quantity" in data:
            if data["stock_quantity"] == "":
                data["manage_stock"] = False
                data["stock_status"] = data.get("stock_status", True)
            else:
                data["manage_stock"] = True
        if "stock_status" in data:
            s = data["stock_status"]
            data["stock_status"] = "onbackorder" if s == "backorder" else (
                "instock" if php_truthy(s) else "outofstock")
        if "grouped_products" in data:
            data["children"] = data.pop("grouped_products")
        if "tag_ids_spaces" in data:
            data["tag_ids"] = data.pop("tag_ids_spaces")
        if not self.shop.cogs_enabled:
            data.pop("cogs_value", None)
        attributes: dict[str, dict[str, Any]] = {}
        meta = []
        for key in list(data):
            value = data[key]
            for prefix, slot in (("attributes:name", "name"), ("attributes:value", "value"),
                                 ("attributes:taxonomy", "taxonomy"),
                                 ("attributes:visible", "visible"),
                                 ("attributes:default", "default")):
                if key.startswith(prefix):
                    n = key[len(prefix):]
                    if slot in ("name", "default") and php_empty(value):
                        pass
                    elif slot in ("taxonomy", "visible"):
                        attributes.setdefault(n, {})[slot] = wc_string_to_bool(value)
                    else:
                        attributes.setdefault(n, {})[slot] = value
                    del data[key]
                    break
            else:
                if key.startswith(("downloads:id", "downloads:name")):
                    if php_truthy(value):
                        raise NotModelled("downloadable files")
                    del data[key]
                elif key.startswith("meta:"):
                    meta.append((key[len("meta:"):], value))
                    del data[key]
        raw = [a for a in attributes.values() if not php_empty(a.get("name"))]
        if raw:
            data["raw_attributes"] = raw
        if meta:
            data["meta_data"] = meta
        return data

    # ------------------------------------------------------------ importing

    def _outcome(self, data: dict[str, Any], message: str) -> Outcome:
        return Outcome(self.line, str(data.get("sku", "")), message)

    def _import_row(self, line: int, data: dict[str, Any]) -> None:
        shop, r = self.shop, self.result
        pid = max(php_intval(data.get("id", 0) or 0), 0)
        sku = data.get("sku", "")
        id_exists = sku_exists = False
        if pid:
            p = shop.get(pid)
            id_exists = bool(p and p.status != "importing")
        if php_truthy(sku):
            p = shop.get(shop.id_by_sku(sku))
            sku_exists = bool(p and p.status != "importing")
        if sku_exists and not self.update_existing:
            r.skipped.append(self._outcome(data, "A product with this SKU already exists."))
            return
        if id_exists and not self.update_existing:
            r.skipped.append(self._outcome(data, "A product with this ID already exists."))
            return
        if self.update_existing and ("id" in data or "sku" in data) and not id_exists \
                and not sku_exists:
            r.skipped.append(self._outcome(data, "No matching product exists to update."))
            return
        try:
            updated, is_variation, note = self._process(data)
        except ShopError as e:
            r.failed.append(self._outcome(data, str(e)))
            return
        (r.updated if updated else r.created).append(self._outcome(data, note))
        if is_variation and not updated:
            r.variations.add(line)

    def _load(self, data: dict[str, Any]) -> Product:
        """``get_product_object``: a working copy, committed only by a successful save."""
        shop = self.shop
        pid = max(php_intval(data.get("id", 0) or 0), 0)
        if "type" in data:
            kind = data["type"]
            if kind not in PRODUCT_TYPES:
                raise ShopError("Invalid product type.")
            existing = shop.get(pid)
            if existing is None:
                return Product(0, type=kind, row=self.line)
            if existing.type == "variation" and kind != "variation":
                raise ShopError("Invalid product.")   # the CPT data store refuses the post
            obj = copy.deepcopy(existing)
            if kind == "variation" and existing.type != "variation":
                obj.category_ids, obj.tag_ids = [], []
            obj.type = kind
            return obj
        if pid:
            existing = shop.get(pid)
            if existing is None:
                raise ShopError(f"Invalid product ID {pid}.")
            return copy.deepcopy(existing)
        return Product(0, type="simple", row=self.line)

    def _process(self, data: dict[str, Any]) -> tuple[bool, bool, str]:
        shop = self.shop
        if php_empty(data.get("id")) and php_truthy(data.get("sku")) \
                and (found := shop.id_by_sku(data["sku"])):
            data["id"] = found
        obj = self._load(data)
        updating = bool(obj.id and obj.status != "importing")
        if obj.type == "external":
            for k in ("manage_stock", "stock_status", "backorders", "low_stock_amount"):
                data.pop(k, None)
        if obj.status == "importing":
            obj.status, obj.slug = "publish", ""
        props = {k: v for k, v in data.items()
                 if k not in ("meta_data", "raw_image_id", "raw_gallery_image_ids",
                              "raw_attributes")}
        self.categories_changed = False
        errors = [e for k, v in props.items() if v is not None
                  and (e := self._set(obj, k, v))]
        if errors:
            raise ShopError(errors[0])
        note = ""
        if obj.type == "variation":
            note = self._set_variation_data(obj, data)
        else:
            self._set_product_data(obj, data)
        self._set_images(obj, data)
        for key, value in data.get("meta_data", []):
            self._update_meta(obj, key, value)
        self._save(obj, new=not obj.id or not updating)
        return updating, obj.type == "variation", note

    def _set(self, obj: Product, key: str, value: Any) -> str:
        """One ``set_<key>`` of ``WC_Data::set_props``; returns the error message, if any."""
        try:
            setter = getattr(self, f"_set_{key}", None)
            if setter is not None:
                setter(obj, value)
            elif key in ("name", "description", "short_description", "purchase_note",
                         "backorders"):
                setattr(obj, key, value)
            elif key in ("featured", "manage_stock", "sold_individually", "reviews_allowed",
                         "virtual", "downloadable"):
                setattr(obj, key, wc_string_to_bool(value))
            elif key in ("weight", "length", "width", "height"):
                setattr(obj, key, "" if value == "" else wc_format_decimal(value))
            elif key in ("regular_price", "sale_price"):
                setattr(obj, key, wc_format_decimal(value, self.shop.decimal_separator))
            elif key in ("date_on_sale_from", "date_on_sale_to"):
                stamp = value.removeprefix("@")
                setattr(obj, key, set_date_prop(stamp, self.shop.tz))
            elif key in ("upsell_ids", "cross_sell_ids"):
                setattr(obj, key, [x for x in value if x])
            elif key in ("category_ids", "tag_ids"):
                setattr(obj, key, list(dict.fromkeys(int(x) for x in value)))
                self.categories_changed |= key == "category_ids"
            elif key in ("parent_id", "shipping_class_id"):
                setattr(obj, key, max(php_intval(value or 0), 0))
            elif key == "menu_order":
                obj.menu_order = php_intval(value)
            elif key in ("product_url", "button_text") and obj.type == "external":
                setattr(obj, key, value)
            elif key == "children" and obj.type == "grouped":
                obj.children = list(value)
            elif key.startswith("customs_") and value != "":
                raise NotModelled(f"{key} (CustomsDataValidator)")
        except ShopError as e:
            return str(e)
        return ""

    def _set_status(self, obj: Product, value: str) -> None:
        obj.status = value

    def _set_sku(self, obj: Product, value: str) -> None:
        sku = str(value)
        other = self.shop.id_by_sku(sku) if sku else 0
        if other and other != obj.id:
            raise ShopError("Invalid or duplicated SKU.")
        obj.sku = sku

    def _set_global_unique_id(self, obj: Product, value: str) -> None:
        gtin = re.sub(r"[^0-9Xx\-]", "", str(value))
        if gtin and not re.fullmatch(r"[0-9\-]*[0-9Xx]?", gtin):
            raise ShopError("Invalid GTIN, UPC, EAN, or ISBN. The letter X is only valid as "
                            "the final ISBN-10 check digit.")
        other = self.shop.id_by_gtin(gtin) if gtin else 0
        if other and other != obj.id:
            raise ShopError("Invalid or duplicated GTIN, UPC, EAN or ISBN.")
        obj.global_unique_id = gtin

    def _set_catalog_visibility(self, obj: Product, value: str) -> None:
        options = ("visible", "catalog", "search", "hidden")
        v = value if value in options else value.lower()
        if v not in options:
            raise ShopError("Invalid catalog visibility option.")
        obj.catalog_visibility = v

    def _set_tax_status(self, obj: Product, value: str) -> None:
        v = (value or "taxable").lower()
        if v not in ("taxable", "shipping", "none"):
            raise ShopError("Invalid product tax status.")
        obj.tax_status = v

    def _set_tax_class(self, obj: Product, value: str) -> None:
        v = sanitize_title(value)
        v = "" if v == "standard" else v
        obj.tax_class = v if v in ("", "reduced-rate", "zero-rate") else ""

    def _set_stock_quantity(self, obj: Product, value: Any) -> None:
        obj.stock_quantity = None if value == "" else wc_stock_amount(value)

    def _set_stock_status(self, obj: Product, value: str) -> None:
        obj.stock_status = value if value in ("instock", "outofstock", "onbackorder") \
            else "instock"

    def _set_low_stock_amount(self, obj: Product, value: Any) -> None:
        obj.low_stock_amount = "" if value == "" else abs(php_intval(value))

    def _update_meta(self, obj: Product, key: str, value: str) -> None:
        # WC_Data::update_meta_data routes internal keys with a setter to the setter.
        routed = {"_global_unique_id": "global_unique_id", "_sku": "sku",
                  "_regular_price": "regular_price", "_sale_price": "sale_price",
                  "_weight": "weight", "_stock_status": "stock_status",
                  "_manage_stock": "manage_stock", "_tax_status": "tax_status",
                  "_tax_class": "tax_class", "_backorders": "backorders"}
        internal = ("_visibility", "_price", "_sale_price_dates_from", "_sale_price_dates_to",
                    "total_sales", "_stock", "_low_stock_amount", "_sold_individually",
                    "_length", "_width", "_height", "_upsell_ids", "_crosssell_ids",
                    "_purchase_note", "_default_attributes", "_product_attributes", "_virtual",
                    "_downloadable", "_download_limit", "_download_expiry", "_featured",
                    "_downloadable_files", "_variation_description", "_thumbnail_id",
                    "_product_image_gallery")
        if key in routed:
            if err := self._set(obj, routed[key], value):
                raise ShopError(err)
        elif key in internal:
            raise NotModelled(f"meta key {key} (an internal WooCommerce meta key)")
        else:
            obj.meta[key] = value

    # ------------------------------------------------------------ attributes

    def _taxonomy_slug(self, raw_name: str) -> str:
        """``get_attribute_taxonomy_name_from_raw_name``: a label of an existing global
        attribute, else the sanitized name."""
        for slug, label in self.shop.attribute_taxonomies.items():
            if label == raw_name:
                return slug
        return wc_sanitize_taxonomy_name(raw_name)

    def _taxonomy(self, raw_name: str) -> str:
        """``get_attribute_taxonomy_id`` (creating the global attribute): 'pa_<slug>'."""
        slug = self._taxonomy_slug(raw_name)
        slug = slug.removeprefix("pa_")
        if slug in self.shop.attribute_taxonomies:
            return f"pa_{slug}"
        if php_empty(raw_name):
            raise ShopError("Please, provide an attribute name.")
        if len(slug.encode()) > 28:
            raise ShopError(f'Slug "{slug}" is too long (28 characters max). Shorten it, '
                            "please.")
        if slug in RESERVED:
            raise ShopError(f'Slug "{slug}" is not allowed because it is a reserved term. '
                            "Change it, please.")
        self.shop.attribute_taxonomies[slug] = raw_name
        return f"pa_{slug}"

    def _variation_key(self, attribute: dict[str, Any]) -> str:
        raw = attribute.get("name", "")
        if not attribute.get("taxonomy"):
            return sanitize_title(raw)
        slug = self._taxonomy_slug(raw)
        return sanitize_title("pa_" + (slug.removeprefix("pa_")))

    def _set_product_data(self, obj: Product, data: dict[str, Any]) -> None:
        if "raw_attributes" not in data:
            return
        attributes: dict[str, Attribute] = {}
        defaults: dict[str, str] = {}
        for position, a in enumerate(data["raw_attributes"]):
            taxonomy = self._taxonomy(a["name"]) if a.get("taxonomy") else ""
            visible = a.get("visible", True)
            name = taxonomy or a["name"]
            variation = next((e.variation for e in obj.attributes.values()
                              if e.name == name), False)
            if taxonomy:
                values = a.get("value", [])
                options = [o for o in (strip_all_tags(re.sub(r"\\(.)", r"\1", v)).strip()
                                       for v in values) if o != ""]
                if not php_empty(a.get("default")) and a["default"] in options:
                    term = self.shop.find_attribute_term(taxonomy, a["default"])
                    defaults[taxonomy] = term.slug if term else sanitize_title(a["default"])
                    variation = True
                if options:
                    attributes[sanitize_title(name)] = Attribute(
                        name, options, bool(visible), variation, True, position)
            elif "value" in a:
                if not php_empty(a.get("default")) and a["default"] in a["value"]:
                    defaults[sanitize_title(a["name"])] = a["default"]
                    variation = True
                attributes[sanitize_title(name)] = Attribute(
                    name, list(a["value"]), bool(visible), variation, False, position)
        obj.attributes = attributes         # set_attributes: the list is replaced
        if obj.type == "variable":
            obj.default_attributes = defaults

    def _set_variation_data(self, obj: Product, data: dict[str, Any]) -> str:
        shop = self.shop
        parent = shop.get(data.get("parent_id")) if "parent_id" in data else None
        if parent is not None:
            obj.parent_id = parent.id
        if parent is None:
            # set_variation_data returns this WP_Error and process_item ignores it: the row is
            # saved, its attribute cells are not applied.
            why = ("'Variation cannot be imported: Missing parent ID or parent does not exist "
                   "yet.' (ignored by process_item)")
            if obj.parent_id in shop.products:
                return f"attributes not applied: {why}"
            return f"saved without a parent: {why}"
        if parent.type == "variation":
            return ("saved, but set_variation_data stopped: 'Variation cannot be imported: "
                    "Parent product cannot be a product variation'")
        if "raw_attributes" not in data:
            return ""
        for a in data["raw_attributes"]:
            if self._variation_key(a) not in parent.attributes:
                raise ShopError("Variation cannot be imported: " + self._unmatched(a, parent))
        flip = [k for a in data["raw_attributes"]
                if (k := self._variation_key(a)) in parent.attributes
                and not parent.attributes[k].variation]
        for k in flip:          # get_variation_parent_attributes saves the parent at once
            parent.attributes[k].variation = True
        values = {}
        for a in data["raw_attributes"]:
            pa = parent.attributes[self._variation_key(a)]
            raw = a.get("value", [])
            value = raw[0] if isinstance(raw, list) and raw else ("" if isinstance(raw, list)
                                                                  else raw)
            if pa.taxonomy and value != "":
                term = shop.find_attribute_term(pa.name, value)
                value = term.slug if term else sanitize_title(value)
            values[sanitize_title(pa.name)] = value
        obj.variation_attributes = values
        return ""

    def _unmatched(self, a: dict[str, Any], parent: Product) -> str:
        custom = sanitize_title(a.get("name", ""))
        if a.get("taxonomy") and custom in parent.attributes \
                and not parent.attributes[custom].taxonomy:
            return (f'The parent product has a custom "{a["name"]}" attribute, but the row '
                    "marks it as a global attribute.")
        return f'The parent product has no "{a["name"]}" attribute.'

    # ------------------------------------------------------------ images and saving

    def _attachment(self, url: str) -> str:
        if not url:
            return ""
        if "://" not in url.lower():
            if url in self.shop.media or any(m.endswith("/" + url) for m in self.shop.media):
                return url
            raise ShopError(f'Unable to use image "{url}".')
        ext = url.split("?", 1)[0].rsplit("/", 1)[-1].rsplit(".", 1)
        if len(ext) < 2 or ext[1].lower() not in IMAGE_TYPES:
            raise NotModelled(f"image URL {url!r} without an image file extension (WooCommerce "
                              "then goes by the download's Content-Type)")
        if url in self.shop.broken_urls:
            raise ShopError(f"Error getting remote image {url}.")
        return url

    def _set_images(self, obj: Product, data: dict[str, Any]) -> None:
        if data.get("raw_image_id") is not None:
            obj.image = self._attachment(data["raw_image_id"])
        if "raw_gallery_image_ids" in data:
            obj.gallery = [u for u in (self._attachment(x) for x in data["raw_gallery_image_ids"])
                           if u]

    def _save(self, obj: Product, new: bool) -> None:
        shop = self.shop
        if not obj.manage_stock:                        # validate_props
            obj.stock_quantity, obj.backorders, obj.low_stock_amount = None, "no", ""
        elif (obj.stock_quantity or 0) > abs(shop.notify_no_stock_amount):
            obj.stock_status = "instock"
        else:
            obj.stock_status = "outofstock" if obj.backorders == "no" else "onbackorder"
        if not obj.status:
            obj.status = "publish"
        if obj.type != "variation" and (new or self.categories_changed) \
                and not obj.category_ids:
            obj.category_ids = [shop.default_category]
        for attr in obj.attributes.values():            # options given by name become terms
            if attr.taxonomy:
                attr.options = [shop.attribute_term(attr.name, o).label for o in attr.options]
        obj.row = self.line
        shop.add(obj)

    def _cleanup(self) -> None:
        """After the last batch: placeholders no row filled in are deleted, with their
        variations (``cleanup_after_import``)."""
        for p in [p for p in self.shop.products.values() if p.status == "importing"]:
            if p.id not in self.shop.products:
                continue
            for gone in self.shop.delete(p.id):
                what = ("placeholder" if gone.id == p.id else
                        f"variation of placeholder {p.sku or p.original_id}")
                self.result.removed.append(Outcome(gone.row, gone.sku,
                                                   f"deleted at cleanup: {what}"))
        for p in self.shop.products.values():
            p.original_id = None


def import_csv(shop: WooShop, path: str | Path, update_existing: bool = False,
               delimiter: str = ",", *, mapping: dict[str, str] | None = None,
               batch_size: int = BATCH_SIZE) -> ImportResult:
    """Run ``path`` through the importer into ``shop`` as Products -> Import does with the
    column mapping left as preselected (or ``mapping``: header -> field key, '' to skip)."""
    return _Importer(shop, Path(path), update_existing, delimiter, mapping).run(batch_size)


def report(shop: WooShop, result: ImportResult, name: str) -> str:
    """A readable account of one import: the columns not imported, every row that was not
    created or updated, and each variable product's variations the storefront hides."""
    lines = [f"== {name}: {result.counts()}"]
    if result.not_imported:
        lines.append(f"   not imported (Do not import): {result.not_imported}")
    for label, outcomes in (("skipped", result.skipped), ("failed", result.failed),
                            ("removed", result.removed)):
        lines += [f"   {label} line {o.row} {o.sku}: {o.message}" for o in outcomes]
    lines += [f"   note line {o.row} {o.sku}: {o.message}" for o in result.created if o.message]
    return "\n".join(lines)


def storefront(shop: WooShop) -> str:
    lines = []
    for p in shop.all():
        if p.type != "variable":
            continue
        seen = shop.visibility(p.sku)
        shown = [v for v, why in seen if not why]
        lines.append(f"   {p.sku} ({p.status}): storefront lists {len(shown)} of "
                     f"{len(seen)} variations; attributes {p.attributes}")
        lines += [f"      hidden {v.sku}: {why}" for v, why in seen if why]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``python -m tests.checkers.woocommerce_importer [--update] FILE [[--update] FILE]...``:
    import the files in order into one shop (``--update`` ticks "Update existing products"
    for the next file) and print what WooCommerce would make of them."""
    shop, update = WooShop(), False
    for arg in argv:
        if arg == "--update":
            update = True
            continue
        result = import_csv(shop, arg, update_existing=update)
        print(report(shop, result, f"{arg} (update_existing={update})"))
        print(storefront(shop))
        update = False
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
