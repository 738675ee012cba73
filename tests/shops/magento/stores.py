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
status, special_from/to_date: website; weight: global. The price attributes (price,
special_price, cost) follow the Catalog Price Scope setting ``catalog/price/scope``
(``price_scope``: ``global``, Magento's default 0, or ``website``) [code:
Catalog/Model/Product/Attribute/Backend/Price.php ``setScope``]. A user-defined
attribute has the scope it was made with (:mod:`.attributes`); one not known at
all is taken as store-view scoped. A store view reads its own value and
falls back to store 0 ("Use Default Value"). Only the attributes a request sends are
saved (the 2.4 behaviour: magento/magento2#9186, #26484 and #31083, where saving
through a store view also copied untouched attributes, are fixed in 2.4.x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from shops.magento.base import ShopState, no_route

ALL = "all"  # PathProcessor::ALL_STORE_CODE
ADMIN = 0
SCOPES = {"name": "store", "description": "store", "short_description": "store",
          "url_key": "store", "meta_title": "store", "meta_keyword": "store",
          "meta_description": "store", "visibility": "store", "status": "website",
          "special_from_date": "website", "special_to_date": "website", "weight": "global"}
PRICES = ("price", "special_price", "cost")
REQUIRED = ("name",)


@dataclass(frozen=True)
class Scope:
    """The store a request runs in: its id (0: admin/all) and code."""

    store_id: int
    code: str


class Stores(ShopState):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/store/storeViews", "get_store_views"),
        ("GET", "V1/store/websites", "get_websites"),
    ]

    def __init__(self, *, store_views: dict[str, str] | None = None,
                 price_scope: str = "global", **kw: Any):
        super().__init__(**kw)
        views = store_views or {"default": "base"}  # code -> website code
        self.stores = {code: i for i, code in enumerate(views, 1)}  # code -> store id
        websites = list(dict.fromkeys(views.values()))
        self.websites = {w: i for i, w in enumerate(websites, 1)}  # code -> website id
        self.website_of = {self.stores[c]: self.websites[w] for c, w in views.items()}
        self.default_store = self.stores.get("default", 1)
        if price_scope not in ("global", "website"):
            raise ValueError("price_scope: global or website")
        self.price_scope = price_scope

    def scope_of(self, attribute: str) -> str:
        """store, website or global: where a value of ``attribute`` is kept."""
        if attribute in PRICES:
            return self.price_scope
        return SCOPES.get(attribute, "store")

    def store_ids(self, website_id: int) -> list[int]:
        return sorted(s for s, w in self.website_of.items() if w == website_id)

    def get_store_views(self, scope: Scope, params: list[str], query: dict[str, str],
                        body: Any) -> tuple[int, Any]:
        """StoreRepository::getList: the admin store (0) and every store view."""
        out = [{"id": ADMIN, "code": "admin", "website_id": 0, "store_group_id": 0,
                "name": "Admin", "is_active": 1}]
        out += [{"id": i, "code": c, "website_id": self.website_of[i],
                 "store_group_id": self.website_of[i], "name": c, "is_active": 1}
                for c, i in self.stores.items()]
        return 200, out

    def get_websites(self, scope: Scope, params: list[str], query: dict[str, str],
                     body: Any) -> tuple[int, Any]:
        out = [{"id": 0, "code": "admin", "name": "Admin", "default_group_id": 0}]
        out += [{"id": i, "code": c, "name": c, "default_group_id": i}
                for c, i in self.websites.items()]
        return 200, out

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
        kind = self.scope_of(attribute)
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
