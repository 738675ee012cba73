"""Vendure 3.x through its Admin GraphQL API (``vendure_api``).

Facts relied on, read in ``@vendure/core`` 3.7.3 [code] (``dist/api/schema/admin-api``
and ``dist/service/services``):

- Auth: the ``login`` mutation answers a ``CurrentUser`` or an ``ErrorResult`` and,
  with ``tokenMethod: 'bearer'``, puts the session token in the ``vendure-auth-token``
  response header; requests carry ``Authorization: Bearer``. An expired or unknown
  token gives HTTP 200 with an error whose ``extensions.code`` is ``FORBIDDEN``: the
  client logs in again once. (API keys work too but are far slower per call.)
- Errors: HTTP 200 with ``errors[]`` (message, ``path``, ``extensions.code``). Each
  mutation field runs in its own transaction, so one bad item in
  ``createProductVariants``/``updateProductVariants`` rolls back the whole call;
  the client then sends that chunk's items one by one to learn which failed.
- Request bodies above Express's 100 kB default are refused with an empty HTTP 500
  (which would be retried in vain), and a list query may take at most 1000 items
  (``adminListQueryLimit``): mutations are split by size, and a single record too
  large to send is refused.
- SKUs are NOT unique in Vendure. Lookups use ``productVariants(options: {filter:
  {sku: {in: [...]}}})``; a SKU held by several variants is refused with their ids,
  never guessed.
- A product needs one option group per varying attribute before it can hold more
  than one variant ("A ProductVariant with the selected options already exists").
  Option groups and options are created and attached on demand; a variant's options
  are set when it is created and not changed afterwards.
- Prices are integers in minor units of the channel's currency (``Money``); decimal
  strings are converted exactly, more decimals than ``currency_digits`` refuse the
  record. Stock is absolute: ``stockOnHand`` (default location) or ``stockLevels``
  per stock location; Vendure refuses stock below the out-of-stock threshold.

Decisions where Vendure is silent: ``unpublish`` disables the variant, and its
product as well when the product has no other variant we know of (a later upsert
enables both again); a catalog upsert writes the product's name, description and
``enabled`` (from ``published``/``status``) in one ``updateProducts`` per batch; ``delete``
soft-deletes the variant (its product stays); barcode, weight, compare_at_price,
vendor, tags and images are not written (Vendure has no built-in field for them).
Creates are never retried inside a call (a dropped answer may hide a created
variant): the SKUs are looked up again and the outbox retries what is still missing.
A new variant's product is found by slug (``handle``, else the slugified product
key) before one is created, so a product made by a failed attempt is reused;
products and option groups are created under a per-product lock so parallel
batches never make one twice. The server works one request at a time (Node), so
``parallel`` above 2 gains nothing.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.options import Secret
from filebridge.registry import REGISTRY
from filebridge.sinks.api.base import (
    ApiSink,
    ApiSinkOptions,
    Change,
    Result,
    ShopClient,
    State,
)
from filebridge.sinks.api.http import Http

MAX_BODY = 90_000  # bytes of inputs per request: Express refuses bodies over 100 kB
BODY_LIMIT = 100 * 1024

VARIANT = "id sku productId"
LOOKUP = "query($s:[String!]!,$n:Int!){productVariants(options:{take:$n,filter:{sku:{in:$s}}})" \
         "{items{" + VARIANT + "}}}"
STOCK_OF = "query($s:[String!]!,$n:Int!){productVariants(options:{take:$n,filter:{sku:" \
           "{in:$s}}}){items{sku stockOnHand stockLevels{stockLocationId stockOnHand}}}}"
UPDATE = "mutation($i:[UpdateProductVariantInput!]!){updateProductVariants(input:$i){id}}"
CREATE = "mutation($i:[CreateProductVariantInput!]!){createProductVariants(input:$i){" \
         + VARIANT + "}}"
PRODUCTS = "mutation($i:[UpdateProductInput!]!){updateProducts(input:$i){id}}"
DELETE = "mutation($i:[ID!]!){deleteProductVariants(ids:$i){result message}}"


class VendureOptions(ApiSinkOptions):
    """Vendure Admin API: ``url`` is the server (``/admin-api`` is added)."""

    format: Literal["vendure_api"] = Field("vendure_api", description="Vendure Admin "
                                           "GraphQL API")
    username: Secret = Field(description="administrator's identifier (needs the "
                             "UpdateCatalog/UpdateProduct permissions)")
    password: Secret = Field(description="administrator's password")
    api_path: str = Field("/admin-api", description="path of the Admin API on the server")
    channel: str | None = Field(None, description="channel token (sent as vendure-token); "
                                "unset: the default channel")
    language: str = Field("en", description="language code the names and descriptions are "
                          "written in")
    currency_digits: int = Field(2, ge=0, le=4, description="decimals of the channel's "
                                 "currency: prices are sent as integers in minor units")


def slug(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", t).strip("-") or "product"


def chunks(items: list[Any], limit: int = MAX_BODY) -> list[list[Any]]:
    """Split ``items`` so each chunk's JSON stays under ``limit`` bytes."""
    out: list[list[Any]] = [[]]
    size = 0
    for item in items:
        n = len(json.dumps(item)) + 1
        if out[-1] and size + n > limit:
            out.append([])
            size = 0
        out[-1].append(item)
        size += n
    return [c for c in out if c]


