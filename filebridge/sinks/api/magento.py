"""Magento 2 / Adobe Commerce over REST (``magento_api``): products through the
product repository, stock through multi-source inventory (MSI) source items.

Shop facts relied on (shop-formats.md 3.3):

- Base ``{url}/rest/{store_code}/V1``, header ``Authorization: Bearer <token>``;
  errors are ``{"message": "…%1…", "parameters": …}`` [doc].
- ``PUT /V1/products/{sku}`` is ``ProductRepositoryInterface::save``, an upsert by
  SKU: a missing product is created [code: Magento_Catalog webapi.xml;
  magento/magento2#12535], so a retried create (attempts > 0) never makes a
  duplicate and needs no special care. One request per product: Magento has no
  synchronous product batch.
- Store scope [code: magento/magento2 Webapi/Controller/PathProcessor.php;
  Catalog/Model/ResourceModel/AbstractResource.php ``_saveAttributeValue``]: through
  ``all`` values are saved at the global scope (store 0) and a new product joins every
  website; through a store view code, store-view attributes (name, description,
  url_key) are saved for that view only, website ones (status) for its website's
  views, and a new product joins that website only, with an optional attribute such
  as the description existing in that view alone. A shop with one store view saves
  everything globally either way. So the default is ``all``: the ERP's master data
  are the global values; a store view code is for what differs per view (a
  language). An unknown code is not an error of its own: the path then matches no
  route (404 "Request does not match any route."), which this sink reports as a
  wrong ``store_code``.
- ``POST /V1/inventory/source-items`` validates every item first and fails the
  whole request with 400 naming only the first bad item [code: magento/inventory
  ``SourceItemsSaveHandler``]. The client then drops the item the message names
  (or halves the batch when it names none) and sends the rest again, so one bad
  SKU does not block its batch. Released versions store an unknown SKU silently
  (magento/magento2#38154), so SKUs are looked up (one search per batch) before
  stock is set, and the product ids learned are kept in ``remote``.
- Web API input limits, when a shop enables them, cap request arrays (default 20
  synchronous, 5000 asynchronous) with 400 ``Maximum items of type "…" is N``
  [doc: get-started/api-security]; the client learns N from that answer.
- ``/async/bulk/V1/…`` queues operations and answers ``bulk_uuid``;
  ``GET /V1/bulk/{uuid}/detailed-status`` gives each operation's status (1 done,
  2 retriable, 3 failed, 4 open) [doc]. ``send_bulk`` uses it for large loads.

- Catalog [code: magento/magento2 2.4 Catalog, ConfigurableProduct, Eav]: read
  ``magento_catalog`` (configurables and what each product carries, translations per
  store view, special prices, categories, prices per website), ``magento_shop``
  (store views, attributes and options, the category tree: found before anything is
  created, created at most once) and ``magento_media`` (images as base64 gallery
  entries, each picture uploaded once per product).

Canonical fields sent: title -> name, price (a compare-at price above it becomes the
price, with the price as ``special_price``), sale_price/sale_from/sale_to ->
``special_price``/``special_from_date``/``special_to_date``, status/published -> status
1/2, weight (grams, converted to the shop's unit), description, short_description,
seo_title, seo_description and handle (``url_key``) as custom attributes, barcode to
``barcode_attribute``, categories, images with image_alt as their labels, map.attributes
(filters and specifications), prices per website (``prices:``), stock as the source
item of ``location``. Not sent: vendor, product_type, category (the shop's own
taxonomy) and tags (Magento has no product tags). With ``map.product`` the variants of
a product become simple children of a configurable (``parent_sku``); a product with one
SKU is a visible simple product. unpublish sets status 2 (and the configurable's when
no child of it is left selling); zero sets quantity 0, out of stock; delete removes the
product (and the configurable with its last child). ``bulk_threshold`` applies to plain
simple products and stock: a catalog with variants, categories, images or languages is
sent synchronously, since its parts must exist before the products that use them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from filebridge.catalog.spec import MarketPrices, check_languages
from filebridge.errors import Bug, PermanentSinkError, RetryableSinkError
from filebridge.lazy import lazy
from filebridge.options import Duration, Secret
from filebridge.registry import REGISTRY
from filebridge.sinks.api.base import (
    ApiSinkOptions,
    Change,
    Result,
    ShopClient,
    State,
)
from filebridge.sinks.api.http import Http, error_text
from filebridge.sinks.api.magento_catalog import Catalog, Writer
from filebridge.sinks.api.magento_media import Images
from filebridge.sinks.api.magento_shop import ItemError, Shop, create_once
from filebridge.sinks.api.sink import ApiSink

if TYPE_CHECKING:  # the real modules for the types; at run time, on first use
    import requests
else:
    requests = lazy("requests")

NO_ROUTE = "Request does not match any route."  # Webapi\Controller\Rest\Router
BULK_CHUNK = 1000  # operations per bulk request (the async input limit is 5000)


class MagentoOptions(ApiSinkOptions):
    """Magento 2 / Adobe Commerce REST API."""

    UPLOADS_PHOTOS: ClassVar[bool] = True  # base64 media_gallery_entries
    format: Literal["magento_api"] = Field("magento_api", description="Magento 2 / Adobe "
                                           "Commerce REST API")
    token: Secret = Field(description="bearer token: an admin token, or an integration "
                          "access token where the shop allows integration tokens as bearer "
                          "tokens (2.4.4+: oauth/consumer/enable_integration_as_bearer)")
    store_code: str = Field("all", description="store in the URL path (/rest/<store_code>"
                            "/V1): 'all' writes catalog values at global scope, as the "
                            "ERP's master data are; a store view code writes values of "
                            "that store view only (e.g. a language)")
    attribute_set_id: int = Field(4, ge=1, description="attribute set of products created "
                                  "(4 is Default in a standard install)")
    weight_unit: Literal["kgs", "lbs"] = Field("lbs", description="the shop's weight unit "
                                               "(Stores > Configuration > General > Locale "
                                               "Options); weights in grams are converted")
    bulk_threshold: int | None = Field(None, ge=1, description="when at least this many "
                                       "changes are queued (a first load), send them through "
                                       "the asynchronous bulk API; it needs the "
                                       "async.operations.all consumer running, so it is off "
                                       "unless set (e.g. 1000)")
    bulk_timeout: Duration = Field(600.0, description="send_bulk: how long to wait for "
                                   "queued operations to finish")
    parent_sku: str = Field("{key}", description="SKU of the configurable product made for "
                            "each product key (map.product.key), e.g. 'P-{key}'; it must not "
                            "be one of the children's SKUs")
    attributes: dict[str, str] = Field(default_factory=dict, description="profile field -> "
                                       "Magento attribute code, where they differ, for the "
                                       "options (e.g. {colour: color}) and map.attributes; "
                                       "the attributes must exist in attribute_set_id: "
                                       "options global Dropdowns, filters Dropdowns or "
                                       "Multiple Selects, specifications text (or Dropdowns)")
    store_views: dict[str, str | list[str]] = Field(
        default_factory=dict, description="language -> the store view code(s) showing it, "
        "e.g. {en: default_en, de: [de_de, ch_de]}; the default language is saved at the "
        "global scope (all), the others through their store views")
    root_category: int = Field(2, ge=1, description="id of the root category the category "
                               "paths start under (2: Default Category of a standard "
                               "install)")
    barcode_attribute: str | None = Field(None, description="the text attribute holding "
                                          "the barcode (Magento has none of its own), e.g. "
                                          "ean or gtin")
    prices: dict[str, MarketPrices] = Field(
        default_factory=dict, description="website code -> {price, compare_at_price} mapped "
        "fields: that website's prices (needs Catalog Price Scope = Website)")
    websites: list[str] | None = Field(None, description="website codes products are put "
                                       "in (unset: through 'all' a new product joins every "
                                       "website)")
    variant_images: bool = Field(True, description="also give each child of a configurable "
                                 "its own images (Magento shows them when the shopper picks "
                                 "the variant); false: only the configurable has a gallery")
    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1, description="an image larger than "
                                 "this refuses the records showing it")

    @field_validator("store_views")
    @classmethod
    def _languages(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        check_languages(list(v))
        return v

    @field_validator("parent_sku")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            v.format(key="K")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"{v!r}: the only placeholder is {{key}} ({e})") from None
        return v


class MagentoClient(ShopClient):
    batch_size: ClassVar[int] = 100
    max_batch: ClassVar[int] = 1000  # no array cap in core unless input limits are on
    parallel: ClassVar[int] = 4

    o: MagentoOptions

    def __init__(self, options: ApiSinkOptions, state: State):
        super().__init__(options, state)
        self.source = self.o.location or "default"
        self.base = self.o.url.rstrip("/")
        auth = {"Authorization": f"Bearer {self.o.token.reveal()}"}
        self.http = Http(f"{self.base}/rest/{quote(self.o.store_code)}", self.o.limits,
                         name="magento", describe=self._describe, headers=auth)
        # Creates and uploads: never repeated blindly (see create_once and save).
        self.once = Http(self.http.base, self.o.limits.model_copy(update={"retries": 0}),
                         name="magento", describe=self._describe, headers=auth)
        self.array_limit: int | None = None  # learned from "Maximum items of type"
        self._source_checked = False
        self._lock = threading.Lock()
        self.catalog = Catalog([], None, {})
        self.shop = Shop(self)
        self.images = Images(self.o.limits, self.o.max_image_bytes, lambda: self.photos)
        self.writer = Writer(self)

    def use(self, catalog: Catalog) -> None:
        """The profile's languages, product grouping and attributes (from the sink)."""
        self.catalog = catalog

    def close(self) -> None:
        self.http.close()
        self.once.close()
        self.images.close()

    def _describe(self, resp: requests.Response) -> str:
        """The shop's message; a path matching no route names the likely cause."""
        text = error_text(resp)
        if resp.status_code == 404 and NO_ROUTE in text:
            text += (f" (the store code {self.o.store_code!r} in /rest/{self.o.store_code}/V1 "
                     "is not a store view of this shop: use 'all' or a store view code)")
        return text

    def no_route(self, resp: requests.Response) -> None:
        """A 404 that is not about the product: a wrong store_code (or URL)."""
        if resp.status_code == 404 and NO_ROUTE in error_text(resp):
            raise PermanentSinkError(f"magento: {resp.request.method} "
                                     f"{resp.request.path_url}: {self._describe(resp)}")

    # -- send ------------------------------------------------------------------

    def send(self, changes: list[Change]) -> list[Result]:
        ids = self._known(changes)
        results: dict[int, Result] = {}
        stock: list[tuple[Change, dict[str, Any]]] = []
        upserts: list[Change] = []
        for c in changes:
            pid = ids.get(c.key)
            learned = {"id": pid} if pid and c.remote.get("id") != pid else None
            if c.op == "delete":
                results[c.id] = self._delete(c)
            elif pid is None and (c.op != "upsert" or self.o.sync == "stock"):
                # Stock for a missing SKU is refused; zero/unpublish have nothing to hide.
                results[c.id] = Result(c.id, c.op != "upsert", f"SKU {c.key} is not in the shop")
            elif c.op == "unpublish":
                results[c.id] = self._put(c, {"sku": c.key, "status": 2}, learned)
            elif c.op == "zero":
                results[c.id] = Result(c.id, True, remote=learned)
                stock.append((c, self._item(c.key, 0)))
            elif self.o.sync == "stock":
                results[c.id] = Result(c.id, True, remote=learned)
                if c.record.get("stock") is not None:
                    stock.append((c, self._item(c.key, c.record["stock"])))
            else:
                upserts.append(c)
        if upserts:
            saved = self.writer.write(upserts, ids)
            for c in upserts:
                r = results[c.id] = saved[c.id]
                pid = ids.get(c.key)
                if r.ok and r.remote is None and pid and c.remote.get("id") != pid:
                    r.remote = {"id": pid}
                if r.ok and c.record.get("stock") is not None:
                    stock.append((c, self._item(c.key, c.record["stock"])))
        self._retire_parents([c for c in changes if c.op in ("delete", "unpublish")
                              and results[c.id].ok])
        for cid, message in self._save_items(stock).items():
            results[cid] = Result(cid, False, message)
        return list(results.values())

    def _retire_parents(self, gone: list[Change]) -> None:
        """A configurable whose last child is deleted is deleted too; one whose
        children are all unpublished is unpublished."""
        if self.catalog.product is None:
            return
        by_product: dict[str, list[Change]] = {}
        for c in gone:
            if c.record.get("product"):
                by_product.setdefault(str(c.record["product"]), []).append(c)
        for key, group in by_product.items():
            leaving = {c.key for c in group}
            if any(s.get("sku") not in leaving for s in self.state.siblings(key)):
                continue
            psku = quote(self.o.parent_sku.format(key=key), safe="")
            if any(c.op == "delete" for c in group):
                resp = self.http.request("DELETE", f"/V1/products/{psku}",
                                         ok=lambda r: r.status_code in (400, 404))
            else:
                resp = self.http.request("PUT", f"/V1/products/{psku}", json={"product": {
                    "sku": self.o.parent_sku.format(key=key), "status": 2}},
                    ok=lambda r: r.status_code in (400, 404))
            self.no_route(resp)

    def create_once(self, what: str, post: Any, find: Any) -> Any:
        return create_once(what, post, find, self.o.limits.retries + 1,
                           self.o.limits.max_backoff)

    def save(self, sku: str, body: dict[str, Any], wanted: list[tuple[str, str]] | None,
             known: dict[str, str], exists: bool | None) -> tuple[int, dict[str, str]]:
        """Save a product (an upsert); with ``wanted`` (url, label) its gallery too,
        against what the product holds (``exists`` False: nothing yet; None: look).
        Returns its id and url -> digest of its pictures."""
        if wanted is None:
            return self._save(sku, body), {}
        existing = self._gallery(sku) if exists is not False else []
        pause = 0.05
        for attempt in range(self.o.limits.retries + 1):
            entries, uploads, digests = self.images.plan(wanted, existing, known)
            full = {**body, "media_gallery_entries": entries}
            if not uploads:
                return self._save(sku, full), digests
            try:
                return self._save(sku, full, once=True), digests
            except RetryableSinkError:
                if attempt == self.o.limits.retries:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, self.o.limits.max_backoff)
                existing = self._gallery(sku)  # what landed before the answer was lost
        raise AssertionError("unreachable")

    def _save(self, sku: str, product: dict[str, Any], once: bool = False) -> int:
        http = self.once if once else self.http
        resp = http.request("PUT", f"/V1/products/{quote(sku, safe='')}",
                            json={"product": product}, ok=lambda r: r.status_code in (400, 404))
        self.no_route(resp)
        if resp.status_code >= 400:
            raise ItemError(error_text(resp))
        return int(resp.json().get("id"))

    def _gallery(self, sku: str) -> list[dict[str, Any]]:
        resp = self.http.request("GET", f"/V1/products/{quote(sku, safe='')}",
                                 ok=lambda r: r.status_code == 404)
        self.no_route(resp)
        if resp.status_code == 404:
            return []
        return list(resp.json().get("media_gallery_entries") or [])

    def _known(self, changes: list[Change]) -> dict[str, int | None]:
        """Product ids by SKU: from ``remote`` where known, else one search."""
        ids: dict[str, int | None] = {c.key: c.remote.get("id") for c in changes}
        missing = [c.key for c in changes if c.op != "delete" and not ids[c.key]]
        ids.update(self.lookup(missing))
        return ids

    def lookup(self, skus: list[str]) -> dict[str, int | None]:
        """Search products by SKU (``in`` filters, kept to short URLs; an SKU with a
        comma gets its own ``eq`` filter since ``in`` splits on commas)."""
        found: dict[str, int | None] = dict.fromkeys(skus)
        for values, cond in _sku_groups(skus):
            f = "searchCriteria[filter_groups][0][filters][0]"
            params = {f"{f}[field]": "sku", f"{f}[value]": ",".join(values),
                      f"{f}[condition_type]": cond,
                      "searchCriteria[pageSize]": str(len(values)), "fields": "items[id,sku]"}
            for p in self.http.json("GET", "/V1/products", params=params).get("items") or []:
                if p.get("sku") in found:
                    found[p["sku"]] = p.get("id")
        return found

    def stock_of(self, skus: list[str]) -> dict[str, int | None]:
        """Quantity of each SKU's source item at ``location`` (None: no source item
        there), by searching source items: sku ``in`` (a comma SKU alone with ``eq``)
        AND source_code ``eq``, paged by ``total_count``. Magento keeps decimal
        quantities; a fraction is cut to whole units."""
        found: dict[str, int | None] = dict.fromkeys(skus)
        if not skus:
            return found
        self._check_source()
        sku = "searchCriteria[filter_groups][0][filters][0]"
        src = "searchCriteria[filter_groups][1][filters][0]"
        for values, cond in _sku_groups(sorted(set(skus))):
            page, seen, total = 1, 0, 1
            while seen < total:
                answer = self.http.json("GET", "/V1/inventory/source-items", params={
                    f"{sku}[field]": "sku", f"{sku}[value]": ",".join(values),
                    f"{sku}[condition_type]": cond, f"{src}[field]": "source_code",
                    f"{src}[value]": self.source, f"{src}[condition_type]": "eq",
                    "searchCriteria[pageSize]": str(len(values)),
                    "searchCriteria[currentPage]": str(page)}) or {}
                items = answer.get("items") or []
                total = int(answer.get("total_count") or 0)
                for it in items:
                    if it.get("sku") in found and it.get("source_code") == self.source:
                        found[it["sku"]] = int(Decimal(str(it.get("quantity") or 0)))
                if not items:
                    break  # never loop on a total_count the pages do not fill
                seen += len(items)
                page += 1
        return found

    def _put(self, c: Change, product: dict[str, Any], learned: dict[str, Any] | None
             ) -> Result:
        resp = self.http.request("PUT", f"/V1/products/{quote(c.key, safe='')}",
                                 json={"product": product},
                                 ok=lambda r: r.status_code in (400, 404))
        self.no_route(resp)
        if resp.status_code >= 400:
            return Result(c.id, False, f"SKU {c.key}: {error_text(resp)}")
        pid = resp.json().get("id")
        return Result(c.id, True, remote={"id": pid} if pid != c.remote.get("id") else learned)

    def _delete(self, c: Change) -> Result:
        resp = self.http.request("DELETE", f"/V1/products/{quote(c.key, safe='')}",
                                 ok=lambda r: r.status_code in (400, 404))
        self.no_route(resp)
        if resp.status_code == 404:  # already gone: a retried delete succeeded earlier
            return Result(c.id, True, "not in the shop", remote={})
        if resp.status_code >= 400:
            return Result(c.id, False, f"SKU {c.key}: {error_text(resp)}")
        return Result(c.id, True, remote={})

    # -- stock -----------------------------------------------------------------

    def _item(self, sku: str, qty: int) -> dict[str, Any]:
        return {"sku": sku, "source_code": self.source, "quantity": qty,
                "status": 1 if qty > 0 else 0}

    def _check_source(self) -> None:
        """Once: an unknown source fails every item alike, so name it up front."""
        with self._lock:
            if not self._source_checked:
                self.http.request("GET", f"/V1/inventory/sources/{quote(self.source, safe='')}")
                self._source_checked = True

    def _save_items(self, items: list[tuple[Change, dict[str, Any]]]) -> dict[int, str]:
        """Save source items; returns the message of each change the shop refused."""
        if not items:
            return {}
        self._check_source()
        refused: dict[int, str] = {}
        todo = list(self._chunks(items))
        while todo:
            group = todo.pop()
            resp = self.http.request("POST", "/V1/inventory/source-items",
                                     json={"sourceItems": [i for _, i in group]},
                                     ok=lambda r: r.status_code == 400)
            if resp.status_code != 400:
                continue
            message = error_text(resp)
            if self._learn_limit(resp):
                todo.extend(self._chunks(group))
                continue
            named = {c.id for c, _ in group if f'"{c.key}"' in message}
            if len(group) == 1 or named:
                for c, _ in group:
                    if c.id in named or not named:
                        refused[c.id] = f"SKU {c.key}: {message}"
                rest = [(c, i) for c, i in group if named and c.id not in named]
                if rest:
                    todo.append(rest)
            else:
                half = len(group) // 2
                todo += [group[:half], group[half:]]
        return refused

    def _chunks(self, items: list[Any]) -> Iterator[list[Any]]:
        n = self.array_limit or len(items) or 1
        for i in range(0, len(items), n):
            yield items[i:i + n]

    def _learn_limit(self, resp: requests.Response) -> bool:
        try:
            body = resp.json()
        except ValueError:
            return False
        if not (isinstance(body, dict) and str(body.get("message", "")).startswith(
                "Maximum items of type")):
            return False
        params = body.get("parameters") or {}
        limit = int(params.get("max", 0)) if isinstance(params, dict) else 0
        if limit < 1:
            m = re.search(r"is (\d+)", error_text(resp))
            limit = int(m.group(1)) if m else 1
        self.array_limit = limit
        return True

    # -- asynchronous bulk -----------------------------------------------------

    def send_bulk(self, changes: list[Change]) -> list[Result]:
        """Apply many changes through the asynchronous bulk API: one queued
        operation per change, then poll until none is open. Below
        ``bulk_threshold`` changes, or for unpublish/delete, the synchronous path
        is used. Operations the shop marks retriable are sent again synchronously."""
        if self.o.bulk_threshold is None or len(changes) < self.o.bulk_threshold or (
                self.o.sync == "catalog" and self.catalog.rich):
            # Configurables, categories, options and images need their parts made
            # first and checked together: a catalog profile goes the synchronous way.
            return [r for i in range(0, len(changes), self.batch_size)
                    for r in self.send(changes[i:i + self.batch_size])]
        results: dict[int, Result] = {}
        again: list[Change] = []
        ids = self._known(changes)
        products: list[Change] = []
        stock: list[Change] = []
        for c in changes:
            pid = ids.get(c.key)
            if c.op in ("unpublish", "delete"):
                again.append(c)
            elif pid is None and (c.op == "zero" or self.o.sync == "stock"):
                results[c.id] = Result(c.id, c.op == "zero", f"SKU {c.key} is not in the shop")
            elif c.op == "upsert" and self.o.sync == "catalog":
                (again if self.writer.rich(c.record) else products).append(c)
            elif c.op == "zero" or c.record.get("stock") is not None:
                stock.append(c)
            else:
                results[c.id] = Result(c.id, True, remote={"id": pid})
        product_bodies = [{"product": self.writer.plain(c.record, ids.get(c.key) is None)}
                          for c in products]
        for c, (status, message, saved) in zip(products, self._bulk("/V1/products",
                                                                     product_bodies), strict=True):
            if status == 1:
                pid = saved.get("id") if saved else ids.get(c.key)
                results[c.id] = Result(c.id, True, remote={"id": pid} if pid else None)
                if c.record.get("stock") is not None:
                    stock.append(c)
            elif status == 2:
                again.append(c)
            else:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: {message}")
        if stock:
            self._check_source()
        bodies = [{"sourceItems": [self._item(c.key, 0 if c.op == "zero"
                                              else c.record["stock"])]} for c in stock]
        for c, (status, message, _) in zip(stock, self._bulk("/V1/inventory/source-items",
                                                              bodies), strict=True):
            if status == 2:
                again.append(c)
            elif status != 1:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: {message}")
            elif c.id not in results:
                pid = ids.get(c.key)
                results[c.id] = Result(c.id, True, remote={"id": pid}
                                       if pid and pid != c.remote.get("id") else None)
        for i in range(0, len(again), self.batch_size):
            results.update((r.id, r) for r in self.send(again[i:i + self.batch_size]))
        return list(results.values())

    def _bulk(self, route: str, bodies: list[Any]) -> list[tuple[int, str, Any]]:
        """Queue one operation per body; (status, message, saved object) for each."""
        out: list[tuple[int, str, Any]] = []
        for i in range(0, len(bodies), BULK_CHUNK):
            answer = self.http.json("POST", f"/async/bulk{route}", bodies[i:i + BULK_CHUNK])
            ops = self._wait(answer["bulk_uuid"])
            accepted = {it["id"] for it in answer.get("request_items", [])
                        if it.get("status") == "accepted"}
            for n in range(len(bodies[i:i + BULK_CHUNK])):
                op = ops.get(n)
                if n not in accepted or op is None:
                    out.append((3, "the shop did not accept the operation", None))
                    continue
                saved = op.get("result_serialized_data")
                try:
                    saved = json.loads(saved) if saved else None
                except ValueError:
                    saved = None
                out.append((op["status"], op.get("result_message") or "", saved))
        return out

    def _wait(self, bulk_uuid: str) -> dict[int, dict[str, Any]]:
        deadline = time.monotonic() + self.o.bulk_timeout
        pause = 0.05
        while True:
            status = self.http.json("GET", f"/V1/bulk/{bulk_uuid}/detailed-status")
            ops = {op["id"]: op for op in status.get("operations_list") or []}
            if all(op.get("status") != 4 for op in ops.values()):
                return ops
            if time.monotonic() > deadline:
                raise RetryableSinkError(f"magento: bulk {bulk_uuid}: operations still "
                                         f"open after {self.o.bulk_timeout:.0f}s (is the "
                                         "async.operations.all consumer running?)")
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _sku_groups(skus: list[str]) -> list[tuple[list[str], str]]:
    """SKU filters for a search (``lookup``, ``stock_of``): ``in`` lists kept to
    short URLs; a SKU holding a comma alone with ``eq`` (``in`` splits on commas)."""
    groups = [([s], "eq") for s in skus if "," in s]
    group: list[str] = []
    for s in (s for s in skus if "," not in s):
        if group and (len(group) >= 100 or sum(len(g) + 1 for g in group) + len(s) > 1500):
            groups.append((group, "in"))
            group = []
        group.append(s)
    if group:
        groups.append((group, "in"))
    return groups


