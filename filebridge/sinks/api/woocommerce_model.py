"""What a product and its variations say to WooCommerce, worked out from the catalog
records without calling the shop: prices with sale dates, stock, the product's own
fields, its categories, tags, attributes (variation options, filters, specs) and
images, and how a product-level change is told from a variant-only one.

A variable product is assembled from its variations' records with
:func:`filebridge.catalog.product.build` (parent rules, option values in scale
order, images and attribute values merged), from the ledger's last acknowledged
records of its other variations plus this batch's: :class:`View` is what
WooCommerce should show of it, and two views (before and after this batch) tell
which parts changed and must be sent.

WooCommerce facts relied on here (woocommerce/woocommerce, read in
``plugins/woocommerce/includes/``):

- ``date_on_sale_from``/``_to`` without a zone are the site's local time, and a date
  alone is that day's midnight (``WC_Data::set_date_prop``); a sale is on while
  ``now <= date_on_sale_to`` (``WC_Product::is_on_sale``), and the daily cron
  ends it once ``date_on_sale_to < now`` (``wc_scheduled_sales``). So the last day
  is sent as ``<day>T23:59:59`` (as the admin's own sale form saves it), the first
  as ``<day>T00:00:00``. "" clears a date; null would leave the old one.
- A custom attribute's ``options`` are stored joined by " | " and read back split
  on "|" (``WC_Product_Attribute``, V2 ``get_attribute_options``): a value holding
  "|" cannot survive; a global one's options are term names.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from filebridge.catalog.product import Product, build
from filebridge.catalog.spec import ProductSpec
from filebridge.catalog.values import blank, paths, text

# Record keys only a variation carries: a change to them alone leaves the product
# (its fields, categories, attributes, images) as it is.
VARIANT_ONLY = frozenset({"sku", "barcode", "price", "compare_at_price", "sale_price",
                          "sale_from", "sale_to", "cost", "stock", "weight", "prices",
                          "line", "ordinal"})


@dataclass
class Catalog:
    """What the profile says about its catalog (``map.product``): how variants group
    into products, how their options are ordered and the product's fields formed."""

    product: ProductSpec | None = None


# -- values ------------------------------------------------------------------------------

def clean(value: Any) -> str:
    """Text as WooCommerce keeps a name or value (``wc_clean``: whitespace runs
    collapsed, trimmed)."""
    return re.sub(r"\s+", " ", text(value)).strip()


option_value = clean


def fold(name: Any) -> str:
    """A key under which two names are the same to us (case ignored)."""
    return clean(name).casefold()


def attribute_key(name: Any) -> str:
    """How WooCommerce keys a custom attribute: WordPress ``sanitize_title`` (accents
    removed, lower case, runs of spaces and dots to one dash, other punctuation
    dropped)."""
    t = unicodedata.normalize("NFKD", re.sub(r"<[^>]*>", "", text(name)))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[^a-z0-9_-]", "", re.sub(r"[\s.]+", "-", t))
    return re.sub(r"-+", "-", t).strip("-")


def _decimal(v: Any) -> Decimal | str | None:
    """A number as Decimal, or as given when it is not one (the shop says why)."""
    if blank(v):
        return None
    try:
        return Decimal(str(v).strip())
    except InvalidOperation:
        return str(v)


def prices(rec: dict[str, Any]) -> dict[str, str]:
    """``regular_price``, ``sale_price`` and the sale dates of a record that has any
    price. A sale price runs from ``sale_from`` (its midnight) to ``sale_to`` (its
    last second); without one, a compare-at price above the price makes the price a
    sale price (as the CSV sink does). No sale: the sale price and dates are sent
    empty, so a sale that ended in the ERP ends in the shop."""
    if not any(k in rec for k in ("price", "compare_at_price", "sale_price")):
        return {}
    price, compare = _decimal(rec.get("price")), _decimal(rec.get("compare_at_price"))
    sale = _decimal(rec.get("sale_price"))
    regular = price if price is not None else compare
    start = end = ""
    if sale is not None:
        start = f"{rec['sale_from']}T00:00:00" if rec.get("sale_from") else ""
        end = f"{rec['sale_to']}T23:59:59" if rec.get("sale_to") else ""
    elif isinstance(price, Decimal) and isinstance(compare, Decimal) and compare > price:
        regular, sale = compare, price
    return {"regular_price": text(regular), "sale_price": text(sale),
            "date_on_sale_from": start, "date_on_sale_to": end}


def stock(qty: Any) -> dict[str, Any]:
    """Managed stock; a quantity that is not a whole number goes as given, for the
    shop to refuse in its own words."""
    try:
        q = int(qty)
    except (TypeError, ValueError):
        return {"manage_stock": True, "stock_quantity": qty}
    return {"manage_stock": True, "stock_quantity": q,
            "stock_status": "instock" if q > 0 else "outofstock"}


