"""What one Shopify product is besides its productSet, and what of it changed.

A product is assembled from its variants' records by :func:`filebridge.catalog.
product.build` (option values in size order, product-level fields by the profile's
parent rules, images in order, attribute values merged). Its parts beyond the
productSet input are kept apart as **aspects**, each with a fingerprint:

- ``images``: the product's images in order with their alt texts (and alt texts in
  the other languages), and each variant's image;
- ``translations``: title, description, handle and SEO texts, option names and
  values, in every language;
- ``metafields``: filter and specification values (and their translations);
- ``collections``: the category paths as collection handles, titles and translated
  titles;
- ``publications``: the sales channels named in the options.

The fingerprints of what the shop last accepted travel in each variant's remote
ids (``aspects``, with the time ``at`` they were applied; the latest one of the
product's variants is what the shop has). A part whose fingerprint is unchanged is
not sent again: a file that changes one variant's stock sends one productSet and
one stock call, never the images, translations or collections again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from filebridge.catalog.product import Product, build
from filebridge.catalog.spec import OptionSpec, ProductSpec
from filebridge.sinks.api.base import Change
from filebridge.sinks.shopify_csv import handle_of

ASPECTS = ("images", "translations", "metafields", "collections", "publications")
# Canonical product texts -> the PRODUCT resource's translatable keys [doc: enum
# TranslatableResourceType, PRODUCT: title, body_html, handle, product_type,
# meta_title, meta_description].
PRODUCT_KEYS = {"title": "title", "description": "body_html", "handle": "handle",
                "seo_title": "meta_title", "seo_description": "meta_description"}


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()[:16]


def selling(rec: dict[str, Any]) -> tuple[str | None, str | None]:
    """(price, compareAtPrice) in force when the record was staged: during a sale the
    sale price, with the list price as compare-at price (Shopify has no scheduled
    sale price; ``on_sale`` comes from the delta, see filebridge.sync.changes ApiSync.write)."""
    price, compare = rec.get("price"), rec.get("compare_at_price")
    if rec.get("on_sale") and rec.get("sale_price") not in (None, ""):
        return str(rec["sale_price"]), str(price if price not in (None, "") else compare)
    return (None if price in (None, "") else str(price),
            None if compare in (None, "") else str(compare))


@dataclass
class Metafield:
    namespace: str
    key: str
    type: str
    value: str
    name: str
    names: dict[str, str]
    translations: dict[str, str]  # lang -> value in that language


@dataclass
class Collection:
    handle: str
    title: str
    titles: dict[str, str]  # lang -> title


@dataclass
class Plan:
    """One product of a batch: what to send and what the shop has from us."""

    group: list[Change]
    product: Product
    records: dict[str, dict[str, Any]]  # every variant, in the product's order
    refused: dict[int, str]  # change id -> why it cannot be a variant
    aspects: dict[str, str]  # fingerprints of what this product should be
    old: dict[str, Any]  # the latest remote ids of the product's variants
    send: set[str]  # the aspects that differ from what the shop has
    images: list[tuple[str, str, dict[str, str]]]  # (url, alt, {lang: alt}), in order
    variant_image: dict[str, str]  # sku -> url
    metafields: list[Metafield]
    collections: list[Collection]
    publications: list[str]
    failed: str | None = None  # why the product as a whole failed
    answer: dict[str, Any] = field(default_factory=dict)  # productSet's product

    @property
    def media(self) -> dict[str, str]:
        """url -> MediaImage GID the shop has for our images (when last sent)."""
        return {u: i for u, i in self.old.get("media") or []}

    def fresh(self) -> Plan:
        """The same product for a shop that has none of it (deleted there)."""
        self.old, self.send = {}, set(ASPECTS)
        return self

    def fail(self, message: str) -> None:
        self.failed = self.failed or message


def spec_for(records: list[dict[str, Any]], spec: ProductSpec | None) -> ProductSpec:
    """The profile's product spec, or one read off the records (clients used without
    a profile: the options as the records name them)."""
    if spec is not None:
        return spec
    names: list[str] = []
    for r in records:
        for o in r.get("options") or []:
            name = str(o.get("field") or o["name"])
            if name not in names:
                names.append(name)
    return ProductSpec(key="product", options=[OptionSpec(field=n, name=n) for n in names])


def _with_fields(rec: dict[str, Any]) -> dict[str, Any]:
    """Option items keyed by field (records made without a profile only name them)."""
    opts = rec.get("options")
    if not opts or all("field" in o for o in opts):
        return rec
    return {**rec, "options": [{"field": o.get("field") or o["name"], **o} for o in opts]}


def latest(remotes: list[dict[str, Any]]) -> dict[str, Any]:
    """The remote ids written last (the shop's current product, as far as we know)."""
    dated = [r for r in remotes if r.get("at")]
    return max(dated, key=lambda r: r["at"]) if dated else {}


def metafield_type(attr: dict[str, Any]) -> str:
    """Filters are lists (a product's variants may have several values, and each value
    is a filter value); specifications are single values, as the product CSV writes
    them. Numbers and booleans keep their type."""
    kind = attr.get("type") or "text"
    if kind == "boolean":
        return "boolean"
    base = "number_decimal" if kind == "number" else "single_line_text_field"
    return f"list.{base}" if attr.get("filter", True) else base


def metafield_value(type_: str, values: list[str]) -> str:
    if type_.startswith("list."):
        return json.dumps(values, ensure_ascii=False)
    if type_ == "boolean":
        return "true" if str(values[0]).strip().lower() in ("1", "true", "yes", "si", "sì",
                                                            "y") else "false"
    return ", ".join(values)


def collections_of(product: Product, languages: list[str], mode: str
                   ) -> list[Collection]:
    """A product's category paths as collections: every level of a path (``Donna``,
    ``Donna > Capispalla``, ``Donna > Capispalla > Cappotti``) with ``mode`` "paths",
    only the full path with "leaves". A collection's handle is made from its path
    (two ``Giacche`` under Donna and Uomo are two collections), its title is the last
    level, translated from the same path in each language."""
    out: dict[str, Collection] = {}
    paths = product.fields.get("categories") or []
    for n, path in enumerate(paths):
        levels = range(1, len(path) + 1) if mode == "paths" else [len(path)]
        for depth in levels:
            handle = handle_of(" ".join(path[:depth]))
            titles = {}
            for lang in languages:
                tr = (product.translations.get(lang) or {}).get("categories") or []
                if n < len(tr) and len(tr[n]) == len(path):
                    titles[lang] = tr[n][depth - 1]
            out.setdefault(handle, Collection(handle, path[depth - 1], titles))
    return list(out.values())


def plan(group: list[Change], siblings: list[dict[str, Any]], gone: set[str],
         spec: ProductSpec | None, languages: list[str], publications: list[str],
         collections: str) -> Plan:
    """What the group's product is, and which of its aspects the shop lacks."""
    # The variants the shop has (the ledger's, in its order; a changed one in its
    # place), then the new ones: option values in "file" order keep the order the shop
    # shows (a new size is added at the end, not first).
    changed = {c.key: c.record for c in group}
    recs = [_with_fields(changed.pop(sku, s)) for s in siblings
            if (sku := str(s.get("sku") or "")) and sku not in gone]
    recs += [_with_fields(r) for r in changed.values()]
    key = str(group[0].record.get("product") or group[0].key)
    grouped = group[0].record.get("product") not in (None, "")
    product = build(key, recs, spec_for(recs, spec) if grouped else None, max_options=3)
    refused = {}
    by_sku = {c.key: c for c in group}
    for p in product.problems:
        c = by_sku.get(str(p.record.get("sku")))
        if c is not None:
            refused[c.id] = p.reason
    records = {str(r["sku"]): r for r in product.variants}
    # images: the product's, in order; alt from the first variant showing each
    alts: dict[str, tuple[str, dict[str, str]]] = {}
    variant_image: dict[str, str] = {}
    for r in product.variants:
        urls = r.get("images") or ([r["image"]] if r.get("image") else [])
        if urls:
            variant_image[str(r["sku"])] = urls[0]
        for u in urls:
            alts.setdefault(u, (str(r.get("image_alt") or ""), {
                lang: t["image_alt"] for lang, t in (r.get("translations") or {}).items()
                if t.get("image_alt")}))
    images = [(u, *alts.get(u, ("", {}))) for u in product.images]
    metafields = []
    for a in product.attributes:
        type_ = metafield_type(a)
        metafields.append(Metafield(
            a.get("namespace") or "custom", a["code"], type_,
            metafield_value(type_, a["values"]), a.get("name") or a["code"],
            dict(a.get("names") or {}),
            {lang: metafield_value(type_, vs) for lang, vs in
             (a.get("translations") or {}).items() if vs}))
    cols = collections_of(product, languages, collections) if collections != "none" else []
    texts = {lang: {k: v for k, v in (product.translations.get(lang) or {}).items()
                    if k in PRODUCT_KEYS} for lang in languages}
    options = [(o.name, o.names, o.values, o.translations) for o in product.options]
    aspects = {
        "images": fingerprint([images, variant_image]),
        "translations": fingerprint([{k: product.fields.get(k) for k in PRODUCT_KEYS},
                                     texts, options]),
        "metafields": fingerprint([m.__dict__ for m in metafields]),
        "collections": fingerprint([c.__dict__ for c in cols]),
        "publications": fingerprint(sorted(publications)),
    }
    old = latest([c.remote for c in group] + [s.get("_remote") or {} for s in siblings])
    before = old.get("aspects") or {}
    send = {k for k, v in aspects.items() if before.get(k) != v}
    return Plan(group, product, records, refused, aspects, old, send, images,
                variant_image, metafields, cols, list(publications))
