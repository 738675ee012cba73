"""Price lists and sales channels (publications) of the loopback Shopify.

- ``priceList(id:)`` [doc: shopify.dev admin-graphql ``priceList``, ``PriceList {id
  name currency}``]: the server's ``price_lists`` {GID: currency}.
- ``priceListFixedPricesAdd(priceListId:, prices: [{variantId price {amount
  currencyCode} compareAtPrice}])`` [doc: ``priceListFixedPricesAdd``: "Creates or
  updates fixed prices on a price list … Any existing fixed price list prices for
  these variants will be overwritten"; ``PriceListPriceUserErrorCode``]:
  PRICE_LIST_NOT_FOUND; PRICE_LIST_CURRENCY_MISMATCH when a price or compare-at price
  is not in the list's currency; VARIANT_NOT_FOUND for a variant that does not exist
  (the enum's wording is about a missing fixed price; the code for a missing variant
  is our reading); at most 250 prices; all or nothing; amounts must be Money.
- ``priceListFixedPricesUpdate(priceListId:, pricesToAdd:, variantIdsToDelete:)``:
  the same checks on ``pricesToAdd``; deleting a variant with no fixed price is
  VARIANT_NOT_FOUND [doc].
- ``publications(first:) {nodes {id name}}`` [doc: ``publications``; ``name`` is
  deprecated in favour of ``catalog.title`` but still answers the channel's name
  (community.shopify.dev "Publications query documentation issue")]: the server's
  ``channels``.
- ``publishablePublish(id:, input: [{publicationId}])`` [doc: ``publishablePublish``;
  payload ``{publishable userErrors [UserError {field message}]}``]: publishing what
  is already published changes nothing; an unknown publication or resource is
  refused (invented wording).

Read-back: ``fixed_prices(list_id)`` -> {sku: (price, compare_at_price, currency)},
``channels_of(handle)`` -> {channel names}.
"""

from __future__ import annotations

import re
from typing import Any

from shops.shopify.base import Call, ShopState, too_many, user_error

MONEY = re.compile(r"^-?\d+(\.\d+)?$")


class Markets(ShopState):
    def __init__(self, *, price_lists: dict[str, str] | None = None,
                 channels: tuple[str, ...] = ("Online Store", "Point of Sale"), **kw: Any):
        super().__init__(**kw)
        self.price_lists: dict[str, dict[str, Any]] = {gid: {"currency": cur, "prices": {}}
                            for gid, cur in (price_lists or {}).items()}
        self.publications = {self._gid("Publication"): name for name in channels}
        self.published: dict[str, set[str]] = {}  # product GID -> publication GIDs

    # -- read-back ---------------------------------------------------------------------

    def fixed_prices(self, list_id: str) -> dict[str, tuple[str, str | None, str]]:
        with self.lock:
            out = {}
            for vid, (price, compare) in self.price_lists[list_id]["prices"].items():
                if vid in self.variants:
                    out[self.variants[vid]["sku"]] = (price, compare,
                                                      self.price_lists[list_id]["currency"])
            return out

    def channels_of(self, handle: str) -> set[str]:
        with self.lock:
            pid = self.handles[handle]
            return {self.publications[p] for p in self.published.get(pid, set())}

    # -- price lists -------------------------------------------------------------------

    def query_priceList(self, call: Call) -> dict[str, Any] | None:
        gid = str(call.arg("id", ""))
        pl = self.price_lists.get(gid)
        return None if pl is None else {"__typename": "PriceList", "id": gid,
                                        "name": gid.rsplit("/", 1)[-1],
                                        "currency": pl["currency"]}

    def _prices(self, call: Call, arg: str, prices: list[dict[str, Any]]
                ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if len(prices) > 250:
            raise too_many(call.field.name, [arg], len(prices))
        pl = self.price_lists.get(str(call.arg("priceListId", "")))
        if pl is None:
            return None, [user_error(["priceListId"], "Price list does not exist.",
                                     "PRICE_LIST_NOT_FOUND")]
        for i, p in enumerate(prices):
            for field in ("price", "compareAtPrice"):
                money = p.get(field)
                if money is None and field == "compareAtPrice":
                    continue
                if not isinstance(money, dict) or not MONEY.match(str(money.get("amount"))):
                    raise call.invalid(arg, [i, field], "Could not coerce value to MoneyInput")
                if money.get("currencyCode") != pl["currency"]:
                    return pl, [user_error([arg, str(i), field, "currencyCode"],
                                           "Currency must match the price list's currency.",
                                           "PRICE_LIST_CURRENCY_MISMATCH")]
            if p.get("variantId") not in self.variants:
                return pl, [user_error([arg, str(i), "variantId"], "Variant not found.",
                                       "VARIANT_NOT_FOUND")]
        return pl, []

    def _apply(self, pl: dict[str, Any], prices: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for p in prices:
            compare = (p.get("compareAtPrice") or {}).get("amount")
            pl["prices"][p["variantId"]] = (str(p["price"]["amount"]), compare)
            out.append({"__typename": "PriceListPrice", "price": p["price"],
                        "compareAtPrice": p.get("compareAtPrice"),
                        "variant": {"id": p["variantId"]}})
        return out

    def mutation_priceListFixedPricesAdd(self, call: Call) -> dict[str, Any]:
        prices = call.arg("prices")
        if not isinstance(prices, list):
            raise call.invalid("prices", [], "Expected value to not be null")
        pl, errors = self._prices(call, "prices", prices)
        if errors or pl is None:
            return {"prices": None, "userErrors": errors}
        return {"prices": self._apply(pl, prices), "userErrors": []}

    def mutation_priceListFixedPricesUpdate(self, call: Call) -> dict[str, Any]:
        add, drop = call.arg("pricesToAdd") or [], call.arg("variantIdsToDelete") or []
        pl, errors = self._prices(call, "pricesToAdd", add)
        if not errors and pl is not None:
            for i, vid in enumerate(drop):
                if vid not in pl["prices"]:
                    errors = [user_error(["variantIdsToDelete", str(i)], "Fixed price not "
                                         "found.", "VARIANT_NOT_FOUND")]
                    break
        if errors or pl is None:
            return {"pricesAdded": None, "deletedFixedPriceVariantIds": None,
                    "userErrors": errors}
        for vid in drop:
            pl["prices"].pop(vid, None)
        return {"pricesAdded": self._apply(pl, add), "deletedFixedPriceVariantIds": drop,
                "priceList": {"id": call.arg("priceListId")}, "userErrors": []}

    # -- publications ------------------------------------------------------------------

    def query_publications(self, call: Call) -> dict[str, Any]:
        nodes = [{"__typename": "Publication", "id": gid, "name": name,
                  "catalog": None} for gid, name in self.publications.items()]
        n = call.arg("first")
        return {"nodes": nodes[:n], "pageInfo": {"hasNextPage": len(nodes) > n,
                                                 "endCursor": None}}

    def mutation_publishablePublish(self, call: Call) -> dict[str, Any]:
        gid, inp = str(call.arg("id", "")), call.arg("input")
        if not isinstance(inp, list):
            raise call.invalid("input", [], "Expected value to not be null")
        if gid not in self.products:
            return {"publishable": None, "userErrors": [user_error(
                ["id"], "Resource does not exist", None)]}
        for i, p in enumerate(inp):
            if p.get("publicationId") not in self.publications:
                return {"publishable": None, "userErrors": [user_error(
                    ["input", str(i), "publicationId"], "Publication does not exist", None)]}
        self.published.setdefault(gid, set()).update(p["publicationId"] for p in inp)
        return {"publishable": {"__typename": "Product", "id": gid}, "userErrors": []}