def weight(grams: Any, unit: str) -> str:
    g = _decimal(grams)
    if isinstance(g, Decimal):
        g = (g / 1000 if unit == "kg" else g).normalize()
    return text(g)


def status(value: Any, published: Any) -> str:
    """As the CSV sink's Published: draft (or published false) -> draft, archived ->
    private, otherwise publish."""
    s = text(value).strip().lower()
    if s == "draft" or (published is False and s != "archived"):
        return "draft"
    return "private" if s == "archived" else "publish"


def option_problem(rec: dict[str, Any]) -> str | None:
    """Why a variation record's options cannot be sold as WooCommerce stores them."""
    for o in rec.get("options") or ():
        value = text(o.get("value"))
        if blank(value):
            return (f"option {o['name']} is blank: WooCommerce would sell this variation "
                    f"for any {o['name']}")
        if "|" in value:
            return (f"option {o['name']} value {value!r} holds '|', which WooCommerce "
                    "splits attribute options on")
    return None


def shop_words(error: dict[str, Any]) -> str:
    """The shop's message and code, with the parameter details WordPress gives."""
    msg = error.get("message") or ""
    params = (error.get("data") or {}).get("params")
    if isinstance(params, dict) and params:
        msg += " (" + "; ".join(str(v) for v in params.values()) + ")"
    return f"{msg} ({error.get('code')})" if error.get("code") else msg


# -- products ------------------------------------------------------------------------------

