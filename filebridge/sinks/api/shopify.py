"""Shopify through the Admin GraphQL API (shop-formats.md §1.3-1.7).

Every call is ``POST {url}/admin/api/{api_version}/graphql.json`` with the header
``X-Shopify-Access-Token``. Errors come in two layers: top-level ``errors[]`` (HTTP
200; ``THROTTLED`` is waited out and re-sent, never a failed change) and each
mutation's ``userErrors {code field message}``, which become ``Result(ok=False)``
for the records concerned [doc].

Catalog (``sync: catalog``): one ``productSet`` per product, identified by its id
when known, else by handle (an upsert since 2025-04 [doc], so a retried create never
makes a second product). productSet replaces the whole variant list [doc], so each
call carries every variant: the batch's changes over ``State.siblings`` (the last
acknowledged records of the other variants). Variants already in the shop keep their
ids and get stock through the compare-and-set below; new ones get their first stock
in the productSet itself (which also stocks them at the location).

Stock: ``inventorySetQuantities`` (name ``available``, at most 250 quantities a call
[doc]) with ``changeFromQuantity`` = the quantity we last set (2026-01+ [doc]) and
``@idempotent`` with a key derived from the call's content, so a re-sent identical
call is applied once. ``CHANGE_FROM_QUANTITY_STALE`` means the shop's count moved
since (a web sale): we read the current count; equal to ours means an earlier
attempt already landed; otherwise ``on_stale`` decides: ``overwrite`` (re-send
once from the fresh count: the ERP is the system of record) or ``reject``.

Rate limit: the calculated-cost leaky bucket [doc]; every answer's
``extensions.cost.throttleStatus`` is kept in one :class:`Bucket` per client, and
each call first sleeps ``(needed - available) / restoreRate``.

Ids (``product``, ``handle``, ``variant``, ``inventory_item``) go back in
``Result.remote``; a SKU without them is looked up with ``productVariants(query:
"sku:…")``. The location (option ``location``: its name; unset: the primary
location) is resolved once per client.

Decisions where Shopify has no per-variant equivalent: ``unpublish`` sets the
variant's stock to 0, and when the batch unpublishes every variant the shop's
product has (``variantsCount``), the product goes to status DRAFT. ``delete``
removes the variants (``productVariantsBulkDelete``), or the whole product when the
batch deletes every variant it has. Both look the SKUs up afresh, so they act on
the shop's current state, never on a stale id. A ``category`` that is not a taxonomy
GID is not sent (category paths go to ``categories``, as collections).

The whole catalog (issue 10; :mod:`.shopify_catalog` assembles a product from its
variants with ``catalog.product.build`` and fingerprints its parts, :mod:`.shopify_steps`
sends them):

- Product: options in the profile's order (sizes XS..XL), variants in that order,
  product-level fields by the parent rules, ``barcode`` per variant, ``tags``. The
  price in force on the file's date: during a sale (``sale_price`` with
  ``sale_from``/``sale_to``) ``price`` is the sale price and ``compareAtPrice`` the
  list price, after it ``compareAtPrice`` is cleared (an explicit null); Shopify has
  no scheduled sale price, so the delta hashes whether the sale runs on the file's
  date (``DAY_PRICE``) and the file of the day a sale starts or ends sends it.
- Images: productSet's ``files`` [doc: ProductSetInput.files, FileSetInput] in order
  with ``alt``, each variant's ``file`` (its first image, which must also be among the
  files [doc: ProductVariantSetInput.file]). Sent only when the images, their order
  or alt texts changed; then the images the shop has are named by media id (kept,
  alt updated) and only new URLs are downloaded; omitted, the media stay as they are.
- Translations [doc: translationsRegister, TranslationInput, TranslatableResourceType]:
  for each language of ``map.languages`` after the first, the product's title,
  body_html, handle and SEO texts, its options' names and values (PRODUCT_OPTION,
  PRODUCT_OPTION_VALUE), image alt texts (MEDIA_IMAGE), metafield values (METAFIELD)
  and collection titles, each against the digest ``translatableResourcesByIds``
  gives for the current content (a stale digest is refused). A language the shop has
  not added (``shopLocales``) stops the sink with a message saying so: Shopify refuses
  it (INVALID_LOCALE_FOR_SHOP); the changes stay queued.
- Collections: each category path as custom collections, one per level (``collections:
  paths``; ``leaves``: the full path only; ``none``), handle from the path, title the
  level's name (translated from the path in each language); looked up by handle,
  created when missing (a taken handle is looked up, never made twice), products
  added with ``collectionAddProducts`` (membership read first) and removed with
  ``collectionRemoveProducts`` when a product leaves a path. An automated collection
  with that handle refuses the product with a message.
- Filters and specifications as product metafields ``<namespace>.<code>`` with
  definitions created when missing (``metafieldDefinitionCreate``, ``access.storefront:
  PUBLIC_READ``): filters ``list.single_line_text_field`` (numbers
  ``list.number_decimal``), specs ``single_line_text_field``; a definition the merchant
  made as single line text is used as such (values joined, as the product CSV does).
  What the merchant still does: add each filter in the Search & Discovery app
  (filters cannot be created through the Admin API); definition names are not
  translatable through the API (the filter's label is, once it exists).
- ``prices``: fixed prices per price list (``priceListFixedPricesAdd``, an upsert) in
  the list's currency (``priceList``), only for variants whose price there changed.
- ``publications``: new products are published to the named sales channels
  (``publishablePublish``; names resolved once by ``publications``).

What the shop has of each part travels in the variants' remote ids (fingerprints and
the time they were applied, media ids, collection handles): a part that did not
change is not sent, so a file that changes one variant's stock sends one productSet
and one stock call. Every step can be repeated safely (upserts, idempotency keys,
lookups before creates), so a lost answer or a crash never makes anything twice; a
product any step refuses is refused as a whole and sent again with the next file.

Big initial loads: :meth:`ShopifyClient.bulk_product_set` runs the products through
a bulk mutation (staged JSONL upload, ``bulkOperationRunMutation``, poll, read the
result JSONL) [doc §1.7]; the sender uses it (``send_bulk``) when at least the
``bulk_threshold`` option's number of changes is queued.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from filebridge.catalog.spec import MarketPrices, ProductSpec
from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.options import Secret, expand_env
from filebridge.photos.store import is_ref
from filebridge.registry import REGISTRY
from filebridge.sinks.api.base import (
    ApiSinkOptions,
    Change,
    Result,
    ShopClient,
)
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.shopify_catalog import Plan, plan, selling
from filebridge.sinks.api.shopify_media import StagedError, StagedImages
from filebridge.sinks.api.shopify_steps import CatalogSteps
from filebridge.sinks.api.sink import ApiSink
from filebridge.sinks.base import JobInfo
from filebridge.sinks.shopify_csv import STATUSES, handle_of

# The oldest Admin API version with everything the requests below use: productSet's
# identifier argument [changelog "productSet and customerSet mutations now support
# upserts", 2025-04], InventoryQuantityInput.changeFromQuantity and @idempotent
# [changelog and inventorySetQuantities doc, 2026-01].
MIN_VERSION = "2026-01"


class ShopifyOptions(ApiSinkOptions):
    """A Shopify store through the Admin GraphQL API."""

    format: Literal["shopify_api"] = Field(description="Shopify Admin GraphQL API")
    UPLOADS_PHOTOS: ClassVar[bool] = True  # staged uploads, then originalSource
    token: Secret = Field(description="Admin API access token of the store's custom app "
                          "(scopes write_products, write_inventory, read_locations; for the "
                          "catalog also write_translations, read_locales, "
                          "write_publications, write_markets)")
    webhook_secret: Secret | None = Field(
        None, description="the secret Shopify signs the store's order webhooks with (the "
        "app's client secret; for webhooks made in the admin, the key shown under Settings "
        "-> Notifications -> Webhooks; topics orders/create, orders/updated, orders/cancelled, "
        "refunds/create to http(s)://HOST:PORT/hooks/PROFILE/SINK of filebridge serve), as "
        "${ENV_VAR} or file:PATH; without it the sink takes no webhooks")
    api_version: str = Field(MIN_VERSION, pattern=r"^(\d{4}-(01|04|07|10)|unstable)$",
                             description="Admin API version (quarterly, e.g. 2026-01); "
                             f"{MIN_VERSION} or later: productSet upserts by handle "
                             "(2025-04), compare-and-set stock and idempotency keys (2026-01)")

    @field_validator("api_version")
    @classmethod
    def _recent_enough(cls, v: str) -> str:
        if v != "unstable" and v < MIN_VERSION:
            raise ValueError(f"api_version {v} is too old: filebridge needs {MIN_VERSION} or "
                             "later (productSet(identifier: {handle}) exists from 2025-04, "
                             "changeFromQuantity and @idempotent from 2026-01; an older "
                             "version refuses those requests)")
        return v
    on_stale: Literal["overwrite", "reject"] = Field(
        "overwrite", description="when the shop's stock moved since we last set it (e.g. "
        "a web sale): overwrite it with the ERP's figure, or reject the record")
    bulk_threshold: int | None = Field(None, ge=1, description="when at least this many "
                                       "changes are queued (a first load), send catalog "
                                       "upserts as one bulk mutation (staged JSONL upload); "
                                       "unset: never, e.g. 2000")
    prices: dict[str, MarketPrices] = Field(
        default_factory=dict, description="fixed prices per price list (Shopify Markets "
        "catalogs): price list GID -> {price, compare_at_price} mapped fields, e.g. "
        "{'gid://shopify/PriceList/1': {price: price_chf}}; the currency is the list's")
    publications: list[str] = Field(
        default_factory=list, description="sales channels to publish new products to, by "
        "name, e.g. [Online Store, Point of Sale]; unset: none (the merchant publishes)")
    collections: Literal["paths", "leaves", "none"] = Field(
        "paths", description="category paths as custom collections: paths: one per level "
        "(Donna, Donna > Capispalla, …, the product in each); leaves: only the full path; "
        "none: no collections")

    @field_validator("prices")
    @classmethod
    def _price_lists(cls, v: dict[str, MarketPrices]) -> dict[str, MarketPrices]:
        v = {expand_env(k): m for k, m in v.items()}  # ids differ per shop: ${VAR} works
        bad = [k for k in v if not k.startswith("gid://shopify/PriceList/")]
        if bad:
            raise ValueError(f"{', '.join(bad)}: price lists are named by their id, e.g. "
                             "gid://shopify/PriceList/123 (Settings > Markets > Catalogs)")
        return v


def gql_code(error: dict[str, Any]) -> str:
    return str((error.get("extensions") or {}).get("code") or "")


class Bucket:
    """Shopify's cost bucket as the last answer described it, shared by all threads.

    A call reserves the cost its operation needed before (the most seen), so
    parallel threads queue behind each other instead of all being THROTTLED. An
    answer says what the bucket held when the shop answered it; the cost reserved by
    calls still on their way is taken off that figure. Otherwise one thread's answer
    would give the points another thread reserved to a third, and a costly call
    could wait behind cheaper ones round after round until THROTTLE_ROUNDS ran out."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.maximum = self.available = self.restore = 0.0
        self.at = 0.0
        self.costs: dict[str, float] = {}
        self.flying = 0.0  # cost reserved by calls not answered yet

    def reserve(self, op: str) -> float:
        """Wait until the bucket should hold ``op``'s cost, and take it; returns the
        cost taken, for :meth:`update` (or :meth:`release`, when no answer came)."""
        with self.lock:
            if not self.restore:
                return 0.0
            need = self.costs.get(op, 0.0)
            now = time.monotonic()
            available = min(self.maximum, self.available + (now - self.at) * self.restore)
            wait = max(0.0, (need - available) / self.restore)
            self.available, self.at = available - need, now
            self.flying += need
        if wait:
            time.sleep(wait)
        return need

    def release(self, reserved: float) -> None:
        """A call that got no answer: its cost is no longer on its way."""
        with self.lock:
            self.flying = max(0.0, self.flying - reserved)

    def update(self, op: str, cost: dict[str, Any], reserved: float = 0.0) -> None:
        """The answer to a call that reserved ``reserved``, with its ``cost`` (empty
        when the answer has none)."""
        status = cost.get("throttleStatus") or {}
        with self.lock:
            self.flying = max(0.0, self.flying - reserved)
            requested = cost.get("requestedQueryCost")
            if requested is not None:
                self.costs[op] = max(self.costs.get(op, 0.0), float(requested))
            if status.get("restoreRate"):
                self.maximum = float(status["maximumAvailable"])
                # Calls on their way may have been counted by the shop already: then
                # they are taken off twice, and a thread waits a little longer.
                self.available = float(status["currentlyAvailable"]) - self.flying
                self.restore = float(status["restoreRate"])
                self.at = time.monotonic()


