"""WooCommerce through its REST API v3: the whole catalog a profile describes
(products, variable products and their variations, categories, tags, filters,
specifications, prices with sale dates, GTINs, images) and stock, in batches.

Shop facts relied on (shop-formats.md section 2.3 unless noted; [code] is
woocommerce/woocommerce ``plugins/woocommerce/includes/rest-api/Controllers/
Version3/``: the products controller @010784f2, the variations controller @0379e4ee,
the terms and attributes controllers):

- Base ``<url>/wp-json/wc/v3/``, HTTP Basic with the consumer key and secret. Real
  shops accept Basic over HTTPS only (plain HTTP needs OAuth 1.0a signing, which
  this sink does not do) [doc].
- ``POST /products/batch`` and ``/products/<parent>/variations/batch`` take at most
  100 create+update+delete items in total (413 beyond) and answer HTTP 200 with a
  failed item as ``{"id": <id or 0>, "error": {code, message, data}}``: every item
  is inspected. Batch deletes are permanent [code].
- ``GET /products?sku=a,b,c`` takes a comma list of SKUs and also returns
  variations (with their ``parent_id``) [code: ``prepare_objects_query``].
- SKUs are unique across products and variations: creating one that exists fails
  with ``product_invalid_sku``, which this sink turns into a look-up and an update,
  so a retried create (a crash, a lost answer) never makes a second product. GTINs
  (``global_unique_id``, the record's barcode) are unique too: a duplicate is
  refused with the shop's words ("Invalid or duplicated GTIN, UPC, EAN or ISBN.").
- Prices are strings; the sale price goes with ``date_on_sale_from``/``_to`` in the
  site's time, the end as the last second of its day (see
  :mod:`.woocommerce_model`). WooCommerce runs the sale itself (``is_on_sale``
  compares the dates, a daily cron moves the price): the record need not be sent
  again the day a sale starts or ends, and is not.
- Categories, tags and global attributes are set by id: :mod:`.woocommerce_taxonomy`
  finds or makes them.

What the catalog becomes:

- A record without ``product`` is a ``simple`` product. A record with ``product``
  is a variation of the ``variable`` product whose SKU is the product key. That
  product is assembled from its variations (this batch's records and the ledger's
  last acknowledged ones, :func:`filebridge.catalog.product.build`): its name,
  descriptions and status by the profile's parent rules, its categories (paths,
  made parent by parent), tags, attributes and images are the union of its
  variations'. It is created on first need and afterwards updated only in the parts
  that changed since the shop's last acknowledgement. A product key with a single
  SKU is a variable product with one variation too (the CSV sink writes a simple
  product): WooCommerce cannot turn a product into a variation, so a second SKU
  arriving later joins it rather than replacing it.
- Attributes: each variation option (size, colour) is an attribute used for
  variations, custom by default, global with ``global_options``; its values are
  only ever extended (WooCommerce replaces the list wholesale, and other variations
  may use a value). Filters (``map.attributes`` with ``filter: true``) are global
  attributes (``pa_*``, made when missing with their terms), visible, not used for
  variations: the shop's layered navigation filters on them. Specifications are
  custom attributes, visible, not used for variations (the product page's
  "Additional information"). Attributes the shop has beyond ours stay.
- Categories and tags the ERP gives replace those it gave before; one added in
  the shop by hand stays, and the default "Uncategorized" goes once there is one.
- Images in order, the first featured, with ``alt`` from ``image_alt``; a
  variation's own first image is its ``image``. WooCommerce downloads every
  ``src`` it is sent, every time, so an image is sent only when the product's
  images changed, and then by ``id`` when the shop already has it: the ids
  WooCommerce answers are kept in the shop state (``remote["images"]``: URL ->
  attachment id), and a new image is sent with ``name`` = its URL, so a product
  whose answer was lost has its ids found again by name. An id the shop no longer
  has is refused by it; the product is then sent once more with every image by
  ``src``.
- Variation attributes are what WooCommerce checks least [code: the variations
  controller's ``prepare_object_for_database``; ``wc_get_product_variation_
  attributes``]: an attribute the parent does not have for variations is dropped
  without an error, a value is never checked against the parent's options, and a
  variation without a value for one of the parent's attributes sells as "any"
  value of it. So the parent is brought up to date before its variations are
  sent, attributes are matched the way WooCommerce keys them (``sanitize_title``
  of the name, or a global attribute's id), and a variation record with a blank
  option value (it would sell as any value), a value holding "|" (WooCommerce
  splits options on it) or the same options as another SKU of its product is
  refused with that reason.
- Translations: WooCommerce core has none (multilingual plugins keep them their
  own way), so the other languages of a profile are not sent; ``check`` says so.

An upsert sends every own field the record has (prices, stock, status, name), so
what the ERP says wins and a product zeroed or unpublished earlier is restored;
categories, tags, attributes and images go only when they changed. ``unpublish``
makes a product ``draft`` and a variation ``private`` (variations have no draft);
``delete`` deletes the product or the variation (a parent stays when its last
variation goes); deleting what the shop no longer has is a success; ``zero`` and
``unpublish`` of a SKU the shop does not have are refused. Ids learnt go back in
``Result.remote`` as ``{"id", "parent_id", "images"}`` (``parent_id`` 0 for a simple
product).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field

from filebridge.catalog.values import blank, text
from filebridge.errors import Bug
from filebridge.options import Secret, expand_env
from filebridge.photos.store import is_ref
from filebridge.registry import REGISTRY
from filebridge.sinks.api.base import (
    ApiSinkOptions,
    Change,
    Result,
    ShopClient,
    State,
)
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.sink import ApiSink
from filebridge.sinks.api.woocommerce_media import WpMedia
from filebridge.sinks.api.woocommerce_model import (
    SIMPLE_PARTS,
    Attr,
    Catalog,
    View,
    assemble,
    attribute_body,
    attribute_key,
    clean,
    fold,
    image_body,
    merge_attributes,
    merge_terms,
    option_problem,
    option_value,
    own_images,
    prices,
    product_changed,
    product_fields,
    shop_words,
    simple_view,
    stock,
    weight,
)
from filebridge.sinks.api.woocommerce_taxonomy import Taxonomy, TermError

LIMIT = 100  # items per batch request, create+update+delete together
LOOKUP_URL_CHARS = 4000  # keep a SKU look-up's query string well under server limits
IDS = "id,sku,parent_id,type"
# What a look-up reads of products it finds in catalog mode: enough to merge
# categories, tags and attributes and to know the images they already have.
STATE = IDS + ",categories,tags,attributes,images,image"
SHARED = ("categories", "tags", "attributes", "images")  # parts merged with the shop's


class WooOptions(ApiSinkOptions):
    """WooCommerce REST API v3 (WooCommerce -> Settings -> Advanced -> REST API, a
    read/write key)."""

    format: Literal["woocommerce_api"] = Field("woocommerce_api",
                                               description="WooCommerce REST API v3")
    consumer_key: Secret = Field(description="the REST API consumer key (ck_...), as "
                                 "${ENV_VAR} or file:PATH")
    consumer_secret: Secret = Field(description="the REST API consumer secret (cs_...), "
                                    "as ${ENV_VAR} or file:PATH")
    webhook_secret: Secret | None = Field(
        None, description="the secret of the shop's order webhooks (WooCommerce -> Settings "
        "-> Advanced -> Webhooks, topics Order created/updated, delivery URL "
        "http://HOST:PORT/hooks/PROFILE/SINK of filebridge serve), as ${ENV_VAR} or "
        "file:PATH; without it the sink takes no webhooks")
    weight_unit: Literal["kg", "g"] = Field("kg", description="the store's weight unit "
                                            "(record weights are grams)")
    global_options: bool = Field(False, description="variation options (size, colour) as "
                                 "global attributes (pa_ taxonomies shared by every "
                                 "product, which layered navigation can filter on; their "
                                 "values list in the attribute's term order) rather than "
                                 "each product's own custom attributes. Decide before the "
                                 "first load: products already in the shop keep the kind "
                                 "their options were made with")
    wp_user: Secret | None = Field(None, description="a WordPress user allowed to upload "
                                   "files, as ${ENV_VAR} or file:PATH: photos without a "
                                   "public folder are uploaded to /wp/v2/media, which the "
                                   "WooCommerce key does not open")
    wp_password: Secret | None = Field(None, description="an application password of "
                                       "wp_user (Users -> Profile -> Application Passwords), "
                                       "as ${ENV_VAR} or file:PATH")
    UPLOADS_PHOTOS: ClassVar[bool] = True  # /wp/v2/media, then images by id

    def photo_problem(self) -> str | None:
        if self.wp_user is None or self.wp_password is None:
            return ("woocommerce_api uploads photos without a public folder to "
                    "/wp-json/wp/v2/media, which needs wp_user and wp_password (a "
                    "WordPress user's application password; the WooCommerce key opens "
                    "only /wc/ routes)")
        return None


@dataclass
class _Item:
    """One change on its way: where it lives in the shop, once known."""

    change: Change
    sku: str
    product: str  # the product key of a variation record, "" for a simple product
    id: int | None = None
    parent: int = 0  # the variable product's id for a variation
    kind: str = ""  # the shop's type when a look-up found it
    known: bool = False  # the id came from Change.remote: Change.previous is its state
    retried: bool = False
    queued: bool = False
    shop: dict[str, Any] | None = None  # what a look-up read of it
    extra: dict[str, Any] = field(default_factory=dict)  # a simple product's shared parts
    plain: bool = False  # send images by src only (the shop refused an id)
    sent_images: list[dict[str, Any]] | None = None
    images: dict[str, int] = field(default_factory=dict)  # a simple product's, URL -> id


@dataclass
class _Batch:
    """The items of one batch endpoint: None is /products, an id its variations."""

    create: list[tuple[_Item, dict[str, Any]]] = field(default_factory=list)
    update: list[tuple[_Item, dict[str, Any]]] = field(default_factory=list)
    delete: list[_Item] = field(default_factory=list)


@dataclass
class _Call:
    """What one send() learns on the way (send runs in several threads at once)."""

    results: dict[int, Result] = field(default_factory=dict)
    images: dict[str, dict[str, int]] = field(default_factory=dict)  # product key -> ids

    def refuse(self, items: list[_Item], why: str) -> None:
        for it in items:
            self.results[it.change.id] = Result(it.change.id, False, f"SKU {it.sku}: {why}")


@dataclass(eq=False)
class _Parent:
    """One variable product this batch touches."""

    key: str
    items: list[_Item]
    view: View
    old: View | None
    images: dict[str, int]  # URL -> attachment id, as far as known
    parts: set[str] = field(default_factory=set)
    plain: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)


class WooClient(ShopClient):
    batch_size = 100
    max_batch = LIMIT
    parallel = 4
    o: WooOptions

    def __init__(self, options: ApiSinkOptions, state: State):
        super().__init__(options, state)
        o = self.o
        self.http = Http(expand_env(o.url).rstrip("/") + "/wp-json/wc/v3", o.limits,
                         name="woocommerce",
                         auth=(o.consumer_key.reveal(), o.consumer_secret.reveal()))
        self.parents: dict[str, int] = {}  # product key -> variable product id, this run
        self.parent_lock = threading.Lock()  # guards parents and product_locks
        self.product_locks: dict[str, threading.Lock] = {}  # one thread per product
        self.taxonomy = Taxonomy(self.http)
        self.catalog = Catalog()
        self.media = WpMedia(o, lambda: self.photos)

    def use(self, catalog: Catalog) -> None:
        """The profile's catalog: how variants group and order their options."""
        self.catalog = catalog

    def forget(self) -> None:
        """A new run: terms and parents are looked up in the shop again."""
        self.taxonomy.forget()
        with self.parent_lock:
            self.parents.clear()

    def close(self) -> None:
        self.http.close()
        self.media.close()

    # -- send -------------------------------------------------------------------------

    def send(self, changes: list[Change]) -> list[Result]:
        call = _Call()
        items = []
        for c in changes:
            it = _Item(c, text(c.record.get("sku") or c.key), text(c.record.get("product")))
            if c.remote.get("id"):
                it.id, it.parent = int(c.remote["id"]), int(c.remote.get("parent_id") or 0)
                it.known = True
                if it.parent and it.product:
                    with self.parent_lock:
                        self.parents.setdefault(it.product, it.parent)
            items.append(it)
        again = self._pass(items, call)
        if again:  # stale ids or a create that found its SKU taken: look up, once more
            for it in again:
                it.id, it.parent, it.known, it.retried = None, 0, False, True
                it.queued, it.shop, it.extra, it.images = False, None, {}, {}
            self._pass(again, call)
        return [call.results.get(c.id) or Result(c.id, False, f"SKU {c.key}: no answer from "
                                                 "the shop") for c in changes]

    def _pass(self, items: list[_Item], call: _Call) -> list[_Item]:
        catalog = self.o.sync == "catalog"
        self._lookup([it for it in items if it.id is None], catalog, call)
        if catalog:
            ups = [it for it in items if it.change.op == "upsert"
                   and it.change.id not in call.results]
            # a record refused for its options (see _plan) makes no parent either
            self._parents([it for it in ups if it.product and (it.id is None or it.parent)
                           and not option_problem(it.change.record)], call)
            self._simples([it for it in ups if it.change.id not in call.results
                           and not (it.parent if it.id is not None else it.product)], call)
        batches: dict[int | None, _Batch] = {}
        for it in items:
            if it.change.id in call.results:
                continue
            refusal = self._plan(it, batches, call)
            if refusal is not None:
                call.results[it.change.id] = Result(it.change.id, False, refusal)
            elif not it.queued:  # nothing to send (nothing changed, nothing to delete)
                call.results[it.change.id] = Result(it.change.id, True,
                                                    remote=self._remote(it, call))
        again: list[_Item] = []
        for endpoint, b in batches.items():
            again += self._run(endpoint, b, call)
        return again

    def _plan(self, it: _Item, batches: dict[int | None, _Batch], call: _Call) -> str | None:
        """Queue the item's request; a refusal message when there is none to make."""
        c, rec = it.change, it.change.record
        if c.op == "delete":
            if it.id is not None:
                batches.setdefault(it.parent or None, _Batch()).delete.append(it)
                it.queued = True
            return None
        if it.id is None and (c.op != "upsert" or self.o.sync == "stock"):
            return f"SKU {it.sku} is not in the shop"
        if it.id is not None and it.product and not it.parent and c.op == "upsert" \
                and self.o.sync == "catalog":
            return (f"SKU {it.sku} is a {it.kind or 'simple'} product in the shop, not a "
                    f"variation of {it.product}")
        variation = bool(it.parent) if it.id is not None else bool(it.product)
        if variation and c.op == "upsert" and self.o.sync == "catalog" \
                and (problem := option_problem(rec)):
            return f"SKU {it.sku}: {problem}"
        if c.op == "zero":
            body: dict[str, Any] = stock(0)
        elif c.op == "unpublish":
            body = {"status": "private" if variation else "draft"}
        elif self.o.sync == "stock":
            body = stock(rec["stock"]) if not blank(rec.get("stock")) else {}
        elif variation:
            try:
                body = self._variation(it, call)
            except TermError as e:
                return f"SKU {it.sku}: {e}"
        else:
            body = {**product_fields(rec), **self._own(rec), **it.extra}
            it.sent_images = it.extra.get("images")
        if it.id is None:
            parent = self.parents.get(it.product) if it.product else None
            if it.product and not parent:
                return f"SKU {it.sku}: the variable product {it.product} could not be made"
            body["sku"] = it.sku
            if not it.product:
                body["type"] = "simple"
            batches.setdefault(parent, _Batch()).create.append((it, body))
            it.queued = True
        elif body:
            batches.setdefault(it.parent or None, _Batch()).update.append(
                (it, {"id": it.id, **body}))
            it.queued = True
        return None

    # -- fields -----------------------------------------------------------------------

    def _own(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A simple product's or a variation's own sale fields."""
        out: dict[str, Any] = prices(rec)
        if not blank(rec.get("stock")):
            out.update(stock(rec["stock"]))
        if not blank(rec.get("weight")):
            out["weight"] = weight(rec["weight"], self.o.weight_unit)
        if "barcode" in rec:
            out["global_unique_id"] = text(rec["barcode"])
        return out

    def _variation(self, it: _Item, call: _Call) -> dict[str, Any]:
        rec = it.change.record
        # The product-level status and description are the parent's: a variation's own
        # description would show under the product's, the same text twice.
        out: dict[str, Any] = {"status": "publish"}
        out.update(self._own(rec))
        if _changed(it, "options"):
            out["attributes"] = [self._variation_attribute(o)
                                 for o in rec.get("options") or ()]
        image = _first_image(rec)
        if _changed_image(it):
            known = {**(it.change.remote.get("images") or {}),
                     **call.images.get(it.product, {})}
            if image is None:
                out["image"] = {}  # clears it
            else:
                entry = self._image(image[0], image[1], known, it.plain,
                                    call.images.setdefault(it.product, {}))
                out["image"] = entry
                it.sent_images = [entry]
        return out

    def _variation_attribute(self, o: dict[str, Any]) -> dict[str, Any]:
        if self.o.global_options:  # by name WooCommerce would not find a global one
            aid = self.taxonomy.attribute_id(clean(o["name"]))
            return {"id": aid, "option": option_value(o["value"])}
        return {"name": o["name"], "option": option_value(o["value"])}

    # -- product-level parts ---------------------------------------------------------

    def _shared(self, new: View, old: View | None, parts: set[str],
                have: dict[str, Any] | None, images: dict[str, int], plain: bool,
                variable: bool) -> dict[str, Any]:
        """The shared parts of a product's body (categories, tags, attributes, images)
        that changed, merged with what the shop has (``have``: None for a new
        product). Raises TermError when the shop refuses a term they need."""
        out: dict[str, Any] = {}
        t = self.taxonomy
        if "categories" in parts and (new.categories or old and old.categories):
            now = t.category_ids(new.categories)
            before = t.category_ids(old.categories, create=False) if old else []
            ids = merge_terms(_ids(have, "categories"), before, now, t.default_categories)
            out["categories"] = [{"id": i} for i in ids]
        if "tags" in parts and (new.tags or old and old.tags):
            now = t.tag_ids(new.tags)
            before = t.tag_ids(old.tags, create=False) if old else []
            out["tags"] = [{"id": i} for i in merge_terms(_ids(have, "tags"), before, now)]
        if "attributes" in parts:
            ours = self._attributes(new.attributes, create=True)
            gone = set()
            if old is not None:
                mine = {_key(a, self._global_ids(new.attributes)) for a in new.attributes}
                gone = {k for a in old.attributes
                        if (k := _key(a, self._global_ids([a]))) not in mine}
            out["attributes"] = merge_attributes(
                have.get("attributes") if have is not None else None, ours, gone)
            if not variable:  # a simple product uses no attribute for variations
                out["attributes"] = [dict(a, variation=False) for a in out["attributes"]]
        if "images" in parts and (new.images or old and old.images):
            if not plain:  # what the shop has by the name it was sent with counts as known
                images.update({u: i for u, i in _by_name(have).items() if u not in images})
            out["images"] = [self._image(url, alt, images, plain, images)
                             for url, alt in new.images]
        return out

    def _image(self, url: str, alt: str, known: dict[str, int], plain: bool,
               learnt: dict[str, int]) -> dict[str, Any]:
        """An ``images`` entry. A ``photo:`` reference is uploaded to the media
        library (once) and sent by id, also when ``plain`` (the shop refused the id
        it had: that attachment is gone); the id goes into ``learnt``."""
        if not is_ref(url):
            return image_body(url, alt, None if plain else known.get(url))
        aid = self.media.attachment(url, stale=known.get(url) if plain else None)
        learnt[url] = aid
        return image_body(url, alt, aid)

    def _global(self, a: Attr) -> bool:
        return a.is_global or (a.kind == "option" and self.o.global_options)

    def _global_ids(self, attrs: list[Attr]) -> dict[str, int]:
        """Ids of the global attributes the shop has for ``attrs`` (none made)."""
        out = {}
        for a in attrs:
            if self._global(a):
                aid = self.taxonomy.attribute_id(a.name, create=False)
                if aid:
                    out[fold(a.name)] = aid
        return out

    def _attributes(self, attrs: list[Attr], create: bool) -> list[dict[str, Any]]:
        ids: dict[str, int] = {}
        for a in attrs:
            if self._global(a):
                aid = self.taxonomy.attribute_id(a.name, create=create)
                if aid is None:
                    continue
                ids[fold(a.name)] = aid
                self.taxonomy.term_names(aid, a.values)
        return [attribute_body(a, i, ids, self.o.global_options)
                for i, a in enumerate(x for x in attrs if not self._global(x)
                                      or fold(x.name) in ids)]

    def _states(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """What the shop has of these products, for merging."""
        out: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(ids, LIMIT):
            for p in self.http.json("GET", "/products", params={
                    "include": ",".join(map(str, chunk)), "per_page": LIMIT,
                    "_fields": "id,categories,tags,attributes,images"}) or []:
                out[int(p["id"])] = p
        return out

    def _simples(self, items: list[_Item], call: _Call) -> None:
        """The shared parts of simple products, computed before their batch."""
        need: list[tuple[_Item, View, View | None, set[str]]] = []
        for it in items:
            rec, prev = it.change.record, it.change.previous
            known = it.known and prev is not None
            if known and prev is not None and all(rec.get(k) == prev.get(k) for k in SIMPLE_PARTS):
                continue
            new = simple_view(rec)
            old = simple_view(prev) if known and prev is not None else None
            parts = new.changed(old) & set(SHARED)
            if parts:
                need.append((it, new, old, parts))
        read = [it.id for it, _, _, _ in need if it.id is not None and it.shop is None]
        states = self._states([i for i in read if i is not None]) if read else {}
        for it, new, old, parts in need:
            have = it.shop if it.shop is not None else states.get(it.id or 0)
            it.images = dict(it.change.remote.get("images") or {})
            try:
                it.extra = self._shared(new, old, parts, have if it.id is not None else None,
                                        it.images, it.plain, variable=False)
            except TermError as e:
                call.refuse([it], str(e))

    # -- ids --------------------------------------------------------------------------

    def _lookup(self, items: list[_Item], catalog: bool, call: _Call) -> None:
        """Find ids by SKU; in catalog mode also the parents of variation records,
        with what they have (for merging)."""
        skus = {it.sku for it in items}
        if catalog:
            skus |= {it.product for it in items if it.product and it.change.op == "upsert"
                     and it.product not in self.parents}
        found = self._find(skus, STATE if catalog else IDS)
        for it in items:
            hit = found.get(it.sku)
            if hit:
                it.id, it.parent, it.kind = hit["id"], hit.get("parent_id") or 0, hit["type"]
                it.shop = hit if catalog else None
                if it.parent and it.product:
                    with self.parent_lock:
                        self.parents.setdefault(it.product, it.parent)
        for key in skus - {it.sku for it in items}:
            hit = found.get(key)
            if hit and hit["type"] == "variable":
                with self.parent_lock:
                    self.parents.setdefault(key, hit["id"])

    def stock_of(self, skus: list[str]) -> dict[str, int | None]:
        found = self._find(set(skus), IDS + ",stock_quantity")
        return {s: found[s].get("stock_quantity") if s in found else None for s in skus}

    def _find(self, skus: set[str], fields: str = IDS) -> dict[str, dict[str, Any]]:
        """SKU -> {id, parent_id, type, ...} for those the shop has: comma lists of
        SKUs, a SKU holding a comma on its own (Woo splits the list on commas)."""
        groups: list[list[str]] = []
        for sku in sorted(skus):
            if "," in sku or not groups or len(groups[-1]) >= LIMIT or "," in groups[-1][0] \
                    or sum(len(s) + 1 for s in groups[-1]) + len(sku) > LOOKUP_URL_CHARS:
                groups.append([sku])
            else:
                groups[-1].append(sku)
        found: dict[str, dict[str, Any]] = {}
        for group in groups:
            page, pages = 1, 1
            while page <= pages:
                resp = self.http.request("GET", "/products", params={
                    "sku": ",".join(group), "per_page": LIMIT, "page": page,
                    "_fields": fields})
                pages = int(resp.headers.get("X-WP-TotalPages") or 1)
                found.update((p["sku"], p) for p in resp.json() if p.get("sku") in skus)
                page += 1
        return found

    # -- variable products --------------------------------------------------------

    def _parents(self, items: list[_Item], call: _Call) -> None:
        """Bring the variable products these variations belong to up to date first:
        create the missing ones, update the parts of the others that changed."""
        by_product: dict[str, list[_Item]] = {}
        for it in items:
            by_product.setdefault(it.product, []).append(it)
        plans: dict[str, _Parent] = {}
        for key, its in by_product.items():
            if all(it.known and not product_changed(it.change.record, it.change.previous)
                   for it in its):
                continue  # only the variations changed: the product is as it was
            plan = self._plan_parent(key, its, call)
            if plan is not None:
                plans[key] = plan
        if not plans:
            return
        with self.parent_lock:
            locks = [self.product_locks.setdefault(k, threading.Lock()) for k in sorted(plans)]
        for lock in locks:  # in key order: two threads never wait on each other in a ring
            lock.acquire()
        try:
            self._parents_locked(plans, call)
        finally:
            for lock in locks:
                lock.release()
        for p in plans.values():
            call.images.setdefault(p.key, {}).update(p.images)

    def _parents_locked(self, plans: dict[str, _Parent], call: _Call) -> None:
        # What the shop has of these products, read under their locks: what another
        # thread read before it had the lock may be stale by now.
        fresh: dict[str, dict[str, Any]] = {}
        missing = [k for k in plans if k not in self.parents]
        if missing:  # another thread may have created them meanwhile
            found = self._find(set(missing), STATE)
            for k in missing:
                if k not in found:
                    continue
                if found[k]["type"] != "variable":
                    call.refuse(plans.pop(k).items, f"{k} is a {found[k]['type']} "
                                "product in the shop, not a variable one")
                else:
                    with self.parent_lock:
                        self.parents[k] = found[k]["id"]
                    fresh[k] = found[k]
        creates = [plans[k] for k in plans if k not in self.parents]
        taken = self._create_parents(creates, call, fresh)
        updates = [p for p in plans.values() if p.key in self.parents and p not in creates]
        for p in updates + taken:
            p.parts = p.view.changed(None if p in taken else p.old)
        self._update_parents([p for p in updates + taken if p.parts], call, fresh)

    def _plan_parent(self, key: str, its: list[_Item], call: _Call) -> _Parent | None:
        siblings = self.state.siblings(key)
        mine = {it.sku for it in its}
        old_records = [{k: v for k, v in s.items() if k != "_remote"} for s in siblings]
        new_records = [r for r in old_records if r.get("sku") not in mine] + \
            [it.change.record for it in its]
        product, view = assemble(key, new_records, self.catalog.product, variable=True)
        bad = {pr.record.get("sku"): pr.reason for pr in product.problems}
        for it in its:
            if it.sku in bad:
                call.refuse([it], bad[it.sku].removeprefix(f"product {key}: "))
        its = [it for it in its if it.sku not in bad]
        if not its:
            return None
        old = assemble(key, old_records, self.catalog.product, variable=True)[1] \
            if old_records else None
        images: dict[str, int] = {}
        for s in siblings:
            images.update((s.get("_remote") or {}).get("images") or {})
        for it in its:
            images.update(it.change.remote.get("images") or {})
        return _Parent(key, its, view, old, images)

    def _parent_body(self, p: _Parent, have: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if "fields" in p.parts:
            body.update(p.view.fields)
        body.update(self._shared(p.view, p.old if have is not None else None, p.parts, have,
                                 p.images, p.plain, variable=True))
        p.sent = body.get("images") or []
        return body

    def _create_parents(self, creates: list[_Parent], call: _Call,
                        fresh: dict[str, dict[str, Any]]) -> list[_Parent]:
        """Create variable products; those whose SKU turns out taken (a create whose
        answer was lost) are returned with their state, to be updated instead."""
        bodies: list[tuple[_Parent, dict[str, Any]]] = []
        for p in creates:
            p.parts = p.view.changed(None)
            try:
                bodies.append((p, {"type": "variable", "sku": p.key,
                                   **self._parent_body(p, None)}))
            except TermError as e:
                call.refuse(p.items, str(e))
        taken: list[_Parent] = []
        for chunk in _chunks(bodies, LIMIT):
            answer = self.http.json("POST", "/products/batch",
                                    {"create": [b for _, b in chunk]}) or {}
            for (p, _), got in zip(chunk, answer.get("create") or [], strict=False):
                if "error" not in got:
                    with self.parent_lock:
                        self.parents[p.key] = got["id"]
                    p.images.update(_learn(p.sent, got.get("images") or []))
                elif got["error"].get("code") == "product_invalid_sku":
                    taken.append(p)  # a lost answer, retried: look it up
                else:
                    call.refuse(p.items, shop_words(got["error"]))
        if taken:
            found = self._find({p.key for p in taken}, STATE)
            for p in list(taken):
                if found.get(p.key, {}).get("type") == "variable":
                    with self.parent_lock:
                        self.parents[p.key] = found[p.key]["id"]
                    fresh[p.key] = found[p.key]
                else:
                    taken.remove(p)
                    call.refuse(p.items, "the product key is taken in the shop by another "
                                "product (Invalid or duplicated SKU.)")
        return taken

    def _update_parents(self, plans: list[_Parent], call: _Call,
                        fresh: dict[str, dict[str, Any]]) -> None:
        read = [self.parents[p.key] for p in plans if p.parts & set(SHARED)
                and p.key not in fresh]
        states = self._states(read) if read else {}
        bodies: list[tuple[_Parent, dict[str, Any]]] = []
        for p in plans:
            pid = self.parents[p.key]
            have = fresh.get(p.key) or states.get(pid) or {}
            try:
                body = self._parent_body(p, have)
            except TermError as e:
                call.refuse(p.items, str(e))
                continue
            if body:
                bodies.append((p, {"id": pid, **body}))
        retry: list[_Parent] = []
        for chunk in _chunks(bodies, LIMIT):
            answer = self.http.json("POST", "/products/batch",
                                    {"update": [b for _, b in chunk]}) or {}
            for (p, _), got in zip(chunk, answer.get("update") or [], strict=False):
                if "error" not in got:
                    p.images.update(_learn(p.sent, got.get("images") or []))
                elif got["error"].get("code", "").endswith("_invalid_image_id") \
                        and not p.plain:
                    p.plain = True  # an image id the shop no longer has: send them by src
                    p.images.clear()
                    retry.append(p)
                else:
                    call.refuse(p.items, shop_words(got["error"]))
        if retry:
            self._update_parents(retry, call, fresh)

    # -- batches ----------------------------------------------------------------------

    def _run(self, parent: int | None, b: _Batch, call: _Call) -> list[_Item]:
        """Send one endpoint's items in requests of at most 100; return the items to
        look up and try once more (a stale id, a create whose SKU exists)."""
        path = f"/products/{parent}/variations/batch" if parent else "/products/batch"
        work = [("create", it, body) for it, body in b.create] + \
               [("update", it, body) for it, body in b.update] + \
               [("delete", it, it.id) for it in b.delete]
        again: list[_Item] = []
        results = call.results
        for chunk in _chunks(work, LIMIT):
            body: dict[str, list[Any]] = {}
            for op, _, payload in chunk:
                body.setdefault(op, []).append(payload)
            resp = self.http.request("POST", path, json=body,
                                     ok=lambda r: parent is not None and r.status_code == 404)
            if resp.status_code == 404:  # the parent is gone: its ids are stale
                for _, it, _ in chunk:
                    self._failed(it, "update", resp.json(), results, again)
                with self.parent_lock:
                    for k in [k for k, v in list(self.parents.items()) if v == parent]:
                        self.parents.pop(k, None)
                continue
            answer = resp.json()
            seen = {op: iter(answer.get(op) or ()) for op in body}
            for op, it, _ in chunk:
                got = next(seen[op], None)
                if got is None:
                    results[it.change.id] = Result(it.change.id, False, f"SKU {it.sku}: "
                                                   f"the shop did not answer for it")
                elif "error" in got:
                    self._failed(it, op, got["error"], results, again)
                elif op == "delete":
                    results[it.change.id] = Result(it.change.id, True, remote={})
                else:
                    it.id, it.parent = got["id"], got.get("parent_id") or (parent or 0)
                    learnt = _learn(it.sent_images or [], got.get("images") or (
                        [got["image"]] if got.get("image") else []))
                    if it.product:
                        call.images.setdefault(it.product, {}).update(learnt)
                    results[it.change.id] = Result(it.change.id, True,
                                                   remote=self._remote(it, call, learnt))
        return again

    def _remote(self, it: _Item, call: _Call, learnt: dict[str, int] | None = None
                ) -> dict[str, Any] | None:
        """The ids to keep for the item: its own, and those of its images."""
        if it.id is None:
            return None
        out: dict[str, Any] = {"id": it.id, "parent_id": it.parent}
        if it.change.op != "upsert" or self.o.sync != "catalog":
            return out
        known = {**(it.change.remote.get("images") or {}), **_by_name(it.shop), **it.images,
                 **call.images.get(it.product, {}), **(learnt or {})}
        mine = {u: known[u] for u in own_images(it.change.record) if u in known}
        if mine or it.change.remote.get("images"):
            out["images"] = mine
        return out

    def _failed(self, it: _Item, op: str, error: dict[str, Any],
                results: dict[int, Result], again: list[_Item]) -> None:
        code = error.get("code") or ""
        gone = code.endswith("_invalid_id")
        if op == "delete" and gone:  # already deleted: what was asked for
            results[it.change.id] = Result(it.change.id, True, remote={})
        elif not it.retried and code.endswith("_invalid_image_id") and not it.plain:
            it.plain = True  # an image id the shop no longer has: send it by src
            again.append(it)
        elif not it.retried and (gone or (op == "create" and code == "product_invalid_sku")):
            again.append(it)
        else:
            results[it.change.id] = Result(it.change.id, False,
                                           f"SKU {it.sku}: {shop_words(error)}")


def _changed(it: _Item, *names: str) -> bool:
    """Whether the record may differ from what the shop has in these fields."""
    prev, rec = it.change.previous, it.change.record
    return not it.known or prev is None or any(rec.get(n) != prev.get(n) for n in names)


def _first_image(rec: dict[str, Any] | None) -> tuple[str, str] | None:
    imgs = own_images(rec or {})
    return (imgs[0], clean((rec or {}).get("image_alt"))) if imgs else None


def _changed_image(it: _Item) -> bool:
    prev = it.change.previous
    if not it.known or prev is None or it.plain:
        return _first_image(it.change.record) is not None or (
            it.shop is not None and bool(it.shop.get("image")))
    return _first_image(it.change.record) != _first_image(prev)


def _ids(have: dict[str, Any] | None, name: str) -> list[int] | None:
    if have is None:
        return None
    return [int(t["id"]) for t in have.get(name) or () if t.get("id")]


def _key(a: Attr, ids: dict[str, int]) -> str:
    """An attribute's key in the shop (see woocommerce_model.shop_key)."""
    aid = ids.get(fold(a.name))
    return f"#{aid}" if aid else attribute_key(a.name)


def _by_name(have: dict[str, Any] | None) -> dict[str, int]:
    """Image ids the shop has for a product, by the name (our URL) they were sent with."""
    if not have:
        return {}
    imgs = list(have.get("images") or ())
    if have.get("image"):
        imgs.append(have["image"])
    return {text(i["name"]): int(i["id"]) for i in imgs
            if isinstance(i, dict) and i.get("id") and "://" in text(i.get("name"))}


def _learn(sent: list[dict[str, Any]], got: list[dict[str, Any]]) -> dict[str, int]:
    """URL -> attachment id from an answer's images: by the name a new one was sent
    with, else by position."""
    out: dict[str, int] = {}
    names = {text(g.get("name")): int(g["id"]) for g in got if g.get("id")}
    for i, s in enumerate(sent):
        url = s.get("src")
        if not url:
            continue
        if url in names:
            out[url] = names[url]
        elif len(sent) == len(got) and got[i].get("id"):
            out[url] = int(got[i]["id"])
    return out


def _chunks(seq: list[Any], n: int) -> list[list[Any]]:
    return [seq[i:i + n] for i in range(0, len(seq), n)]


@REGISTRY.sink("woocommerce_api")
class WooSink(ApiSink):
    Options = WooOptions
    Client = WooClient
    LANDS: ClassVar[dict[str, str]] = {
        "sku": "sku (a variable product's: the product key)", "title": "name (the parent's)",
        "description": "description (the parent's)",
        "short_description": "short_description (the parent's)",
        "categories": "categories (ids; made when missing)",
        "category": "categories (when no categories)", "tags": "tags (ids; made when missing)",
        "status": "status (draft: draft, archived: private, else publish)",
        "published": "status (false: draft)", "handle": "slug", "price": "regular_price",
        "compare_at_price": "regular_price when above price (price is then sale_price)",
        "sale_price": "sale_price", "sale_from": "date_on_sale_from (00:00:00, site time)",
        "sale_to": "date_on_sale_to (23:59:59, site time)",
        "stock": "stock_quantity, manage_stock, stock_status",
        "weight": "weight (<weight_unit>), from grams", "barcode": "global_unique_id",
        "image": "images[0] / a variation's image", "images": "images (first: featured)",
        "image_alt": "alt of the record's images",
    }
    CARRIES: ClassVar[dict[str, str]] = {
        "categories": "product categories by id, made parent by parent when missing",
        "filters": "global attributes (pa_*, terms made when missing), visible, not used "
                   "for variations: layered navigation filters on them",
        "specs": "custom attributes, visible (the product page's Additional information)",
        "sale_dates": "sale_price with date_on_sale_from / date_on_sale_to (to: the day's "
                      "last second); WooCommerce starts and ends the sale itself",
        "images": "images in order (first: featured) with alt, a variation's image; each "
                  "picture downloaded once (ids kept), never re-sent unchanged",
        "barcode": "global_unique_id (GTIN, UPC, EAN or ISBN; unique in the shop)",
    }

    def bind(self, job: Any) -> None:
        super().bind(job)
        if not isinstance(self.client, WooClient):
            raise Bug("expected isinstance(self.client, WooClient)")
        self.client.use(Catalog(job.map.product))

    def drain(self) -> str | None:
        if not isinstance(self.client, WooClient):
            raise Bug("expected isinstance(self.client, WooClient)")
        self.client.forget()  # each run reads categories and attributes afresh
        return super().drain()
