"""Shopify's product CSV import, re-implemented from its documentation, for tests.

``import_products(store, path, overwrite=True)`` reads a product CSV (either header
dialect) the way Shopify's importer is documented to, applies what it would accept to
a :class:`~checkers.shopify_store.ShopifyStore`, and lists in ``.errors`` every row or
file it would refuse or warn about (messages start with ``refused:``, ``ignored:`` or
``warning:``). ``import_inventory`` (the inventory CSV) lives in
:mod:`checkers.shopify_inventory` and is re-exported here; the header tables in
:mod:`checkers.shopify_columns`, the file-level rules in :mod:`checkers.shopify_files`.

Shopify's importer is closed source, so this follows its help pages. Each rule below
says where it comes from:

- [doc] help.shopify.com text read for this checker: the English page's opening
  sections (https://help.shopify.com/en/manual/products/import-export/using-csv.md:
  sample file, Inventory quantity for single-location stores, required columns, data
  dependencies, international price columns, metafield columns), its zh-CN and ko
  versions, and the beta.help.shopify.com copies that show them with the legacy headers.
- [doc-tr] the same page's column table and "overwriting" section, read through a
  faithful Chinese translation (https://cnblogs.com/ytkah/p/15065734.html) because the
  stored English copy stops before them.
- [3p] third-party material only (named).
- [stricter] the docs are silent or could not be read; the stricter reading is taken,
  and the problem is always reported, so a test fails on it.

Headers
  H1 Two dialects: the 2024+ headers (``URL handle``, ``SKU``, ``Option1 name``, ``Weight
     value (grams)``, ``Inventory quantity`` ...) [doc: the EN, zh-CN and ko pages] and the
     legacy ones (``Handle``, ``Variant SKU``, ``Option1 Name``, ``Variant Grams`` ...) [doc:
     the beta.help.shopify.com copies of the same page]; the full column lists and their
     order [3p, as in /work/shared/docs/shop-formats.md 1.1]. A file is read in the
     dialect of its handle column (or of most of its headers); a header of the other
     dialect, an unknown header, or a known one in another letter case is ignored and
     reported [stricter]. A repeated header refuses the file [stricter].
  H2 ``Title`` is the one column a file must have; the handle column is needed for
     variants and for updates [doc "Required columns"]. Variant columns (SKU, weight,
     price ...) need the Option1 name and value columns, or the import errors [doc "Data
     dependencies"]. Without a handle column each row is a product whose handle is made
     from its title [doc, the generation rule itself is [stricter]].
  H3 ``Google Shopping / ...`` and ``OptionN Linked To`` columns are accepted, not modelled.
  H4 A file with a header and no rows imports nothing: reported [stricter].

Rows and products
  R1 Rows with the same handle are one product; a line with a different handle starts a
     new product [doc-tr]. A handle that comes back after another product's rows is
     refused [stricter: it would be a second product with the same handle].
  R2 Handles: lower-case letters, digits and dashes; no spaces, accents, periods [doc-tr],
     no capitals [3p: an older copy of the page, inyourdoghousegifts.com]; at most 255
     characters [stricter].
  R3 The first row of a handle carries the product fields (title, description, vendor,
     category, type, tags, published, status, gift card, SEO, metafields, market
     inclusion); later rows carry only variant or image fields and leave the product
     ones blank [3p: waitlist-1wq.pages.dev summarising Shopify's "add variants" help].
     A product value on a later row is ignored and reported [stricter].
  R4 A later row with no variant cell but an image cell is an image row; a row with
     neither is ignored and reported [stricter].
  R5 Title: required, cannot be blank [doc-tr]; at most 255 characters [stricter].
  R6 Vendor: at least two characters when given [doc-tr].
  R7 Tags: one cell, comma separated [doc-tr]; at most 250 per product
     (https://shopify.dev/changelog/product-tags-now-have-a-limit-of-250-per-product);
     255 characters each [stricter].
  R8 Published / Published on online store: TRUE or FALSE; blank publishes [doc-tr; 3p a
     repository copying the column notes]. Status: active, draft or archived
     [https://shopify.dev/docs/api/admin-graphql/latest/enums/ProductStatus; 3p column
     notes: "Required"]. Another value, or a blank Status, refuses the product
     [stricter]; the documented words in another letter case are applied and reported
     [stricter].
  R9 SEO title at most 70 characters, SEO description at most 320 [3p column notes]:
     reported, applied.

Options and variants
  O1 Option1 name is required and cannot be blank once a product has variant data
     [doc-tr]; a product without variants uses ``Title`` [doc-tr] / ``Default Title`` [3p:
     older copies of the column table].
  O2 At most three options (Option1..Option3) [doc: the template's columns]; a value
     without its option name, or option N without option N-1, refuses the product
     [stricter]; every variant row must give a value for each named option [stricter].
     Option names are read from the first row only; a different name later is reported.
  O3 Two rows with the same option values refuse the product [3p: Shopify's message
     "Validation failed: The variant Default Title already exists", quoted by
     waitlist-1wq.pages.dev].
  O4 Option values, and their order, are what the variant rows give, in row order
     [stricter]; names and values at most 255 characters [3p: Storefront API
     ProductOption, "255 characters limit each"]; at most 2048 variants per product
     (https://shopify.dev/changelog/the-product-variant-limit-is-now-2048-for-all-merchants).
  O5 Numbers: prices (Price, Compare-at price, Cost per item, Price / <Market>) are plain
     numbers like 9.99: no currency sign, no thousands or decimal comma [unverified: the
     help page's wording as remembered, not re-read]. A comma refuses the product: the
     docs do not say whether ``19,90`` would become 19.90 or 1990 [stricter]. At most two
     decimals, never negative [stricter]. Price cannot be blank once its column is there
     [3p column notes: "Required. Can't be blank"]. Weight in grams: a whole number, no
     unit or decimals [3p column notes]; blank is reported and read as 0.
  O6 Inventory quantity is for stores with a single location; multi-location stores use
     the inventory CSV [doc, first bullet list of the page]. Given to a store with
     several locations it is ignored and reported (per row) [stricter: the docs do not
     say what Shopify does with it]. A quantity on a variant that is not tracked
     (Inventory tracker not ``shopify``) is ignored and reported [stricter]; removing the
     tracker stops tracking [doc-tr]. Whole numbers only [stricter, as for the inventory
     CSV].
  O7 TRUE/FALSE for Charge tax, Requires shipping, Gift card; deny/continue for the
     inventory policy [3p column notes; the value syntax of "Continue selling when out of
     stock" is unverified]; g/kg/lb/oz for the weight unit [stricter]. Other values
     refuse the product; a blank Charge tax, Requires shipping or policy is reported and
     read as TRUE, TRUE, deny [stricter]; a blank Gift card is FALSE.

Images
  I1 One image per row: handle + image URL + position + alt text; the first row may
     carry image 1 [doc-tr "to add several images, add several lines with the same
     handle"; 3p striveformats.com]. URLs must be http(s); Shopify downloads them [3p].
  I2 Images are shown by Image position ascending from 1 [3p quoting the help page:
     waitlist-1wq.pages.dev]; a position must be a whole number from 1; a missing one
     goes after the numbered ones in row order; equal positions keep row order; all
     three are reported [stricter]. Positions are renumbered 1..n as the shop does.
  I3 Alt text at most 512 characters [3p quoting the help page]: reported.
  I4 A variant image should also be one of the product's images [3p: shop-formats.md 1.1,
     not in the text read]. One that is not is added after the others and reported
     [stricter: the docs do not say].

Overwriting existing products
  W1 Only with "Overwrite products with matching handles" is a product whose handle
     exists updated; otherwise it is skipped [doc-tr]. Skips are reported.
  W2 A blank cell of an included column overwrites the value with blank; a column left
     out keeps the product's value [doc-tr, which says so of required columns; taken
     for every column, stricter].
  W3 The rows of an overwritten product are its variants and images: variants and
     images it had that the file does not list are deleted, and this is reported
     [stricter: the docs do not say; writing every variant and image of a changed
     product is right under any reading]. Leaving out the Option columns while updating
     a product with variants replaces them with one default variant [3p: sheetbridge.app
     citing the help page]. Changing option names or values recreates the variants
     instead of updating them [3p: support.tradegecko.com/hc/en-us/articles/215982768]:
     a variant is matched by its option values, and by none when the names change.

Metafields and markets
  M1 Metafield columns: ``<name> (product.metafields.<namespace>.<key>)`` [doc, partly:
     the zh-CN page announces the header format but its stored copy stops at "<n"; the
     form from shop-formats.md's example ``Color (product.metafields.shopify.color-pattern)``
     (3p)]; the product CSV carries metafields that have a definition [doc: "after you
     define a product metafield, it is included in your product CSV export"], so a column
     without one is ignored and reported [stricter]; variant metafield columns are not
     part of the product CSV [3p] and are ignored. Values are checked against simple
     definition types (integer, decimal, boolean) [stricter].
  M2 ``Price / <Market>``, ``Compare-at price / <Market>`` (legacy ``Compare At Price /
     <Market>``) and ``Included / <Market>`` name a market of the store [doc]; an unknown
     market is ignored and reported [stricter]. Prices follow O5; blank clears (W2).

File: 15 MB, UTF-8, RFC 4180 quoting (:mod:`checkers.shopify_files`).

Not modelled: the product category taxonomy (any text is kept), unit price columns, tax
codes, fulfillment services, gift card rules, SEO fallbacks, Shopify's own handle
generation beyond a plain slug.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .shopify_columns import (
    COLUMNS,
    IMAGE_IDS,
    OPTION_VALUES,
    PRODUCT_IDS,
    STATUSES,
    VARIANT_IDS,
    WEIGHT_UNITS,
    Columns,
    read_columns,
)
from .shopify_files import Problem, read_table
from .shopify_inventory import InventoryImport, import_inventory
from .shopify_store import NOT_STOCKED, Product, ShopifyStore, Variant

__all__ = ["NOT_STOCKED", "InventoryImport", "Problem", "ProductImport", "ShopifyStore",
           "import_inventory", "import_products"]

HANDLE = re.compile(r"^[a-z0-9-]+$")
MONEY = re.compile(r"^\d+(\.\d{1,2})?$")
WHOLE = re.compile(r"^-?\d+$")


@dataclass
class ProductImport:
    errors: list[Problem] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # existing, overwrite off
    refused: list[str] = field(default_factory=list)
    dialect: str = ""


Row = tuple[int, list[str]]  # (line, cells)


def import_products(store: ShopifyStore, path: str | Path, *,
                    overwrite: bool = False) -> ProductImport:
    """Import a product CSV into ``store`` as Shopify's importer would (see module doc).

    ``overwrite`` is the importer's "Overwrite products with matching handles"."""
    res = ProductImport()
    table = read_table(Path(path), res.errors)
    if table is None:
        return res
    cols = read_columns(table.header, store, res.errors)
    if cols is None:
        return res
    res.dialect = cols.dialect
    if not table.rows:
        res.errors.append(Problem(1, "", "ignored: the file has a header and no rows, so "
                                         "there is nothing to import"))
        return res
    rows = []
    for line, cells in table.rows:
        if len(cells) != len(table.header):
            res.errors.append(Problem(line, "", f"refused: {len(cells)} cells for "
                                                f"{len(table.header)} headers"))
        else:
            rows.append((line, cells))
    for handle, group in _groups(cols, rows, res.errors):
        _ProductRows(store, cols, handle, group, res).apply(overwrite)
    _duplicate_skus(cols, rows, res.errors)
    return res


