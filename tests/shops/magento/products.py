"""Products of the loopback Magento (catalogProductRepositoryV1).

- ``PUT /V1/products/{sku}`` and ``POST /V1/products``: ProductRepository::save, an
  upsert by the body's ``product.sku`` (created when absent) [code: Magento_Catalog
  etc/webapi.xml; magento/magento2#12535]; values saved at the scope of the path's
  store (:mod:`.stores`); answers the saved product as that store reads it. A new
  product needs ``name``, and ``price`` unless it is configurable (:mod:`.configurable`);
  SKUs are at most 64 characters. Custom attribute values go through the attribute
  set and the option checks of :mod:`.attributes`.
- ``extension_attributes``: ``category_links`` (:mod:`.categories`),
  ``configurable_product_options``/``links`` (:mod:`.configurable`), ``website_ids``
  (the websites the product is in; an unknown one fails the save), legacy
  ``stock_item.qty`` (the default source). ``media_gallery_entries``: :mod:`.media`.
  Everything is checked before anything is changed: a save is all or nothing.
- A visible product (visibility other than 1) gets its URL key from its name when it
  has none, and that key must be free among the visible products of the store:
  ``URL key for specified store already exists.`` [code: CatalogUrlRewrite: the URL
  rewrite's unique request path; products not visible individually get no rewrite].
- A special price saved without a start date gets today as its start [code:
  Catalog/Observer/SetSpecialPriceStartDate.php]; dates are kept as ``Y-m-d H:i:s``.
  An empty special price is refused: releases differ on whether ``""`` clears it or
  stores 0 (magento/magento2#8274, #8862), so clients must use
  ``/V1/products/special-price-delete`` (:mod:`.prices`).
- ``GET`` and ``DELETE /V1/products/{sku}`` (404 with NO_PRODUCT when absent);
  ``GET /V1/products?searchCriteria`` with one ``sku`` filter (``eq`` or ``in``).
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from shops.magento.attributes import SAVE_FAILED
from shops.magento.base import MagentoError, decimal, required, typed
from shops.magento.categories import Categories, url_key
from shops.magento.configurable import Configurable
from shops.magento.media import Media
from shops.magento.stores import ADMIN, REQUIRED, Scope

NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."
TOP_LEVEL = (("name", str), ("status", int), ("visibility", int))  # EAV, outside custom_
STATIC = (("type_id", str), ("attribute_set_id", int))
TYPES = ("simple", "virtual", "configurable")


class Products(Configurable, Media, Categories):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/products", "search_products"),
        ("POST", "V1/products", "post_product"),
        ("GET", "V1/products/{sku}", "get_product"),
        ("PUT", "V1/products/{sku}", "put_product"),
        ("DELETE", "V1/products/{sku}", "delete_product"),
    ]

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.products: dict[str, dict[str, Any]] = {}
        self.next_id = 1

    # -- read-back for tests -------------------------------------------------------

    def catalog(self, store: str | None = None) -> dict[str, dict[str, Any]]:
        """Every product by SKU as store ``store`` reads it (None: the default store
        view; ``all``: the global values): its fields (price and weight as Decimal),
        ``custom_attributes`` by code, ``website_ids`` and ``stock`` by source code as
        (quantity, status)."""
        with self.lock:
            sid = self.read_store(store)
            stock = self.stock_by_sku()
            out = {}
            for sku, p in self.products.items():
                values = self._values(p, sid)
                out[sku] = {"id": p["id"], "sku": sku, "type_id": p["type_id"],
                            "attribute_set_id": p["attribute_set_id"],
                            "website_ids": list(p["website_ids"]),
                            **{k: values.get(k) for k in ("name", "price", "status",
                                                          "visibility", "weight")},
                            "custom_attributes": {k: v for k, v in values.items()
                                                  if k not in ("name", "price", "status",
                                                               "visibility", "weight")},
                            "stock": stock.get(sku, {})}
            return out

    def values(self, sku: str) -> dict[int, dict[str, Any]]:
        """The product's stored values per store id (0: global), as the EAV tables
        hold them."""
        with self.lock:
            return copy.deepcopy(self.products[sku]["values"])

    def add_product(self, sku: str, name: str = "", price: str = "1.00", qty: float = 0,
                    source: str = "default") -> None:
        """Seed a product at global scope (not counted in ``applied``/``creates``)."""
        with self.lock:
            self.save_product(Scope(ADMIN, "admin"), {
                "sku": sku, "name": name or sku, "price": price, "type_id": "simple",
                "attribute_set_id": 4}, count=False)
            self.set_source_item(sku, source, float(qty), int(qty > 0))

    def stock_by_sku(self) -> dict[str, dict[str, tuple[float, int]]]:
        raise NotImplementedError  # the inventory module's

    def set_source_item(self, sku: str, source: str, qty: float, status: int) -> None:
        raise NotImplementedError  # the inventory module's

    # -- routes -----------------------------------------------------------------------

    def search_products(self, scope: Scope, params: list[str], query: dict[str, str],
                        body: Any) -> tuple[int, Any]:
        filters: dict[str, dict[str, str]] = {}
        prefix = "searchCriteria[filter_groups][0][filters]["
        for key, value in query.items():
            if key.startswith(prefix):
                idx, _, field = key[len(prefix):].partition("][")
                filters.setdefault(idx, {})[field.rstrip("]")] = value
        with self.lock:
            found = list(self.products.values())
            for f in filters.values():
                if f.get("field") != "sku":
                    raise MagentoError(400, '"%fieldName" is not supported here',
                                       {"fieldName": f.get("field")})
                cond = f.get("condition_type", "eq")
                wanted = set(f.get("value", "").split(",")) if cond == "in" \
                    else {f.get("value", "")}
                found = [p for p in found if p["sku"] in wanted]
            size = int(query.get("searchCriteria[pageSize]", 0) or 0)
            items = [self.render(p, scope.store_id) for p in (found[:size] if size else found)]
        return 200, {"items": items, "search_criteria": {}, "total_count": len(found)}

    def post_product(self, scope: Scope, params: list[str], query: dict[str, str],
                     body: Any) -> tuple[int, Any]:
        return 200, self._save_request(scope, body)

    def put_product(self, scope: Scope, params: list[str], query: dict[str, str],
                    body: Any) -> tuple[int, Any]:
        return 200, self._save_request(scope, body)

    def get_product(self, scope: Scope, params: list[str], query: dict[str, str],
                    body: Any) -> tuple[int, Any]:
        with self.lock:
            if params[0] not in self.products:
                raise MagentoError(404, NO_PRODUCT)
            return 200, self.render(self.products[params[0]], scope.store_id)

    def delete_product(self, scope: Scope, params: list[str], query: dict[str, str],
                       body: Any) -> tuple[int, Any]:
        sku = params[0]
        with self.lock:
            gone = self.products.pop(sku, None)
            if gone is None:
                raise MagentoError(404, NO_PRODUCT)
            self.forget_child(gone["id"])
            self.forget_stock(sku)
            self.applied[sku] += 1
            return 200, True

    def forget_stock(self, sku: str) -> None:
        raise NotImplementedError  # the inventory module's

    # -- ProductRepository::save -------------------------------------------------------

    def _save_request(self, scope: Scope, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("product"), dict):
            raise required("product")
        with self.lock:
            return self.render(self.save_product(scope, body["product"]), scope.store_id)

    def save_product(self, scope: Scope, data: dict[str, Any], count: bool = True
                     ) -> dict[str, Any]:
        """Merge into the product with that SKU, or create it; values at the scope
        :meth:`Stores.save_stores` gives. Everything is checked first."""
        sku = data.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            raise required("sku")
        if len(sku) > 64:
            raise MagentoError(400, "SKU length should be %1 characters maximum.", [64])
        fields: dict[str, Any] = {}
        for name, kind in TOP_LEVEL:
            if name in data:
                fields[name] = typed(data[name], kind)
        for name in ("price", "weight"):
            if name in data:
                fields[name] = decimal(data[name])
        for a in data.get("custom_attributes") or []:
            if not isinstance(a, dict) or "attribute_code" not in a:
                raise required("attribute_code")
            fields[a["attribute_code"]] = a.get("value")
        static = {name: typed(data[name], kind) for name, kind in STATIC if name in data}
        ext = data.get("extension_attributes") or {}
        p = self.products.get(sku)
        type_id = static.get("type_id") or (p["type_id"] if p else "simple")
        if type_id not in TYPES:
            raise MagentoError(400, 'Invalid value of "%value" provided for the %fieldName '
                               'field.', {"value": type_id, "fieldName": "type_id"})
        set_id = static.get("attribute_set_id") or (p["attribute_set_id"] if p else 4)
        # Catalog AbstractResource::_isApplicableAttribute: values of attributes outside
        # the product's set (or of no attribute) are dropped without a word.
        fields = {k: v for k, v in fields.items() if self.applicable(k, set_id)}
        for name, value in fields.items():
            self.check_value(name, value)
            if name in ("special_price", "cost") and value in (None, ""):
                raise MagentoError(400, "The \"%value\" value's type is invalid. The "
                                   "\"%type\" type was expected. Verify and try again.",
                                   {"value": value, "type": "float"})
            if name in ("special_from_date", "special_to_date", "news_from_date",
                        "news_to_date") and value not in (None, ""):
                fields[name] = _datetime(name, value)
        if p is None:
            needed = ("name",) if type_id == "configurable" else ("name", "price")
            for name in needed:
                if fields.get(name) in (None, ""):
                    raise MagentoError(400, 'The "%1" attribute value is empty. Set the '
                                       'attribute and try again.', [name])
        conf = self.plan_configurable(p, type_id, ext)
        links = self.check_category_links(ext["category_links"]) \
            if ext.get("category_links") is not None else None
        sites = ext.get("website_ids")
        if sites is not None and (not isinstance(sites, list) or not all(
                str(w).isdigit() and int(w) in self.websites.values() for w in sites)):
            raise MagentoError(400, SAVE_FAILED)
        media = None
        if data.get("media_gallery_entries") is not None:
            media = self.plan_gallery((p or {}).get("media", []), data["media_gallery_entries"])
        if count and (p is None or fields.keys() & {"name", "url_key", "visibility"}):
            self._check_url_key(p, sku, scope, fields)
        # -- all checked: save ------------------------------------------------------
        if p is None:
            p = {"id": self.next_id, "sku": sku, "type_id": type_id, "attribute_set_id": set_id,
                 "website_ids": self.website_ids(scope), "categories": {},
                 "values": {ADMIN: {"status": 1, "visibility": 4}}}
            self.next_id += 1
            self.products[sku] = p
            if scope.store_id != ADMIN:  # required ones also get a default value
                for name in REQUIRED:
                    p["values"][ADMIN].setdefault(name, fields[name])
            if count:
                self.creates[sku] += 1
        p.update(static)
        if fields.get("special_price") not in (None, "") and not any(
                "special_from_date" in v for v in p["values"].values()) \
                and "special_from_date" not in fields:
            fields["special_from_date"] = dt.date.today().isoformat() + " 00:00:00"
        for name, value in fields.items():
            for store in self.save_stores(scope, name):
                p["values"].setdefault(store, {})[name] = value
        if conf is not None:
            p["configurable"] = conf
        if links is not None:
            p["categories"] = self.merge_links(p["categories"], links)
        if sites is not None:
            p["website_ids"] = sorted(int(w) for w in sites)
        if media is not None:
            self.apply_gallery(p, *media)
        stock = ext.get("stock_item")
        if isinstance(stock, dict) and "qty" in stock:  # legacy stock: the default source
            qty = float(decimal(stock["qty"]) or 0)
            self.set_source_item(sku, "default", qty, int(bool(stock.get("is_in_stock",
                                                                         qty > 0))))
        if count:
            self.applied[sku] += 1
        return p

    def _check_url_key(self, p: dict[str, Any] | None, sku: str, scope: Scope,
                       fields: dict[str, Any]) -> None:
        """A visible product's URL key (given, kept, or made from its name) must be
        free among the store's visible products."""
        values = {**(self._values(p, scope.store_id) if p else {}), **fields}
        if values.get("visibility", 4) == 1:
            return
        key = values.get("url_key") or url_key(str(values.get("name") or ""))
        if not key:
            return
        if p is None:
            fields.setdefault("url_key", key)  # ProductUrlKeyAutogeneratorObserver
        for other in self.products.values():
            if other["sku"] == sku:
                continue
            ov = self._values(other, scope.store_id)
            if ov.get("visibility", 4) != 1 and (ov.get("url_key") or url_key(
                    str(ov.get("name") or ""))) == key:
                raise MagentoError(400, "URL key for specified store already exists.")

    @staticmethod
    def _values(p: dict[str, Any], store_id: int) -> dict[str, Any]:
        """What ``store_id`` reads: its own values over the global ones."""
        return {**p["values"].get(ADMIN, {}),
                **(p["values"].get(store_id, {}) if store_id != ADMIN else {})}

    def render(self, p: dict[str, Any], store_id: int) -> dict[str, Any]:
        """The product as the REST API answers it in that store."""
        values = self._values(p, store_id)
        out: dict[str, Any] = {"id": p["id"], "sku": p["sku"], "type_id": p["type_id"],
                               "attribute_set_id": p["attribute_set_id"]}
        for k in ("name", "status", "visibility", "price", "weight"):
            v = values.get(k)
            out[k] = float(v) if isinstance(v, Decimal) else v
        out["extension_attributes"] = {
            "website_ids": list(p["website_ids"]),
            "category_links": [{"position": pos, "category_id": str(cid)}
                               for cid, pos in p.get("categories", {}).items()],
            **self.configurable_out(p)}
        out["media_gallery_entries"] = self.media_out(p)
        out["custom_attributes"] = [{"attribute_code": k, "value": v} for k, v in
                                    values.items() if k not in out]
        return out


def _datetime(name: str, value: Any) -> str:
    """The datetime backend: a date (and time) kept as Y-m-d H:i:s."""
    text = str(value).strip()
    try:
        when = dt.datetime.fromisoformat(text) if len(text) > 10 else \
            dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    except ValueError:
        raise MagentoError(400, 'Invalid value of "%value" provided for the %fieldName '
                           'field.', {"value": value, "fieldName": name}) from None
    return when.strftime("%Y-%m-%d %H:%M:%S")
