"""Collections of the loopback Shopify.

- ``collectionByHandle(handle:)`` [doc: shopify.dev admin-graphql
  ``collectionByHandle``]: the collection or null.
- ``collectionCreate(input: {title handle descriptionHtml ruleSet})`` [doc:
  ``collectionCreate``, ``CollectionInput``; payload ``{collection userErrors
  [UserError {field message}]}``]: a title is required; a handle already used by
  another collection is refused (REST answers 422 "has already been taken" for a
  duplicate handle, MONEI/Shopify-api-node#487; the GraphQL wording is invented),
  so a re-sent create never makes a second collection; without a handle one is
  made from the title. ``ruleSet`` makes a smart collection.
- ``collectionAddProducts(id:, productIds:)`` [doc: ``collectionAddProducts``:
  "only works with manual collections"; ``CollectionAddProductsV2UserErrorCode``
  CANT_ADD_TO_SMART_COLLECTION, COLLECTION_DOES_NOT_EXIST]: at most 250 ids; a
  product already in the collection is refused (Shopify's REST ``collects`` answer
  422 for a duplicate; the GraphQL behaviour is not documented: the stricter
  reading, so a client must read membership before adding); an unknown product is
  refused. All or nothing.
- ``collectionRemoveProducts(id:, productIds:)``: an asynchronous job in Shopify
  [doc]; here done at once, ``job {id done: true}``.
- Products show their ``collections(first:)``.

Read-back: ``collection(handle)`` -> {id, title, products: [product handles], smart};
``collection_requests`` counts collection mutations.
"""

from __future__ import annotations

import re
from typing import Any

from shops.shopify.base import Call, ShopState, too_many, user_error


class Collections(ShopState):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.collections: dict[str, dict[str, Any]] = {}  # GID -> collection

    # -- read-back ---------------------------------------------------------------------

    def collection(self, handle: str) -> dict[str, Any] | None:
        with self.lock:
            c = next((c for c in self.collections.values() if c["handle"] == handle), None)
            if c is None:
                return None
            return {"id": c["id"], "title": c["title"], "smart": c["smart"],
                    "products": [self.products[p]["handle"] for p in c["products"]
                                 if p in self.products]}

    def add_smart_collection(self, handle: str, title: str) -> str:
        """A merchant's automated collection (products cannot be added by hand)."""
        with self.lock:
            gid = self._gid("Collection")
            self.collections[gid] = {"id": gid, "handle": handle, "title": title,
                                     "products": [], "smart": True}
            return gid

    # -- shared with products and translations -------------------------------------------

    def collections_of(self, product_id: str) -> list[dict[str, Any]]:
        return [c for c in self.collections.values() if product_id in c["products"]]

    def collection_by_id(self, gid: str) -> dict[str, Any] | None:
        return self.collections.get(gid)

    def _collection_node(self, c: dict[str, Any]) -> dict[str, Any]:
        return {"__typename": "Collection", "id": c["id"], "handle": c["handle"],
                "title": c["title"], "productsCount": {"count": len(c["products"]),
                                                       "precision": "EXACT"},
                "ruleSet": {"appliedDisjunctively": False} if c["smart"] else None}

    # -- queries and mutations -----------------------------------------------------------

    def query_collectionByHandle(self, call: Call) -> dict[str, Any] | None:
        handle = call.arg("handle")
        c = next((c for c in self.collections.values() if c["handle"] == handle), None)
        return None if c is None else self._collection_node(c)

    def node_Collection(self, call: Call, gid: str) -> dict[str, Any] | None:
        c = self.collections.get(gid)
        return None if c is None else self._collection_node(c)

    def mutation_collectionCreate(self, call: Call) -> dict[str, Any]:
        inp = call.arg("input")
        if not isinstance(inp, dict):
            raise call.invalid("input", [], "Expected value to not be null")
        title = str(inp.get("title") or "").strip()
        if not title:
            return {"collection": None, "userErrors": [user_error(
                ["title"], "Title can't be blank", None)]}
        handle = inp.get("handle") or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        if any(c["handle"] == handle for c in self.collections.values()):
            return {"collection": None, "userErrors": [user_error(
                ["handle"], f"Handle '{handle}' has already been taken", None)]}
        gid = self._gid("Collection")
        c = self.collections[gid] = {"id": gid, "handle": handle, "title": title,
                                     "products": [], "smart": bool(inp.get("ruleSet"))}
        return {"collection": self._collection_node(c), "userErrors": []}

    def _members(self, call: Call) -> tuple[dict[str, Any] | None, list[str],
                                            list[dict[str, Any]]]:
        c = self.collections.get(str(call.arg("id", "")))
        ids = call.arg("productIds")
        if not isinstance(ids, list):
            raise call.invalid("productIds", [], "Expected value to not be null")
        if len(ids) > 250:
            raise too_many(call.field.name, ["productIds"], len(ids))
        if c is None:
            return None, ids, [user_error(["id"], "Collection does not exist",
                                          "COLLECTION_DOES_NOT_EXIST")]
        if c["smart"]:
            return c, ids, [user_error(["id"], "Can't manually add products to a smart "
                                       "collection", "CANT_ADD_TO_SMART_COLLECTION")]
        for i, pid in enumerate(ids):
            if pid not in self.products:  # invented wording
                return c, ids, [user_error(["productIds", str(i)], "Product does not exist",
                                           None)]
        return c, ids, []

    def mutation_collectionAddProducts(self, call: Call) -> dict[str, Any]:
        c, ids, errors = self._members(call)
        if not errors and c is not None:
            for i, pid in enumerate(ids):
                if pid in c["products"] or ids.index(pid) != i:  # invented wording
                    errors = [user_error(["productIds", str(i)], "Product already exists in "
                                         "this collection", None)]
                    break
        if errors or c is None:
            return {"collection": None, "userErrors": errors}
        c["products"].extend(ids)
        return {"collection": self._collection_node(c), "userErrors": []}

    def mutation_collectionRemoveProducts(self, call: Call) -> dict[str, Any]:
        c, ids, errors = self._members(call)
        if errors or c is None:
            return {"job": None, "userErrors": errors}
        c["products"] = [p for p in c["products"] if p not in ids]
        return {"job": {"__typename": "Job", "id": self._gid("Job"), "done": True},
                "userErrors": []}
