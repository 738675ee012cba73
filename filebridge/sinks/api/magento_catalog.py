"""The catalog through Magento's REST API: how one product's records become a
configurable with its simple children (or one visible simple product), what each
carries, and what is sent again when a record changes.

Per product (``filebridge.catalog.product.build`` over the batch's records and the
ledger's memory of the other variants):

- **children**: simple products, visibility 1 (Not Visible Individually): name, price
  (with ``special_price`` and its dates), status, weight, the option attributes' and
  filters' values as option ids, the barcode (``barcode_attribute``), and their own
  images (``variant_images``);
- **parent**: type ``configurable``, SKU ``parent_sku``, visibility 4 (Catalog,
  Search), no price (Magento takes the children's); name, description and the other
  product-level fields; ``configurable_product_options`` (one per option, its values
  the option ids the children use) and ``configurable_product_links`` (the ids of
  every child the shop has from us: Magento replaces the list wholesale);
  ``category_links``; the filter values every variant shares, the specifications;
  every image in order. It is saved only when something it shows changed.
- a product with one SKU and nothing to choose is one visible simple product with
  all of the above.
- translations: the product's names, descriptions and translated specifications are
  saved through each language's store views (``/rest/<view>/V1/products/{sku}``),
  only for the languages whose text changed; option and filter values in other
  languages are the options' store labels, category names the categories' names in
  those views. Children keep the default language's name (Magento shows the
  configurable's name in the storefront, the cart and orders).
- prices: a sale price with dates is Magento's ``special_price`` with
  ``special_from_date``/``special_to_date``, which Magento applies on the days it
  covers by itself, so the record is not sent again when a sale starts or ends; a
  compare-at price above the price becomes the price, with the price as a special
  price without dates; see ``magento_prices``, also for ``prices:`` per website.
- categories: each path's levels found by name under the root category or created;
  the product is linked to each path's last level. A path the product no longer has
  is unlinked with ``DELETE /V1/categories/{id}/products/{sku}`` (a save only adds
  links: Category\\Link\\SaveHandler merges them with the old ones).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from filebridge.catalog.product import Product, build
from filebridge.catalog.spec import AttributeSpec, ProductSpec
from filebridge.errors import Bug
from filebridge.sinks.api.base import Change, Result
from filebridge.sinks.api.magento_media import BadImage
from filebridge.sinks.api.magento_prices import Prices, base_price, special
from filebridge.sinks.api.magento_shop import Attribute, ItemError

if TYPE_CHECKING:
    from filebridge.sinks.api.magento import MagentoClient

log = logging.getLogger("filebridge")

GRAMS = {"kgs": Decimal(1000), "lbs": Decimal("453.59237")}
TEXTS = {"description": "description", "short_description": "short_description",
         "seo_title": "meta_title", "seo_description": "meta_description",
         "handle": "url_key"}
PARENT = ("title", "description", "short_description", "seo_title", "seo_description",
          "handle", "status", "published", "categories")


@dataclass
class Catalog:
    """The profile's catalog words the client needs (set by the sink at bind)."""

    languages: list[str]
    product: ProductSpec | None
    attributes: dict[str, AttributeSpec]

    @property
    def rich(self) -> bool:
        """Whether records carry more than a plain simple product's fields."""
        return len(self.languages) > 1 or self.product is not None or bool(self.attributes)


def _plain(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "_remote"}


def status_of(fields: dict[str, Any]) -> int | None:
    status = str(fields.get("status") or "").lower()
    if not status and fields.get("published") is None:
        return None
    return 2 if status in ("draft", "archived") or fields.get("published") is False else 1


def _gallery(records: list[dict[str, Any]], images: list[str] | None = None
             ) -> list[tuple[str, str]]:
    """(url, label) in order: a picture's label is the alt text of the first variant
    showing it."""
    alts: dict[str, str] = {}
    order: list[str] = []
    for r in records:
        for url in r.get("images") or ([r["image"]] if r.get("image") else []):
            if url not in alts:
                alts[url] = str(r.get("image_alt") or "")
                order.append(url)
    return [(u, alts[u]) for u in (images if images is not None else order)]