def with_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A record whose options all name their field (records of a profile do; a
    hand-made one may give only the option's name)."""
    opts = record.get("options")
    if not opts or all("field" in o for o in opts):
        return record
    return {**record, "options": [{"field": o["name"], **o} for o in opts]}


def spec_for(records: list[dict[str, Any]], spec: ProductSpec | None) -> ProductSpec | None:
    """The profile's product spec, or one read off the records' options (a client run
    without a profile: tests, tools)."""
    if spec is not None:
        return spec
    names: dict[str, str] = {}
    for r in records:
        for o in r.get("options") or []:
            names.setdefault(o["field"], o.get("name") or o["field"])
    if not names:
        return None
    return ProductSpec.model_validate({"key": "product", "options": [
        {"field": f, "name": n} for f, n in list(names.items())[:3]]})


def own_images(rec: dict[str, Any]) -> list[str]:
    """A record's images in order (``images``, else the single ``image``)."""
    imgs = [text(u) for u in rec.get("images") or [] if not blank(u)]
    return imgs or ([text(rec["image"])] if not blank(rec.get("image")) else [])


@dataclass
class Attr:
    """One attribute of a product as we want it."""

    kind: str  # option, filter, spec
    name: str
    values: list[str]
    code: str = ""  # the attribute's code (map.attributes), or the option's field

    @property
    def is_global(self) -> bool:
        return self.kind == "filter"


@dataclass
class View:
    """What WooCommerce should show of one product (a variable product's or a simple
    one's own fields, not its variations')."""

    fields: dict[str, Any]
    categories: list[list[str]]
    tags: list[str]
    attributes: list[Attr]
    images: list[tuple[str, str]]  # (url, alt) in order, the first featured

    def parts(self) -> dict[str, Any]:
        return {"fields": self.fields, "categories": self.categories, "tags": self.tags,
                "attributes": [(a.kind, a.name, a.values) for a in self.attributes],
                "images": self.images}

    def changed(self, old: View | None) -> set[str]:
        """The parts that differ from ``old``; without one, the fields and every part
        that has something (an empty one would only wipe what the shop has)."""
        mine = self.parts()
        if old is None:
            return {k for k, v in mine.items() if v or k == "fields"}
        theirs = old.parts()
        return {k for k, v in mine.items() if v != theirs[k]}


def product_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A product's own fields (name, descriptions, slug, status) from the record or
    the assembled product's fields."""
    out: dict[str, Any] = {"status": status(fields.get("status"), fields.get("published"))}
    if "title" in fields:
        out["name"] = text(fields["title"])
    if "description" in fields:
        out["description"] = text(fields["description"])
    if "short_description" in fields:
        out["short_description"] = text(fields["short_description"])
    if not blank(fields.get("handle")):
        out["slug"] = text(fields["handle"])
    return out


def _categories(fields: dict[str, Any]) -> list[list[str]]:
    cats = [[clean(level) for level in path] for path in fields.get("categories") or []]
    if not cats and not blank(fields.get("category")):
        cats = paths(text(fields["category"]))
    return cats


def view(p: Product, variable: bool) -> View:
    """The view of an assembled product: a variable one with its options, a simple
    one (one record, no product key) without."""
    attrs: list[Attr] = []
    if variable:
        attrs += [Attr("option", o.name, [option_value(v) for v in o.values], o.field)
                  for o in p.options]
    attrs += [Attr("filter" if a.get("filter", True) else "spec", clean(a["name"]),
                   [clean(v) for v in a["values"]], a["code"]) for a in p.attributes]
    alts: dict[str, str] = {}
    for r in p.variants:
        for url in own_images(r):
            alts.setdefault(url, clean(r.get("image_alt")))
    return View(product_fields(p.fields), _categories(p.fields),
                [clean(t) for t in p.fields.get("tags") or []], attrs,
                [(url, alts.get(url, "")) for url in p.images])


def assemble(key: str, records: list[dict[str, Any]], spec: ProductSpec | None,
             variable: bool) -> tuple[Product, View]:
    records = [with_fields(r) for r in records]
    p = build(key, records, spec_for(records, spec) if variable else None)
    return p, view(p, variable)


# What a simple product's view is made of: when none of these changed, nor did it.
SIMPLE_PARTS = ("title", "description", "short_description", "handle", "status",
                "published", "categories", "category", "tags", "attributes", "images",
                "image", "image_alt")


def simple_view(rec: dict[str, Any]) -> View:
    """A simple product's view straight from its one record (what :func:`assemble`
    gives for it, without assembling)."""
    attrs = [Attr("filter" if a.get("filter", True) else "spec", clean(a["name"]),
                  [clean(v) for v in a["values"]], a["code"])
             for a in rec.get("attributes") or () if a.get("values")]
    alt = clean(rec.get("image_alt"))
    return View(product_fields(rec), _categories(rec),
                list(dict.fromkeys(clean(t) for t in rec.get("tags") or [])), attrs,
                [(url, alt) for url in dict.fromkeys(own_images(rec))])


def product_changed(record: dict[str, Any], previous: dict[str, Any] | None) -> bool:
    """Whether a variation record says something new about its product."""
    if previous is None:
        return True
    keys = (set(record) | set(previous)) - VARIANT_ONLY
    return any(record.get(k) != previous.get(k) for k in keys)


# -- attributes as WooCommerce takes them -----------------------------------------------------

def attribute_body(a: Attr, position: int, ids: dict[str, int], global_options: bool
                   ) -> dict[str, Any]:
    """One entry of a product's ``attributes``: a filter (and, with ``global_options``,
    an option) as a global attribute by ``id``, a spec or option as a custom one by
    ``name``; options are used for variations, the others not; all visible."""
    out: dict[str, Any] = {"position": position, "visible": True,
                           "variation": a.kind == "option", "options": list(a.values)}
    if a.is_global or (a.kind == "option" and global_options):
        out["id"] = ids[fold(a.name)]
    else:
        out["name"] = a.name
    return out


def shop_key(entry: dict[str, Any]) -> str:
    """How WooCommerce keys an attribute of a product: the global attribute's id, or
    a custom one's sanitised name."""
    return f"#{entry['id']}" if entry.get("id") else attribute_key(entry.get("name"))


def merge_attributes(have: list[dict[str, Any]] | None, ours: list[dict[str, Any]],
                     dropped: set[str]) -> list[dict[str, Any]]:
    """The ``attributes`` to send: ours, merged into what the shop has (``have``, as it
    answered; None: a new product). An option's values are only ever extended (other
    variations may use what the shop has); a filter's or spec's are ours. Attributes
    the shop has beyond ours are kept, except those we sent before and no longer
    have (``dropped``: their keys)."""
    if have is None:
        return ours
    mine = {shop_key(o): o for o in ours}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a in have:
        key = shop_key(a)
        o = mine.get(key)
        if o is not None:
            seen.add(key)
            if o["variation"]:  # ours in our order, then what only the shop has
                o = dict(o, options=o["options"] + [v for v in a.get("options") or ()
                                                    if v not in o["options"]])
            out.append(o)
        elif key not in dropped:
            kept: dict[str, Any] = {"position": a.get("position", 0),
                                    "visible": bool(a.get("visible")),
                                    "variation": bool(a.get("variation")),
                                    "options": list(a.get("options") or ())}
            kept.update({"id": a["id"]} if a.get("id") else {"name": a.get("name")})
            out.append(kept)
    out += [o for k, o in mine.items() if k not in seen]
    return [dict(o, position=i) for i, o in enumerate(out)]


def merge_terms(have: list[int] | None, before: list[int], now: list[int],
                default: frozenset[int] = frozenset()) -> list[int]:
    """A product's category or tag ids: ours now, plus what the shop has that we did
    not give it before (a category someone added by hand stays); the shop's default
    category goes once we give one."""
    if have is None:
        return now
    kept = [i for i in have if i not in before and i not in now
            and not (now and i in default)]
    return list(dict.fromkeys(now + kept))


def image_body(url: str, alt: str, known: int | None) -> dict[str, Any]:
    """An ``images`` entry: a picture the shop has by ``id`` (no download), a new
    one by ``src`` named after its URL, so its id can be found again by ``name``."""
    if known:
        return {"id": known, "alt": alt} if alt else {"id": known}
    out = {"src": url, "name": url}
    if alt:
        out["alt"] = alt
    return out
