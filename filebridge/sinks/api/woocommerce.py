"""WooCommerce through its REST API v3: products, variable products and their
variations, prices and stock, in batches.

Shop facts relied on (shop-formats.md section 2.3 unless noted):

- Base ``<url>/wp-json/wc/v3/``, HTTP Basic with the consumer key and secret. Real
  shops accept Basic over HTTPS only (plain HTTP needs OAuth 1.0a signing, which
  this sink does not do) [doc].
- ``POST /products/batch`` and ``/products/<parent>/variations/batch`` take at most
  100 create+update+delete items in total (413 beyond) and answer HTTP 200 with a
  failed item as ``{"id": <id or 0>, "error": {code, message, data}}``: every item
  is inspected. Batch deletes are permanent [code].
- ``GET /products?sku=a,b,c`` takes a comma list of SKUs and also returns
  variations (with their ``parent_id``) [code: woocommerce/woocommerce
  Version3/class-wc-rest-products-controller.php @010784f2, ``prepare_objects_query``
  splits ``sku`` on commas and widens the post type to product_variation].
- SKUs are unique across products and variations: creating one that exists fails
  with ``product_invalid_sku``, which this sink turns into a look-up and an update,
  so a retried create (a crash, a lost answer) never makes a second product.
- Prices are strings (``regular_price``, ``sale_price``); with ``manage_stock`` the
  shop keeps ``stock_quantity`` and ``stock_status``.

A record without ``product`` is a ``simple`` product. A record with ``product`` is
a variation of the ``variable`` product whose SKU is the product key; that parent is
created on first need with one attribute per option (``variation: true``) and its
option lists are only ever extended. Ids learnt go back in ``Result.remote`` as
``{"id", "parent_id"}`` (``parent_id`` 0 for a simple product).

Variation attributes are what WooCommerce checks least [code: woocommerce/woocommerce
plugins/woocommerce/includes/rest-api/Controllers/Version3/class-wc-rest-product-
variations-controller.php ``prepare_object_for_database``; wc-product-functions.php
``wc_get_product_variation_attributes``]: an attribute the parent does not have for
variations is dropped without an error, a value is never checked against the
parent's options, and a variation without a value for one of the parent's
attributes sells as "any" value of it. So the parent's options are extended before
its variations are sent, attributes are matched the way WooCommerce keys them
(``sanitize_title`` of the name), and a variation record with a blank option value
(it would sell as any value) or a value holding "|" (WooCommerce splits options on
it, so no option would equal it) is refused with that reason.

An upsert sends every field the record has, so what the ERP says wins and a
product zeroed or unpublished earlier is restored; only an image is sent just when
it changed since the shop's last acknowledgement (``Change.previous``), as the
shop fetches it again on every send. Product-level fields (title, description,
handle, status) of a variation record go to its variable product when they
changed. ``unpublish`` makes a product ``draft`` and a variation ``private``
(variations have no draft);
``delete`` deletes the product or the variation (a parent stays when its last
variation goes); deleting what the shop no longer has is a success; ``zero`` and
``unpublish`` of a SKU the shop does not have are refused. ``category`` and
``tags`` are not sent: the API takes term ids, not names.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field

from filebridge.options import Secret, expand_env
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
from filebridge.catalog.values import blank, text

LIMIT = 100  # items per batch request, create+update+delete together
LOOKUP_URL_CHARS = 4000  # keep a SKU look-up's query string well under server limits


class WooOptions(ApiSinkOptions):
    """WooCommerce REST API v3 (WooCommerce -> Settings -> Advanced -> REST API, a
    read/write key)."""

    format: Literal["woocommerce_api"] = Field("woocommerce_api",
                                               description="WooCommerce REST API v3")
    consumer_key: Secret = Field(description="the REST API consumer key (ck_...), as "
                                 "${ENV_VAR} or file:PATH")
    consumer_secret: Secret = Field(description="the REST API consumer secret (cs_...), "
                                    "as ${ENV_VAR} or file:PATH")
    weight_unit: Literal["kg", "g"] = Field("kg", description="the store's weight unit "
                                            "(record weights are grams)")


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


@dataclass
class _Batch:
    """The items of one batch endpoint: None is /products, an id its variations."""

    create: list[tuple[_Item, dict[str, Any]]] = field(default_factory=list)
    update: list[tuple[_Item, dict[str, Any]]] = field(default_factory=list)
    delete: list[_Item] = field(default_factory=list)


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
        self.parent_lock = threading.Lock()  # one thread at a time creates/extends parents

    def close(self) -> None:
        self.http.close()

    # -- send -------------------------------------------------------------------------

    def send(self, changes: list[Change]) -> list[Result]:
        results: dict[int, Result] = {}
        items = []
        for c in changes:
            it = _Item(c, text(c.record.get("sku") or c.key), text(c.record.get("product")))
            if c.remote.get("id"):
                it.id, it.parent = int(c.remote["id"]), int(c.remote.get("parent_id") or 0)
                it.known = True
                if it.parent and it.product:
                    self.parents.setdefault(it.product, it.parent)
            items.append(it)
        again = self._pass(items, results)
        if again:  # stale ids or a create that found its SKU taken: look up, once more
            for it in again:
                it.id, it.parent, it.known, it.retried = None, 0, False, True
            self._pass(again, results)
        return [results.get(c.id) or Result(c.id, False, f"SKU {c.key}: no answer from "
                                            "the shop") for c in changes]

    def _pass(self, items: list[_Item], results: dict[int, Result]) -> list[_Item]:
        catalog = self.o.sync == "catalog"
        self._lookup([it for it in items if it.id is None], catalog)
        if catalog:
            # a record refused for its options (see _plan) makes no parent either
            self._parents([it for it in items if it.product and it.change.op == "upsert"
                           and not option_problem(it.change.record)], results)
        batches: dict[int | None, _Batch] = {}
        for it in items:
            if it.change.id in results:
                continue
            refusal = self._plan(it, batches)
            if refusal is not None:
                results[it.change.id] = Result(it.change.id, False, refusal)
            elif not it.queued:  # nothing to send (nothing changed, nothing to delete)
                results[it.change.id] = Result(it.change.id, True, remote=_remote(it))
        again: list[_Item] = []
        for endpoint, b in batches.items():
            again += self._run(endpoint, b, results)
        return again

    def _plan(self, it: _Item, batches: dict[int | None, _Batch]) -> str | None:
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
        else:
            body = self._fields(rec, variation, image=_changed(it, "image"))
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

    def _fields(self, rec: dict[str, Any], variation: bool, image: bool) -> dict[str, Any]:
        """The shop's fields for a simple product or a variation."""
        out = {} if variation else product_fields(rec)
        if variation:  # product-level status goes to the parent; this one is for sale
            out["status"] = "publish"
            if "description" in rec:
                out["description"] = text(rec["description"])
            out["attributes"] = [{"name": o["name"], "option": option_value(o["value"])}
                                 for o in rec.get("options") or ()]
        if "price" in rec or "compare_at_price" in rec:
            out["regular_price"], out["sale_price"] = prices(rec.get("price"),
                                                             rec.get("compare_at_price"))
        if not blank(rec.get("stock")):
            out.update(stock(rec["stock"]))
        if not blank(rec.get("weight")):
            grams = _decimal(rec["weight"])
            if isinstance(grams, Decimal):
                grams = (grams / 1000 if self.o.weight_unit == "kg" else grams).normalize()
            out["weight"] = text(grams)
        if "barcode" in rec:
            out["global_unique_id"] = text(rec["barcode"])
        if image and not blank(rec.get("image")):
            src = text(rec["image"])
            out.update({"image": {"src": src}} if variation else {"images": [{"src": src}]})
        return out

    # -- ids --------------------------------------------------------------------------

    def _lookup(self, items: list[_Item], catalog: bool) -> None:
        """Find ids by SKU; in catalog mode also the parents of variation records."""
        skus = {it.sku for it in items}
        if catalog:
            skus |= {it.product for it in items if it.product and it.change.op == "upsert"
                     and it.product not in self.parents}
        found = self._find(skus)
        for it in items:
            hit = found.get(it.sku)
            if hit:
                it.id, it.parent, it.kind = hit["id"], hit.get("parent_id") or 0, hit["type"]
                if it.parent and it.product:
                    self.parents.setdefault(it.product, it.parent)
        for key in skus - {it.sku for it in items}:
            hit = found.get(key)
            if hit and hit["type"] == "variable":
                self.parents.setdefault(key, hit["id"])

    def stock_of(self, skus: list[str]) -> dict[str, int | None]:
        found = self._find(set(skus), "id,sku,parent_id,type,stock_quantity")
        return {s: found[s].get("stock_quantity") if s in found else None for s in skus}

    def _find(self, skus: set[str], fields: str = "id,sku,parent_id,type"
              ) -> dict[str, dict[str, Any]]:
        """SKU -> {id, parent_id, type} for those the shop has: comma lists of SKUs,
        a SKU holding a comma on its own (Woo splits the list on commas)."""
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

    def _parents(self, items: list[_Item], results: dict[int, Result]) -> None:
        """Create the variable products these variations need and extend their
        attribute options (and product fields) when a variation brings new ones."""
        by_product: dict[str, list[_Item]] = {}
        for it in items:
            if it.id is None or _changed(it, "options", *PARENT_FIELDS):
                by_product.setdefault(it.product, []).append(it)
        if not by_product:
            return
        with self.parent_lock:
            missing = [k for k in by_product if k not in self.parents]
            if missing:  # another thread may have created them meanwhile
                found = self._find(set(missing))
                for k in missing:
                    if k in found:
                        if found[k]["type"] != "variable":
                            self._refuse(by_product.pop(k), results, f"{k} is a "
                                         f"{found[k]['type']} product in the shop, not a "
                                         "variable one")
                        else:
                            self.parents[k] = found[k]["id"]
            creates = [k for k in by_product if k not in self.parents]
            extend = [k for k in by_product if k in self.parents]
            taken: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(creates, LIMIT):
                body = [self._parent_body(k, by_product[k]) for k in chunk]
                answer = self.http.json("POST", "/products/batch", {"create": body})
                for k, got in zip(chunk, answer.get("create") or [], strict=False):
                    if "error" not in got:
                        self.parents[k] = got["id"]
                    elif got["error"].get("code") == "product_invalid_sku":
                        taken[k] = got["error"]  # a lost answer, retried: look it up
                    else:
                        self._refuse(by_product[k], results, shop_words(got["error"]))
            found = self._find(set(taken)) if taken else {}
            for k, error in taken.items():
                if found.get(k, {}).get("type") == "variable":
                    self.parents[k] = found[k]["id"]
                    extend.append(k)
                else:
                    self._refuse(by_product[k], results, shop_words(error))
            self._extend([k for k in extend if k in by_product], by_product, results)

    def _parent_body(self, key: str, items: list[_Item]) -> dict[str, Any]:
        records = list(self.state.siblings(key)) + [it.change.record for it in items]
        body = {"type": "variable", "sku": key, **product_fields(items[0].change.record),
                "attributes": merge_attributes([], records)}
        image = next((r["image"] for r in records if not blank(r.get("image"))), None)
        if image:
            body["images"] = [{"src": text(image)}]
        return body

    def _extend(self, keys: list[str], by_product: dict[str, list[_Item]],
                results: dict[int, Result]) -> None:
        bodies: dict[str, dict[str, Any]] = {}
        for k in keys:  # product fields that changed since the last acknowledgement
            bodies[k] = {"id": self.parents[k]}
            for it in by_product[k]:
                if _changed(it, *PARENT_FIELDS):
                    bodies[k].update(product_fields(it.change.record))
        # Attribute options: only a new variation or changed options can add values,
        # and the whole list must be sent, so read the shop's first.
        grown = [k for k in keys if any(it.id is None or _changed(it, "options")
                                        for it in by_product[k])]
        for chunk in _chunks(grown, LIMIT):
            ids = {self.parents[k]: k for k in chunk}
            shop = self.http.json("GET", "/products", params={
                "include": ",".join(map(str, ids)), "per_page": LIMIT,
                "_fields": "id,attributes"})
            for p in shop:
                k = ids[p["id"]]
                have = p.get("attributes") or []
                want = merge_attributes(have, [it.change.record for it in by_product[k]])
                if want != have:
                    bodies[k]["attributes"] = want
        updates = [(k, b) for k, b in bodies.items() if len(b) > 1]
        for chunk in _chunks(updates, LIMIT):
            answer = self.http.json("POST", "/products/batch",
                                    {"update": [b for _, b in chunk]})
            for (k, _), got in zip(chunk, answer.get("update") or [], strict=False):
                if "error" in got:
                    self._refuse(by_product[k], results, shop_words(got["error"]))

    def _refuse(self, items: list[_Item], results: dict[int, Result], why: str) -> None:
        for it in items:
            results[it.change.id] = Result(it.change.id, False, f"SKU {it.sku}: {why}")

    # -- batches ----------------------------------------------------------------------

    def _run(self, parent: int | None, b: _Batch, results: dict[int, Result]) -> list[_Item]:
        """Send one endpoint's items in requests of at most 100; return the items to
        look up and try once more (a stale id, a create whose SKU exists)."""
        path = f"/products/{parent}/variations/batch" if parent else "/products/batch"
        work = [("create", it, body) for it, body in b.create] + \
               [("update", it, body) for it, body in b.update] + \
               [("delete", it, it.id) for it in b.delete]
        again: list[_Item] = []
        for chunk in _chunks(work, LIMIT):
            body: dict[str, list[Any]] = {}
            for op, _, payload in chunk:
                body.setdefault(op, []).append(payload)
            resp = self.http.request("POST", path, json=body,
                                     ok=lambda r: parent is not None and r.status_code == 404)
            if resp.status_code == 404:  # the parent is gone: its ids are stale
                for _, it, _ in chunk:
                    self._failed(it, "update", resp.json(), results, again)
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
                    pid = got.get("parent_id") or (parent or 0)
                    results[it.change.id] = Result(it.change.id, True,
                                                   remote={"id": got["id"], "parent_id": pid})
        return again

    def _failed(self, it: _Item, op: str, error: dict[str, Any],
                results: dict[int, Result], again: list[_Item]) -> None:
        code = error.get("code") or ""
        gone = code.endswith("_invalid_id")
        if op == "delete" and gone:  # already deleted: what was asked for
            results[it.change.id] = Result(it.change.id, True, remote={})
        elif not it.retried and (gone or (op == "create" and code == "product_invalid_sku")):
            again.append(it)
        else:
            results[it.change.id] = Result(it.change.id, False,
                                           f"SKU {it.sku}: {shop_words(error)}")


