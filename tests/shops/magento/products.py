"""Products of the loopback Magento (catalogProductRepositoryV1).

- ``PUT /V1/products/{sku}`` and ``POST /V1/products``: ProductRepository::save, an
  upsert by the body's ``product.sku`` (created when absent) [code: Magento_Catalog
  etc/webapi.xml; magento/magento2#12535]; values saved at the scope of the path's
  store (:mod:`.stores`); answers the saved product as that store reads it. A new
  product needs ``name`` and ``price``; SKUs are at most 64 characters.
- ``GET`` and ``DELETE /V1/products/{sku}`` (404 with NO_PRODUCT when absent);
  ``GET /V1/products?searchCriteria`` with one ``sku`` filter (``eq`` or ``in``).
- Legacy ``extension_attributes.stock_item.qty`` sets the default source.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, ClassVar

from shops.magento.base import MagentoError, decimal, required, typed
from shops.magento.stores import ADMIN, REQUIRED, Scope, Stores

NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."
TOP_LEVEL = (("name", str), ("status", int), ("visibility", int))  # EAV, outside custom_
STATIC = (("type_id", str), ("attribute_set_id", int))
TYPES = ("simple", "virtual", "configurable")


class Products(Stores):
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
            if self.products.pop(sku, None) is None:
                raise MagentoError(404, NO_PRODUCT)
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
        :meth:`Stores.save_stores` gives."""
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
        p = self.products.get(sku)
        if p is None:
            for name in ("name", "price"):
                if fields.get(name) in (None, ""):
                    raise MagentoError(400, 'The "%1" attribute value is empty. Set the '
                                       'attribute and try again.', [name])
            if static.get("type_id", "simple") not in TYPES:
                raise MagentoError(400, 'Invalid value of "%value" provided for the '
                                   '%fieldName field.',
                                   {"value": static["type_id"], "fieldName": "type_id"})
            p = {"id": self.next_id, "sku": sku, "type_id": "simple", "attribute_set_id": 4,
                 "website_ids": self.website_ids(scope),
                 "values": {ADMIN: {"status": 1, "visibility": 4}}}
            self.next_id += 1
            self.products[sku] = p
            if scope.store_id != ADMIN:  # required ones also get a default value
                for name in REQUIRED:
                    p["values"][ADMIN].setdefault(name, fields[name])
            if count:
                self.creates[sku] += 1
        p.update(static)
        for name, value in fields.items():
            for store in self.save_stores(scope, name):
                p["values"].setdefault(store, {})[name] = value
        stock = (data.get("extension_attributes") or {}).get("stock_item")
        if isinstance(stock, dict) and "qty" in stock:  # legacy stock: the default source
            qty = float(decimal(stock["qty"]) or 0)
            self.set_source_item(sku, "default", qty, int(bool(stock.get("is_in_stock",
                                                                         qty > 0))))
        if count:
            self.applied[sku] += 1
        return p

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
        out["extension_attributes"] = {"website_ids": list(p["website_ids"])}
        out["custom_attributes"] = [{"attribute_code": k, "value": v} for k, v in
                                    values.items() if k not in out]
        return out
