"""Prices through Magento's REST API: the price, a sale as a special price with its
dates, and prices per website.

Relied on [code: magento/magento2 2.4 Catalog]:

- ``special_price``, ``special_from_date``, ``special_to_date`` are product attributes;
  Model/Product/Type/Price.php ``calculateSpecialPrice`` applies the special price on
  the days from..to cover (either end open) when it is lower than the price, so a sale
  is sent once and the shop starts and ends it; nothing is sent again on those days.
  Observer/SetSpecialPriceStartDate sets today as the start of a special price saved
  without one.
- A product save cannot empty a special price on every release (``""`` or ``null``
  stored 0 or was ignored: magento/magento2#8274, #8862), so a special price or date
  that goes away is deleted through ``POST /V1/products/special-price-delete``
  (Model/Product/Price/SpecialPriceStorage.php: it deletes the special price and both
  dates of the SKU at the store given; the price sent must be a number, the dates
  empty or exactly ``Y-m-d H:i:s``).
- ``POST /V1/products/base-prices`` (BasePriceStorage) saves a price per store view;
  with Catalog Price Scope = Website it is copied to every view of that website, with
  Global it lands at store 0, over the default price. ``/V1/products/special-price``
  stores at the store given only. Both answer the rows they refused (HTTP 200).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from filebridge.catalog.values import blank
from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.sinks.api.base import Change
from filebridge.sinks.api.magento_shop import ItemError

if TYPE_CHECKING:
    from filebridge.sinks.api.magento import MagentoClient


def special(rec: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """(special price, from, to) a record gives Magento."""
    if not rec:
        return None, None, None
    if not blank(rec.get("sale_price")):
        return str(rec["sale_price"]), rec.get("sale_from"), rec.get("sale_to")
    price, compare = rec.get("price"), rec.get("compare_at_price")
    if price is not None and compare is not None and Decimal(compare) > Decimal(price):
        return str(price), None, None
    return None, None, None


def base_price(rec: dict[str, Any]) -> str | None:
    price, compare = rec.get("price"), rec.get("compare_at_price")
    if blank(rec.get("sale_price")) and price is not None and compare is not None \
            and Decimal(compare) > Decimal(price):
        return str(compare)
    return None if price is None else str(price)


class Prices:
    def __init__(self, client: MagentoClient):
        self.c = client
        self.shop = client.shop

    def clear_special(self, c: Change) -> None:
        """Delete the special price when it (or one of its dates) goes away: a save
        cannot empty it."""
        before, now = special(c.previous), special(c.record)
        if before[0] is None or c.remote.get("id") is None:
            return
        if now[0] is not None and all(now[i] or not before[i] for i in (1, 2)):
            return
        failed = self.c.http.json("POST", "/V1/products/special-price-delete", {"prices": [
            {"sku": c.key, "store_id": 0, "price": before[0], "price_from": "",
             "price_to": ""}]}) or []
        if failed:
            raise ItemError("special price: " + "; ".join(str(f.get("message")) for f in failed))

    def websites(self, changes: list[Change]) -> dict[int, str]:
        """``prices:`` maps websites to price fields: each website's price goes to its
        store views through ``/V1/products/base-prices``. A compare-at price above the
        price makes the compare-at the website's price and the price its special price.
        A website without one would show the default special price (Magento falls back
        to it), so while the record has a special price the website gets its own price
        as its special price, which leaves its price as it is. Needs Catalog Price Scope
        = Website: with the global scope Magento would write these prices over the
        default ones."""
        self.check_scope()
        base, specials, deletes = [], [], []
        for c in changes:
            now, was = self._market_rows(c.record), self._market_rows(c.previous or {})
            for website, (price, sp) in now.items():
                for sid in self.shop.website_stores(website):
                    base.append({"sku": c.key, "price": price, "store_id": sid})
                    if sp is not None:
                        specials.append({"sku": c.key, "price": sp, "store_id": sid})
                    elif was.get(website, (None, None))[1] is not None:
                        deletes.append({"sku": c.key, "price": was[website][1],
                                        "store_id": sid})
        refused: dict[int, str] = {}
        by_sku = {c.key: c.id for c in changes}
        for route, rows in (("base-prices", base), ("special-price", specials),
                            ("special-price-delete", deletes)):
            if not rows:
                continue
            for item in self.c.http.json("POST", f"/V1/products/{route}", {"prices": rows}) or []:
                params = [str(p) for p in item.get("parameters") or []]
                hit = next((sku for sku in by_sku if sku in params), None)
                if hit is None:
                    raise RetryableSinkError(f"magento: {route}: {item.get('message')}")
                refused.setdefault(by_sku[hit], f"SKU {hit}: website price: "
                                                f"{item.get('message')}")
        return refused

    def check_scope(self) -> None:
        if self.shop.price_scope() != "website":
            raise PermanentSinkError(
                "magento: prices: per website needs Catalog Price Scope = Website (Stores > "
                "Configuration > Catalog > Catalog > Price); with Global, Magento stores "
                "every website's price over the default one")

    @staticmethod
    def _market_rows(rec: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
        out: dict[str, tuple[str, str | None]] = {}
        own = special(rec)[0] is not None
        for website, m in (rec.get("prices") or {}).items():
            price, compare = m.get("price"), m.get("compare_at_price")
            if price is None:
                continue
            if compare is not None and Decimal(compare) > Decimal(price):
                out[website] = (str(compare), str(price))
            else:
                out[website] = (str(price), str(price) if own else None)
        return out