PARENT_FIELDS = ("title", "description", "handle", "status", "published")


def _changed(it: _Item, *names: str) -> bool:
    """Whether the record may differ from what the shop has in these fields."""
    prev, rec = it.change.previous, it.change.record
    return not it.known or prev is None or any(rec.get(n) != prev.get(n) for n in names)


def product_fields(rec: dict[str, Any]) -> dict[str, Any]:
    """A product's own fields: a simple product's, or a variable one's from any of
    its variation records."""
    out = {"status": status(rec.get("status"), rec.get("published"))}
    if "title" in rec:
        out["name"] = text(rec["title"])
    if "description" in rec:
        out["description"] = text(rec["description"])
    if not blank(rec.get("handle")):
        out["slug"] = text(rec["handle"])
    return out


def _remote(it: _Item) -> dict[str, Any] | None:
    return {"id": it.id, "parent_id": it.parent} if it.id is not None else None


def _chunks(seq: list[Any], n: int) -> list[list[Any]]:
    return [seq[i:i + n] for i in range(0, len(seq), n)]


def stock(qty: Any) -> dict[str, Any]:
    """Managed stock; a quantity that is not a whole number goes as given, for the
    shop to refuse in its own words."""
    try:
        q = int(qty)
    except (TypeError, ValueError):
        return {"manage_stock": True, "stock_quantity": qty}
    return {"manage_stock": True, "stock_quantity": q,
            "stock_status": "instock" if q > 0 else "outofstock"}


