"""Products and variations as WooCommerce keeps them, behind ``/products``,
``/products/<id>``, ``/products/batch`` and ``/products/<id>/variations[...]``.

Read in woocommerce/woocommerce ``plugins/woocommerce/includes/``: the V3 products
controller (``rest-api/Controllers/Version3/class-wc-rest-products-controller.php``
@010784f2: ``prepare_objects_query``, ``set_product_images``,
``prepare_object_for_database``), the V3 variations controller
(``class-wc-rest-product-variations-controller.php`` @0379e4ee), the V2 products
controller's read-back (``get_attributes``, ``get_attribute_options``),
``abstracts/abstract-wc-product.php`` @005c9ff4 (setters, ``validate_props``),
``class-wc-product-attribute.php`` @449a6d6f (``get_terms``),
``abstracts/abstract-wc-data.php`` (``set_date_prop``) and
``wc-product-functions.php`` (``wc_scheduled_sales``):

- SKUs are unique across products and variations (``product_invalid_sku``
  "Invalid or duplicated SKU.", with the holder as ``resource_id``); so are GTINs
  (``global_unique_id``: characters other than digits, ``-`` and ``X`` are dropped;
  an ``X`` before the end is ``product_invalid_global_unique_id_format``; a GTIN
  another product or variation has is ``product_invalid_global_unique_id``
  "Invalid or duplicated GTIN, UPC, EAN or ISBN."). Both are checked before
  anything is stored, so a refused create makes nothing (images included).
- Categories and tags are set by ``[{"id": n}]``; an id that is no term of that
  taxonomy is dropped without an error (``wp_set_object_terms`` skips it). A tag
  given by ``name`` is found by ``term_exists`` or created (``wp_insert_term``; one
  that fails is dropped). A product created without categories gets the default
  one, "Uncategorized" (``update_terms``).
- Attributes replace the product's set (keyed by ``sanitize_title(name)``, ordered
  by ``position``): ``{"id": n}`` is a global attribute (its ``options`` are term
  names: one the taxonomy lacks is created when the product is saved, as
  ``WC_Product_Attribute::get_terms`` does; without options it is left out; an
  unknown id keeps nothing); otherwise a custom one needs ``name`` and ``options``
  (an array, or a string split on "|"). ``visible`` and ``variation`` are false
  unless sent true. Read back, a global attribute's options are its terms in the
  attribute's order (``menu_order``, then creation order; ``name``: by name), a
  custom one's the stored value split on "|".
- A variation's attributes are looked up among its PARENT's by ``id`` (global) or
  ``sanitize_title(name)``: one the parent lacks, or has but not for variations, is
  dropped WITHOUT an error; the value is ``wc_clean``-ed and, for a global
  attribute, stored as the slug of the term of that name (``sanitize_title`` of the
  value when there is none), never checked against the parent's options; the set
  replaces the variation's. Read back (``wc_get_product_variation_attributes``):
  one value per parent variation attribute, "any" where it has none, left out of
  the REST answer; a global one as its term's name.
- Prices: ``regular_price``, ``sale_price`` (strings); sale dates
  ``date_on_sale_from``/``_to`` in the site's time (a date without a zone is local
  midnight; ``set_date_prop``), ``..._gmt`` in UTC; "" clears one, null leaves it.
  The site's zone here is UTC+2 (:data:`SITE_OFFSET`). A product is on sale
  (``is_on_sale``) when the sale price is set and below the regular one, the start
  (if any) has passed and the end (if any) has not: the end is an instant, so an
  end date given as a bare date ends the sale when that day BEGINS. ``price`` is
  the price in force on the shop's clock; :meth:`Shop.scheduled_sales` is the daily
  cron (``wc_scheduled_sales``): a started sale loses its start date, an ended one
  its sale price and both dates.
- Images: see :mod:`.media`. ``images`` replaces a product's featured image (the
  first) and gallery; a variation has one ``image``.
- With ``manage_stock`` the stock status follows the quantity (``validate_props``).
- As the brief for these tests asks, a non-numeric price and a negative stock are
  refused as ``rest_invalid_param`` (real WooCommerce coerces a bad price and
  allows negative stock for backorders); so is a sale date WooCommerce would
  misread (it accepts any text and stores nonsense).
"""

