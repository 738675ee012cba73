"""A simulated WooCommerce shop: what WooCommerce stores for products, variations, categories,
tags and global attributes, and what its storefront lists. The product CSV importer in
:mod:`tests.checkers.woocommerce_importer` writes into it.

What is modelled, from WooCommerce's source (``woocommerce/woocommerce``, files and commits
listed in the importer module):

- Lookups by SKU and by term name go through MySQL's default collation, so they ignore case,
  accents and trailing spaces ("abc" finds "ABC"); SKUs must be unique among products and
  variations that are not trashed ("Invalid or duplicated SKU."), GTINs likewise ("Invalid or
  duplicated GTIN, UPC, EAN or ISBN.", ``abstract-wc-product.php`` @005c9ff4).
- Categories are a tree: a name is a new term unless a sibling has the same name ignoring
  ASCII case (``wp_insert_term``); a product saved without categories gets the default
  category "Uncategorized".
- Global attributes (``pa_<slug>`` taxonomies) and their terms; a variation stores a term's
  slug for a global attribute and the text itself for a custom one.
- ``WC_Product::validate_props``: without stock management the quantity is cleared; with it,
  the stock status follows the quantity (above ``woocommerce_notify_no_stock_amount``, 0).
- Variation names are generated from the parent's name and the attribute values
  (``WC_Product_Variation_Data_Store_CPT::generate_product_title``).
- The storefront (:meth:`WooShop.visible_variations`): a variable product lists the variations
  that ``read_children`` loads as visible (status ``publish``; drafts are not children at all,
  ``private`` ones are disabled), that ``variation_is_visible`` accepts (a non-empty price),
  and whose stored value of every attribute used for variations is '' (any) or one of the
  parent's options; the parent itself must be published.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from typing import Any

from .wp_functions import (
    php_compare_gt,
    remove_accents,
    sanitize_text_field,
    sanitize_title,
    wp_kses_post,
)

PRODUCT_TYPES = ("simple", "grouped", "external", "variable", "variation")


def collate(s: str) -> str:
    """What MySQL's utf8mb4_unicode_520_ci compares: case, accents and trailing spaces
    ignored."""
    return remove_accents(s).casefold().rstrip(" ")


@dataclass
class Term:
    id: int
    name: str           # as stored: sanitize_text_field, '&' as '&amp;'
    slug: str
    parent: int = 0

    @property
    def label(self) -> str:
        return html.unescape(self.name)


@dataclass
class Attribute:
    """One attribute of a parent product (``WC_Product_Attribute``)."""
    name: str            # 'pa_colore' for a global attribute, the label for a custom one
    options: list[str]   # custom: the values; global: term names
    visible: bool
    variation: bool
    taxonomy: bool
    position: int


@dataclass
class Product:
    """A product or variation as WooCommerce stores it (the ``wp_posts`` row and its meta)."""
    id: int
    type: str = "simple"
    status: str = ""
    name: str = ""
    slug: str = ""
    sku: str = ""
    parent_id: int = 0
    description: str = ""
    short_description: str = ""
    regular_price: str = ""
    sale_price: str = ""
    date_on_sale_from: datetime | None = None
    date_on_sale_to: datetime | None = None
    category_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)
    image: str = ""
    gallery: list[str] = field(default_factory=list)
    global_unique_id: str = ""
    manage_stock: bool = False
    stock_quantity: int | None = None
    stock_status: str = "instock"
    backorders: str = "no"
    low_stock_amount: int | str = ""
    weight: str = ""
    length: str = ""
    width: str = ""
    height: str = ""
    tax_status: str = "taxable"
    tax_class: str = ""
    featured: bool = False
    catalog_visibility: str = "visible"
    sold_individually: bool = False
    reviews_allowed: bool = True
    purchase_note: str = ""
    menu_order: int = 0
    virtual: bool = False
    downloadable: bool = False
    shipping_class_id: int = 0
    upsell_ids: list[int] = field(default_factory=list)
    cross_sell_ids: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    product_url: str = ""
    button_text: str = ""
    attributes: dict[str, Attribute] = field(default_factory=dict)      # parents
    variation_attributes: dict[str, str] = field(default_factory=dict)  # variations
    default_attributes: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    original_id: int | None = None     # the importer's _original_id marker
    row: int = 0                       # the CSV line that last wrote it


class ShopError(Exception):
    """A ``WC_Data_Exception`` or ``WP_Error`` message, as WooCommerce words it."""


class WooShop:
    """An empty WooCommerce shop with default settings, or the settings given:
    ``weight_unit``/``dimension_unit`` (they appear in the importer's column names),
    ``decimal_separator`` (WooCommerce → Settings → General → Decimal separator, used when
    parsing prices), ``timezone``, ``notify_no_stock_amount``, ``hide_out_of_stock``,
    ``cogs_enabled``, ``media`` (file names already in the media library: an image given as
    a file name rather than a URL must be one of them), ``broken_urls`` (image URLs whose
    download fails) and ``now`` (the clock for sales)."""

    def __init__(self, *, weight_unit: str = "kg", dimension_unit: str = "cm",
                 decimal_separator: str = ".", tz: timezone = UTC,
                 notify_no_stock_amount: int = 0, hide_out_of_stock: bool = False,
                 cogs_enabled: bool = False, media: set[str] | None = None,
                 broken_urls: set[str] | None = None, now: datetime | None = None):
        self.weight_unit, self.dimension_unit = weight_unit, dimension_unit
        self.decimal_separator, self.tz = decimal_separator, tz
        self.notify_no_stock_amount = notify_no_stock_amount
        self.hide_out_of_stock, self.cogs_enabled = hide_out_of_stock, cogs_enabled
        self.media = set(media or ())
        self.broken_urls = set(broken_urls or ())
        self.now = now
        self.products: dict[int, Product] = {}
        self.categories: dict[int, Term] = {}
        self.tags: dict[int, Term] = {}
        self.shipping_classes: dict[int, Term] = {}
        self.attribute_taxonomies: dict[str, str] = {}        # slug -> label
        self.attribute_terms: dict[str, dict[int, Term]] = {}  # 'pa_slug' -> terms
        self._next = 10
        uncategorized = self._term(self.categories, "Uncategorized", 0)
        self.default_category = uncategorized.id

    # ------------------------------------------------------------ storage

    def new_id(self) -> int:
        self._next += 1
        return self._next

    def add(self, p: Product) -> Product:
        if not p.id:
            p.id = self.new_id()
        self.products[p.id] = p
        return p

    def get(self, pid: object) -> Product | None:
        return self.products.get(pid) if isinstance(pid, int) else None

    def id_by_sku(self, sku: str) -> int:
        """``wc_get_product_id_by_sku``: any non-trashed product or variation."""
        key = collate(sku)
        if not key:
            return 0
        for p in self.products.values():
            if p.sku and collate(p.sku) == key:
                return p.id
        return 0

    def id_by_gtin(self, gtin: str) -> int:
        for p in self.products.values():
            if p.global_unique_id and p.global_unique_id == gtin:
                return p.id
        return 0

    def delete(self, pid: int) -> list[Product]:
        """``wp_delete_post`` of a product: its variations go with it."""
        gone = [self.products.pop(pid)]
        for v in [v for v in self.products.values() if v.parent_id == pid
                  and v.type == "variation"]:
            gone.append(self.products.pop(v.id))
        return gone

    # ------------------------------------------------------------ terms

    @staticmethod
    def _stored_name(name: str) -> str:
        # pre_term_name: sanitize_text_field, wp_filter_kses, _wp_specialchars
        return wp_kses_post(sanitize_text_field(name))

    def _term(self, table: dict[int, Term], name: str, parent: int) -> Term:
        stored = self._stored_name(name)
        for t in table.values():
            if t.parent == parent and t.name.lower() == stored.lower():
                return t
        base = sanitize_title(html.unescape(stored)) or str(len(table) + 1)
        slugs = {t.slug for t in table.values()}
        slug, n = base, 2
        if slug in slugs and parent:
            slug = f"{base}-{table[parent].slug}"
        while slug in slugs:
            slug, n = f"{base}-{n}", n + 1
        t = Term(self.new_id(), stored, slug, parent)
        table[t.id] = t
        return t

    def category(self, name: str, parent: int = 0) -> Term:
        """``wp_insert_term`` into product_cat (an existing sibling is returned)."""
        return self._term(self.categories, name, parent)

    def _by_name(self, table: dict[int, Term], name: str) -> Term | None:
        key = collate(html.unescape(self._stored_name(name)))
        for t in table.values():
            if collate(t.label) == key:
                return t
        return None

    def tag(self, name: str) -> Term:
        return self._by_name(self.tags, name) or self._term(self.tags, name, 0)

    def shipping_class(self, name: str) -> Term:
        return (self._by_name(self.shipping_classes, name)
                or self._term(self.shipping_classes, name, 0))

    def attribute_term(self, taxonomy: str, name: str) -> Term:
        table = self.attribute_terms.setdefault(taxonomy, {})
        return self._by_name(table, name) or self._term(table, name, 0)

    def find_attribute_term(self, taxonomy: str, name: str) -> Term | None:
        return self._by_name(self.attribute_terms.get(taxonomy, {}), name)

    def category_path(self, tid: int) -> str:
        names = []
        t: Term | None = self.categories.get(tid)
        while t:
            names.append(t.label)
            t = self.categories.get(t.parent) if t.parent else None
        return " > ".join(reversed(names))

    def category_paths(self) -> list[str]:
        return sorted(self.category_path(t) for t in self.categories)

    # ------------------------------------------------------------ views

    def by_sku(self, sku: str) -> ProductView | None:
        pid = self.id_by_sku(sku)
        return ProductView(self, self.products[pid]) if pid else None

    def product(self, sku: str) -> ProductView:
        """The product with this SKU; a test that expects it fails naming it."""
        view = self.by_sku(sku)
        if view is None:
            raise LookupError(f"no product with SKU {sku!r}")
        return view

    def by_id(self, pid: int) -> ProductView | None:
        p = self.products.get(pid)
        return ProductView(self, p) if p else None

    def all(self) -> list[ProductView]:
        return [ProductView(self, p) for p in self.products.values()]

    def children(self, parent_sku: str) -> list[ProductView]:
        """Every variation whose parent is ``parent_sku``, drafts included (the storefront
        and ``WC_Product_Variable::get_children`` skip drafts; see
        :meth:`visible_variations`)."""
        pid = self.id_by_sku(parent_sku)
        return [ProductView(self, v) for v in self.products.values()
                if pid and v.parent_id == pid and v.type == "variation"]

    def set_status(self, sku: str, status: str) -> None:
        """What a shop manager does by hand, e.g. publishing a product imported as draft."""
        pid = self.id_by_sku(sku)
        if not pid:
            raise KeyError(sku)
        self.products[pid].status = status

    def visible_variations(self, parent_sku: str) -> list[ProductView]:
        """The variations the storefront lists for ``parent_sku``."""
        return [v for v, why in self.visibility(parent_sku) if not why]

    def visibility(self, parent_sku: str) -> list[tuple[ProductView, str]]:
        """Each variation of ``parent_sku`` with the reason the storefront does not list it
        ('' when it does)."""
        pid = self.id_by_sku(parent_sku)
        parent = self.products.get(pid)
        out = []
        for v in self.children(parent_sku):
            out.append((v, self._hidden_because(parent, v.product)))
        return out

    def _hidden_because(self, parent: Product | None, v: Product) -> str:
        if parent is None or parent.type != "variable":
            return "the parent is not a variable product"
        if parent.status != "publish":
            return f"the parent product's status is {parent.status or 'unset'}"
        if v.status == "draft" or v.status not in ("publish", "private"):
            return (f"status {v.status or 'unset'}: read_children() loads only publish and "
                    "private variations, so it is not a child of the product at all")
        if v.status == "private":
            return "status private: the variation is disabled"
        view = ProductView(self, v)
        if view.price == "":
            return "no price: variation_is_visible() needs one"
        if self.hide_out_of_stock and view.stock_status == "outofstock":
            return "out of stock and the shop hides out-of-stock items"
        used = {k: a for k, a in parent.attributes.items() if a.variation}
        if not used:
            return "the parent has no attribute used for variations"
        for key, attr in used.items():
            value = v.variation_attributes.get(key, "")
            if value == "":
                continue
            if attr.taxonomy:
                allowed = [t.slug for o in attr.options
                           if (t := self.find_attribute_term(attr.name, o))]
            else:
                allowed = list(attr.options)
            if value not in allowed:
                term = next((t for t in self.attribute_terms.get(attr.name, {}).values()
                             if t.slug == value), None) if attr.taxonomy else None
                shown = f"{term.label!r} (stored as {value!r})" if term else repr(value)
                return (f"{self.attribute_label(attr)} {shown} is not among the parent's "
                        f"options {attr.options}")
        return ""

    def attribute_label(self, attr: Attribute) -> str:
        if attr.taxonomy:
            return self.attribute_taxonomies.get(attr.name[3:], attr.name)
        return attr.name


class ProductView:
    """Read-only view of a product or variation, in the words of the checker's API."""

    def __init__(self, shop: WooShop, product: Product):
        self.shop, self.product = shop, product

    def __getattr__(self, name: str) -> Any:
        return getattr(self.product, name)

    def __repr__(self) -> str:
        return f"<{self.product.type} {self.product.sku or self.product.id}>"

    @property
    def parent(self) -> Product | None:
        return self.shop.products.get(self.product.parent_id)

    @property
    def parent_sku(self) -> str | None:
        p = self.parent
        return p.sku if p else None

    @property
    def name(self) -> str:
        p = self.product
        if p.type != "variation":
            return p.name
        # generate_product_title: parent name, plus the values when fewer than 3 attributes
        # and (with 2) no attribute key has a dash.
        parent = self.parent
        base = parent.name if parent else p.name
        attrs = p.variation_attributes
        include = len(attrs) < 3 and not (len(attrs) > 1 and any("-" in k for k in attrs))
        values = [v for v in self.attributes.values() if v] if include else []
        return f"{base} - {', '.join(values)}" if values else base

    @property
    def categories(self) -> list[str]:
        return [self.shop.category_path(t) for t in self.product.category_ids]

    @property
    def tags(self) -> list[str]:
        return [self.shop.tags[t].label for t in self.product.tag_ids if t in self.shop.tags]

    @property
    def images(self) -> list[str]:
        p = self.product
        return ([p.image] if p.image else []) + list(p.gallery)

    @property
    def attributes(self) -> Any:
        """Parent: [(name, options, visible, used_for_variations, is_taxonomy)];
        variation: {name: value} ('' is "any"), with a global attribute's term name where the
        stored slug is a term of the attribute."""
        p = self.product
        if p.type != "variation":
            return [(self.shop.attribute_label(a), list(a.options), a.visible, a.variation,
                     a.taxonomy)
                    for a in sorted(p.attributes.values(), key=lambda a: a.position)]
        parent = self.parent
        out = {}
        for key, value in p.variation_attributes.items():
            attr = parent.attributes.get(key) if parent else None
            label = self.shop.attribute_label(attr) if attr else key
            if key.startswith("pa_") and value:
                term = next((t for t in self.shop.attribute_terms.get(key, {}).values()
                             if t.slug == value), None)
                value = term.label if term else value
            out[label] = value
        return out

    @property
    def on_sale(self) -> bool:
        """``WC_Product::is_on_sale``: a sale price below the regular price, within its
        dates."""
        p = self.product
        if p.sale_price == "" or not php_compare_gt(p.regular_price, p.sale_price):
            return False
        now = self.shop.now or datetime.now(self.shop.tz).replace(tzinfo=None)
        if p.date_on_sale_from and p.date_on_sale_from > now:
            return False
        return not (p.date_on_sale_to and p.date_on_sale_to < now)

    @property
    def price(self) -> str:
        p = self.product
        if p.type == "variable":
            prices = [ProductView(self.shop, v).price for v in self.shop.products.values()
                      if v.parent_id == p.id and v.status == "publish"]
            prices = [x for x in prices if x != ""]
            return min(prices, key=float) if prices else ""
        return p.sale_price if self.on_sale else p.regular_price

    @property
    def stock_status(self) -> str:
        p = self.product
        if p.type == "variable" and not p.manage_stock:
            # WC_Product_Variable_Data_Store_CPT::sync_stock_status over its children.
            kids = [v.stock_status for v in self.shop.products.values()
                    if v.parent_id == p.id and v.status in ("publish", "private")]
            if "instock" in kids:
                return "instock"
            return "onbackorder" if "onbackorder" in kids else "outofstock"
        return p.stock_status