def _decimal(v: Any) -> Decimal | str | None:
    """A number as Decimal, or as given when it is not one (the shop says why)."""
    if blank(v):
        return None
    try:
        return Decimal(str(v).strip())
    except InvalidOperation:
        return str(v)


def prices(price: Any, compare: Any) -> tuple[str, str]:
    """(regular_price, sale_price): a compare-at price above the price makes the
    price a sale price, as the CSV sink does."""
    p, c = _decimal(price), _decimal(compare)
    if isinstance(p, Decimal) and isinstance(c, Decimal) and c > p:
        return text(c), text(p)
    return text(p), ""


def status(value: Any, published: Any) -> str:
    """As the CSV sink's Published: draft (or published false) -> draft, archived ->
    private, otherwise publish."""
    s = text(value).strip().lower()
    if s == "draft" or (published is False and s != "archived"):
        return "draft"
    return "private" if s == "archived" else "publish"


def attribute_key(name: Any) -> str:
    """How WooCommerce keys a custom attribute: WordPress ``sanitize_title`` (accents
    removed, lower case, runs of spaces and dots to one dash, other punctuation
    dropped)."""
    t = unicodedata.normalize("NFKD", re.sub(r"<[^>]*>", "", text(name)))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[^a-z0-9_-]", "", re.sub(r"[\s.]+", "-", t))
    return re.sub(r"-+", "-", t).strip("-")


