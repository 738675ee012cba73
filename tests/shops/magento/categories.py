"""Categories of the loopback Magento and the products assigned to them.

A standard install has the tree root (1, "Root Catalog") and the root category of the
default store group (2, "Default Category"); store views show what is under 2.

- ``GET /V1/categories?rootCategoryId=&depth=`` (CategoryManagement::getTree): the
  tree under the root, ``{id, parent_id, name, is_active, position, level,
  product_count, children_data}``, names as the path's store reads them.
- ``GET /V1/categories/{id}``; an unknown id is 404 ``No such entity with
  %fieldName = %fieldValue`` [code: Catalog/Model/CategoryRepository.php ``get``].
- ``POST /V1/categories`` creates, ``PUT /V1/categories/{id}`` saves
  [code: CategoryRepository::save]: a new category goes under ``parent_id`` (404
  when that does not exist); a missing name is ``Could not save category: The "Name"
  attribute is required. Enter and try again.``. The name is a store-view attribute:
  saved through a store view code it is that view's name only, through ``all`` the
  default. Its URL key is made from the name (lower case, other characters as ``-``)
  when none is given, and the URL path (the parents' keys and its own) must be free
  among the categories of the same store: a second category of the same name under
  the same parent is ``Could not save category: URL key for specified store already
  exists.`` (the URL rewrite's unique key [code: UrlRewrite/Model/Storage/
  DbStorage.php]), so a create repeated after a lost answer makes nothing twice.
- Product links [code: Catalog/Model/Category/Link/SaveHandler.php]: a product saved
  with ``extension_attributes.category_links`` keeps the links it had and adds or
  repositions the ones given (``mergeCategoryLinks``); an empty list removes them
  all; leaving the key out changes nothing (magento/magento2#14038, #25646: removing
  one category by a save is not possible). A category id that does not exist fails
  the save (the foreign key) with the generic save error.
  ``DELETE /V1/categories/{id}/products/{sku}`` removes one link
  (CategoryLinkRepository::deleteByIds; 400 ``The category doesn't contain the
  specified product.`` when there is none).

Read-back: ``category_paths(sku, store)`` (``Donna > Capispalla > Cappotti`` for each
linked category), ``category_names(store)`` (path of ids -> name), ``category_creates``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from shops.magento.attributes import SAVE_FAILED, Attributes
from shops.magento.base import MagentoError, required
from shops.magento.stores import ADMIN, Scope

ROOT = 1
DEFAULT_ROOT = 2


def url_key(name: str) -> str:
    """Magento's formatUrlKey: transliterated, lower case, other characters as -."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")


def no_entity(value: Any) -> MagentoError:
    return MagentoError(404, "No such entity with %fieldName = %fieldValue",
                        {"fieldName": "id", "fieldValue": value})


