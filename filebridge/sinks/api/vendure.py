"""Vendure 3.x through its Admin GraphQL API (``vendure_api``): the whole catalog.

Facts relied on, read in ``@vendure/core`` 3.7.3 (``dist/api/schema/admin-api``,
``dist/api/schema/common`` and ``dist/service/services``):

- Auth: the ``login`` mutation answers a ``CurrentUser`` or an ``ErrorResult`` and,
  with ``tokenMethod: 'bearer'``, puts the session token in the ``vendure-auth-token``
  response header; requests carry ``Authorization: Bearer``. An expired or unknown
  token gives HTTP 200 with an error whose ``extensions.code`` is ``FORBIDDEN``: the
  client logs in again once.
- Errors: HTTP 200 with ``errors[]``. Each mutation field runs in its own
  transaction, so one bad item in ``createProductVariants``/``updateProductVariants``
  rolls back the whole call; the client then sends that chunk's items one by one.
- Request bodies above Express's 100 kB default are refused with an empty HTTP 500;
  a list query takes at most 1000 items (``adminListQueryLimit``): mutations are
  split by size, and a single record too large to send is refused.
- SKUs are NOT unique in Vendure: a SKU held by several variants is refused with
  their ids, never guessed.
- Languages: every ``*TranslationInput`` takes a ``languageCode``. Vendure stores a
  translation in any language of its enum, but the admin and the storefront only
  offer the channel's ``availableLanguageCodes`` (a subset of the global
  ``availableLanguages``): a profile language the channel does not offer, or one
  Vendure has no code for, stops the sink with a message saying so (nothing is
  sent until a person adds it). Requests carry ``?languageCode=<default>``
  (RequestContextService.getLanguageCode) so names read back (option groups,
  collections) are the default language's.
- Options: a product needs one option group per varying attribute; groups are
  created with the product's id in their code, options in the order of the size
  scale; variants are listed by id (ProductVariantService ``orderBy: {id: 'ASC'}``),
  so a new product's variants are created in that order. A variant's options are
  set when it is created and not changed afterwards.
- Prices are integers in minor units (``Money``). Vendure has neither a compare-at
  nor a scheduled sale price: the price sent is the one in force on the day it is
  sent (the sale price between ``sale_from`` and ``sale_to``, else ``price``), and
  the sync sends the record again on the first run of the day a sale starts or
  ends (filebridge/catalog/prices.py). Prices per market: one sink per channel
  (``channel:`` its token, ``fields: {price: price_ch}``).
- Custom fields (``globalSettings.serverConfig.customFieldConfig``, read once):
  the barcode goes to a ProductVariant field ``barcode`` and each specification
  (an attribute with ``filter: false``) to a Product field named like the
  attribute (``custom_fields`` renames them); a translatable field
  (``localeString``/``localeText``) gets every language. A server without such a
  field does not get that value, and the log says so once per run.
- Categories -> collections, filters -> facets: see ``vendure_taxonomy``; images ->
  assets: see ``vendure_assets``; how products and variants are written:
  ``vendure_products``; what a record says in Vendure's terms: ``vendure_model``.

What a variant carries: SKU, names per language, price of the day, stock
(``stockOnHand`` or ``stockLevels`` per ``location``), barcode, its filter values
(``facetValueIds``) and its own images (first featured). What its product carries
(built from every variant the shop has from us, ``filebridge/catalog/product.py``):
name, slug and description per language, ``enabled``, facet values (the filter
values all its variants share, and one value per category level, which puts it in
the collections), its images in order (first featured) and specifications. Facet
values of facets we do not write (added by hand) are kept. The product is written
when a record says something new about it (not for a price or stock change).

Decisions where Vendure is silent: ``unpublish`` disables the variant, and its
product when it has no other variant from us; ``delete`` soft-deletes the variant.
Creates are never retried inside a call (a lost answer may hide what was made):
things are looked up again first (variants by SKU, products by slug, option groups
and facets by code, collections by name under their parent, assets by the hash in
their name), and the outbox retries what is still missing. Products, option groups,
facets, collections and assets are created under locks so parallel batches never
make one twice. The server works one request at a time (Node), so ``parallel``
above 2 gains nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal

from pydantic import Field

from filebridge.errors import Bug, PermanentSinkError, ProfileError
from filebridge.options import Secret
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
from filebridge.sinks.api.vendure_assets import Assets
from filebridge.sinks.api.vendure_model import (
    WRITABLE,
    Catalog,
    CustomField,
    ItemError,
    Languages,
    Server,
    slug,
    vlang,
)
from filebridge.sinks.api.vendure_products import PRODUCTS, UPDATE, ProductWriter
from filebridge.sinks.api.vendure_taxonomy import Taxonomy

__all__ = ["MAX_BODY", "Catalog", "ItemError", "VendureClient", "VendureOptions", "VendureSink",
           "slug"]

log = logging.getLogger("filebridge")

MAX_BODY = 90_000  # bytes of inputs per request: Express refuses bodies over 100 kB
BODY_LIMIT = 100 * 1024

VARIANT = "id sku productId"
LOOKUP = "query($s:[String!]!,$n:Int!){productVariants(options:{take:$n,filter:{sku:{in:$s}}})" \
         "{items{" + VARIANT + "}}}"
STOCK_OF = "query($s:[String!]!,$n:Int!){productVariants(options:{take:$n,filter:{sku:" \
           "{in:$s}}}){items{sku stockOnHand stockLevels{stockLocationId stockOnHand}}}}"
DELETE = "mutation($i:[ID!]!){deleteProductVariants(ids:$i){result message}}"
SERVER = ("{activeChannel{defaultLanguageCode availableLanguageCodes} globalSettings{"
          "serverConfig{customFieldConfig{Product{...on CustomField{name type list readonly "
          "internal}} ProductVariant{...on CustomField{name type list readonly internal}}}}}"
          " __type(name:\"LanguageCode\"){enumValues{name}}}")


class VendureOptions(ApiSinkOptions):
    """Vendure Admin API: ``url`` is the server (``/admin-api`` is added)."""

    UPLOADS_PHOTOS: ClassVar[bool] = True  # multipart createAssets
    format: Literal["vendure_api"] = Field("vendure_api", description="Vendure Admin "
                                           "GraphQL API")
    username: Secret = Field(description="administrator's identifier (needs the "
                             "UpdateCatalog/UpdateProduct permissions)")
    password: Secret = Field(description="administrator's password")
    api_path: str = Field("/admin-api", description="path of the Admin API on the server")
    channel: str | None = Field(None, description="channel token (sent as vendure-token); "
                                "unset: the default channel. Prices per market: one output "
                                "per channel, each with its own fields: {price: ...}")
    language: str | None = Field(None, description="language of the plain (untranslated) "
                                 "fields when the profile has no map.languages (default en); "
                                 "with map.languages its first language is used")
    currency_digits: int = Field(2, ge=0, le=4, description="decimals of the channel's "
                                 "currency: prices are sent as integers in minor units")
    category_facet: str = Field("category", min_length=1, description="code of the private "
                                "facet whose values put products in their category "
                                "collections (one value per category path)")
    custom_fields: dict[str, str] = Field(
        default_factory=dict, description="barcode or a specification's attribute code -> "
        "the server's custom field for it, where the name differs (default: barcode -> "
        "ProductVariant barcode, a specification -> the Product field of its code)")
    max_image_size: int = Field(20 * 1024 * 1024, ge=1, description="largest image in bytes "
                                "(Vendure's uploadMaxFileSize, 20 MiB by default)")


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


class VendureClient(ProductWriter, ShopClient):
    batch_size = 100
    max_batch = 500  # SKU lookups take up to 1000; mutations are split by size anyway
    parallel = 2

    def __init__(self, options: VendureOptions, state: State, catalog: Catalog | None = None):
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
        self.server_info: Server | None = None
        self.warned: set[str] = set()
        self.today: Callable[[], date] = date.today  # the day whose price is sent
        self.use(catalog or Catalog())
        self._assets: Assets | None = None

    def use(self, catalog: Catalog) -> None:
        """The profile's catalog: languages (default first), product grouping, attributes."""
        langs = catalog.languages or [self.o.language or "en"]
        if self.o.language and catalog.languages and self.o.language != langs[0]:
            raise ProfileError(f"vendure_api: language {self.o.language!r} is not the first "
                               f"of map.languages ({', '.join(langs)}); drop it or make them "
                               "agree")
        self.catalog = catalog
        self.langs = Languages(list(langs))
        self.path = f"{self.o.api_path}?languageCode={vlang(self.langs.default)}"
        codes = [c for c, a in catalog.attributes.items() if a.filter]
        if self.o.category_facet in codes:
            raise ProfileError(f"vendure_api: attribute {self.o.category_facet!r} is also the "
                               "category facet's code; set category_facet to another code")
        self.taxonomy = Taxonomy(self, self.langs, self.o.category_facet,
                                 {lang: "Category" for lang in self.langs.codes})

    @property
    def assets(self) -> Assets:
        with self.lock:
            if self._assets is None:
                self._assets = Assets(self, self.o.max_image_size)
            return self._assets

    def close(self) -> None:
        self.http.close()
        self.once.close()
        if self._assets is not None:
            self._assets.close()

    # -- transport -------------------------------------------------------------------
    def login(self, stale: str | None = None) -> str:
        with self.lock:
            if self.token and self.token != stale:
                return self.token  # another thread logged in meanwhile
            resp = self.http.request("POST", self.path, json={
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
        payload = json.dumps({"query": query, "variables": variables})
        if len(payload.encode()) > BODY_LIMIT:
            raise ItemError("the record is too large for Vendure's 100 kB request limit")
        return self._post(lambda http, token: http.json("POST", self.path, data=payload, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}), once)

    def upload(self, query: str, name: str, data: bytes, mime: str) -> Any:
        """One ``createAssets`` with one file, as a GraphQL multipart request; sent
        once (a lost answer is for the caller to look up)."""
        operations = json.dumps({"query": query, "variables": {"i": [{"file": None}]}})
        files = {"operations": (None, operations),
                 "map": (None, json.dumps({"0": ["variables.i.0.file"]})),
                 "0": (name, data, mime)}

        def post(http: Http, token: str) -> Any:
            return http.json("POST", self.path, files=files, headers={
                "Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"})

        data_, errors = self._post(post, True)
        if errors:
            raise ItemError(errors_text(errors))
        return data_

    def _post(self, send: Callable[[Http, str], Any], once: bool
              ) -> tuple[Any, list[dict[str, Any]]]:
        http = self.once if once else self.http
        token = self.token or self.login()
        for relogin in (True, False):
            body = send(http, token) or {}
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

    # -- what the server offers ------------------------------------------------------
    def server(self) -> Server:
        if self.server_info is None:
            data = self.must(SERVER, {})
            cfg = data["globalSettings"]["serverConfig"]["customFieldConfig"]

            def fields(entity: str) -> dict[str, CustomField]:
                return {f["name"]: CustomField(f["name"], f["type"], bool(f.get("list")))
                        for f in cfg.get(entity) or [] if f and f.get("name")
                        and not f.get("readonly") and not f.get("internal")
                        and f.get("type") in WRITABLE}

            ch = data["activeChannel"]
            self.server_info = Server(ch["defaultLanguageCode"], ch["availableLanguageCodes"],
                                      {v["name"] for v in data["__type"]["enumValues"]},
                                      fields("Product"), fields("ProductVariant"))
        return self.server_info

    def check_languages(self) -> None:
        """The catalog's languages must be ones the channel offers."""
        s = self.server()
        unknown = [lang for lang in self.langs.codes if vlang(lang) not in s.codes]
        if unknown:
            raise PermanentSinkError(
                f"vendure: Vendure has no language code {', '.join(unknown)} (map.languages); "
                "it takes ISO 639-1 codes such as it, en, de, fr, and pt_BR for regions")
        missing = [lang for lang in self.langs.codes if vlang(lang) not in s.available]
        if missing:
            raise PermanentSinkError(
                f"vendure: the channel does not offer the language(s) {', '.join(missing)} "
                f"of map.languages (it offers {', '.join(s.available)}): add them to the "
                "available languages in Settings > Global settings and in the channel; "
                "nothing is sent until then")

    def warn_once(self, key: str, message: str) -> None:
        with self.lock:
            if key in self.warned:
                return
            self.warned.add(key)
        log.warning("vendure: %s", message)

    def barcode_field(self) -> CustomField | None:
        name = self.o.custom_fields.get("barcode", "barcode")
        cf = self.server().variant_fields.get(name)
        if cf is None or cf.type not in ("string", "text") or cf.list:
            self.warn_once("barcode", f"the server has no ProductVariant custom field {name!r} "
                           "(type string): barcodes are not sent (declare customFields."
                           f"ProductVariant [{{name: '{name}', type: 'string'}}])")
            return None
        return cf

    def spec_fields(self, codes: list[str]) -> dict[str, CustomField]:
        have = self.server().product_fields
        names = {c: self.o.custom_fields.get(c, c) for c in codes}
        missing = sorted(n for n in names.values() if n not in have)
        if missing:
            self.warn_once("specs:" + ",".join(missing), "the server has no Product custom "
                           f"field(s) {', '.join(missing)}: those specifications are not sent "
                           "(declare them in customFields.Product, localeText to translate)")
        return {n: have[n] for n in names.values() if n in have}

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

        if self.o.sync == "catalog" and any(c.op == "upsert" for c in changes):
            self.check_languages()  # before anything is sent
        updates: list[tuple[Change, dict[str, Any]]] = []
        deletes: list[Change] = []
        unpublished: dict[str, tuple[list[Change], dict[str, Any]]] = {}  # product id -> ...
        upserts: list[Change] = []
        for c in changes:
            if c.id in results:
                continue
            known = ids.get(c.id)
            if c.op == "upsert" and self.o.sync == "catalog":
                upserts.append(c)
                continue
            if known is None:
                if c.op == "upsert":
                    results[c.id] = Result(c.id, False, f"SKU {c.key} is not in the shop")
                else:  # nothing to zero, unpublish or delete
                    results[c.id] = Result(c.id, True)
                continue
            vid, pid = known["variant_id"], known["product_id"]
            if c.op == "delete":
                deletes.append(c)
            elif c.op == "zero":
                updates.append((c, {"id": vid, **self.stock(0)}))
            elif c.op == "unpublish":
                updates.append((c, {"id": vid, "enabled": False}))
                if pid and self.alone(c):
                    unpublished.setdefault(pid, ([], {"id": pid, "enabled": False}))[0].append(c)
            elif c.record.get("stock") is None:
                results[c.id] = Result(c.id, True, remote=known)
            else:
                updates.append((c, {"id": vid, **self.stock(int(c.record["stock"]))}))

        answers = self.each(UPDATE, [u for _, u in updates])
        for (c, _), a in zip(updates, answers, strict=True):
            remote = {**ids[c.id], "unpublished": True} if c.op == "unpublish" else ids[c.id]
            results[c.id] = self.result(c, a, remote)
        if unpublished:
            answers = self.each(PRODUCTS, [i for _, i in unpublished.values()])
            for (touched, _), a in zip(unpublished.values(), answers, strict=True):
                for c in touched:
                    if isinstance(a, ItemError) and results[c.id].ok:
                        results[c.id] = self.result(c, a, ids[c.id])
        if deletes:
            answers = self.each(DELETE, [ids[c.id]["variant_id"] for c in deletes])
            for c, a in zip(deletes, answers, strict=True):
                gone = isinstance(a, ItemError) and "could be found" in str(a)
                if not gone and not isinstance(a, ItemError) and a["result"] != "DELETED":
                    a = ItemError(a.get("message") or "not deleted")
                results[c.id] = self.result(c, None if gone else a, {"variant_id": None,
                                                                     "product_id": None})
        if upserts:
            results.update(self.upsert(upserts, ids))
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

    def money(self, value: Any) -> int:
        try:
            d = Decimal(str(value).strip()).scaleb(self.o.currency_digits)
        except InvalidOperation:
            raise ItemError(f"price {value!r} is not a number") from None
        if d != d.to_integral_value():
            raise ItemError(f"price {value} has more than {self.o.currency_digits} decimals")
        return int(d)


def code(error: dict[str, Any]) -> str | None:
    return (error.get("extensions") or {}).get("code")


def errors_text(errors: list[dict[str, Any]]) -> str:
    return "; ".join(str(e.get("message", e)) for e in errors) or "no answer"


@REGISTRY.sink("vendure_api")
class VendureSink(ApiSink):
    Options = VendureOptions
    Client = VendureClient
    DAY_PRICE = True  # no scheduled sale price: the price in force is sent
    CARRIES: ClassVar[dict[str, str]] = {
        "translations": "translations of products, variants, options, facets, collections",
        "categories": "nested collections (a private facet value per path level)",
        "filters": "facets: values all variants share on the product, the rest on variants",
        "specs": "Product custom fields the server declares (localeText: translated)",
        "sale_dates": "the price in force on the day it is sent",
        "images": "assets in order, first featured, uploaded once (no alt text)",
        "barcode": "ProductVariant custom field barcode (when declared)",
        "locations": "stockLevels at location:",
    }
    LANDS: ClassVar[dict[str, str]] = {
        "sku": "variant sku", "handle": "product slug (default: the product key as a slug); "
        "handle@<lang> per language", "title": "product name per language; variant name: "
        "title and option values", "description": "product description per language",
        "categories": "collections, through the private category facet",
        "status": "product and variant enabled (active)",
        "published": "product and variant enabled", "barcode": "variant customFields.barcode",
        "price": "variant price (minor units), unless a sale is in force",
        "sale_price": "variant price while sale_from..sale_to holds",
        "sale_from": "when the sale price is sent", "sale_to": "when the sale price ends",
        "stock": "stockOnHand, or stockLevels at location",
        "image": "variant featured asset; product assets",
        "images": "product assets (every variant's, in order) and variant assets; the first "
                  "featured",
    }

    def bind(self, job: Any) -> None:
        super().bind(job)
        m = job.map
        if not isinstance(self.client, VendureClient):
            raise Bug("expected isinstance(self.client, VendureClient)")
        self.client.use(Catalog(list(m.languages), m.product, dict(m.attributes)))