class Refused(Exception):
    """The shop refused a whole request (top-level errors other than THROTTLED)."""


USER_ERRORS = "userErrors { code field message }"
VARIANT_FIELDS = "id sku product { id handle variantsCount { count } } inventoryItem { id }"

LOOKUP = ("query Lookup($q: String!, $n: Int!) { productVariants(first: $n, query: $q) "
          "{ nodes { " + VARIANT_FIELDS + " } } }")
LOCATIONS = "query Locations { location { id name } locations(first: 250) { nodes { id name } } }"
LEVELS = ("query Levels($ids: [ID!]!, $loc: ID!) { nodes(ids: $ids) { ... on InventoryItem "
          "{ id inventoryLevel(locationId: $loc) { quantities(names: [\"available\"]) "
          "{ name quantity } } } } }")
STOCK_OF = ("query StockOf($q: String!, $n: Int!, $loc: ID!) { productVariants(first: $n, "
            "query: $q) { nodes { sku inventoryItem { id inventoryLevel(locationId: $loc) { "
            "quantities(names: [\"available\"]) { name quantity } } } } } }")
SET_QUANTITIES = ("mutation SetStock($input: InventorySetQuantitiesInput!, $key: String!) { "
                  "inventorySetQuantities(input: $input) @idempotent(key: $key) { "
                  "inventoryAdjustmentGroup { id } " + USER_ERRORS + " } }")