def option_value(value: Any) -> str:
    """An option value as WooCommerce stores a variation's (``wc_clean``: whitespace
    runs collapsed, trimmed), so the parent's option is the very same string."""
    return re.sub(r"\s+", " ", text(value)).strip()


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


def merge_attributes(have: list[dict[str, Any]], records: list[dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """The shop's attributes with every option value of ``records`` added: lists are
    extended, never narrowed, and attributes the shop has beyond ours are kept.
    Records :func:`option_problem` refuses add nothing."""
    out = [dict(a, options=list(a.get("options") or ())) for a in have]
    for rec in records:
        if option_problem(rec):
            continue
        for o in rec.get("options") or ():
            value = option_value(o.get("value"))
            key = attribute_key(o["name"])
            a = next((a for a in out if attribute_key(a["name"]) == key), None)
            if a is None:
                a = {"name": o["name"], "position": len(out), "visible": True,
                     "variation": True, "options": []}
                out.append(a)
            a["variation"] = True
            if value not in a["options"]:
                a["options"].append(value)
    return out


def shop_words(error: dict[str, Any]) -> str:
    """The shop's message and code, with the parameter details WordPress gives."""
    msg = error.get("message") or ""
    params = (error.get("data") or {}).get("params")
    if isinstance(params, dict) and params:
        msg += " (" + "; ".join(str(v) for v in params.values()) + ")"
    return f"{msg} ({error.get('code')})" if error.get("code") else msg


@REGISTRY.sink("woocommerce_api")
class WooSink(ApiSink):
    Options = WooOptions
    Client = WooClient


