"""Store scope of the loopback Magento: which store a REST path addresses, and at
which scope a product attribute's value is saved and read.

The store code in the path [code: magento/magento2 app/code/Magento/Webapi/Controller/
PathProcessor.php ``process``]: ``/rest/<code>/V1/…`` where ``<code>`` is a store
view's code (``StoreManager::getStores(false, true)``: the admin store is not among
them) runs in that store view; ``all`` runs in the admin store (store 0, the global
values); any other first segment is left in the path, so ``/rest/V1/…`` runs in the
default store view and ``/rest/nosuch/V1/…`` matches no route (404 "Request does not
match any route."). A standard install has one website ``base`` with one store view
``default`` (store 1); ``store_views`` configures more.

Saving a product [code: ProductRepository::save sets the product's ``store_id`` to the
current store; Catalog/Model/ResourceModel/AbstractResource.php ``_saveAttributeValue``
and ``_insertAttribute``]:

- single-store mode (``StoreManager::hasSingleStore``: one store view) saves every
  value at store 0, whatever the path says;
- otherwise an attribute of scope store view is saved for the current store (store 0
  through ``all``), one of scope website for every store view of the current store's
  website (store 0 through ``all``), a global one at store 0;
- creating a product through a store view also saves a REQUIRED attribute (``name``)
  at store 0 when store 0 has none, so the product has a default name; an optional
  one (``description``) exists only in that store view;
- a new product is assigned to every website through ``all`` and to the current
  store's website otherwise (ProductRepository ``assignProductToWebsites``).

Attribute scopes are Magento's defaults [code: Catalog/Setup/CategorySetup.php]:
name, description, short_description, url_key, meta_*, visibility: store view;
status, special_from/to_date: website; price and special_price: global, as the
default ``catalog/price/scope`` (0) makes them; weight: global. An attribute not
listed here is taken as store-view scoped. A store view reads its own value and
falls back to store 0 ("Use Default Value"). Only the attributes a request sends are
saved (the 2.4 behaviour: magento/magento2#9186, #26484 and #31083, where saving
through a store view also copied untouched attributes, are fixed in 2.4.x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shops.magento.base import ShopState, no_route

ALL = "all"  # PathProcessor::ALL_STORE_CODE
ADMIN = 0
SCOPES = {"name": "store", "description": "store", "short_description": "store",
          "url_key": "store", "meta_title": "store", "meta_keyword": "store",
          "meta_description": "store", "visibility": "store", "status": "website",
          "special_from_date": "website", "special_to_date": "website", "price": "global",
          "special_price": "global", "cost": "global", "weight": "global"}
REQUIRED = ("name",)


@dataclass(frozen=True)
class Scope:
    """The store a request runs in: its id (0: admin/all) and code."""

    store_id: int
    code: str


class Stores(ShopState):
    def __init__(self, *, store_views: dict[str, str] | None = None, **kw: Any):
        super().__init__(**kw)
        views = store_views or {"default": "base"}  # code -> website code
        self.stores = {code: i for i, code in enumerate(views, 1)}  # code -> store id
        websites = list(dict.fromkeys(views.values()))
        self.websites = {w: i for i, w in enumerate(websites, 1)}  # code -> website id
        self.website_of = {self.stores[c]: self.websites[w] for c, w in views.items()}
        self.default_store = self.stores.get("default", 1)

    @property
    def single_store(self) -> bool:
        """``StoreManager::hasSingleStore``: admin plus one store view."""
        return len(self.stores) < 2

    def scope(self, segs: list[str]) -> tuple[Scope, list[str]]:
        """PathProcessor: the scope of ``/rest/<segs…>`` and the route left."""
        if segs and segs[0] in self.stores:
            return Scope(self.stores[segs[0]], segs[0]), segs[1:]
        if segs and segs[0] == ALL:
            return Scope(ADMIN, "admin"), segs[1:]
        if not segs or segs[0] not in ("V1", "async"):
            raise no_route()  # the unknown code stays in the path: no route matches it
        default = next(c for c, i in self.stores.items() if i == self.default_store)
        return Scope(self.default_store, default), segs

    def save_stores(self, scope: Scope, attribute: str) -> list[int]:
        """The store ids a value of ``attribute`` saved in ``scope`` is written to."""
        if self.single_store or scope.store_id == ADMIN:
            return [ADMIN]
        kind = SCOPES.get(attribute, "store")
        if kind == "store":
            return [scope.store_id]
        if kind == "website":
            site = self.website_of[scope.store_id]
            return [s for s, w in self.website_of.items() if w == site]
        return [ADMIN]

    def website_ids(self, scope: Scope) -> list[int]:
        """Websites a product created in ``scope`` is assigned to."""
        if scope.store_id == ADMIN:
            return sorted(self.websites.values())
        return [self.website_of[scope.store_id]]

    def read_store(self, code: str | None) -> int:
        """The store id a read through ``code`` sees (None: the default store view)."""
        if code in (None, "default"):
            return self.default_store
        return ADMIN if code in (ALL, "admin") else self.stores[code]