# variants(first: $n) with n = the variants sent: the requested cost is 2 points per
# variant asked for [doc: rate limits, connections are sized by first], so asking
# for 250 would reserve ~500 points of the bucket on every call.
PRODUCT_SET = ("mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!, "
               "$synchronous: Boolean!, $n: Int!) { productSet(identifier: $identifier, "
               "input: $input, synchronous: $synchronous) { product { id handle "
               "variants(first: $n) { nodes { id sku inventoryItem { id } } } } "
               + USER_ERRORS + " } }")
# The same with what the steps after it need: options and values (translatable
# resources), the media in order (ids for later calls) and the product's collections
# (membership, so a product is never added twice). Sized by $nm / $nc.
PRODUCT_SET_FULL = ("mutation ProductSet($identifier: ProductSetIdentifiers, $input: "
                    "ProductSetInput!, $synchronous: Boolean!, $n: Int!, $nm: Int!, $nc: Int!) "
                    "{ productSet(identifier: $identifier, input: $input, synchronous: "
                    "$synchronous) { product { id handle variants(first: $n) { nodes { id sku "
                    "inventoryItem { id } } } options { id name optionValues { id name } } "
                    "media(first: $nm) { nodes { id alt } } collections(first: $nc) { nodes { "
                    "id handle } } } " + USER_ERRORS + " } }")
PRODUCT_UPDATE = ("mutation Draft($product: ProductUpdateInput!) { productUpdate(product: "
                  "$product) { product { id status } " + USER_ERRORS + " } }")
PRODUCT_DELETE = ("mutation Delete($input: ProductDeleteInput!) { productDelete(input: $input) "
                  "{ deletedProductId " + USER_ERRORS + " } }")
VARIANTS_DELETE = ("mutation DeleteVariants($productId: ID!, $variantsIds: [ID!]!) { "
                   "productVariantsBulkDelete(productId: $productId, variantsIds: $variantsIds) "
                   "{ product { id } " + USER_ERRORS + " } }")
STAGED_UPLOAD = ("mutation Stage($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: "
                 "$input) { stagedTargets { url resourceUrl parameters { name value } } "
                 + USER_ERRORS + " } }")
BULK_RUN = ("mutation Bulk($mutation: String!, $path: String!) { bulkOperationRunMutation("
            "mutation: $mutation, stagedUploadPath: $path) { bulkOperation { id status } "
            + USER_ERRORS + " } }")
BULK_POLL = ("query Poll($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode "
             "objectCount url partialDataUrl } } }")

MAX_ITEMS = 250  # per input array, on every Shopify API [doc]
LOOKUP_CHUNK = 100  # SKUs per search query: keeps the query string short
THROTTLE_ROUNDS = 30
STOCK_CHUNK = 50  # SKUs per stock_of search: each node also carries a level (query cost)


