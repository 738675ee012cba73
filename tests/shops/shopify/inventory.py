"""Locations and stock of the loopback Shopify.

- ``location`` (the primary) and ``locations(first:)``; ``nodes(ids:)`` of inventory
  items with ``inventoryLevel(locationId:) { quantities(names:) }`` (null where the
  item is not stocked at that location, as Shopify answers).
- ``inventorySetQuantities`` [doc: shopify.dev admin-graphql ``inventorySetQuantities``
  and ``InventorySetQuantitiesUserErrorCode``]: all or nothing; ``name`` available or
  on_hand; ``reason`` from the documented list; at most 250 quantities; a location
  where the item is not stocked is ITEM_NOT_STOCKED_AT_LOCATION (it is never stocked
  there by this mutation); ``changeFromQuantity`` (2026-01+, mandatory from 2026-04)
  or the older ``compareQuantity``/``ignoreCompareQuantity``; ``@idempotent(key:)``
  (2026-01+, mandatory from 2026-04): the same key with the same input returns the
  first answer without applying again, with other input IDEMPOTENCY_KEY_PARAMETER_
  MISMATCH, after a failed attempt IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from shops.shopify.base import Call, GqlError, ShopState, has, too_many, user_error

REASONS = {"correction", "cycle_count_available", "damaged", "movement_created",
           "movement_updated", "movement_received", "movement_canceled", "other",
           "promotion", "quality_control", "received", "reservation_created",
           "reservation_deleted", "reservation_updated", "restock", "safety_stock",
           "shrinkage"}


class Inventory(ShopState):
    if TYPE_CHECKING:  # from the Products part of the same server (server.py)
        def product_set(self, version: str, ident: Any,
                        inp: dict[str, Any]) -> dict[str, Any]: ...

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.largest = 0  # most quantities in one accepted inventorySetQuantities
        self.idempotency: dict[str, tuple[str, dict[str, Any] | None]] = {}

    # -- test helpers: a clerk or a web sale behind the client's back -----------------

    def add_variant(self, sku: str, stock: dict[str | None, int]) -> None:
        """A one-variant product made in the admin (productSet), its inventory tracked
        at the given locations (name -> available; None: the primary)."""
        with self.lock:
            answer = self.product_set("2026-01", None, {"title": sku, "variants": [{
                "sku": sku, "price": "1.00",
                "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                "inventoryQuantities": [{"locationId": self.location_id(loc),
                                         "name": "available", "quantity": q}
                                        for loc, q in stock.items()]}]})
            assert not answer["userErrors"], answer

    def set_stock(self, sku: str, quantity: int, location: str | None = None) -> None:
        """Set (and stock, if need be) a variant's level at a location."""
        with self.lock:
            item = next(v["item"] for v in self.variants.values() if v["sku"] == sku)
            self.levels[(item, self.location_id(location))] = quantity

    def stock(self, sku: str, location: str | None = None) -> int | None:
        with self.lock:
            item = next(v["item"] for v in self.variants.values() if v["sku"] == sku)
            return self.levels.get((item, self.location_id(location)))

    # -- locations ---------------------------------------------------------------------

    def _location_node(self, gid: str) -> dict[str, Any]:
        return {"__typename": "Location", "id": gid, "name": self.locations[gid],
                "isActive": True}

    def query_location(self, call: Call) -> dict[str, Any] | None:
        gid = call.arg("id", self.location_id())
        return self._location_node(gid) if gid in self.locations else None

    def query_locations(self, call: Call) -> dict[str, Any]:
        return {"nodes": [self._location_node(g) for g in self.locations],
                "pageInfo": {"hasNextPage": False, "endCursor": None}}

    # -- nodes(ids:) of inventory items ------------------------------------------------

    def node_InventoryItem(self, call: Call, gid: str) -> dict[str, Any] | None:
        if gid not in self.items:
            return None
        loc = call.nested_arg(("inventoryLevel",), "locationId")
        level = self.levels.get((gid, loc)) if loc else None
        return {"__typename": "InventoryItem", "id": gid, "inventoryLevel": None
                if level is None else {"quantities": [{"name": "available", "quantity": level}]}}

    # -- inventorySetQuantities --------------------------------------------------------

    def mutation_inventorySetQuantities(self, call: Call) -> dict[str, Any]:
        inp, version = call.arg("input"), call.version
        if not isinstance(inp, dict):
            raise call.invalid("input", [], "Expected value to not be null")
        for field in ("name", "reason"):
            if not isinstance(inp.get(field), str):
                raise call.invalid("input", [field], "Expected value to not be null")
        quantities = inp.get("quantities")
        if not isinstance(quantities, list):
            raise call.invalid("input", ["quantities"], "Expected value to not be null")
        if len(quantities) > 250:
            raise too_many("inventorySetQuantities", ["input", "quantities"], len(quantities))
        for i, q in enumerate(quantities):
            for field, kind in (("inventoryItemId", str), ("locationId", str),
                                ("quantity", int)):
                if not isinstance(q.get(field), kind) or isinstance(q.get(field), bool):
                    raise call.invalid("input", ["quantities", i, field],
                                       "Expected value to not be null" if q.get(field) is None
                                       else f"Could not coerce value {q.get(field)!r}")
            if "changeFromQuantity" in q and not has(version, "changeFromQuantity"):
                raise call.invalid("input", ["quantities", i, "changeFromQuantity"],
                                   "Field is not defined on InventoryQuantityInput")
            if "changeFromQuantity" not in q and has(version, "changeFromQuantity.required"):
                raise call.invalid("input", ["quantities", i, "changeFromQuantity"],
                                   "Expected value to be present")  # invented wording
        idem = call.directive("idempotent")
        key = idem.get("key") if idem else None
        if key is None and has(version, "@idempotent.required"):  # invented wording and code
            raise GqlError("The @idempotent directive is required for this mutation.",
                           "BAD_REQUEST")
        digest = hashlib.sha256(json.dumps(inp, sort_keys=True).encode()).hexdigest()
        if key is not None and key in self.idempotency:
            seen, answer = self.idempotency[key]
            if seen != digest:
                errors = [user_error(None, "The same idempotency key cannot be used with "
                                     "different operation parameters.",
                                     "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")]
            elif answer is None:
                errors = [user_error(None, "A previous request with this idempotency key "
                                     "failed. Retry with a new idempotency key.",
                                     "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED")]
            else:
                return answer
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        errors = self._check_quantities(inp, quantities)
        self.largest = max(self.largest, len(quantities))
        group = None
        if not errors:
            changes = []
            for q in quantities:
                before = self.levels[(q["inventoryItemId"], q["locationId"])]
                self.levels[(q["inventoryItemId"], q["locationId"])] = q["quantity"]
                self.applied[self.variants[self.items[q["inventoryItemId"]]]["sku"]] += 1
                changes.append({"name": inp["name"], "delta": q["quantity"] - before,
                                "quantityAfterChange": q["quantity"]})
            group = {"id": self._gid("InventoryAdjustmentGroup"), "reason": inp["reason"],
                     "referenceDocumentUri": inp.get("referenceDocumentUri"),
                     "changes": changes}
        data = {"inventoryAdjustmentGroup": group, "userErrors": errors}
        if key is not None:
            self.idempotency[key] = (digest, None if errors else data)
        return data

    def _check_quantities(self, inp: dict[str, Any], quantities: list[dict[str, Any]]
                          ) -> list[dict[str, Any]]:
        errors = []
        if inp["name"] not in ("available", "on_hand"):
            errors.append(user_error(["input", "name"], "The quantity name must be either "
                                     "'available' or 'on_hand'.", "INVALID_NAME"))
        if inp["reason"] not in REASONS:
            errors.append(user_error(["input", "reason"], "The specified reason is invalid.",
                                     "INVALID_REASON"))
        seen = set()
        for i, q in enumerate(quantities):
            at = ["input", "quantities", str(i)]
            item, loc = q["inventoryItemId"], q["locationId"]
            current = self.levels.get((item, loc))
            if (item, loc) in seen:
                errors.append(user_error(at, "The combination of inventoryItemId and "
                                         "locationId must be unique.",
                                         "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
            seen.add((item, loc))
            if item not in self.items:
                errors.append(user_error(at + ["inventoryItemId"], "The specified inventory "
                                         "item could not be found.", "INVALID_INVENTORY_ITEM"))
            elif loc not in self.locations:
                errors.append(user_error(at + ["locationId"], "The specified location could "
                                         "not be found.", "INVALID_LOCATION"))
            elif current is None:
                errors.append(user_error(at + ["locationId"], "The specified inventory item "
                                         "is not stocked at the location.",
                                         "ITEM_NOT_STOCKED_AT_LOCATION"))
            elif q["quantity"] < 0:
                errors.append(user_error(at + ["quantity"], "The quantity can't be negative.",
                                         "INVALID_QUANTITY_NEGATIVE"))
            elif q["quantity"] > 1_000_000_000:
                errors.append(user_error(at + ["quantity"], "The total quantity can't be "
                                         "higher than 1,000,000,000.",
                                         "INVALID_QUANTITY_TOO_HIGH"))
            elif "changeFromQuantity" in q:  # overrides compareQuantity (2026-01)
                if q["changeFromQuantity"] is not None and q["changeFromQuantity"] != current:
                    errors.append(user_error(at + ["changeFromQuantity"], "The "
                                             "changeFromQuantity value does not match "
                                             "persisted value.", "CHANGE_FROM_QUANTITY_STALE"))
            elif not inp.get("ignoreCompareQuantity"):
                if "compareQuantity" not in q:
                    errors.append(user_error(at + ["compareQuantity"], "The compareQuantity "
                                             "argument must be given to each quantity or "
                                             "ignored using ignoreCompareQuantity.",
                                             "COMPARE_QUANTITY_REQUIRED"))
                elif q["compareQuantity"] != current:
                    errors.append(user_error(at + ["compareQuantity"], "The compareQuantity "
                                             "value does not match persisted value.",
                                             "COMPARE_QUANTITY_STALE"))
        return errors
