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
the shop's current state, never on a stale id. ``published``, ``image`` and a ``category`` that is not a
taxonomy GID are not sent (publishing to sales channels needs publication ids).

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

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.options import Secret
from filebridge.registry import REGISTRY
from filebridge.sinks.api.base import (
    ApiSink,
    ApiSinkOptions,
    Change,
    Result,
    ShopClient,
)
from filebridge.sinks.api.http import Http
from filebridge.sinks.shopify_csv import handle_of

# The oldest Admin API version with everything the requests below use: productSet's
# identifier argument [changelog "productSet and customerSet mutations now support
# upserts", 2025-04], InventoryQuantityInput.changeFromQuantity and @idempotent
# [changelog and inventorySetQuantities doc, 2026-01].
MIN_VERSION = "2026-01"


class ShopifyOptions(ApiSinkOptions):
    """A Shopify store through the Admin GraphQL API."""

    format: Literal["shopify_api"] = Field(description="Shopify Admin GraphQL API")
    token: Secret = Field(description="Admin API access token of the store's custom app "
                          "(scopes write_products, write_inventory, read_locations)")
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


def gql_code(error: dict[str, Any]) -> str:
    return str((error.get("extensions") or {}).get("code") or "")


class Bucket:
    """Shopify's cost bucket as the last answer described it, shared by all threads.

    A call reserves the cost its operation needed before (the most seen), so
    parallel threads queue behind each other instead of all being THROTTLED."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.maximum = self.available = self.restore = 0.0
        self.at = 0.0
        self.costs: dict[str, float] = {}

    def reserve(self, op: str) -> None:
        with self.lock:
            if not self.restore:
                return
            need = self.costs.get(op, 0.0)
            now = time.monotonic()
            available = min(self.maximum, self.available + (now - self.at) * self.restore)
            wait = max(0.0, (need - available) / self.restore)
            self.available, self.at = available - need, now
        if wait:
            time.sleep(wait)

    def update(self, op: str, cost: dict[str, Any]) -> None:
        status = cost.get("throttleStatus") or {}
        with self.lock:
            requested = cost.get("requestedQueryCost")
            if requested is not None:
                self.costs[op] = max(self.costs.get(op, 0.0), float(requested))
            if status.get("restoreRate"):
                self.maximum = float(status["maximumAvailable"])
                self.available = float(status["currentlyAvailable"])
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


def _set_variables(identifier: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """productSet's variables; ``n`` sizes the variants read back to those sent."""
    n = max(1, min(MAX_ITEMS, len(data.get("variants") or ())))
    return {"identifier": identifier, "input": data, "synchronous": True, "n": n}


def _ids(variant: dict[str, Any]) -> dict[str, Any]:
    product = variant.get("product") or {}
    ids = {"variant": variant.get("id"), "inventory_item": (variant.get("inventoryItem")
           or {}).get("id"), "product": product.get("id"), "handle": product.get("handle")}
    return {k: v for k, v in ids.items() if v}