@dataclass
class _Stock:
    change: Change
    item: str  # InventoryItem GID
    quantity: int
    change_from: int | None


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def _errors(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return list((payload or {}).get("userErrors") or [])


def _index(error: dict[str, Any], array: str) -> int | None:
    """The input-array position a userError's ``field`` path points at."""
    path = error.get("field") or []
    for i, part in enumerate(path[:-1]):
        if part == array and str(path[i + 1]).isdigit():
            return int(path[i + 1])
    return None


def _sku_query(skus: list[str]) -> str:
    """``sku:"a" OR sku:"b"`` with quotes and backslashes escaped, as in
    ``ShopifyClient.lookup``."""
    return " OR ".join('sku:"{}"'.format(s.replace("\\", "\\\\").replace('"', '\\"'))
                       for s in skus)


def _set_variables(identifier: dict[str, Any], data: dict[str, Any], full: bool = False,
                   collections: int = 0) -> dict[str, Any]:
    """productSet's variables; ``n`` sizes the variants read back to those sent, ``nm``
    the media (those sent), ``nc`` the collections read (those we file it in, plus
    room for the merchant's own)."""
    n = max(1, min(MAX_ITEMS, len(data.get("variants") or ())))
    out = {"identifier": identifier, "input": data, "synchronous": True, "n": n}
    if full:
        out["nm"] = max(1, min(MAX_ITEMS, len(data.get("files") or ())))
        out["nc"] = max(1, min(MAX_ITEMS, collections + 20)) if collections else 1
    return out


def _ids(variant: dict[str, Any]) -> dict[str, Any]:
    product = variant.get("product") or {}
    ids = {"variant": variant.get("id"), "inventory_item": (variant.get("inventoryItem")
           or {}).get("id"), "product": product.get("id"), "handle": product.get("handle")}
    return {k: v for k, v in ids.items() if v}


class ShopifyClient(CatalogSteps, ShopClient):
    batch_size = 250
    max_batch = 250
    parallel = 4
    bulk_poll: ClassVar[float] = 1.0  # seconds between bulk operation polls (max)

    def __init__(self, options: ShopifyOptions, state: Any):
        super().__init__(options, state)
        self.o: ShopifyOptions = options
        self.http = Http(options.url, options.limits, name="shopify",
                         headers={"X-Shopify-Access-Token": options.token.reveal()})
        self.path = f"/admin/api/{options.api_version}/graphql.json"
        self.bucket = Bucket()
        self.staged = StagedImages(self.must, self.http, lambda: self.photos)
        self._location: str | None = None
        self._lock = threading.Lock()
        # the profile's catalog (set by the sink from map:; a client used alone has
        # one language and reads options off the records)
        self.spec: ProductSpec | None = None
        self.languages: list[str] = []
        self._init_steps()

    def close(self) -> None:
        self.http.close()

    # -- transport -------------------------------------------------------------

    def call(self, op: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One GraphQL request: waits for the bucket, re-sends when THROTTLED, raises
        :class:`Refused` on other top-level errors, returns ``data``."""
        for _ in range(THROTTLE_ROUNDS):
            reserved = self.bucket.reserve(op)
            try:
                body = self.http.json("POST", self.path, {"query": query,
                                                          "variables": variables})
            except BaseException:
                self.bucket.release(reserved)
                raise
            cost = (body.get("extensions") or {}).get("cost") if isinstance(body, dict) \
                else None
            self.bucket.update(op, cost or {}, reserved)
            if not isinstance(body, dict):
                raise RetryableSinkError(f"shopify: {op}: unexpected answer {body!r:.200}")
            errors = body.get("errors") or []
            if any(gql_code(e) == "THROTTLED" for e in errors):
                continue
            if errors:
                text = "; ".join(str(e.get("message", e)) for e in errors)
                codes = {gql_code(e) for e in errors}
                if codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}:
                    raise RetryableSinkError(f"shopify: {op}: {text}")
                if "ACCESS_DENIED" in codes:
                    raise PermanentSinkError(f"shopify: {op}: {text}")
                raise Refused(text)
            return body.get("data") or {}
        raise RetryableSinkError(f"shopify: {op}: still throttled after {THROTTLE_ROUNDS} "
                                 "waits")

    def must(self, op: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """A call that only fails when the request itself is wrong for this shop."""
        try:
            return self.call(op, query, variables)
        except Refused as e:
            raise PermanentSinkError(f"shopify: {op}: {e}") from None

    # -- lookups ---------------------------------------------------------------

    def location(self) -> str:
        with self._lock:
            if self._location is None:
                data = self.must("locations", LOCATIONS, {})
                nodes = (data.get("locations") or {}).get("nodes") or []
                if self.o.location is None:
                    found = data.get("location") or (nodes[0] if nodes else None)
                else:
                    found = next((n for n in nodes if n["name"] == self.o.location), None)
                if not found:
                    known = ", ".join(n["name"] for n in nodes) or "none"
                    raise PermanentSinkError(f"shopify: location {self.o.location!r} not "
                                             f"found; the shop has: {known}")
                self._location = found["id"]
            return self._location

    def lookup(self, skus: list[str], counts: dict[str, int] | None = None
               ) -> dict[str, dict[str, Any]]:
        """SKU -> ids of the shop's variant with exactly that SKU; ``counts`` gets
        each product's number of variants."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(skus)), LOOKUP_CHUNK):
            q = " OR ".join('sku:"{}"'.format(s.replace("\\", "\\\\").replace('"', '\\"'))
                            for s in chunk)
            data = self.must("lookup", LOOKUP, {"q": q, "n": min(MAX_ITEMS, 2 * len(chunk))})
            wanted = set(chunk)
            for v in (data.get("productVariants") or {}).get("nodes") or []:
                # search matches loosely; only an exact SKU counts
                if v.get("sku") in wanted and v["sku"] not in found:
                    found[v["sku"]] = _ids(v)
                    if counts is not None and v.get("product"):
                        counts[v["product"]["id"]] = int(
                            (v["product"].get("variantsCount") or {}).get("count") or 0)
        return found

    def levels(self, items: list[str]) -> dict[str, int | None]:
        """InventoryItem GID -> available quantity at our location."""
        out: dict[str, int | None] = {}
        for chunk in _chunks(sorted(set(items)), MAX_ITEMS):
            data = self.must("levels", LEVELS, {"ids": chunk, "loc": self.location()})
            for node in data.get("nodes") or []:
                if not node:
                    continue
                qs = (node.get("inventoryLevel") or {}).get("quantities") or []
                out[node["id"]] = next((q["quantity"] for q in qs if q["name"] == "available"),
                                       None)
        return out

    def stock_of(self, skus: list[str]) -> dict[str, int | None]:
        """``available`` at our location, in one search per chunk (the variant and its
        level together). Like :meth:`lookup`, the first variant with exactly the SKU
        counts; an item not stocked at the location is None."""
        out: dict[str, int | None] = dict.fromkeys(skus)
        for chunk in _chunks(sorted(set(skus)), STOCK_CHUNK):
            data = self.must("stockOf", STOCK_OF, {"q": _sku_query(chunk), "n": min(
                MAX_ITEMS, 2 * len(chunk)), "loc": self.location()})
            wanted = set(chunk)
            for v in (data.get("productVariants") or {}).get("nodes") or []:
                sku = v.get("sku")
                if sku not in wanted:
                    continue  # search matches loosely; only an exact SKU counts
                wanted.discard(sku)
                level = (v.get("inventoryItem") or {}).get("inventoryLevel") or {}
                out[sku] = next((q["quantity"] for q in level.get("quantities") or []
                                 if q.get("name") == "available"), None)
        return out

    # -- send ------------------------------------------------------------------

    def send(self, changes: list[Change]) -> list[Result]:
        results: dict[int, Result] = {}
        catalog = self.o.sync == "catalog"
        upserts = [c for c in changes if c.op == "upsert" and catalog]
        deletes = [c for c in changes if c.op == "delete"]
        unpublish = [c for c in changes if c.op == "unpublish"]
        stock = [c for c in changes if c.op == "zero" or c.op == "upsert" and not catalog]

        known = {c.key: dict(c.remote) for c in changes if c.remote.get("variant")}
        # Removals are decided on the shop's current state (which product, how many
        # variants it has), so they are always looked up afresh.
        fresh = [c.key for c in deletes + unpublish]
        missing = [c.key for c in changes if c.key not in known or c.key in fresh]
        counts: dict[str, int] = {}
        learned = self.lookup(missing, counts) if missing else {}
        for key in fresh:
            known.pop(key, None)
        known.update(learned)

        if deletes:
            results.update(self._delete(deletes, known, counts))
        if upserts:
            gone = {c.key for c in deletes}
            results.update(self._product_sets(upserts, known, gone))
        if unpublish:
            results.update(self._unpublish(unpublish, known, counts))
            stock += unpublish
        results.update(self._stock(stock, known, learned, results))
        return [results[c.id] for c in changes]

    # -- stock -----------------------------------------------------------------

    def _stock(self, changes: list[Change], known: dict[str, dict[str, Any]],
               learned: dict[str, dict[str, Any]], before: dict[int, Result]
               ) -> dict[int, Result]:
        results: dict[int, Result] = {}
        items: list[_Stock] = []
        for c in changes:
            ids = known.get(c.key) or {}
            remote = learned.get(c.key)
            if c.op == "upsert" and "stock" not in c.record:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: the record has no stock")
            elif not ids.get("inventory_item"):
                ok = c.op != "upsert"  # zero/unpublish of a SKU the shop lacks: nothing to do
                results[c.id] = Result(c.id, ok, "" if ok else f"SKU {c.key} is not in the shop")
            else:
                quantity = int(c.record.get("stock") or 0) if c.op == "upsert" else 0
                last = (c.previous or {}).get("stock")
                if last is not None and int(last) == quantity:
                    results[c.id] = Result(c.id, True, remote=remote)
                else:
                    items.append(_Stock(c, ids["inventory_item"], quantity,
                                        None if last is None else int(last)))
        failed = self.set_quantities(items)
        for s in items:
            c = s.change
            prior = before.get(c.id)
            if prior is not None and not prior.ok:
                results[c.id] = prior
                continue
            message = failed.get(c.id)
            remote = (prior.remote if prior else None) or learned.get(c.key)
            results[c.id] = Result(c.id, message is None, message or "", remote)
        return results

    def set_quantities(self, items: list[_Stock]) -> dict[int, str]:
        """Set stock with compare-and-set; returns change id -> message for failures."""
        failed: dict[int, str] = {}
        stale: list[_Stock] = []
        for chunk in _chunks(items, MAX_ITEMS):
            while chunk:  # the call is all or nothing: drop the refused items, re-send
                errors = self._set(chunk)
                if not errors:
                    break
                for i, (code, message) in errors.items():
                    s = chunk[i]
                    if code == "CHANGE_FROM_QUANTITY_STALE":
                        stale.append(s)
                    else:
                        failed[s.change.id] = f"SKU {s.change.key}: {message}"
                chunk = [s for i, s in enumerate(chunk) if i not in errors]
        if stale:
            failed.update(self._restale(stale))
        return failed

    def _restale(self, stale: list[_Stock]) -> dict[int, str]:
        failed: dict[int, str] = {}
        current = self.levels([s.item for s in stale])
        again = []
        for s in stale:
            now = current.get(s.item)
            if now == s.quantity:
                continue  # already what we want: an earlier attempt landed
            if self.o.on_stale == "reject":
                failed[s.change.id] = (f"SKU {s.change.key}: the shop's stock changed since "
                                       f"filebridge last set it (now {now}, we set "
                                       f"{s.change_from}); not overwritten (on_stale: reject)")
            else:
                again.append(_Stock(s.change, s.item, s.quantity, now))
        for chunk in _chunks(again, MAX_ITEMS):
            while chunk:
                errors = self._set(chunk)
                for i, (_code, message) in errors.items():
                    failed[chunk[i].change.id] = f"SKU {chunk[i].change.key}: {message}"
                chunk = [s for i, s in enumerate(chunk) if i not in errors] if errors else []
        return failed

    def _set(self, chunk: list[_Stock]) -> dict[int, tuple[str, str]]:
        """One inventorySetQuantities call; position -> (code, message) of refusals."""
        location = self.location()
        quantities = [{"inventoryItemId": s.item, "locationId": location,
                       "quantity": s.quantity, "changeFromQuantity": s.change_from}
                      for s in chunk]
        # One key per distinct call content: a re-sent identical call is applied once,
        # a different one (fresh changeFromQuantity) is not mistaken for it.
        # (attempts: a later delivery gets a new key, as a failed key cannot be reused;
        # compare-and-set keeps that one from applying twice.)
        key = str(uuid.UUID(hashlib.sha256(json.dumps(
            [[(s.change.idem, s.change.attempts) for s in chunk], quantities]).encode()
        ).hexdigest()[:32]))
        data = self.must("inventorySetQuantities", SET_QUANTITIES, {"key": key, "input": {
            "name": "available", "reason": "correction",
            "referenceDocumentUri": f"gid://filebridge/Outbox/{chunk[0].change.id}",
            "quantities": quantities}})
        out: dict[int, tuple[str, str]] = {}
        for e in _errors(data.get("inventorySetQuantities") or {}):
            i = _index(e, "quantities")
            for j in ([i] if i is not None and i < len(chunk) else range(len(chunk))):
                out[j] = (str(e.get("code") or ""), str(e.get("message") or e))
        return out

    # -- catalog ---------------------------------------------------------------

    def _groups(self, changes: list[Change]) -> dict[str, list[Change]]:
        groups: dict[str, list[Change]] = defaultdict(list)
        for c in changes:
            product = c.record.get("product")
            groups[f"p:{product}" if product not in (None, "") else f"s:{c.key}"].append(c)
        return groups

    def plan(self, group: list[Change], siblings: list[dict[str, Any]], gone: set[str]
             ) -> Plan:
        """The product of one group of changes, and what of it the shop lacks."""
        return plan(group, siblings, gone, self.spec, self.languages[1:],
                    self.o.publications, self.o.collections)

    def product_input(self, p: Plan, known: dict[str, dict[str, Any]]
                      ) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
        """productSet ``identifier`` and ``input`` for one product, plus the SKUs whose
        stock still needs a compare-and-set. Every variant goes in (productSet deletes
        the ones left out), in the product's option order; ``files`` only when the
        images changed (omitted, the product's media stay as they are), each image the
        shop has already by its media id (not downloaded again)."""
        prod, mine = p.product, {c.key for c in p.group}
        product_id = next((known[k]["product"] for k in p.records
                           if known.get(k, {}).get("product")), None)
        handle = prod.fields.get("handle")
        identifier = ({"id": product_id} if product_id else
                      {"handle": str(handle or handle_of(str(prod.key)))})
        data: dict[str, Any] = {}
        for name, key in (("title", "title"), ("description", "descriptionHtml"),
                          ("vendor", "vendor"), ("product_type", "productType"),
                          ("handle", "handle")):
            if prod.fields.get(name) not in (None, ""):
                data[key] = str(prod.fields[name])
        tags = prod.fields.get("tags")
        if tags:
            data["tags"] = [str(t) for t in tags]
        if prod.fields.get("status"):
            data["status"] = str(prod.fields["status"]).upper()
        category = prod.fields.get("category")
        if isinstance(category, str) and category.startswith("gid://shopify/TaxonomyCategory/"):
            data["category"] = category
        options = [] if prod.simple else prod.options
        if options:
            data["productOptions"] = [{"name": o.name, "position": i, "values": [
                {"name": v} for v in o.values]} for i, o in enumerate(options, 1)]
        else:  # a one-variant product
            data["productOptions"] = [{"name": "Title", "position": 1,
                                       "values": [{"name": "Default Title"}]}]
        media = p.media if product_id else {}
        files = None
        if "images" in p.send and (p.images or media):
            files = [{"id": media[u], "alt": alt} if u in media else
                     {"originalSource": self._source(u), "alt": alt, "contentType": "IMAGE"}
                     for u, alt, _ in p.images]
            data["files"] = files
        variants, cas = [], set()
        for sku, r in p.records.items():
            values = prod.option_values(r)
            v: dict[str, Any] = {"sku": sku, "optionValues": [
                {"optionName": o.name, "name": val} for o, val in zip(options, values,
                                                                      strict=True)]
                if options else [{"optionName": "Title", "name": "Default Title"}]}
            price, compare = selling(r)
            if price is not None:
                v["price"] = price
            if compare is not None or "compare_at_price" in r or r.get("sale_price"):
                v["compareAtPrice"] = compare  # null clears it when a sale ends
            if r.get("barcode") not in (None, ""):
                v["barcode"] = str(r["barcode"])
            if files is not None and p.variant_image.get(sku):
                url = p.variant_image[sku]
                v["file"] = {"id": media[url]} if url in media else {
                    "originalSource": self._source(url),
                    "alt": next(a for u, a, _ in p.images if u == url), "contentType": "IMAGE"}
            item: dict[str, Any] = {"tracked": True}
            if r.get("weight") is not None:
                item["measurement"] = {"weight": {"value": r["weight"], "unit": "GRAMS"}}
            v["inventoryItem"] = item
            if known.get(sku, {}).get("variant"):
                v["id"] = known[sku]["variant"]
                if sku in mine and r.get("stock") is not None:
                    cas.add(sku)
            elif r.get("stock") is not None:  # a new variant: its first stock, here
                v["inventoryQuantities"] = [{"locationId": self.location(),
                                             "name": "available", "quantity": int(r["stock"])}]
            variants.append(v)
        data["variants"] = variants
        return identifier, data, cas

    def _source(self, url: str) -> str:
        """An image's ``originalSource``: its URL, or a stored photo's staged upload
        (raises StagedError)."""
        return self.staged.source(url) if is_ref(url) else url

    def _plans(self, changes: list[Change], known: dict[str, dict[str, Any]],
               gone: set[str]) -> list[Plan]:
        groups = list(self._groups(changes).values())
        siblings = [self.state.siblings(str(p)) if (p := g[0].record.get("product"))
                    not in (None, "") else [] for g in groups]
        for sibs in siblings:
            for s in sibs:
                if (s.get("_remote") or {}).get("variant"):
                    known.setdefault(str(s["sku"]), s["_remote"])
        lost = [str(s["sku"]) for sibs in siblings for s in sibs if s.get("sku")
                and str(s["sku"]) not in known]
        if lost:
            known.update(self.lookup(lost))
        return [self.plan(g, sibs, gone) for g, sibs in zip(groups, siblings, strict=True)]

    def _product_sets(self, changes: list[Change], known: dict[str, dict[str, Any]],
                      gone: set[str]) -> dict[int, Result]:
        plans = self._plans(changes, known, gone)
        stock: set[str] = set()
        for p in plans:
            payload, cas = self._product_set(p, known)
            if self._vanished(payload):
                # deleted in the shop since we last saw it: create it afresh by handle
                payload, cas = self._product_set(p.fresh(), {})
            elif self._stale_media(payload):
                # the shop's media are not the ones we last saw: send the images by URL
                p.old = {k: v for k, v in p.old.items() if k != "media"}
                payload, cas = self._product_set(p, known)
            self._answer(p, payload, known)
            stock |= cas
        self.steps(plans)
        results = self._results(plans)
        return self._then_stock(results, changes, known, stock)

    def _product_set(self, p: Plan, known: dict[str, dict[str, Any]]
                     ) -> tuple[dict[str, Any], set[str]]:
        try:
            identifier, data, cas = self.product_input(p, known)
        except StagedError as e:  # a stored photo could not be staged: this product only
            return {"userErrors": [{"message": str(e)}]}, set()
        variables = _set_variables(identifier, data, True, len(p.collections)
                                   if "collections" in p.send else 0)
        try:
            payload = self.call("productSet", PRODUCT_SET_FULL, variables)
        except Refused as e:  # e.g. an invalid price: this product only
            return {"userErrors": [{"message": str(e)}]}, cas
        return payload.get("productSet") or {}, cas

    @staticmethod
    def _vanished(payload: dict[str, Any]) -> bool:
        return any(e.get("code") in ("PRODUCT_DOES_NOT_EXIST", "PRODUCT_VARIANT_DOES_NOT_EXIST")
                   for e in _errors(payload))

    @staticmethod
    def _stale_media(payload: dict[str, Any]) -> bool:
        return any("files" in (e.get("field") or []) and e.get("code") in (
            "FILE_DOES_NOT_EXIST", None) for e in _errors(payload))

    def _answer(self, p: Plan, payload: dict[str, Any], known: dict[str, dict[str, Any]]
                ) -> None:
        """Take in productSet's answer: the product, its variants' ids, its media."""
        errors = _errors(payload)
        product = payload.get("product")
        if errors or not product:
            p.fail("; ".join(str(e.get("message")) for e in errors) or "no product returned")
            return
        p.answer = product
        nodes = {v["sku"]: v for v in (product.get("variants") or {}).get("nodes") or []}
        for sku in p.records:
            if sku in nodes:
                known[sku] = _ids({**nodes[sku], "product": product})
        if "images" in p.send:
            shown = (product.get("media") or {}).get("nodes") or []
            # productSet keeps the files' order: the n-th media is the n-th image
            p.answer["media_ids"] = {u: m["id"]
                                     for (u, _, _), m in zip(p.images, shown, strict=False)}

    def _results(self, plans: list[Plan]) -> dict[int, Result]:
        """One result per change; the remote ids carry what the shop now has of the
        product (aspects, media, collections), for the next file's comparison."""
        results: dict[int, Result] = {}
        now = time.time()
        for p in plans:
            product = p.answer
            nodes = {v["sku"]: v for v in (product.get("variants") or {}).get("nodes") or []}
            media = (list(product["media_ids"].items()) if "media_ids" in product
                     else p.old.get("media") or [])
            shared = {"aspects": p.aspects, "at": now, "media": media,
                      "collections": [c.handle for c in p.collections]}
            for c in p.group:
                if c.id in p.refused:
                    results[c.id] = Result(c.id, False, f"SKU {c.key}: {p.refused[c.id]}")
                elif p.failed:
                    results[c.id] = Result(c.id, False, f"SKU {c.key}: {p.failed}")
                elif c.key not in nodes:
                    results[c.id] = Result(c.id, False, f"SKU {c.key}: the shop's product "
                                           f"{product.get('handle')} has no variant with "
                                           "this SKU")
                else:
                    ids = _ids({**nodes[c.key], "product": product})
                    results[c.id] = Result(c.id, True, remote={**ids, **shared})
        return results

    def _then_stock(self, results: dict[int, Result], changes: list[Change],
                    known: dict[str, dict[str, Any]], cas: set[str]) -> dict[int, Result]:
        """Stock of variants that existed before the productSet: compare-and-set, all
        the batch's products in as few calls as possible."""
        stock = [c for c in changes if c.key in cas and results[c.id].ok]
        changed = self._stock(stock, known, {}, results)
        for c in stock:
            results[c.id] = Result(c.id, changed[c.id].ok, changed[c.id].message,
                                   results[c.id].remote)
        return results

    def _by_product(self, changes: list[Change], known: dict[str, dict[str, Any]]
                    ) -> dict[str, list[Change]]:
        groups: dict[str, list[Change]] = defaultdict(list)
        for c in changes:
            if known.get(c.key, {}).get("product"):
                groups[known[c.key]["product"]].append(c)
        return groups

    def _unpublish(self, changes: list[Change], known: dict[str, dict[str, Any]],
                   counts: dict[str, int]) -> dict[int, Result]:
        """A product all of whose variants are unpublished goes to DRAFT; the stock
        part (0) is done by the caller."""
        results: dict[int, Result] = {}
        for product_id, group in self._by_product(changes, known).items():
            if counts.get(product_id, 0) > len(group):
                continue  # other variants stay on sale: these only get stock 0
            data = self.call("productUpdate", PRODUCT_UPDATE, {"product": {
                "id": product_id, "status": "DRAFT"}}).get("productUpdate") or {}
            text = "; ".join(str(e.get("message")) for e in _errors(data))
            for c in group if text else []:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: {text}")
        return results

    def _delete(self, changes: list[Change], known: dict[str, dict[str, Any]],
                counts: dict[str, int]) -> dict[int, Result]:
        """Delete the variants; a product losing all its variants is deleted whole."""
        results = {c.id: Result(c.id, True) for c in changes}  # not in the shop: gone
        for product_id, group in self._by_product(changes, known).items():
            if counts.get(product_id, 0) > len(group):
                data = self.call("productVariantsBulkDelete", VARIANTS_DELETE, {
                    "productId": product_id,
                    "variantsIds": [known[c.key]["variant"] for c in group]})
                errors = _errors(data.get("productVariantsBulkDelete") or {})
            else:
                data = self.call("productDelete", PRODUCT_DELETE, {"input": {"id": product_id}})
                errors = [e for e in _errors(data.get("productDelete") or {})
                          if e.get("code") != "PRODUCT_DOES_NOT_EXIST"]
            text = "; ".join(str(e.get("message")) for e in errors)
            for c in group if text else []:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: {text}")
        return results

    # -- bulk ------------------------------------------------------------------

    def send_bulk(self, changes: list[Change]) -> list[Result]:
        """The sender's first-load path: catalog upserts through one bulk mutation,
        anything else through :meth:`send` in batches."""
        bulk = [c for c in changes if self.o.sync == "catalog" and c.op == "upsert"]
        picked = {c.id for c in bulk}
        rest = [c for c in changes if c.id not in picked]
        out = self.bulk_product_set(bulk) if bulk else []
        for i in range(0, len(rest), self.batch_size):
            out += self.send(rest[i:i + self.batch_size])
        return out

    def bulk_product_set(self, changes: list[Change]) -> list[Result]:
        """Catalog upserts through one bulk mutation, for big initial loads: a JSONL of
        productSet variables is uploaded to a staged target, run, polled until done,
        and its result JSONL is mapped back to the changes (``__lineNumber`` = the
        product's line). Other ops go through :meth:`send`."""
        if self.o.sync != "catalog" or any(c.op != "upsert" for c in changes):
            return self.send(changes)
        known = {c.key: dict(c.remote) for c in changes if c.remote.get("variant")}
        missing = [c.key for c in changes if c.key not in known]
        if missing:
            known.update(self.lookup(missing))
        plans = self._plans(changes, known, set())
        lines: list[str] = []
        stock: list[set[str]] = []
        line_of: dict[int, int] = {}  # plan -> its line (a plan refused before has none)
        for i, p in enumerate(plans):
            try:
                identifier, data, cas = self.product_input(p, known)
            except StagedError as e:  # a stored photo could not be staged
                p.fail(str(e))
                stock.append(set())
                continue
            line_of[i] = len(lines)
            lines.append(json.dumps(_set_variables(identifier, data, True, len(
                p.collections) if "collections" in p.send else 0)))
            stock.append(cas)
        status, rows = self._bulk_run("\n".join(lines) + "\n") if lines else ("", {})
        for i, p in enumerate(plans):
            if i not in line_of:
                continue
            row = rows.get(line_of[i])
            if row is None:
                payload = {"userErrors": [{"message": f"the bulk operation ended {status} "
                                           "before this product"}]}
            elif row.get("errors"):
                payload = {"userErrors": [{"message": "; ".join(
                    str(e.get("message", e)) for e in row["errors"])}]}
            else:
                payload = (row.get("data") or {}).get("productSet") or {}
            self._answer(p, payload, known)
        self.steps(plans)  # the rest of each product, as after a productSet
        results = self._then_stock(self._results(plans), changes, known,
                                   set().union(*stock))
        return [results[c.id] for c in changes]

    def _bulk_run(self, jsonl: str) -> tuple[str, dict[int, dict[str, Any]]]:
        """Upload, run and wait for one bulk productSet; line number -> result row."""
        staged = self.must("stagedUploadsCreate", STAGED_UPLOAD, {"input": [{
            "resource": "BULK_MUTATION_VARIABLES", "filename": "filebridge.jsonl",
            "mimeType": "text/jsonl", "httpMethod": "POST"}]}).get("stagedUploadsCreate") or {}
        if _errors(staged) or not staged.get("stagedTargets"):
            raise PermanentSinkError("shopify: stagedUploadsCreate: " + "; ".join(
                str(e.get("message")) for e in _errors(staged)))
        target = staged["stagedTargets"][0]
        params = {p["name"]: p["value"] for p in target["parameters"]}
        # The staged target is storage, not the shop: it must not see the token.
        self.http.request("POST", target["url"], data=params, headers={
            "X-Shopify-Access-Token": None}, files={"file": (
                "filebridge.jsonl", jsonl.encode(), "text/jsonl")})
        run = self.must("bulkOperationRunMutation", BULK_RUN, {
            "mutation": PRODUCT_SET_FULL, "path": params["key"],
        }).get("bulkOperationRunMutation") or {}
        if _errors(run) or not run.get("bulkOperation"):
            # e.g. another bulk mutation still running: try again later
            raise RetryableSinkError("shopify: bulkOperationRunMutation: " + "; ".join(
                str(e.get("message")) for e in _errors(run)))
        op_id, wait = run["bulkOperation"]["id"], 0.05
        while True:
            op = self.must("bulkOperation", BULK_POLL, {"id": op_id}).get("node") or {}
            if op.get("status") not in ("CREATED", "RUNNING", "CANCELING"):
                break
            time.sleep(wait)
            wait = min(wait * 2, self.bulk_poll)
        url = op.get("url") or op.get("partialDataUrl")
        if not url:
            if op.get("status") == "COMPLETED":  # nothing came back: every line lost
                return "COMPLETED", {}
            raise RetryableSinkError(f"shopify: bulk operation {op_id} ended "
                                     f"{op.get('status')} ({op.get('errorCode')})")
        resp = self.http.request("GET", url, headers={"X-Shopify-Access-Token": None})
        rows: dict[int, dict[str, Any]] = {}
        for line in resp.text.splitlines():
            if line.strip():
                row = json.loads(line)
                rows[int(row.get("__lineNumber", len(rows)))] = row
        return str(op.get("status")), rows


@REGISTRY.sink("shopify_api")
class ShopifySink(ApiSink):
    Options = ShopifyOptions
    Client = ShopifyClient
    client: ShopifyClient  # client_for builds it from Client
    DAY_PRICE = True  # no scheduled sale price: the delta re-sends on its first/last day
    ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"status": STATUSES}
    CARRIES: ClassVar[dict[str, str]] = {
        "translations": "translationsRegister (product, options and values, image alt "
                        "texts, metafield values, collection titles) into the shop's locales",
        "categories": "custom collections per path level (created by handle), "
                      "collectionAddProducts",
        "filters": "list metafields with definitions (metafieldDefinitionCreate); filters "
                   "are switched on in Search & Discovery",
        "specs": "metafields with definitions",
        "sale_dates": "the price in force on the file's date (price, compareAtPrice), re-sent "
                      "the day a sale starts or ends",
        "market_prices": "prices: fixed prices per price list (priceListFixedPricesAdd)",
        "images": "productSet files in order with alt text, variant file; unchanged images "
                  "not re-sent",
        "barcode": "variant barcode",
        "locations": "location: stock at one named location",
    }

    def bind(self, job: JobInfo) -> None:
        super().bind(job)
        m = getattr(job, "map", None)
        if m is not None:
            self.client.spec = m.product
            self.client.languages = list(m.languages)