class VendureClient(ShopClient):
    batch_size = 100
    max_batch = 500  # SKU lookups take up to 1000; mutations are split by size anyway
    parallel = 2

    def __init__(self, options: VendureOptions, state: State):
        super().__init__(options, state)
        self.o: VendureOptions = options
        headers = {"vendure-token": options.channel} if options.channel else {}
        self.http = Http(options.url, options.limits, name="vendure", headers=headers)
        # Creates go out once: a retried create whose first answer was lost would
        # create the variant twice. The caller looks the SKUs up instead.
        self.once = Http(options.url, options.limits.model_copy(update={"retries": 0}),
                         name="vendure", headers=headers)
        self.lock = threading.Lock()
        self.token = ""
        self.location: str | None = None
        self.products: dict[str, str] = {}  # product key -> product id, learnt this run
        self.product_locks: dict[str, threading.Lock] = {}
        self.groups: dict[str, list[dict[str, Any]]] = {}  # product id -> option groups

    def close(self) -> None:
        self.http.close()
        self.once.close()

    # -- transport -------------------------------------------------------------------
    def login(self, stale: str | None = None) -> str:
        with self.lock:
            if self.token and self.token != stale:
                return self.token  # another thread logged in meanwhile
            resp = self.http.request("POST", self.o.api_path, json={
                "query": "mutation($u:String!,$p:String!){login(username:$u,password:$p)"
                         "{...on CurrentUser{id} ...on ErrorResult{errorCode message}}}",
                "variables": {"u": self.o.username.reveal(), "p": self.o.password.reveal()}})
            body = resp.json()
            answer = (body.get("data") or {}).get("login") or {}
            if "id" not in answer:
                why = answer.get("message") or errors_text(body.get("errors") or [])
                raise PermanentSinkError(f"vendure: login refused: {why}")
            self.token = resp.headers["vendure-auth-token"]
            return self.token

    def gql(self, query: str, variables: dict[str, Any], *,
            once: bool = False) -> tuple[Any, list[dict[str, Any]]]:
        """Run one operation; returns (data, errors). Logs in again on FORBIDDEN."""
        http = self.once if once else self.http
        payload = json.dumps({"query": query, "variables": variables})
        if len(payload.encode()) > BODY_LIMIT:
            raise ItemError("the record is too large for Vendure's 100 kB request limit")
        token = self.token or self.login()
        for relogin in (True, False):
            body = http.json("POST", self.o.api_path, data=payload, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) or {}
            errors = body.get("errors") or []
            if not any(code(e) == "FORBIDDEN" for e in errors):
                return body.get("data"), errors
            if relogin:
                token = self.login(stale=token)
        raise PermanentSinkError(f"vendure: {errors_text(errors)} (does the administrator "
                                 "have the UpdateCatalog permission?)")

    def must(self, query: str, variables: dict[str, Any], once: bool = False) -> Any:
        data, errors = self.gql(query, variables, once=once)
        if errors:
            raise ItemError(errors_text(errors))
        return data

    def each(self, doc: str, inputs: list[Any], once: bool = False) -> list[Any]:
        """Run a list mutation over ``inputs``; per input the answer item, or an
        ItemError with Vendure's message when that input was refused."""
        out: list[Any] = []
        for part in chunks(inputs):
            try:
                data, errors = self.gql(doc, {"i": part}, once=once)
            except ItemError as e:
                if len(part) > 1:
                    raise
                errors = [{"message": str(e)}]
            if not errors:
                out.extend(next(iter(data.values())))
            elif len(part) == 1:
                out.append(ItemError(errors_text(errors)))
            else:  # the whole call was rolled back: find the culprits one by one
                for item in part:
                    out.extend(self.each(doc, [item], once=once))
        return out

    # -- lookups ---------------------------------------------------------------------
    def lookup(self, skus: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(skus), 500):
            part = skus[i:i + 500]
            data = self.must(LOOKUP, {"s": part, "n": 1000})
            for v in data["productVariants"]["items"]:
                found.setdefault(v["sku"], []).append(v)
        return found

    def stock_location(self) -> str | None:
        if self.o.location is None:
            return None
        if self.location is None:
            data = self.must("{stockLocations(options:{take:1000}){items{id name}}}", {})
            items = data["stockLocations"]["items"]
            match = [s["id"] for s in items if self.o.location in (s["name"], s["id"])]
            if not match:
                raise PermanentSinkError(
                    f"vendure: no stock location {self.o.location!r}; known: "
                    + ", ".join(s["name"] for s in items))
            self.location = match[0]
        return self.location

    def stock_of(self, skus: list[str]) -> dict[str, int | None]:
        """``stockOnHand`` of each SKU's variant at the stock location we write to:
        ``location``, else Vendure's default (where a plain ``stockOnHand`` lands: the
        channel's oldest stock location; the variant's own ``stockOnHand`` is the sum
        over all locations, so it is read only when no location is visible). A variant
        without a level there has 0; a SKU held by several variants is None (not
        guessed), like a SKU the shop lacks."""
        out: dict[str, int | None] = dict.fromkeys(skus)
        if not skus:
            return out
        loc = self.stock_location() or self.default_location()
        unique = sorted(set(skus))
        for i in range(0, len(unique), 500):
            data = self.must(STOCK_OF, {"s": unique[i:i + 500], "n": 1000})
            hits: dict[str, list[dict[str, Any]]] = {}
            for v in data["productVariants"]["items"]:
                hits.setdefault(v["sku"], []).append(v)
            for sku, found in hits.items():
                if sku not in out or len(found) != 1:
                    continue
                v = found[0]
                if loc is None:
                    out[sku] = v["stockOnHand"]
                else:
                    out[sku] = next((lv["stockOnHand"] for lv in v["stockLevels"]
                                     if str(lv["stockLocationId"]) == str(loc)), 0)
        return out

    def default_location(self) -> str | None:
        """The stock location a plain ``stockOnHand`` is written to: the active
        channel's oldest (StockLocationService.defaultStockLocation)."""
        items = self.must("{stockLocations(options:{take:1000}){items{id createdAt}}}",
                          {})["stockLocations"]["items"]
        if not items:
            return None
        first = min(items, key=lambda s: (s["createdAt"], int(s["id"]) if str(s["id"])
                                          .isdigit() else 0, str(s["id"])))
        return str(first["id"])

    def stock(self, n: int) -> dict[str, Any]:
        loc = self.stock_location()
        if loc is None:
            return {"stockOnHand": n}
        return {"stockLevels": [{"stockLocationId": loc, "stockOnHand": n}]}

    # -- send ------------------------------------------------------------------------
    def send(self, changes: list[Change]) -> list[Result]:
        results: dict[int, Result] = {}
        ids: dict[int, dict[str, Any]] = {}  # change id -> {"variant_id", "product_id"}
        for c in changes:
            if c.remote.get("variant_id"):
                ids[c.id] = {"variant_id": c.remote["variant_id"],
                             "product_id": c.remote.get("product_id")}
        unknown = [c for c in changes if c.id not in ids]
        found = self.lookup(sorted({c.key for c in unknown})) if unknown else {}
        for c in unknown:
            hits = found.get(c.key, [])
            if len(hits) > 1:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: Vendure holds "
                                       f"{len(hits)} variants with this SKU (ids "
                                       f"{', '.join(v['id'] for v in hits)}); refusing to "
                                       "guess which one to change")
            elif hits:
                ids[c.id] = {"variant_id": hits[0]["id"], "product_id": hits[0]["productId"]}

        updates: list[tuple[Change, dict[str, Any]]] = []
        creates: list[Change] = []
        deletes: list[Change] = []
        products: dict[str, tuple[list[Change], dict[str, Any]]] = {}  # id -> changes, input
        for c in changes:
            if c.id in results:
                continue
            known = ids.get(c.id)
            if known is None:
                if c.op == "upsert" and self.o.sync == "catalog":
                    creates.append(c)
                elif c.op == "upsert":
                    results[c.id] = Result(c.id, False, f"SKU {c.key} is not in the shop")
                else:  # nothing to zero, unpublish or delete
                    results[c.id] = Result(c.id, True)
                continue
            vid, pid = known["variant_id"], known["product_id"]
            if c.record.get("product") and pid:
                with self.lock:
                    self.products.setdefault(str(c.record["product"]), pid)
            try:
                if c.op == "delete":
                    deletes.append(c)
                elif c.op == "zero":
                    updates.append((c, {"id": vid, **self.stock(0)}))
                elif c.op == "unpublish":
                    updates.append((c, {"id": vid, "enabled": False}))
                    if pid and self.alone(c):
                        products.setdefault(pid, ([], {"id": pid}))[0].append(c)
                        products[pid][1]["enabled"] = False
                elif self.o.sync == "stock":
                    if c.record.get("stock") is None:
                        results[c.id] = Result(c.id, True, remote=known)
                    else:
                        updates.append((c, {"id": vid, **self.stock(int(c.record["stock"]))}))
                else:
                    updates.append((c, {"id": vid, **self.variant_fields(c.record)}))
                    fields = self.product_fields(c)
                    if pid and fields:
                        entry = products.setdefault(pid, ([], {"id": pid, **fields}))
                        entry[0].append(c)
            except ItemError as e:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: {e}")

        answers = self.each(UPDATE, [u for _, u in updates])
        for (c, _), a in zip(updates, answers):
            results[c.id] = self.result(c, a, ids[c.id])
        if products:  # name, description, enabled: one call for every product touched
            answers = self.each(PRODUCTS, [i for _, i in products.values()])
            for (touched, _), a in zip(products.values(), answers):
                for c in touched:
                    if isinstance(a, ItemError) and results[c.id].ok:
                        results[c.id] = self.result(c, a, ids[c.id])
        if deletes:
            answers = self.each(DELETE, [ids[c.id]["variant_id"] for c in deletes])
            for c, a in zip(deletes, answers):
                gone = isinstance(a, ItemError) and "could be found" in str(a)
                if not gone and not isinstance(a, ItemError) and a["result"] != "DELETED":
                    a = ItemError(a.get("message") or "not deleted")
                results[c.id] = self.result(c, None if gone else a, {"variant_id": None,
                                                                     "product_id": None})
        if creates:
            results.update(self.create(creates))
        return [results[c.id] for c in changes]

    def result(self, c: Change, answer: Any, remote: dict[str, Any]) -> Result:
        if isinstance(answer, ItemError):
            return Result(c.id, False, f"SKU {c.key}: {answer}")
        return Result(c.id, True, remote=remote)

    def alone(self, c: Change) -> bool:
        """Whether ``c``'s variant is the only one its product has from us."""
        product = c.record.get("product")
        if not product:
            return True
        return all(s.get("sku") == c.key for s in self.state.siblings(product))

    # -- record -> Vendure input -----------------------------------------------------
    def variant_fields(self, r: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"sku": r["sku"], "enabled": enabled(r) is not False}
        name = self.variant_name(r)
        if name:
            out["translations"] = [{"languageCode": self.o.language, "name": name}]
        if r.get("price") not in (None, ""):
            out["price"] = self.money(r["price"])
        if r.get("stock") is not None:
            out.update(self.stock(int(r["stock"])))
        return out

    def variant_name(self, r: dict[str, Any]) -> str:
        values = [str(o["value"]) for o in r.get("options") or []]
        return " ".join([str(r.get("title") or r["sku"]), *values]).strip()

    def product_fields(self, c: Change) -> dict[str, Any]:
        r = c.record
        out: dict[str, Any] = {}
        tr = {k: r[src] for k, src in (("name", "title"), ("description", "description"))
              if r.get(src) not in (None, "")}
        if tr:
            out["translations"] = [{"languageCode": self.o.language, **tr}]
        # A product of one variant is published with it (undoing an unpublish).
        on = enabled(r)
        if on is not None or self.alone(c):
            out["enabled"] = on is not False
        return out

    def money(self, value: Any) -> int:
        try:
            d = Decimal(str(value).strip()).scaleb(self.o.currency_digits)
        except InvalidOperation:
            raise ItemError(f"price {value!r} is not a number") from None
        if d != d.to_integral_value():
            raise ItemError(f"price {value} has more than {self.o.currency_digits} decimals")
        return int(d)

    # -- creates ---------------------------------------------------------------------
    def create(self, creates: list[Change]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        self.find_products(creates)
        inputs: list[tuple[Change, dict[str, Any]]] = []
        for c in creates:
            try:
                pid, option_ids = self.ensure_product(c)
                fields = self.variant_fields(c.record)
                inputs.append((c, {**fields, "productId": pid, "optionIds": option_ids,
                                   "translations": fields.get("translations") or [
                                       {"languageCode": self.o.language, "name": c.key}]}))
            except ItemError as e:
                results[c.id] = Result(c.id, False, f"SKU {c.key}: {e}")
        try:
            answers = self.each(CREATE, [i for _, i in inputs], once=True)
        except RetryableSinkError:
            # The answer was lost; what reached Vendure shows up in a lookup.
            found = self.lookup([c.key for c, _ in inputs])
            if any(len(found.get(c.key, [])) != 1 for c, _ in inputs):
                raise
            answers = [found[c.key][0] for c, _ in inputs]
        for (c, _), a in zip(inputs, answers):
            remote = None if isinstance(a, ItemError) else {"variant_id": a["id"],
                                                            "product_id": a["productId"]}
            results[c.id] = self.result(c, a, remote or {})
        return results

    def product_key(self, c: Change) -> str:
        return str(c.record.get("product") or c.key)

    def slug(self, c: Change) -> str:
        return str(c.record.get("handle") or slug(self.product_key(c)))

    def find_products(self, creates: list[Change]) -> None:
        """Learn the ids of products the new variants belong to: from the ledger, or
        from the shop by slug (a product made by an earlier, failed attempt or by
        hand). Slugs are Vendure's unique natural key for products."""
        wanted: dict[str, str] = {}
        for c in creates:
            key = self.product_key(c)
            if key in self.products:
                continue
            for s in self.state.siblings(key) if c.record.get("product") else []:
                pid = (s.get("_remote") or {}).get("product_id")
                if pid:
                    with self.lock:
                        self.products.setdefault(key, str(pid))
                    break
            else:
                wanted[self.slug(c)] = key
        if wanted:
            data = self.must("query($s:[String!]!,$n:Int!){products(options:{take:$n,"
                             "filter:{slug:{in:$s}}}){items{id slug}}}",
                             {"s": sorted(wanted), "n": len(wanted)})
            with self.lock:
                for p in data["products"]["items"]:
                    self.products.setdefault(wanted[p["slug"]], p["id"])

    def ensure_product(self, c: Change) -> tuple[str, list[str]]:
        """The product id for ``c`` (created when needed) and its variant's option ids."""
        key = self.product_key(c)
        with self.lock:
            lock = self.product_locks.setdefault(key, threading.Lock())
        with lock:  # two threads must not create the same product or option group
            pid = self.products.get(key)
            if pid is None:
                fields = self.product_fields(c)
                tr = (fields.pop("translations", None) or [{"languageCode": self.o.language}])[0]
                # Vendure's product_translation.description is NOT NULL.
                tr = {"name": key, "description": "", **tr, "slug": self.slug(c)}
                pid = self.must("mutation($i:CreateProductInput!){createProduct(input:$i)"
                                "{id}}", {"i": {**fields, "translations": [tr]}},
                                once=True)["createProduct"]["id"]
                self.groups[pid] = []
                with self.lock:
                    self.products[key] = pid
            return pid, self.ensure_options(pid, c.record.get("options") or [])

    def ensure_options(self, pid: str, options: list[dict[str, Any]]) -> list[str]:
        """Option ids for ``options`` on product ``pid``; missing groups and values
        are created (callers hold the product's lock)."""
        if not options:
            return []
        lang = self.o.language
        groups = self.groups.get(pid)
        if groups is None:
            groups = self.groups[pid] = self.must(
                "query($p:ID!){product(id:$p){optionGroups{id name options{id name}}}}",
                {"p": pid})["product"]["optionGroups"]
        ids = []
        for opt in options:
            name, value = str(opt["name"]), str(opt["value"])
            group = next((g for g in groups if g["name"] == name), None)
            if group is None:
                group = self.must(
                    "mutation($i:CreateProductOptionGroupInput!){createProductOptionGroup("
                    "input:$i){id name options{id name}}}",
                    {"i": {"code": f"{pid}-{slug(name)}", "translations": [
                        {"languageCode": lang, "name": name}], "options": []}},
                    once=True)["createProductOptionGroup"]
                self.must("mutation($p:ID!,$g:ID!){addOptionGroupToProduct(productId:$p,"
                          "optionGroupId:$g){id}}", {"p": pid, "g": group["id"]})
                groups.append(group)
            option = next((o for o in group["options"] if o["name"] == value), None)
            if option is None:
                option = self.must(
                    "mutation($i:CreateProductOptionInput!){createProductOption(input:$i)"
                    "{id name}}", {"i": {"productOptionGroupId": group["id"],
                                         "code": slug(value), "translations": [
                                             {"languageCode": lang, "name": value}]}},
                    once=True)["createProductOption"]
                group["options"].append(option)
            ids.append(option["id"])
        return ids


class ItemError(Exception):
    """Vendure refused one item (its message)."""


def code(error: dict[str, Any]) -> str | None:
    return (error.get("extensions") or {}).get("code")


def errors_text(errors: list[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("message", e)) for e in errors) or "no answer"


def enabled(r: dict[str, Any]) -> bool | None:
    if r.get("published") is not None:
        return bool(r["published"])
    if r.get("status"):
        return str(r["status"]).lower() == "active"
    return None


@REGISTRY.sink("vendure_api")
class VendureSink(ApiSink):
    Options = VendureOptions
    Client = VendureClient