def _groups(cols: Columns, rows: list[Row],
            errors: list[Problem]) -> list[tuple[str, list[Row]]]:
    """Consecutive rows per handle, in file order."""
    groups: list[tuple[str, list[Row]]] = []
    first_line: dict[str, int] = {}
    for line, cells in rows:
        if cols.has("handle"):
            handle = cells[cols.at["handle"]]
            if not handle:
                errors.append(Problem(line, cols.name("handle"),
                                      "refused: blank handle; every row needs its product's "
                                      "handle"))
                continue
        else:
            handle = _slug(cells[cols.at["title"]])
            if not handle:
                errors.append(Problem(line, "Title", "refused: no handle column and no title "
                                                     "to make a handle from"))
                continue
            if handle in first_line:  # each row is a product of its own
                errors.append(Problem(line, "Title", f"refused: the handle made from this "
                                                     f"title, {handle!r}, is already taken "
                                                     f"by line {first_line[handle]}"))
                continue
        if groups and groups[-1][0] == handle and cols.has("handle"):
            groups[-1][1].append((line, cells))
        elif handle in first_line:
            errors.append(Problem(line, cols.name("handle"),
                                  f"refused: handle {handle!r} comes back after other products "
                                  f"(its rows start at line {first_line[handle]}); a product's "
                                  "rows must be consecutive"))
        else:
            first_line[handle] = line
            groups.append((handle, [(line, cells)]))
    return groups


