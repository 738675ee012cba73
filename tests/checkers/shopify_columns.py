"""The product CSV's headers in both dialects, and how a file's header is read.

Rules H1-H3 and the header parts of M1/M2 of :mod:`checkers.shopify_csv` (sources there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .shopify_files import Problem
from .shopify_store import ShopifyStore

# column id: (2024+ header, legacy header)
COLUMNS: dict[str, tuple[str, str]] = {
    "handle": ("URL handle", "Handle"),
    "title": ("Title", "Title"),
    "body": ("Description", "Body (HTML)"),
    "vendor": ("Vendor", "Vendor"),
    "category": ("Product category", "Product Category"),
    "type": ("Type", "Type"),
    "tags": ("Tags", "Tags"),
    "published": ("Published on online store", "Published"),
    "status": ("Status", "Status"),
    "gift": ("Gift card", "Gift Card"),
    "seo_title": ("SEO title", "SEO Title"),
    "seo_desc": ("SEO description", "SEO Description"),
    "sku": ("SKU", "Variant SKU"),
    "barcode": ("Barcode", "Variant Barcode"),
    "o1n": ("Option1 name", "Option1 Name"), "o1v": ("Option1 value", "Option1 Value"),
    "o1l": ("Option1 Linked To", "Option1 Linked To"),
    "o2n": ("Option2 name", "Option2 Name"), "o2v": ("Option2 value", "Option2 Value"),
    "o2l": ("Option2 Linked To", "Option2 Linked To"),
    "o3n": ("Option3 name", "Option3 Name"), "o3v": ("Option3 value", "Option3 Value"),
    "o3l": ("Option3 Linked To", "Option3 Linked To"),
    "price": ("Price", "Variant Price"),
    "compare": ("Compare-at price", "Variant Compare At Price"),
    "cost": ("Cost per item", "Cost per item"),
    "taxable": ("Charge tax", "Variant Taxable"),
    "tax_code": ("Tax code", "Variant Tax Code"),
    "upt": ("Unit price total measure", "Unit Price Total Measure"),
    "uptu": ("Unit price total measure unit", "Unit Price Total Measure Unit"),
    "upb": ("Unit price base measure", "Unit Price Base Measure"),
    "upbu": ("Unit price base measure unit", "Unit Price Base Measure Unit"),
    "tracker": ("Inventory tracker", "Variant Inventory Tracker"),
    "qty": ("Inventory quantity", "Variant Inventory Qty"),
    "policy": ("Continue selling when out of stock", "Variant Inventory Policy"),
    "grams": ("Weight value (grams)", "Variant Grams"),
    "weight_unit": ("Weight unit for display", "Variant Weight Unit"),
    "shipping": ("Requires shipping", "Variant Requires Shipping"),
    "fulfillment": ("Fulfillment service", "Variant Fulfillment Service"),
    "img": ("Product image URL", "Image Src"),
    "pos": ("Image position", "Image Position"),
    "alt": ("Image alt text", "Image Alt Text"),
    "vimg": ("Variant image URL", "Variant Image"),
}
PRODUCT_IDS = ("title", "body", "vendor", "category", "type", "tags", "published", "status",
               "gift", "seo_title", "seo_desc", "o1l", "o2l", "o3l")
OPTION_VALUES = ("o1v", "o2v", "o3v")
VARIANT_IDS = ("sku", "barcode", "price", "compare", "cost", "taxable", "tax_code", "upt",
               "uptu", "upb", "upbu", "tracker", "qty", "policy", "grams", "weight_unit",
               "shipping", "fulfillment", "vimg")
IMAGE_IDS = ("img", "pos", "alt")
STATUSES = ("active", "draft", "archived")
WEIGHT_UNITS = ("g", "kg", "lb", "oz")
MARKET = re.compile(r"^(Price|Compare-at price|Compare At Price|Included) / (.+)$")
METAFIELD = re.compile(r"^(.+) \((product|variant)\.metafields\.([^.()\s]+)\.([^()\s]+)\)$")


@dataclass
class Columns:
    """Where each known column is, and the header Shopify shows for it."""

    dialect: str
    at: dict[str, int] = field(default_factory=dict)  # column id -> index
    names: dict[str, str] = field(default_factory=dict)  # column id -> header
    market_price: dict[str, int] = field(default_factory=dict)
    market_compare: dict[str, int] = field(default_factory=dict)
    market_included: dict[str, int] = field(default_factory=dict)
    metafields: dict[str, int] = field(default_factory=dict)  # "ns.key" -> index
    header: list[str] = field(default_factory=list)

    def has(self, cid: str) -> bool:
        return cid in self.at

    def name(self, cid: str) -> str:
        return self.names.get(cid, COLUMNS[cid][0 if self.dialect == "current" else 1])



def read_columns(header: list[str], store: ShopifyStore,
                 errors: list[Problem]) -> Columns | None:
    """The known columns of ``header``; None (reason in ``errors``) when the file is refused."""
    current = {h: cid for cid, (h, _) in COLUMNS.items()}
    legacy = {h: cid for cid, (_, h) in COLUMNS.items()}
    only_current = set(current) - set(legacy)
    only_legacy = set(legacy) - set(current)
    if "URL handle" in header or "Handle" in header:
        dialect = "current" if "URL handle" in header else "legacy"
    else:
        n_cur = sum(h in only_current for h in header)
        dialect = "legacy" if sum(h in only_legacy for h in header) > n_cur else "current"
    known, other = (current, legacy) if dialect == "current" else (legacy, current)
    cols = Columns(dialect, header=header)
    lower = {h.lower(): h for h in known}
    for i, h in enumerate(header):
        if header.index(h) != i:
            errors.append(Problem(1, h, f"refused: the header {h!r} appears twice"))
            return None
        if h in known:
            cols.at[known[h]], cols.names[known[h]] = i, h
        elif h in other:
            errors.append(Problem(1, h, f"ignored: {h!r} is a {other_dialect(dialect)} header; "
                                        f"this file uses the {dialect} ones"))
        elif m := MARKET.match(h):
            market_column(cols, i, h, m.group(1), m.group(2), store, errors)
        elif m := METAFIELD.match(h):
            key = f"{m.group(3)}.{m.group(4)}"
            if m.group(2) == "variant":
                errors.append(Problem(1, h, "ignored: variant metafields are not part of the "
                                            "product CSV"))
            elif key not in store.metafield_definitions:
                errors.append(Problem(1, h, f"ignored: the store has no metafield definition "
                                            f"for {key}; the product CSV carries defined "
                                            "metafields only"))
            else:
                cols.metafields[key] = i
        elif h.startswith("Google Shopping / "):
            pass  # accepted, not modelled
        elif h.lower() in lower:
            errors.append(Problem(1, h, f"ignored: not a documented header; Shopify's is "
                                        f"{lower[h.lower()]!r}"))
        else:
            errors.append(Problem(1, h, f"ignored: {h!r} is not a Shopify product CSV header"))
    if not cols.has("title"):
        errors.append(Problem(1, "", "refused: no Title column; it is the one column every "
                                     "product CSV needs"))
        return None
    variant_data = [cid for cid in VARIANT_IDS + ("o1v", "o2n", "o2v", "o3n", "o3v")
                    if cols.has(cid)]
    if (variant_data or cols.market_price) and not (cols.has("o1n") and cols.has("o1v")):
        what = [cols.name(c) for c in variant_data] + [header[i] for i in
                                                        cols.market_price.values()]
        errors.append(Problem(1, "", f"refused: variant columns ({', '.join(what)}) need the "
                                     f"{cols.name('o1n')} and {cols.name('o1v')} columns"))
        return None
    return cols


def other_dialect(dialect: str) -> str:
    return "legacy" if dialect == "current" else "2024+ (current)"


def market_column(cols: Columns, i: int, h: str, kind: str, market: str,
                  store: ShopifyStore, errors: list[Problem]) -> None:
    if kind in ("Compare-at price", "Compare At Price") and \
            (kind == "Compare-at price") != (cols.dialect == "current"):
        errors.append(Problem(1, h, f"ignored: {h!r} is a {other_dialect(cols.dialect)} header"))
        return
    if market not in store.markets:
        errors.append(Problem(1, h, f"ignored: the store has no market {market!r} "
                                    f"(markets: {store.markets or 'none'})"))
        return
    target = {"Price": cols.market_price, "Included": cols.market_included}.get(
        kind, cols.market_compare)
    target[market] = i