class Writer:
    """Turns one batch's upserts into saves; one per client, shared by its threads."""

    def __init__(self, client: MagentoClient):
        self.c = client
        self.o = client.o
        self.shop = client.shop
        self.prices = Prices(client)
        self._warned: set[str] = set()

    @property
    def catalog(self) -> Catalog:
        return self.c.catalog

    def warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("magento: %s", message)

    # -- the batch ---------------------------------------------------------------

    def rich(self, rec: dict[str, Any]) -> bool:
        """A record that needs more than one product save (the bulk API cannot)."""
        return self.catalog.rich or any(rec.get(k) for k in (
            "categories", "images", "image", "prices", "sale_price", "translations"))

    def plain(self, rec: dict[str, Any], create: bool) -> dict[str, Any]:
        """The body of a plain simple product (no categories, images or translations)."""
        body = self._common(rec, create)
        visible = self._visible(rec, [])
        if not create:
            del visible["visibility"]
        body["custom_attributes"] += visible.pop("custom_attributes")
        body.update(visible)
        return body

    def write(self, changes: list[Change], ids: dict[str, int | None]) -> dict[int, Result]:
        if any(c.record.get("prices") for c in changes):
            self.prices.check_scope()  # before anything is saved
        groups: dict[str, list[Change]] = {}
        for c in changes:
            grouped = self.catalog.product is not None and c.record.get("product")
            groups.setdefault(str(c.record["product"]) if grouped else "\0" + c.key,
                              []).append(c)
        results: dict[int, Result] = {}
        for key, group in groups.items():
            try:
                if key.startswith("\0"):
                    results.update(self._simple(group[0], ids.get(group[0].key)))
                else:
                    results.update(self._product(key, group, ids))
            except ItemError as e:
                for c in group:
                    results[c.id] = Result(c.id, False, f"SKU {c.key}: {e}")
        priced = [c for c in changes if results[c.id].ok and c.record.get("prices")]
        if priced:
            for cid, message in self.prices.websites(priced).items():
                results[cid] = Result(cid, False, message)
        return results

    # -- one product -------------------------------------------------------------

    def _product(self, key: str, group: list[Change], ids: dict[str, int | None]
                 ) -> dict[int, Result]:
        spec = self.catalog.product
        if spec is None:
            raise Bug("expected spec is not None")
        mine = {c.key for c in group}
        others = [s for s in self.c.state.siblings(key) if s.get("sku") not in mine]
        now = build(key, [_plain(s) for s in others] + [c.record for c in group], spec)
        out: dict[int, Result] = {}
        refused = {p.record.get("sku"): p.reason for p in now.problems}
        live = [c for c in group if c.key not in refused]
        for c in group:
            if c.key in refused:
                out[c.id] = Result(c.id, False, refused[c.key])
        if not live:
            return out
        before = [_plain(s) for s in others] + [c.previous for c in group if c.previous]
        prev = build(key, before, spec) if any(c.previous for c in group) else None
        if now.simple:
            c = live[0]
            out.update(self._simple(c, ids.get(c.key), now))
            return out
        out.update(self._configurable(key, now, prev, live, others, ids))
        return out

    def _configurable(self, key: str, now: Product, prev: Product | None, live: list[Change],
                      others: list[dict[str, Any]], ids: dict[str, int | None]
                      ) -> dict[int, Result]:
        options = self._options(now)
        out: dict[int, Result] = {}
        saved: dict[str, int] = {}
        digests: dict[str, str] = {}
        for c in live:
            try:
                body = self._child(c.record, options, ids.get(c.key) is None)
                wanted = _gallery([c.record]) if self.o.variant_images else None
                if c.previous is not None and _gallery([c.previous]) == wanted or \
                        not wanted and c.previous is None:
                    wanted = None  # unchanged, or nothing to say about a new one
                self.prices.clear_special(c)
                pid, got = self.c.save(c.key, body, wanted, c.remote.get("images") or {},
                                       ids.get(c.key) is not None)
            except ItemError as e:
                out[c.id] = Result(c.id, False, f"SKU {c.key}: {e}")
                continue
            saved[c.key] = pid
            digests.update(got)
            out[c.id] = Result(c.id, True, remote=self._remote(c, pid, got))
        links = self._links(now, others, saved, ids)
        psku = self.o.parent_sku.format(key=key)
        if not links:
            return out  # no child in the shop: no empty configurable either
        try:
            if self._parent_changed(now, prev, live, saved):
                self._parent(psku, now, prev, options, links, others, live, digests)
        except ItemError as e:
            for c in live:
                out[c.id] = Result(c.id, False, f"SKU {c.key}: configurable {psku}: {e}")
        return out

    def _remote(self, c: Change, pid: int, digests: dict[str, str]) -> dict[str, Any] | None:
        images = {u: d for u, d in digests.items()
                  if u in (c.record.get("images") or [c.record.get("image")])}
        remote: dict[str, Any] = {}
        if pid != c.remote.get("id"):
            remote["id"] = pid
        if images and images != c.remote.get("images"):
            remote["images"] = images
        return remote or None

    def _links(self, now: Product, others: list[dict[str, Any]], saved: dict[str, int],
               ids: dict[str, int | None]) -> dict[str, int]:
        """Child SKU -> id of every variant the shop has from us."""
        remembered = {str(s["sku"]): (s.get("_remote") or {}).get("id") for s in others}
        out: dict[str, int] = {}
        missing = []
        for r in now.variants:
            sku = str(r["sku"])
            pid = saved.get(sku) or remembered.get(sku) or ids.get(sku)
            if pid:
                out[sku] = int(pid)
            elif sku in remembered:
                missing.append(sku)
        if missing:
            out.update({k: int(v) for k, v in self.c.lookup(missing).items() if v})
        return out

    def _parent_changed(self, now: Product, prev: Product | None, live: list[Change],
                        saved: dict[str, int]) -> bool:
        if prev is None or any(c.previous is None for c in live if c.key in saved):
            return True
        return self._view(now) != self._view(prev)

    def _view(self, p: Product) -> str:
        """What the parent shows, to tell whether it must be saved again."""
        return json.dumps({
            "fields": {k: p.fields.get(k) for k in PARENT}, "translations": p.translations,
            "options": [(o.field, o.name, o.values, o.translations) for o in p.options],
            "attributes": p.attributes, "images": _gallery(p.variants, p.images),
            "variants": sorted(str(r["sku"]) for r in p.variants)},
            sort_keys=True, ensure_ascii=False, default=str)

    # -- bodies ------------------------------------------------------------------

    def _options(self, now: Product) -> list[tuple[Attribute, dict[str, str], str, str]]:
        """Per option: its attribute, value -> option id, its name and its field."""
        spec = self.catalog.product
        if spec is None:
            raise Bug("expected spec is not None")
        orders = {o.field: o.order for o in spec.option_specs()}
        out = []
        for o in now.options:
            a = self.shop.attribute(self.o.attributes.get(o.field, o.field), "option")
            labels = {v: self._labels({lang: t[v] for lang, t in o.translations.items()
                                       if v in t}) for v in o.values}
            out.append((a, self.shop.option_ids(a, labels, orders.get(o.field, "file")),
                        o.name, o.field))
        return out

    def _labels(self, by_lang: dict[str, str]) -> dict[str, str]:
        """store view code -> label, for the languages with store views."""
        return {code: label for lang, label in by_lang.items() for code in self.views(lang)}

    def views(self, lang: str) -> list[str]:
        codes = self.o.store_views.get(lang)
        if codes is None:
            if lang in self.catalog.languages[1:]:
                self.warn(f"lang:{lang}", f"no store view for language {lang!r} in "
                          "store_views: its translations are not sent")
            return []
        return [codes] if isinstance(codes, str) else list(codes)

    def _common(self, rec: dict[str, Any], create: bool) -> dict[str, Any]:
        """What every simple product (child or visible) carries."""
        body: dict[str, Any] = {"sku": rec["sku"]}
        custom: list[dict[str, Any]] = []
        price = base_price(rec)
        if price is not None:
            body["price"] = price  # a decimal string: never a float
        sp, start, end = special(rec)
        if sp is not None:
            custom.append({"attribute_code": "special_price", "value": sp})
            for code, day in (("special_from_date", start), ("special_to_date", end)):
                if day:
                    custom.append({"attribute_code": code, "value": day})
        status = status_of(rec)
        if status is not None:
            body["status"] = status
        if rec.get("weight") is not None:
            body["weight"] = str((Decimal(rec["weight"]) / GRAMS[self.o.weight_unit])
                                 .quantize(Decimal("0.0001")).normalize())
        if rec.get("barcode"):
            if self.o.barcode_attribute:
                a = self.shop.attribute(self.o.barcode_attribute, "barcode")
                custom.append({"attribute_code": a.code, "value": rec["barcode"]})
            else:
                self.warn("barcode", "records carry a barcode but barcode_attribute is not "
                          "set: barcodes are not sent")
        if self.o.websites:
            body.setdefault("extension_attributes", {})["website_ids"] = [
                self.shop.website_id(w) for w in self.o.websites]
        body["custom_attributes"] = custom
        if create:
            body.update({"type_id": "simple", "attribute_set_id": self.o.attribute_set_id})
            body.setdefault("status", 1)
            body.setdefault("name", rec.get("title") or rec["sku"])
        return body

    def _child(self, rec: dict[str, Any], options: list[tuple[Attribute, dict[str, str], str,
                                                             str]], create: bool) -> dict[str, Any]:
        body = self._common(rec, create)
        if rec.get("title"):
            body["name"] = rec["title"]
        body["visibility"] = 1
        body["custom_attributes"] += self._option_values(rec, options)
        body["custom_attributes"] += self._attributes(rec.get("attributes", []), only="filter")
        return body

    @staticmethod
    def _option_values(rec: dict[str, Any], options: list[tuple[Attribute, dict[str, str],
                                                                str, str]]
                       ) -> list[dict[str, Any]]:
        mine = {o["field"]: o["value"] for o in rec.get("options", [])}
        return [{"attribute_code": a.code, "value": ids[mine[field]]}
                for a, ids, _, field in options if field in mine]

    def _attributes(self, attrs: list[dict[str, Any]], only: str | None = None,
                    shared: bool = False) -> list[dict[str, Any]]:
        """Filter and spec values as custom attributes: option ids for dropdowns
        (created with their translated labels), text otherwise. ``shared``: a
        dropdown gets a value only when every variant has that one."""
        out = []
        for attr in attrs:
            role = "filter" if attr.get("filter") else "spec"
            if only and role != only:
                continue
            a = self.shop.attribute(self.o.attributes.get(attr["code"], attr["code"]), role)
            values = list(attr["values"])
            if a.takes_options:
                if a.input == "select" and len(values) > 1:
                    if shared:
                        continue
                    self.warn(f"multi:{a.code}", f"attribute {a.code} is a dropdown: only "
                              "the first of several values is sent (make it a multiple "
                              "select to keep them all)")
                    values = values[:1]
                tr = attr.get("translations") or {}
                labels = {v: self._labels({lang: vs[i] for lang, vs in tr.items()
                                           if i < len(vs) and len(vs) == len(attr["values"])})
                          for i, v in enumerate(values)}
                ids = self.shop.option_ids(a, labels)
                out.append({"attribute_code": a.code, "value": ",".join(ids[v] for v in values)})
            else:
                if role == "filter":
                    self.warn(f"text:{a.code}", f"attribute {a.code} is text: Magento's "
                              "layered navigation cannot filter by it")
                out.append({"attribute_code": a.code, "value": ", ".join(values)})
        return out

    def _visible(self, fields: dict[str, Any], categories: list[int]) -> dict[str, Any]:
        """What a product shown in the catalog carries beyond a child's."""
        body: dict[str, Any] = {"visibility": 4}
        if fields.get("title"):
            body["name"] = fields["title"]
        custom = [{"attribute_code": code, "value": fields[name]}
                  for name, code in TEXTS.items() if fields.get(name) is not None]
        body["custom_attributes"] = custom
        if categories:
            body["extension_attributes"] = {"category_links": [
                {"position": 0, "category_id": str(cid)} for cid in categories]}
        return body

    def _categories(self, records: list[dict[str, Any]], paths: list[list[str]]) -> list[int]:
        if not paths:
            return []
        names: dict[str, dict[tuple[str, ...], str]] = {}
        for r in records:
            for lang, t in (r.get("translations") or {}).items():
                theirs = t.get("categories")
                if not theirs or len(theirs) != len(r.get("categories") or []):
                    continue
                for path, there in zip(r["categories"], theirs, strict=True):
                    if len(path) != len(there):
                        continue
                    for code in self.views(lang):
                        for depth in range(1, len(path) + 1):
                            names.setdefault(code, {}).setdefault(tuple(path[:depth]),
                                                                  there[depth - 1])
        return self.shop.category_ids(paths, names)

    def _unlink(self, sku: str, before: list[list[str]], now: list[list[str]]) -> None:
        for path in before:
            if path in now:
                continue
            cid = self.shop.known_category(path)
            if cid is not None:
                resp = self.c.http.request(
                    "DELETE", f"/V1/categories/{cid}/products/{quote(sku, safe='')}",
                    ok=lambda r: r.status_code in (400, 404))
                self.c.no_route(resp)

    # -- saves -------------------------------------------------------------------

    def _simple(self, c: Change, pid: int | None, product: Product | None = None
                ) -> dict[int, Result]:
        rec = c.record
        create = pid is None
        fields = product.fields if product is not None else rec
        cats = self._categories([rec], fields.get("categories") or [])
        body = self._common(rec, create)
        visible = self._visible(fields, cats)
        if not (create or self.catalog.rich):
            del visible["visibility"]  # a plain product keeps what the shop set
        body["custom_attributes"] += visible.pop("custom_attributes")
        if "extension_attributes" in visible:
            body.setdefault("extension_attributes", {}).update(visible.pop(
                "extension_attributes"))
        body.update(visible)
        if product is not None and product.options:  # a one-size product: plain values
            body["custom_attributes"] += self._option_values(rec, self._options(product))
        body["custom_attributes"] += self._attributes(rec.get("attributes", []))
        wanted: list[tuple[str, str]] | None = _gallery([rec])
        if (c.previous is not None and _gallery([c.previous]) == wanted
                or not wanted and c.previous is None):
            wanted = None
        try:
            self.prices.clear_special(c)
            saved, digests = self.c.save(c.key, body, wanted, c.remote.get("images") or {},
                                         not create)
            self._translate(c.key, rec, c.previous)
            self._unlink(c.key, (c.previous or {}).get("categories") or [],
                         fields.get("categories") or [])
        except ItemError as e:
            return {c.id: Result(c.id, False, f"SKU {c.key}: {e}")}
        return {c.id: Result(c.id, True, remote=self._remote(c, saved, digests))}

    def _parent(self, psku: str, now: Product, prev: Product | None,
                options: list[tuple[Attribute, dict[str, str], str, str]], links: dict[str, int],
                others: list[dict[str, Any]], live: list[Change], digests: dict[str, str]
                ) -> None:
        fields = now.fields
        cats = self._categories(now.variants, fields.get("categories") or [])
        body = self._visible(fields, cats)
        body.update({"sku": psku, "type_id": "configurable",
                     "attribute_set_id": self.o.attribute_set_id})
        body.setdefault("name", psku)
        status = status_of(fields)
        if status is not None:
            body["status"] = status
        body["custom_attributes"] += self._attributes(now.attributes, shared=True)
        ext = body.setdefault("extension_attributes", {})
        ext["configurable_product_options"] = [
            {"attribute_id": a.id, "label": name, "position": i, "is_use_default": True,
             "values": [{"value_index": int(ids[v])} for v in o.values]}
            for i, ((a, ids, name, _), o) in enumerate(zip(options, now.options, strict=True))]
        ext["configurable_product_links"] = sorted(links.values())
        if self.o.websites:
            ext["website_ids"] = [self.shop.website_id(w) for w in self.o.websites]
        wanted: list[tuple[str, str]] | None = _gallery(now.variants, now.images)
        if prev is not None and _gallery(prev.variants, prev.images) == wanted:
            wanted = None
        known = dict(digests)
        for s in others:
            known.update((s.get("_remote") or {}).get("images") or {})
        for c in live:
            known.update(c.remote.get("images") or {})
        self._save_parent(psku, body, wanted, known, now)
        self._translate(psku, {"translations": now.translations, "attributes": now.attributes},
                        {"translations": prev.translations, "attributes": prev.attributes}
                        if prev else None)
        self._unlink(psku, (prev.fields.get("categories") if prev else None) or [],
                     fields.get("categories") or [])

    def _save_parent(self, psku: str, body: dict[str, Any], wanted: list[tuple[str, str]] | None,
                     known: dict[str, str], now: Product) -> None:
        while True:
            try:
                self.c.save(psku, body, wanted, known, None)
                return
            except BadImage as e:
                # The picture is left out of the configurable's gallery; the variants
                # showing it are refused with the reason by their own saves.
                if wanted is None or e.url not in [u for u, _ in wanted]:
                    raise
                self.warn(f"img:{e.url}", f"configurable {psku}: {e}")
                wanted = [(u, label) for u, label in wanted if u != e.url]

    def _translate(self, sku: str, rec: dict[str, Any], before: dict[str, Any] | None) -> None:
        """Names, descriptions and text specifications in each language's store views,
        for the languages whose text changed."""
        for lang in self.catalog.languages[1:]:
            now, was = self._texts(rec, lang), self._texts(before or {}, lang)
            if not now or (before is not None and now == was):
                continue
            body: dict[str, Any] = {"sku": sku}
            if now.get("name"):
                body["name"] = now.pop("name")
            body["custom_attributes"] = [{"attribute_code": k, "value": v}
                                         for k, v in sorted(now.items())]
            for code in self.views(lang):
                self.shop.store_id(code)
                self.c.http.json("PUT", f"{self.c.base}/rest/{quote(code)}/V1/products/"
                                 f"{quote(sku, safe='')}", {"product": body})

    def _texts(self, rec: dict[str, Any], lang: str) -> dict[str, str]:
        t = (rec.get("translations") or {}).get(lang) or {}
        out = {code: str(t[name]) for name, code in TEXTS.items() if t.get(name)}
        if t.get("title"):
            out["name"] = str(t["title"])
        for attr in rec.get("attributes") or []:
            values = (attr.get("translations") or {}).get(lang)
            if attr.get("filter") or not values:
                continue
            a = self.shop.attribute(self.o.attributes.get(attr["code"], attr["code"]), "spec")
            if a.takes_options:
                continue  # its store labels carry the translation
            if a.scope != "store":
                self.warn(f"scope:{a.code}", f"attribute {a.code} is {a.scope}-scoped: its "
                          "translations cannot be kept per store view")
                continue
            out[a.code] = ", ".join(values)
        return out