def _slug(title: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")


def _duplicate_skus(cols: Columns, rows: list[Row], errors: list[Problem]) -> None:
    if not cols.has("sku"):
        return
    seen: dict[str, int] = {}
    for line, cells in rows:
        sku = cells[cols.at["sku"]]
        if sku and sku in seen:
            errors.append(Problem(line, cols.name("sku"),
                                  f"warning: SKU {sku} is also on line {seen[sku]}; Shopify "
                                  "accepts it, but no SKU lookup can tell them apart"))
        seen.setdefault(sku, line)


class _ProductRows:
    """One handle's rows: checked, then applied to the store unless refused."""

    def __init__(self, store: ShopifyStore, cols: Columns, handle: str, rows: list[Row],
                 res: ProductImport):
        self.store, self.cols, self.handle, self.rows, self.res = store, cols, handle, rows, res
        self.refused = False
        self.levels: dict[tuple[str, ...], int] = {}  # quantities at the one location
        self.vimg_lines: dict[tuple[str, ...], int] = {}  # variants given an image here

    # -- reporting --------------------------------------------------------------------

    def refuse(self, line: int, cid: str, message: str) -> None:
        self.refused = True
        self.res.errors.append(Problem(line, self._header(cid),
                                       f"refused: product {self.handle}: {message}"))

    def warn(self, line: int, cid: str, message: str, verb: str = "warning") -> None:
        self.res.errors.append(Problem(line, self._header(cid),
                                       f"{verb}: product {self.handle}: {message}"))

    def _header(self, cid: str) -> str:
        return self.cols.name(cid) if cid in COLUMNS else cid

    def cell(self, cells: list[str], cid: str) -> str:
        return cells[self.cols.at[cid]] if cid in self.cols.at else ""

    # -- the product ------------------------------------------------------------------

    def apply(self, overwrite: bool) -> None:
        existing = self.store.products.get(self.handle)
        line = self.rows[0][0]
        if existing is not None and not overwrite:
            self.warn(line, "handle", "exists and overwrite is off: Shopify skips it", "ignored")
            self.res.skipped.append(self.handle)
            return
        if not HANDLE.match(self.handle) or len(self.handle) > 255:
            self.refuse(line, "handle", f"handle {self.handle!r}: only lower-case letters, "
                                        "digits and dashes, at most 255 characters")
        new = self._product(existing)
        if self.refused or new is None:
            self.res.refused.append(self.handle)
            return
        self._commit(existing, new)

    def _product(self, existing: Product | None) -> Product | None:
        line, first = self.rows[0]
        p = Product(self.handle) if existing is None else _copy_product(existing)
        self._product_fields(p, line, first)
        variant_rows, image_rows = self._split()
        options = self._options(existing, line, first, variant_rows)
        if options is None:
            return None
        self._variants(p, existing, options, variant_rows)
        self._images(p, existing, variant_rows + image_rows)
        return p

    def _product_fields(self, p: Product, line: int, first: list[str]) -> None:
        c = self.cols
        title = self.cell(first, "title")
        if not title:
            self.refuse(line, "title", "Title is required and cannot be blank")
        elif len(title) > 255:
            self.refuse(line, "title", f"Title has {len(title)} characters, at most 255")
        p.title = title
        for cid, attr in (("body", "body_html"), ("category", "category"),
                          ("type", "product_type"), ("seo_title", "seo_title"),
                          ("seo_desc", "seo_description")):
            if c.has(cid):
                setattr(p, attr, self.cell(first, cid))
        if c.has("vendor"):
            p.vendor = self.cell(first, "vendor")
            if len(p.vendor) == 1:
                self.refuse(line, "vendor", f"Vendor {p.vendor!r}: at least two characters")
        for cid, limit in (("seo_title", 70), ("seo_desc", 320)):
            if len(value := self.cell(first, cid)) > limit:
                self.warn(line, cid, f"{c.name(cid)} has {len(value)} characters, at most "
                                     f"{limit}")
        if c.has("tags"):
            p.tags = self._tags(line, self.cell(first, "tags"))
        if c.has("published"):
            published = self._bool(line, "published", self.cell(first, "published"))
            p.published = True if published is None else published  # blank publishes
        if c.has("status"):
            status = self.cell(first, "status")
            if status.lower() not in STATUSES:
                self.refuse(line, "status", f"Status {status!r} is not one of "
                                            f"{', '.join(STATUSES)}")
            elif status not in STATUSES:
                self.warn(line, "status", f"Status {status!r}: the documented value is "
                                          f"{status.lower()!r}")
            p.status = status.lower()
        if c.has("gift"):
            p.gift_card = bool(self._bool(line, "gift", self.cell(first, "gift")))
        for market, i in c.market_included.items():
            included = self._bool(line, c.header[i], first[i])
            if included is None:
                p.markets_included.pop(market, None)
            else:
                p.markets_included[market] = included
        for key, i in c.metafields.items():
            self._metafield(p, line, key, c.header[i], first[i])
        product_cells = [c.at[cid] for cid in PRODUCT_IDS if c.has(cid)]
        product_cells += [*c.metafields.values(), *c.market_included.values()]
        for later_line, cells in self.rows[1:]:
            for i in product_cells:
                if cells[i] and cells[i] != first[i]:
                    self.warn(later_line, c.header[i], f"{c.header[i]} {cells[i]!r} on a later "
                                                       "row: product fields are read from the "
                                                       "first row", "ignored")

    def _tags(self, line: int, cell: str) -> list[str]:
        tags = list(dict.fromkeys(t.strip() for t in cell.split(",") if t.strip()))
        if len(tags) > 250:
            self.refuse(line, "tags", f"{len(tags)} tags, at most 250")
        for t in tags:
            if len(t) > 255:
                self.refuse(line, "tags", f"tag {t[:20]!r}... has {len(t)} characters, at "
                                          "most 255")
        return tags

    def _metafield(self, p: Product, line: int, key: str, header: str, value: str) -> None:
        kind = self.store.metafield_definitions[key]
        if not value:
            p.metafields.pop(key, None)
            return
        ok = {"number_integer": WHOLE.match(value) is not None,
              "number_decimal": re.match(r"^-?\d+(\.\d+)?$", value) is not None,
              "boolean": value in ("true", "false")}.get(kind, True)
        if not ok:
            self.refuse(line, header, f"{value!r} is not a {kind} value")
        p.metafields[key] = value

    # -- rows -------------------------------------------------------------------------

    def _split(self) -> tuple[list[Row], list[Row]]:
        c = self.cols
        variant_cells = [c.at[cid] for cid in OPTION_VALUES + VARIANT_IDS if c.has(cid)]
        variant_cells += [*c.market_price.values(), *c.market_compare.values()]
        image_cells = [c.at[cid] for cid in IMAGE_IDS if c.has(cid)]
        variant_rows, image_rows = [], []
        for n, (line, cells) in enumerate(self.rows):
            if any(cells[i] for i in variant_cells):
                variant_rows.append((line, cells))
            elif any(cells[i] for i in image_cells):
                image_rows.append((line, cells))
            elif n > 0:
                self.warn(line, "", "the row has no variant and no image data", "ignored")
        return variant_rows, image_rows

    def _options(self, existing: Product | None, line: int, first: list[str],
                 variant_rows: list[Row]) -> list[str] | None:
        """The option names in use; None when they are refused."""
        c = self.cols
        if not c.has("o1n"):
            if existing is not None and existing.options != [("Title", ["Default Title"])]:
                self.warn(line, "", "no Option columns: Shopify replaces the product's "
                                    "variants with one default variant")
            return ["Title"]
        names = [self.cell(first, f"o{n}n") for n in (1, 2, 3)]
        before = len(self.res.errors)
        if not names[0]:
            self.refuse(line, "o1n", "Option1 name is required and cannot be blank (a product "
                                     "without variants uses Title / Default Title)")
        for n in (2, 3):
            if names[n - 1] and not names[n - 2]:
                self.refuse(line, f"o{n}n", f"Option{n} name without Option{n - 1} name")
        given = [name for name in names if name]
        if len({name.lower() for name in given}) != len(given):
            self.refuse(line, "o1n", f"option names repeat: {', '.join(given)}")
        for name in given:
            if len(name) > 255:
                self.refuse(line, "o1n", f"option name {name[:20]!r}... over 255 characters")
        names_refused = len(self.res.errors) > before
        for later_line, cells in self.rows[1:]:
            for n in (1, 2, 3):
                later = self.cell(cells, f"o{n}n")
                if later and later != names[n - 1]:
                    self.warn(later_line, f"o{n}n", f"Option{n} name {later!r} on a later row: "
                                                    f"option names are read from the first "
                                                    f"row ({names[n - 1]!r})", "ignored")
        if not variant_rows:
            self.refuse(line, "o1v", "Option1 value is required and cannot be blank")
        if len(variant_rows) > 2048:
            self.refuse(line, "o1v", f"{len(variant_rows)} variants, at most 2048")
        return None if names_refused else given

    def _variants(self, p: Product, existing: Product | None, names: list[str],
                  rows: list[Row]) -> None:
        c = self.cols
        seen: dict[tuple[str, ...], int] = {}
        variants: list[Variant] = []
        values: list[list[str]] = [[] for _ in names]
        renamed = existing is not None and c.has("o1n") and \
            [n for n, _ in existing.options] != names
        if renamed and existing is not None:
            self.warn(self.rows[0][0], "o1n", f"option names {', '.join(names)} replace "
                                              f"{', '.join(n for n, _ in existing.options)}: "
                                              "Shopify recreates the variants (what the file "
                                              "leaves out, inventory included, starts afresh)")
        if not c.has("o1n"):  # no option columns: one default variant
            line, cells = rows[0] if rows else self.rows[0]
            old = None
            if existing is not None and [n for n, _ in existing.options] == ["Title"]:
                old = existing.variant(("Default Title",))
            p.options = [("Title", ["Default Title"])]
            p.variants = [self._variant(line, cells, ("Default Title",), old)]
            return
        for line, cells in rows:
            opts = []
            for n in (1, 2, 3):
                value = self.cell(cells, f"o{n}v")
                if n <= len(names) and not value:
                    self.refuse(line, f"o{n}v", f"Option{n} value is required for option "
                                                f"{names[n - 1]!r}")
                elif n > len(names) and value:
                    self.refuse(line, f"o{n}v", f"Option{n} value {value!r} without "
                                                f"Option{n} name")
                elif len(value) > 255:
                    self.refuse(line, f"o{n}v", "option value over 255 characters")
                if n <= len(names):
                    opts.append(value)
            key = tuple(opts)
            if key in seen:
                self.refuse(line, "o1v", f"the variant {' / '.join(key)} is already on line "
                                         f"{seen[key]} (Shopify: 'Validation failed: The "
                                         f"variant ... already exists')")
                continue
            seen[key] = line
            for i, value in enumerate(key):
                if value not in values[i]:
                    values[i].append(value)
            old = existing.variant(key) if existing is not None and not renamed else None
            variants.append(self._variant(line, cells, key, old))
        p.options = [(n, v) for n, v in zip(names, values, strict=True)]
        p.variants = variants
        if existing is not None and not renamed:  # the file lists the product's variants
            gone = [" / ".join(v.options) for v in existing.variants if v.options not in seen]
            if gone:
                self.warn(rows[0][0] if rows else self.rows[0][0], "o1v",
                          f"variants {', '.join(gone)} are not in the file: the docs do not "
                          "say whether an overwrite keeps them; read strictly, they are "
                          "deleted (write every variant of a product you write)")

    def _variant(self, line: int, cells: list[str], key: tuple[str, ...],
                 old: Variant | None) -> Variant:
        c = self.cols
        v = Variant(key) if old is None else _copy_variant(old, key)
        if c.has("sku"):
            v.sku = self.cell(cells, "sku")
        if c.has("barcode"):
            v.barcode = self.cell(cells, "barcode")
        if c.has("price"):
            if not self.cell(cells, "price"):
                self.refuse(line, "price", "Price is required and cannot be blank")
            elif (price := self._money(line, "price", self.cell(cells, "price"))) is not None:
                v.price = price
        elif old is None:
            self.warn(line, "", "a new variant without a Price column: created at 0.00")
        if c.has("compare"):
            v.compare_at_price = self._money(line, "compare", self.cell(cells, "compare"))
        if c.has("cost"):
            v.cost = self._money(line, "cost", self.cell(cells, "cost"))
        if c.has("grams"):
            grams = self.cell(cells, "grams")
            if not grams:
                self.warn(line, "grams", "blank weight: the column notes say to enter 0; "
                                         "read as 0")
                v.grams = 0
            elif not re.match(r"^\d+$", grams):
                self.refuse(line, "grams", f"weight {grams!r}: whole grams, no unit, no "
                                           "decimals")
            else:
                v.grams = int(grams)
        if c.has("weight_unit"):
            unit = self.cell(cells, "weight_unit")
            if unit and unit not in WEIGHT_UNITS:
                self.refuse(line, "weight_unit", f"weight unit {unit!r} is not one of "
                                                 f"{', '.join(WEIGHT_UNITS)}")
            v.weight_unit = unit
        for cid, attr in (("taxable", "taxable"), ("shipping", "requires_shipping")):
            if c.has(cid):
                value = self._bool(line, cid, self.cell(cells, cid))
                if not self.cell(cells, cid):
                    self.warn(line, cid, f"blank {c.name(cid)}: the docs give no default; "
                                         "read as TRUE")
                setattr(v, attr, True if value is None else value)
        if c.has("policy"):
            policy = self.cell(cells, "policy")
            if not policy:
                self.warn(line, "policy", f"blank {c.name('policy')}: the docs give no "
                                          "default; read as deny")
            elif policy.lower() not in ("deny", "continue"):
                self.refuse(line, "policy", f"{policy!r} is not deny or continue")
            v.policy = policy.lower() or "deny"
        if c.has("tracker"):
            tracker = self.cell(cells, "tracker")
            if tracker not in ("", "shopify"):
                self.refuse(line, "tracker", f"Inventory tracker {tracker!r}: 'shopify' or "
                                             "blank (not tracked)")
            v.tracker = tracker
        if c.has("vimg"):
            url = self.cell(cells, "vimg")
            if url and not _is_url(url):
                self.warn(line, "vimg", f"{url!r} is not an http(s) URL: no variant image",
                          "ignored")
                url = ""
            v.image = url or None
            if url:
                self.vimg_lines[key] = line
        for market, i in c.market_price.items():
            price = self._money(line, c.header[i], cells[i])
            compare = (self._money(line, c.header[c.market_compare[market]],
                                   cells[c.market_compare[market]])
                       if market in c.market_compare else None)
            if price is None:
                if compare is not None:
                    self.refuse(line, c.header[i], f"a compare-at price for {market} without "
                                                   "a price")
                v.market_prices.pop(market, None)
            else:
                v.market_prices[market] = (price, compare)
        self._quantity(line, cells, v)
        return v

    def _quantity(self, line: int, cells: list[str], v: Variant) -> None:
        qty = self.cell(cells, "qty")
        if not qty:
            return
        if not WHOLE.match(qty):
            self.refuse(line, "qty", f"Inventory quantity {qty!r} is not a whole number")
        elif not self.store.single_location:
            self.warn(line, "qty", f"Inventory quantity is for single-location stores; this "
                                   f"store has {len(self.store.locations)} locations "
                                   f"({', '.join(self.store.locations)}): use the inventory "
                                   "CSV", "ignored")
        elif v.tracker != "shopify":
            self.warn(line, "qty", "Inventory quantity on a variant whose Inventory tracker "
                                   "is not 'shopify': not tracked", "ignored")
        else:
            self.levels[v.options] = int(qty)

    # -- images -----------------------------------------------------------------------

    def _images(self, p: Product, existing: Product | None, rows: list[Row]) -> None:
        c = self.cols
        if c.has("img"):
            found: list[tuple[int, int, str, str]] = []  # (position or big, line, url, alt)
            urls: dict[str, int] = {}
            positions: dict[int, int] = {}
            for line, cells in sorted(rows):
                url, pos, alt = (self.cell(cells, cid) for cid in IMAGE_IDS)
                if not url:
                    if pos or alt:
                        self.warn(line, "pos" if pos else "alt", "image position or alt "
                                                                 "text without an image URL",
                                  "ignored")
                    continue
                if not _is_url(url):
                    self.warn(line, "img", f"{url!r} is not an http(s) URL Shopify can "
                                           "download", "ignored")
                    continue
                if url in urls:
                    self.warn(line, "img", f"image {url} is already on line {urls[url]}",
                              "ignored")
                    continue
                urls[url] = line
                if len(alt) > 512:
                    self.warn(line, "alt", f"alt text has {len(alt)} characters, at most 512")
                if not pos:
                    self.warn(line, "pos", "image without a position: placed after the "
                                           "numbered ones")
                    order = 1 << 30
                elif not re.match(r"^\d+$", pos) or int(pos) < 1:
                    self.warn(line, "pos", f"image position {pos!r} is not a whole number "
                                           "from 1: placed after the numbered ones")
                    order = 1 << 30
                else:
                    order = int(pos)
                    if order in positions:
                        self.warn(line, "pos", f"image position {order} is also on line "
                                               f"{positions[order]}")
                    positions.setdefault(order, line)
                found.append((order, line, url, alt))
            p.images = [(url, n, alt) for n, (_, _, url, alt) in enumerate(sorted(found), 1)]
            if existing is not None:
                gone = [u for u, _, _ in existing.images if u not in urls]
                if gone:
                    self.warn(self.rows[0][0], "img", f"images {', '.join(gone)} are not in "
                                                      "the file: read strictly, the overwrite "
                                                      "deletes them")
        have = {u for u, _, _ in p.images}
        for v in p.variants:
            if not v.image or v.image in have:
                continue
            if v.options in self.vimg_lines:
                self.warn(self.vimg_lines[v.options], "vimg",
                          f"variant image {v.image} is not among the product's images: "
                          "added after them")
                p.images.append((v.image, len(p.images) + 1, ""))
                have.add(v.image)
            else:
                v.image = None  # its image went with the product images the file dropped

    # -- values -----------------------------------------------------------------------

    def _money(self, line: int, cid: str, cell: str) -> Decimal | None:
        if not cell:
            return None
        if MONEY.match(cell):
            return Decimal(cell).quantize(Decimal("0.01"))
        what = self._header(cid)
        if "," in cell:
            self.refuse(line, cid, f"{what} {cell!r} has a comma: prices are plain numbers "
                                   "like 9.99, and the docs do not say whether this is read "
                                   "as a decimal comma or a thousands separator")
        else:
            self.refuse(line, cid, f"{what} {cell!r} is not a plain number like 9.99 (no "
                                   "currency sign, no sign, at most two decimals)")
        return None

    def _bool(self, line: int, cid: str, cell: str) -> bool | None:
        if not cell:
            return None
        if cell.upper() not in ("TRUE", "FALSE"):
            self.refuse(line, cid, f"{self._header(cid)} {cell!r} is not TRUE or FALSE")
            return None
        if cell not in ("TRUE", "FALSE"):
            self.warn(line, cid, f"{self._header(cid)} {cell!r}: the documented values are "
                                 "TRUE and FALSE")
        return cell.upper() == "TRUE"

    # -- the store --------------------------------------------------------------------

    def _commit(self, existing: Product | None, new: Product) -> None:
        store = self.store
        store.products[self.handle] = new
        same_names = existing is not None and \
            [n for n, _ in existing.options] == [n for n, _ in new.options]
        keep = {v.options for v in new.variants} if same_names else set()
        if existing is not None:
            for v in existing.variants:
                if v.options not in keep:
                    store.levels.pop((self.handle, v.options), None)
        for options, qty in self.levels.items():
            store.levels.setdefault((self.handle, options), {})[store.locations[0]] = qty
        (self.res.updated if existing is not None else self.res.created).append(self.handle)


def _is_url(url: str) -> bool:
    return re.match(r"^https?://[^\s/]+", url) is not None


def _copy_product(p: Product) -> Product:
    return copy.deepcopy(p)


def _copy_variant(v: Variant, key: tuple[str, ...]) -> Variant:
    out = copy.deepcopy(v)
    out.options = key
    return out