@REGISTRY.sink("magento_api")
class MagentoSink(ApiSink):
    Options = MagentoOptions
    Client = MagentoClient
    CARRIES: ClassVar[dict[str, str]] = {
        "translations": "names, descriptions and text specifications per store view "
                        "(store_views: language -> codes); option, filter and category "
                        "labels per store view",
        "categories": "categories found by name under root_category or created, names "
                      "per store view; category_links to each path's last level",
        "filters": "Dropdown / Multiple Select attributes (option ids; options created "
                   "with store labels), on the children and the configurable",
        "specs": "text attributes (per store view when store-scoped) or Dropdowns",
        "sale_dates": "special_price with special_from_date / special_to_date (Magento "
                      "applies them on the days they cover)",
        "market_prices": "prices: website code -> fields, through base-prices (Catalog "
                         "Price Scope = Website)",
        "images": "media_gallery_entries in order with labels (default language), base64 "
                  "from the URLs, each picture uploaded once per product",
        "barcode": "the text attribute named by barcode_attribute",
        "locations": "MSI source items of the source named by location:",
    }

    def bind(self, job: Any) -> None:
        super().bind(job)
        m = job.map
        if not isinstance(self.client, MagentoClient):
            raise Bug("expected isinstance(self.client, MagentoClient)")
        self.client.use(Catalog(list(m.languages), m.product, dict(m.attributes)))