from __future__ import annotations

import calendar
import copy
import re
import time
from collections import Counter
from typing import Any

from .base import (
    State,
    WooError,
    collate,
    invalid,
    sanitize_text_field,
    sanitize_title,
    to_int,
)
from .media import Media
from .terms import Terms

SITE_OFFSET = 2 * 3600  # the site's timezone: UTC+2
PRICE = re.compile(r"^(\d+(\.\d*)?|\.\d+)?$")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?"
                  r"(Z|[+-]\d{2}:?\d{2})?$")
SALE_DATES = ("date_on_sale_from", "date_on_sale_from_gmt", "date_on_sale_to",
              "date_on_sale_to_gmt")

ENUMS = {"type": ("simple", "grouped", "external", "variable"),
         "status": ("draft", "pending", "private", "publish"),
         "stock_status": ("instock", "outofstock", "onbackorder")}
PRODUCT: dict[str, Any] = {
    "name": str, "slug": str, "type": str, "status": str, "sku": str, "description": str,
    "short_description": str, "regular_price": str, "sale_price": str, "manage_stock": bool,
    "stock_quantity": int, "stock_status": str, "weight": str, "global_unique_id": str,
    "images": list, "attributes": list, "categories": list, "tags": list, "meta_data": list,
    **dict.fromkeys(SALE_DATES, (str, int, type(None)))}
VARIATION = {k: t for k, t in PRODUCT.items()
             if k not in ("name", "slug", "type", "short_description", "images",
                          "categories", "tags")} | {"image": (dict, str, type(None))}


def _type_name(t: Any) -> str:
    t = t if isinstance(t, tuple) else (t,)
    names = {str: "string", int: "integer", bool: "boolean", list: "array", dict: "object"}
    return ",".join(names.get(x, "null") for x in t)


def validate(body: Any, schema: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    for k, v in body.items():
        t = schema.get(k)
        if t is None or v is None and k == "stock_quantity":
            continue
        if not isinstance(v, t) or (t is int and isinstance(v, bool)):
            raise invalid(k, f"{k} is not of type {_type_name(t)}.")
        if k in ENUMS and v not in ENUMS[k]:
            raise invalid(k, f"{k} is not one of {', '.join(ENUMS[k])}.")
        if k in ("regular_price", "sale_price") and not PRICE.match(v.strip()):
            raise invalid(k, f"{k} is not a valid number.")
        if k == "stock_quantity" and v < 0:
            raise invalid(k, f"{k} must be greater than or equal to 0")
        if k in ("attributes", "categories", "tags", "images") and \
                not all(isinstance(a, dict) for a in v):
            raise invalid(k, f"{k}[0] is not of type object.")
    return body


def sale_date(field: str, value: Any) -> float | None:
    """``set_date_prop``: the instant (epoch seconds) a sale date names; None clears.
    A ``_gmt`` field and a zone in the text mean UTC / that zone, otherwise the
    site's time."""
    if value in ("", 0, "0", "0000-00-00 00:00:00"):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return float(value)
    m = DATE.match(value.strip())
    if not m:
        raise invalid(field, f"{field}: {value!r} is not a date WooCommerce reads as one "
                      "(it would store another day)")
    y, mo, d, h, mi, s, zone = m.groups()
    try:
        t = calendar.timegm((int(y), int(mo), int(d), int(h or 0), int(mi or 0),
                             int(s or 0), 0, 0, 0))
        time.gmtime(t)
    except (ValueError, OverflowError):
        raise invalid(field, f"{field}: {value!r} is no date") from None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        t -= sign * (int(digits[:2]) * 3600 + int(digits[2:] or 0) * 60)
    elif not zone and not field.endswith("_gmt"):
        t -= SITE_OFFSET
    return float(t)


def rest_date(t: float | None, gmt: bool) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + (0 if gmt else SITE_OFFSET)))