class Categories(Attributes):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("GET", "V1/categories", "get_tree"),
        ("GET", "V1/categories/{id}", "get_category"),
        ("POST", "V1/categories", "post_category"),
        ("PUT", "V1/categories/{id}", "put_category"),
        ("GET", "V1/categories/{id}/products", "get_category_products"),
        ("DELETE", "V1/categories/{id}/products/{sku}", "delete_category_link"),
    ]

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.categories: dict[int, dict[str, Any]] = {}
        self.category_creates = 0
        self._make(ROOT, 0, "Root Catalog", 0)
        self._make(DEFAULT_ROOT, ROOT, "Default Category", 1)

    def _make(self, cid: int, parent: int, name: str, level: int) -> dict[str, Any]:
        c = {"id": cid, "parent_id": parent, "level": level, "names": {ADMIN: name},
             "keys": {ADMIN: url_key(name)}, "is_active": True, "include_in_menu": True,
             "position": len([x for x in self.categories.values()
                              if x["parent_id"] == parent]) + 1}
        self.categories[cid] = c
        return c

    # -- read-back --------------------------------------------------------------

    def _name(self, c: dict[str, Any], store_id: int) -> str:
        return str(c["names"].get(store_id) or c["names"][ADMIN])

    def _path(self, cid: int) -> list[int]:
        out = []
        while cid in self.categories and self.categories[cid]["level"] > 1:
            out.append(cid)
            cid = self.categories[cid]["parent_id"]
        return out[::-1]

    def category_paths(self, sku: str, store: str | None = "all") -> list[str]:
        """The paths of the product's categories, names as ``store`` reads them."""
        with self.lock:
            sid = self.read_store(store)
            links = self.products[sku].get("categories", {})
            return sorted(" > ".join(self._name(self.categories[i], sid)
                                     for i in self._path(cid)) for cid in links)

    def category_names(self, store: str | None = "all") -> dict[tuple[int, ...], str]:
        """Path of ids under the default root -> name as ``store`` reads it."""
        with self.lock:
            sid = self.read_store(store)
            return {tuple(self._path(cid)): self._name(c, sid)
                    for cid, c in self.categories.items() if c["level"] > 1}

    # -- what the product save uses ------------------------------------------------

    def check_category_links(self, links: Any) -> dict[int, int]:
        """category_links as category id -> position; a category that does not
        exist fails the save."""
        out: dict[int, int] = {}
        if not isinstance(links, list):
            raise required("category_links")
        for link in links:
            cid = str((link or {}).get("category_id", ""))
            if not cid.isdigit() or int(cid) not in self.categories:
                raise MagentoError(400, SAVE_FAILED)
            out[int(cid)] = int(link.get("position") or 0)
        return out

    @staticmethod
    def merge_links(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
        """Link\\SaveHandler::mergeCategoryLinks: old links stay unless none is given."""
        return {**old, **new} if new else {}

    # -- routes -----------------------------------------------------------------

    def _category(self, cid: str) -> dict[str, Any]:
        if not cid.isdigit() or int(cid) not in self.categories:
            raise no_entity(cid)
        return self.categories[int(cid)]

    def _category_out(self, c: dict[str, Any], store_id: int) -> dict[str, Any]:
        return {"id": c["id"], "parent_id": c["parent_id"], "name": self._name(c, store_id),
                "is_active": c["is_active"], "position": c["position"], "level": c["level"],
                "include_in_menu": c["include_in_menu"],
                "path": "/".join(str(i) for i in self._ancestry(c["id"]))}

    def _ancestry(self, cid: int) -> list[int]:
        out = [cid]
        while self.categories[out[-1]]["parent_id"]:
            out.append(self.categories[out[-1]]["parent_id"])
        return out[::-1]

    def _tree(self, c: dict[str, Any], store_id: int, depth: int | None) -> dict[str, Any]:
        kids = sorted((x for x in self.categories.values() if x["parent_id"] == c["id"]),
                      key=lambda x: (x["position"], x["id"]))
        count = sum(1 for p in self.products.values() if c["id"] in p.get("categories", {}))
        out = {k: v for k, v in self._category_out(c, store_id).items() if k != "path"}
        out["product_count"] = count
        out["children_data"] = [] if depth == 0 else [
            self._tree(k, store_id, None if depth is None else depth - 1) for k in kids]
        return out

    def get_tree(self, scope: Scope, params: list[str], query: dict[str, str],
                 body: Any) -> tuple[int, Any]:
        root = query.get("rootCategoryId") or str(DEFAULT_ROOT)
        depth = query.get("depth")
        with self.lock:
            return 200, self._tree(self._category(root), scope.store_id,
                                   int(depth) if depth and depth.isdigit() else None)

    def get_category(self, scope: Scope, params: list[str], query: dict[str, str],
                     body: Any) -> tuple[int, Any]:
        with self.lock:
            return 200, self._category_out(self._category(params[0]), scope.store_id)

    def post_category(self, scope: Scope, params: list[str], query: dict[str, str],
                      body: Any) -> tuple[int, Any]:
        data = body.get("category") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise required("category")
        with self.lock:
            if data.get("id") is not None:
                return self._update(scope, self._category(str(data["id"])), data)
            parent = self._category(str(data.get("parent_id") or DEFAULT_ROOT))
            name = str(data.get("name") or "").strip()
            if not name:
                raise MagentoError(400, "Could not save category: %1", [
                    'The "Name" attribute is required. Enter and try again.'])
            key = str(data.get("url_key") or url_key(name))
            self._free(parent["id"], key, None)
            c = self._make(max(self.categories) + 1, parent["id"], name, parent["level"] + 1)
            c["keys"] = {ADMIN: key}
            if scope.store_id != ADMIN:  # the default name too, as for a new product
                c["names"][scope.store_id] = name
            for flag in ("is_active", "include_in_menu"):
                if flag in data:
                    c[flag] = bool(data[flag])
            self.category_creates += 1
            return 200, self._category_out(c, scope.store_id)

    def put_category(self, scope: Scope, params: list[str], query: dict[str, str],
                     body: Any) -> tuple[int, Any]:
        data = body.get("category") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise required("category")
        with self.lock:
            return self._update(scope, self._category(params[0]), data)

    def _update(self, scope: Scope, c: dict[str, Any], data: dict[str, Any]
                ) -> tuple[int, Any]:
        store = ADMIN if self.single_store else scope.store_id
        if "name" in data:
            name = str(data.get("name") or "").strip()
            if not name:
                raise MagentoError(400, "Could not save category: %1", [
                    'The "Name" attribute is required. Enter and try again.'])
            c["names"][store] = name
        if data.get("url_key"):
            self._free(c["parent_id"], str(data["url_key"]), c["id"])
            c["keys"][store] = str(data["url_key"])
        for flag in ("is_active", "include_in_menu"):
            if flag in data:
                c[flag] = bool(data[flag])
        return 200, self._category_out(c, scope.store_id)

    def _free(self, parent: int, key: str, me: int | None) -> None:
        """The URL path must be free among the category's siblings."""
        for x in self.categories.values():
            if x["parent_id"] == parent and x["id"] != me and key in x["keys"].values():
                raise MagentoError(400, "Could not save category: %1", [
                    "URL key for specified store already exists."])

    def get_category_products(self, scope: Scope, params: list[str], query: dict[str, str],
                              body: Any) -> tuple[int, Any]:
        with self.lock:
            cid = self._category(params[0])["id"]
            return 200, [{"sku": sku, "position": p["categories"][cid],
                          "category_id": str(cid)}
                         for sku, p in self.products.items()
                         if cid in p.get("categories", {})]

    def delete_category_link(self, scope: Scope, params: list[str], query: dict[str, str],
                             body: Any) -> tuple[int, Any]:
        with self.lock:
            cid = self._category(params[0])["id"]
            p = self.products.get(params[1])
            if p is None:
                raise MagentoError(404, "The product that was requested doesn't exist. "
                                   "Verify the product and try again.")
            if cid not in p.get("categories", {}):
                raise MagentoError(400, "The category doesn't contain the specified product.")
            del p["categories"][cid]
            return 200, True

    products: dict[str, dict[str, Any]]  # the products module's