class ShopifyClient(ShopClient):
    batch_size = 250
    max_batch = 250
    parallel = 4
    bulk_poll: ClassVar[float] = 1.0  # seconds between bulk operation polls (max)

    def __init__(self, options: ShopifyOptions, state: Any):  # type: ignore[override]
        super().__init__(options, state)
        self.o: ShopifyOptions = options
        self.http = Http(options.url, options.limits, name="shopify",
                         headers={"X-Shopify-Access-Token": options.token.reveal()})
        self.path = f"/admin/api/{options.api_version}/graphql.json"
        self.bucket = Bucket()
        self._location: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    # -- transport -------------------------------------------------------------

    def call(self, op: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One GraphQL request: waits for the bucket, re-sends when THROTTLED, raises
        :class:`Refused` on other top-level errors, returns ``data``."""
        for _ in range(THROTTLE_ROUNDS):
            self.bucket.reserve(op)
            body = self.http.json("POST", self.path, {"query": query, "variables": variables})
            if not isinstance(body, dict):
                raise RetryableSinkError(f"shopify: {op}: unexpected answer {body!r:.200}")
            cost = (body.get("extensions") or {}).get("cost")
            if cost:
                self.bucket.update(op, cost)
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

    def product_input(self, changes: list[Change], siblings: list[dict[str, Any]],
                      known: dict[str, dict[str, Any]], gone: set[str]
                      ) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
        """productSet ``identifier`` and ``input`` for one product's changes, plus the
        SKUs whose stock still needs a compare-and-set."""
        product = changes[0].record.get("product")
        mine = {c.key for c in changes}
        records: dict[str, dict[str, Any]] = {}
        for s in siblings:
            sku = str(s.get("sku") or "")
            if sku and sku not in gone:
                records[sku] = s
        for c in changes:
            records[c.key] = c.record
        # product fields: this batch's records first, then what the shop has from us
        ordered = [c.record for c in changes] + [r for k, r in records.items() if k not in mine]

        def first(name: str) -> Any:
            return next((r[name] for r in ordered if r.get(name) not in (None, "", [])), None)

        product_id = next((known[k]["product"] for k in records
                           if known.get(k, {}).get("product")), None)
        handle = first("handle")
        identifier = ({"id": product_id} if product_id else
                      {"handle": str(handle or handle_of(str(product or changes[0].key)))})
        data: dict[str, Any] = {}
        for name, key in (("title", "title"), ("description", "descriptionHtml"),
                          ("vendor", "vendor"), ("product_type", "productType"),
                          ("handle", "handle")):
            if first(name) is not None:
                data[key] = str(first(name))
        tags = first("tags")
        if tags is not None:
            data["tags"] = tags if isinstance(tags, list) else [
                t.strip() for t in str(tags).split(",") if t.strip()]
        if first("status"):
            data["status"] = str(first("status")).upper()
        category = first("category")
        if isinstance(category, str) and category.startswith("gid://shopify/TaxonomyCategory/"):
            data["category"] = category

        default = [{"name": "Title", "value": "Default Title"}]  # a one-variant product
        options: dict[str, list[str]] = {}
        for r in records.values():
            for o in r.get("options") or default:
                values = options.setdefault(str(o["name"]), [])
                if str(o["value"]) not in values:
                    values.append(str(o["value"]))
        data["productOptions"] = [{"name": n, "position": i, "values": [{"name": v}
                                  for v in vs]} for i, (n, vs) in enumerate(options.items(), 1)]
        variants, cas = [], set()
        for sku, r in records.items():
            v: dict[str, Any] = {"sku": sku, "optionValues": [
                {"optionName": str(o["name"]), "name": str(o["value"])}
                for o in r.get("options") or default]}
            for name, key in (("price", "price"), ("compare_at_price", "compareAtPrice"),
                              ("barcode", "barcode")):
                if r.get(name) not in (None, ""):
                    v[key] = str(r[name])
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

    def _product_sets(self, changes: list[Change], known: dict[str, dict[str, Any]],
                      gone: set[str]) -> dict[int, Result]:
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
        results: dict[int, Result] = {}
        stock: set[str] = set()
        for group, sibs in zip(groups, siblings):
            payload, cas = self._product_set(group, sibs, known, gone)
            if self._vanished(payload):
                # deleted in the shop since we last saw it: create it afresh by handle
                payload, cas = self._product_set(group, sibs, {}, gone)
            results.update(self._set_results(group, payload, known, cas))
            stock |= cas
        return self._then_stock(results, changes, known, stock)

    def _product_set(self, group: list[Change], siblings: list[dict[str, Any]],
                     known: dict[str, dict[str, Any]], gone: set[str]
                     ) -> tuple[dict[str, Any], set[str]]:
        identifier, data, cas = self.product_input(group, siblings, known, gone)
        try:
            payload = self.call("productSet", PRODUCT_SET, _set_variables(identifier, data))
        except Refused as e:  # e.g. an invalid price: this product only
            return {"userErrors": [{"message": str(e)}]}, cas
        return payload.get("productSet") or {}, cas

    @staticmethod
    def _vanished(payload: dict[str, Any]) -> bool:
        return any(e.get("code") in ("PRODUCT_DOES_NOT_EXIST", "PRODUCT_VARIANT_DOES_NOT_EXIST")
                   for e in _errors(payload))

    def _set_results(self, group: list[Change], payload: dict[str, Any],
                     known: dict[str, dict[str, Any]], cas: set[str]) -> dict[int, Result]:
        errors = _errors(payload)
        product = payload.get("product")
        if errors or not product:
            text = "; ".join(str(e.get("message")) for e in errors) or "no product returned"
            return {c.id: Result(c.id, False, f"SKU {c.key}: {text}") for c in group}
        results = {}
        nodes = {v["sku"]: v for v in (product.get("variants") or {}).get("nodes") or []}
        for c in group:
            v = nodes.get(c.key)
            if v is None:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: the shop's product "
                                       f"{product['handle']} has no variant with this SKU")
                continue
            ids = _ids({**v, "product": product})
            known[c.key] = ids
            results[c.id] = Result(c.id, True, remote=ids)
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
        groups = list(self._groups(changes).values())
        lines, stock = [], []
        for group in groups:
            product = group[0].record.get("product")
            siblings = self.state.siblings(str(product)) if product not in (None, "") else []
            for s in siblings:
                if (s.get("_remote") or {}).get("variant"):
                    known.setdefault(str(s["sku"]), s["_remote"])
            identifier, data, cas = self.product_input(group, siblings, known, set())
            lines.append(json.dumps(_set_variables(identifier, data)))
            stock.append(cas)
        status, rows = self._bulk_run("\n".join(lines) + "\n")
        results: dict[int, Result] = {}
        for i, (group, cas) in enumerate(zip(groups, stock, strict=True)):
            row = rows.get(i)
            if row is None:
                payload = {"userErrors": [{"message": f"the bulk operation ended {status} "
                                           "before this product"}]}
            elif row.get("errors"):
                payload = {"userErrors": [{"message": "; ".join(
                    str(e.get("message", e)) for e in row["errors"])}]}
            else:
                payload = (row.get("data") or {}).get("productSet") or {}
            results.update(self._set_results(group, payload, known, cas))
        results = self._then_stock(results, changes, known, set().union(*stock))
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
            "mutation": PRODUCT_SET, "path": params["key"]}).get("bulkOperationRunMutation") or {}
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