def wc_clean(text: Any) -> str:
    return sanitize_text_field(str(text))


def gtin(value: str) -> str:
    """``set_global_unique_id``'s cleaning (and its format check)."""
    cleaned = re.sub(r"[^0-9Xx\-]", "", value)
    if cleaned and not re.fullmatch(r"[0-9\-]*[0-9Xx]?", cleaned):
        raise WooError(400, "product_invalid_global_unique_id_format",
                       "Invalid GTIN, UPC, EAN, or ISBN. The letter X is only valid as the "
                       "final ISBN-10 check digit.")
    return cleaned


def wc_price_gt(a: str, b: str) -> bool:
    try:
        return float(a) > float(b)
    except ValueError:
        return a > b


class Shop:
    """The catalog: products and variations share one id sequence, one SKU index and
    one GTIN index."""

    def __init__(self, state: State, terms: Terms, media: Media):
        self.state, self.terms, self.media = state, terms, media
        self.lock = state.lock
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, dict[str, Any]] = {}
        self.skus: dict[str, int] = {}
        self.created: Counter[str] = Counter()  # creates applied, per SKU
        self.applied: Counter[str] = Counter()  # creates and updates applied, per SKU
        self.fetched: Counter[str] = Counter()  # images downloaded for it, per SKU

    def now(self) -> float:
        return self.state.now if self.state.now is not None else time.time()

    def item(self, pid: int) -> dict[str, Any] | None:
        return self.products.get(pid) or self.variations.get(pid)

    def usage(self, taxonomy: str, tid: int) -> int:
        """Products (not variations) that have a term: a term's ``count``."""
        n = 0
        for p in self.products.values():
            if taxonomy == "product_cat":
                n += tid in p["categories"]
            elif taxonomy == "product_tag":
                n += tid in p["tags"]
            else:
                n += any(a["name"] == taxonomy and tid in a["terms"] for a in p["attributes"])
        return n

    # -- checks made before anything is stored ----------------------------------------

    def _sku(self, obj: dict[str, Any], sku: str | None) -> None:
        if sku is None:
            return
        sku = wc_clean(sku)
        if sku and self.skus.get(sku, obj["id"]) != obj["id"]:
            raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.",
                           resource_id=self.skus[sku], unique_sku=f"{sku}-1")

    def _gtin(self, obj: dict[str, Any], value: str | None) -> str | None:
        if value is None:
            return None
        value = gtin(wc_clean(value))
        if value:
            holder = next((o["id"] for o in [*self.products.values(), *self.variations.values()]
                           if o["id"] != obj["id"] and o["global_unique_id"] == value), None)
            if holder is not None:
                raise WooError(400, "product_invalid_global_unique_id",
                               "Invalid or duplicated GTIN, UPC, EAN or ISBN.",
                               resource_id=holder)
        return value

    # -- attributes -------------------------------------------------------------------

    def _product_attributes(self, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``prepare_object_for_database``'s attribute loop and ``set_attributes``:
        global ones still hold term NAMES (made terms at save)."""
        keyed: dict[str, dict[str, Any]] = {}
        for a in raw:
            aid = to_int(a.get("id"))
            if aid:
                attribute = self.terms.attributes.get(aid)
                options = a.get("options")
                if options is None:
                    continue
                if not isinstance(options, list):
                    options = str(options).split("|")
                values = [v for v in (wc_clean(o) for o in options) if v]
                if not values or attribute is None:
                    continue  # an unknown id: no taxonomy keeps its values
                name = attribute.taxonomy
                keyed[sanitize_title(name)] = {
                    "id": aid, "name": name, "position": to_int(a.get("position")),
                    "visible": bool(a.get("visible")), "variation": bool(a.get("variation")),
                    "value": "", "options": values, "terms": []}
                continue
            name = wc_clean(a.get("name") or "")
            if not name or "options" not in a:
                continue
            options = a["options"] if isinstance(a["options"], list) else \
                str(a["options"]).split("|")
            keyed[sanitize_title(name)] = {
                "id": 0, "name": name, "position": to_int(a.get("position")),
                "visible": bool(a.get("visible")), "variation": bool(a.get("variation")),
                "value": " | ".join(str(o) for o in options), "terms": []}
        return sorted(keyed.values(), key=lambda x: x["position"])  # uasort: stable

    def _save_terms(self, attributes: list[dict[str, Any]]) -> None:
        """``WC_Product_Attribute::get_terms`` at save: names to terms, made when missing."""
        for a in attributes:
            if not a["id"]:
                continue
            tax = self.terms.attributes[a["id"]].terms
            ids = []
            for name in a.pop("options"):
                t = tax.by_name(name)
                if t is None:
                    try:
                        t = tax.insert(name)
                    except WooError:
                        continue
                ids.append(t.id)
            a["terms"] = list(dict.fromkeys(ids))

    def _variation_attributes(self, variation: dict[str, Any], raw: list[dict[str, Any]]
                              ) -> dict[str, str]:
        parent = self.products.get(variation["parent_id"])
        if parent is None:
            raise WooError(404, "woocommerce_rest_product_variation_invalid_parent",
                           "Cannot set attributes due to invalid parent product.")
        by_key = {sanitize_title(a["name"]): a for a in parent["attributes"]}
        out = {}
        for a in raw:
            aid = to_int(a.get("id"))
            if aid:
                attribute = self.terms.attributes.get(aid)
                key = attribute.taxonomy if attribute else ""
            else:
                key = sanitize_title(a.get("name") or "")
            if not key:
                continue
            found = by_key.get(key)
            if found is None or not found["variation"]:
                continue  # silently skipped, as WooCommerce does
            value = wc_clean(a.get("option") or "")
            if found["id"]:
                term = self.terms.attributes[found["id"]].terms.by_name(value)
                value = term.slug if term else sanitize_title(value)
            out[sanitize_title(found["name"])] = value
        return out

    def options_of(self, a: dict[str, Any]) -> list[str]:
        """What the REST API and the admin read back as an attribute's options."""
        if not a["id"]:
            return [o.strip() for o in a["value"].split("|")] if a["value"] else []
        attribute = self.terms.attributes.get(a["id"])
        if attribute is None:
            return []
        terms = [t for tid in a["terms"] if (t := attribute.terms.get(tid))]
        if attribute.order_by == "name":
            terms.sort(key=lambda t: collate(t.label))
        elif attribute.order_by == "id":
            terms.sort(key=lambda t: t.id)
        else:
            terms.sort(key=lambda t: (t.menu_order, t.id))
        return [t.label for t in terms]

    def _slugs(self, a: dict[str, Any]) -> dict[str, str]:
        """A parent attribute's options as stored on variations -> their names."""
        if not a["id"]:
            return {o: o for o in self.options_of(a)}
        attribute = self.terms.attributes.get(a["id"])
        out = {}
        for name in self.options_of(a):
            t = attribute.terms.by_name(name) if attribute else None
            if t:
                out[t.slug] = t.label
        return out

    def attribute_label(self, a: dict[str, Any]) -> str:
        attribute = self.terms.attributes.get(a["id"]) if a["id"] else None
        return attribute.label if attribute else a["name"]

    # -- create / update ----------------------------------------------------------------

    def _apply(self, obj: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Check, then store: nothing changes when the request is refused."""
        variation = obj["type"] == "variation"
        kind = "variation" if variation else "product"
        if "attributes" in body:
            attributes: Any = (self._variation_attributes(obj, body["attributes"]) if variation
                               else self._product_attributes(body["attributes"]))
        self._sku(obj, body.get("sku"))
        new_gtin = self._gtin(obj, body.get("global_unique_id"))
        dates = {}
        for k in SALE_DATES:
            if k in body and body[k] is not None:
                dates[k.removesuffix("_gmt")] = sale_date(k, body[k])
        tags = None
        if not variation and isinstance(body.get("tags"), list):
            tags = []
            for t in body["tags"]:
                if "name" in t:
                    term = self.terms.tags.exists(str(t["name"]))
                    if term is None:
                        try:
                            term = self.terms.tags.insert(str(t["name"]))
                        except WooError:
                            continue
                    tags.append(term.id)
                else:
                    tags.append(to_int(t.get("id")))
        made: list[int] = []
        image_ids = None
        try:
            if not variation and "images" in body:
                image_ids = self.media.resolve(body["images"], obj["id"], kind, made)
            elif variation and "image" in body and body["image"] is not None:
                image = body["image"]
                image_ids = self.media.resolve([image], obj["id"], kind, made) \
                    if isinstance(image, dict) and (image.get("id") or image.get("src")) else []
        except WooError:
            self.media.rollback(made)
            self.fetched[obj["sku"] or str(body.get("sku") or "")] += len(made)
            raise
        # -- save ------------------------------------------------------------------------
        if "sku" in body:
            sku = wc_clean(body["sku"])
            self.skus.pop(obj["sku"] or "", None)
            if sku:
                self.skus[sku] = obj["id"]
            obj["sku"] = sku
        if new_gtin is not None:
            obj["global_unique_id"] = new_gtin
        if "attributes" in body:
            if not variation:
                self._save_terms(attributes)
            obj["attributes"] = attributes
        for k, v in body.items():
            if k in ("name", "description", "short_description", "slug", "status", "type",
                     "regular_price", "sale_price", "manage_stock", "stock_quantity",
                     "stock_status", "weight"):
                obj[k] = copy.deepcopy(v)
        obj.update(dates)
        if not variation and isinstance(body.get("categories"), list):
            cats = self.terms.categories.terms
            ids = [i for i in (to_int(c.get("id")) for c in body["categories"]) if i in cats]
            obj["categories"] = list(dict.fromkeys(ids))
        if tags is not None:
            obj["tags"] = list(dict.fromkeys(i for i in tags if i in self.terms.tags.terms))
        if not variation and obj["type"] in ("variable", "grouped"):
            # prepare_object_for_database: a variable product has no prices of its own
            obj.update(regular_price="", sale_price="", date_on_sale_from=None,
                       date_on_sale_to=None)
        if image_ids is not None:
            if variation:
                obj["image"] = image_ids[0] if image_ids else None
            else:
                obj["image"] = image_ids[0] if image_ids else None
                obj["gallery"] = image_ids[1:]
            for aid in made:
                self.media.attachments[aid].parent = obj["id"]
        if obj.get("manage_stock") and obj.get("stock_quantity") is not None:
            obj["stock_status"] = "instock" if obj["stock_quantity"] > 0 else "outofstock"
        if obj["sku"]:
            self.applied[obj["sku"]] += 1
            self.fetched[obj["sku"]] += len(made)
        return obj

    def create(self, body: Any, parent: int | None = None) -> dict[str, Any]:
        body = validate(body, VARIATION if parent else PRODUCT)
        with self.lock:
            if parent is not None:
                p = self.parent(parent)
            obj: dict[str, Any] = {
                "id": self.state.new_id(), "sku": "", "status": "publish", "description": "",
                "regular_price": "", "sale_price": "", "date_on_sale_from": None,
                "date_on_sale_to": None, "manage_stock": False, "stock_quantity": None,
                "stock_status": "instock", "weight": "", "global_unique_id": "",
                "image": None, "attributes": []}
            if parent is None:
                obj.update({"type": "simple", "name": "", "slug": "", "short_description": "",
                            "parent_id": 0, "gallery": [], "variations": [], "categories": [],
                            "tags": []})
            else:
                obj.update({"type": "variation", "parent_id": parent, "attributes": {}})
            self._apply(obj, body)  # raises before anything is stored
            if parent is None and not obj["categories"]:
                obj["categories"] = [self.terms.categories.default]  # update_terms, forced
            (self.variations if parent else self.products)[obj["id"]] = obj
            if parent is not None:
                p["variations"].append(obj["id"])
            if obj["sku"]:
                self.created[obj["sku"]] += 1
            return self.view(obj)

    def parent(self, pid: int) -> dict[str, Any]:
        p = self.products.get(pid)
        if p is None:
            raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return p

    def update(self, pid: Any, body: Any, parent: int | None = None) -> dict[str, Any]:
        body = validate(body, VARIATION if parent else PRODUCT)
        with self.lock:
            obj = self.variations.get(pid) if parent else self.products.get(pid)
            if obj is None or (parent is not None and obj["parent_id"] != parent):
                code = "product_variation" if parent else "product"
                raise WooError(400, f"woocommerce_rest_{code}_invalid_id", "Invalid ID.")
            self._apply(obj, body)
            if parent is None and isinstance(body.get("categories"), list) \
                    and not obj["categories"]:
                obj["categories"] = [self.terms.categories.default]  # update_terms
            return self.view(obj)

    def delete(self, pid: Any, parent: int | None = None) -> dict[str, Any]:
        with self.lock:
            obj = self.variations.get(pid) if parent else self.products.get(pid)
            if obj is None or (parent is not None and obj["parent_id"] != parent):
                code = "product_variation" if parent else "product"
                raise WooError(404, f"woocommerce_rest_{code}_invalid_id", "Invalid ID.")
            answer = self.view(obj)
            gone = [obj] + [self.variations[v] for v in obj.get("variations", ())]
            for o in gone:
                (self.variations if o["type"] == "variation" else self.products).pop(o["id"])
                self.skus.pop(o["sku"] or "", None)
            if parent is not None:
                self.products[parent]["variations"].remove(pid)
            return answer

    # -- prices ---------------------------------------------------------------------------

    def on_sale(self, obj: dict[str, Any], at: float | None = None) -> bool:
        """``WC_Product::is_on_sale`` on the shop's clock."""
        now = self.now() if at is None else at
        if obj["sale_price"] == "" or not wc_price_gt(obj["regular_price"], obj["sale_price"]):
            return False
        start, end = obj["date_on_sale_from"], obj["date_on_sale_to"]
        return not (start is not None and start > now) and not (end is not None and end < now)

    def price(self, obj: dict[str, Any]) -> str:
        if obj["type"] == "variable":
            prices = [self.price(self.variations[v]) for v in obj["variations"]
                      if self.variations[v]["status"] == "publish"]
            prices = [p for p in prices if p != ""]
            return min(prices, key=float) if prices else ""
        return obj["sale_price"] if self.on_sale(obj) else obj["regular_price"]

    def scheduled_sales(self) -> None:
        """The daily ``woocommerce_scheduled_sales`` cron."""
        now = self.now()
        with self.lock:
            for obj in [*self.products.values(), *self.variations.values()]:
                start, end = obj["date_on_sale_from"], obj["date_on_sale_to"]
                if start is not None and start < now:
                    if obj["sale_price"]:
                        obj["date_on_sale_from"] = None
                    else:
                        obj["date_on_sale_from"] = obj["date_on_sale_to"] = None
                if end is not None and end < now:
                    obj.update(sale_price="", date_on_sale_from=None, date_on_sale_to=None)

    # -- read back ----------------------------------------------------------------------

    def _term_refs(self, taxonomy: Any, ids: list[int]) -> list[dict[str, Any]]:
        return [{"id": t.id, "name": t.name, "slug": t.slug}
                for tid in ids if (t := taxonomy.get(tid))]

    def _image(self, aid: int | None) -> dict[str, Any] | None:
        a = self.media.image(aid) if aid else None
        return a.view() if a else None

    def view(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A product or variation as the REST API answers it."""
        out = {k: copy.deepcopy(v) for k, v in obj.items()
               if k not in ("image", "gallery", "attributes", *SALE_DATES)}
        for k in ("date_on_sale_from", "date_on_sale_to"):
            out[k], out[k + "_gmt"] = rest_date(obj[k], False), rest_date(obj[k], True)
        out["price"], out["on_sale"] = self.price(obj), obj["type"] != "variable" and \
            self.on_sale(obj)
        if obj["type"] != "variation":
            out["categories"] = self._term_refs(self.terms.categories, obj["categories"])
            out["tags"] = self._term_refs(self.terms.tags, obj["tags"])
            out["images"] = [v for aid in [obj["image"], *obj["gallery"]]
                             if (v := self._image(aid))]
            out["attributes"] = [
                {"id": a["id"], "name": self.attribute_label(a),
                 "slug": a["name"] if a["id"] else sanitize_title(a["name"]),
                 "position": a["position"], "visible": a["visible"],
                 "variation": a["variation"], "options": self.options_of(a)}
                for a in obj["attributes"]]
            return out
        out["image"] = self._image(obj["image"])
        out["attributes"] = [{"id": a["id"], "name": self.attribute_label(a),
                              "option": self._slugs(a).get(value, value)}
                             for a, _, value in self._variation_values(obj) if value]
        return out

    def _variation_values(self, v: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
        """(parent attribute, key, stored value or '' for "any") for each of the parent's
        variation attributes: wc_get_product_variation_attributes."""
        parent = self.products.get(v["parent_id"]) or {"attributes": []}
        return [(a, key, v["attributes"].get(key, "")) for a in parent["attributes"]
                if a["variation"] for key in [sanitize_title(a["name"])]]

    def storefront(self, sku: str) -> dict[str, Any]:
        """What a shopper of the variable product ``sku`` can choose: ``options`` (the
        dropdowns: attribute label -> values offered) and ``variations`` (SKU -> the
        choice that reaches it, None for "any" of an attribute; a variation no choice
        reaches, or without a price, is left out: it cannot be bought)."""
        with self.lock:
            p = self.products[self.skus[sku]]
            children = [self.variations[i] for i in p["variations"]
                        if self.variations[i]["status"] == "publish"]
            offered: dict[str, list[str]] = {}
            for a in p["attributes"]:
                if not a["variation"]:
                    continue
                key, slugs = sanitize_title(a["name"]), self._slugs(a)
                used = {c["attributes"].get(key, "") for c in children}
                offered[self.attribute_label(a)] = list(slugs.values()) \
                    if "" in used or not used else [n for s, n in slugs.items() if s in used]
            reachable = {}
            for c in children:
                choice = {}
                ok = self.price(c) != ""  # variation_is_visible needs a price
                for a, _, value in self._variation_values(c):
                    name = self._slugs(a).get(value) if value else None
                    if value and (name is None or name not in offered[self.attribute_label(a)]):
                        ok = False
                    choice[self.attribute_label(a)] = name
                if ok:
                    reachable[c["sku"]] = choice
            return {"options": offered, "variations": reachable}

    def catalog(self) -> dict[str, dict[str, Any]]:
        """SKU -> product, its ``variations`` as full variation dicts."""
        with self.lock:
            out = {}
            for p in self.products.values():
                view = self.view(p)
                view["variations"] = [self.view(self.variations[v]) for v in p["variations"]]
                out[p["sku"] or f"#{p['id']}"] = view
            return out

    def listed(self, query: dict[str, str], items: list[dict[str, Any]] | None
               ) -> list[dict[str, Any]]:
        """The objects ``GET /products`` (or a parent's variations) selects."""
        if items is None and query.get("sku"):
            skus = query["sku"].split(",")
            if len(skus) > 1:
                skus.append(query["sku"])  # the whole string is a SKU too, as Woo does
            items = [o for o in (self.item(self.skus.get(s, 0)) for s in skus) if o]
        elif items is None:
            items = sorted(self.products.values(), key=lambda o: -o["id"])
        if query.get("include"):
            wanted = {to_int(i) for i in query["include"].split(",")}
            items = [o for o in items if o["id"] in wanted]
        if query.get("category"):
            cats = {to_int(i) for i in query["category"].split(",")}
            items = [o for o in items if cats & set(o.get("categories", ()))]
        if query.get("attribute") and query.get("attribute_term"):
            terms = {to_int(i) for i in query["attribute_term"].split(",")}
            items = [o for o in items if any(a["name"] == query["attribute"] and
                                             terms & set(a["terms"])
                                             for a in o.get("attributes") or []
                                             if isinstance(a, dict))]
        return items
