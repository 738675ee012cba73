"""Price storage of the loopback Magento and the price a store shows on a day.

[code: magento/magento2 app/code/Magento/Catalog/Model/Product/Price/
BasePriceStorage.php, SpecialPriceStorage.php; Model/ResourceModel/Product/Price/
SpecialPrice.php; Model/Product/Type/Price.php ``calculateSpecialPrice``]

- ``POST /V1/products/base-prices`` ``{"prices": [{price, store_id, sku}]}``: with the
  price scope global every price lands at store 0 (whatever ``store_id`` says); with
  website scope at every store view of that store's website. Bad rows are answered
  (HTTP 200) as ``[{"message", "parameters"}]`` and the others saved: an unknown SKU or
  one of another type than simple/virtual/downloadable, or a negative price
  (``Invalid attribute %fieldName = %fieldValue.``), an unknown store (``Requested
  store is not found. …``).
- ``POST /V1/products/special-price`` ``{"prices": [{price, store_id, sku, price_from,
  price_to}]}`` and ``/special-price-delete``: the same answer shape; a store other
  than 0 while the price scope is global is refused (``Could not change non global
  Price when price scope is global. …``); dates must be exactly ``Y-m-d H:i:s``; the
  special price and its dates are stored (or deleted) at that store id only.
- The price of the day (``final_price``): the store's price, or the special price
  when it is lower and the day is within ``special_from_date``..``special_to_date``
  (either end open, both days included); each value is the store's own or falls back
  to store 0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar, TypeGuard

from shops.magento.base import MagentoError, decimal
from shops.magento.products import Products
from shops.magento.stores import ADMIN, Scope

ROW = "Row ID: SKU = %SKU, Store ID: %storeId, Price From: %priceFrom, Price To: %priceTo."
PRICED = ("simple", "virtual", "downloadable")


class Prices(Products):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("POST", "V1/products/base-prices", "post_base_prices"),
        ("POST", "V1/products/special-price", "post_special_prices"),
        ("POST", "V1/products/special-price-delete", "post_special_delete"),
    ]

    # -- read-back ----------------------------------------------------------------

    def final_price(self, sku: str, day: dt.date, store: str | None = None) -> Decimal:
        """What ``store`` (None: the default store view) charges for ``sku`` on ``day``."""
        with self.lock:
            values = self._values(self.products[sku], self.read_store(store))
            price = Decimal(str(values["price"]))
            special = values.get("special_price")
            if special in (None, ""):
                return price
            start, end = values.get("special_from_date"), values.get("special_to_date")
            if start and day < dt.date.fromisoformat(str(start)[:10]):
                return price
            if end and day > dt.date.fromisoformat(str(end)[:10]):
                return price
            return min(price, Decimal(str(special)))

    # -- routes -------------------------------------------------------------------

    def _rows(self, body: Any) -> list[dict[str, Any]]:
        rows = body.get("prices") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise MagentoError(400, "Invalid input data format. Expected an array of prices.")
        return [r if isinstance(r, dict) else {} for r in rows]

    @staticmethod
    def _failed(message: str, params: dict[str, Any]) -> dict[str, Any]:
        for k, v in params.items():
            message = message.replace(f"%{k}", str(v))
        return {"message": message, "parameters": [str(v) for v in params.values()]}

    def _store_known(self, sid: Any) -> TypeGuard[int]:
        return isinstance(sid, int) and (sid == ADMIN or sid in self.stores.values())

    def post_base_prices(self, scope: Scope, params: list[str], query: dict[str, str],
                         body: Any) -> tuple[int, Any]:
        failed = []
        with self.lock:
            for r in self._rows(body):
                sku, sid = r.get("sku"), r.get("store_id")
                p = self.products.get(str(sku))
                price = decimal(r.get("price")) if r.get("price") is not None else None
                if p is None or p["type_id"] not in PRICED:
                    failed.append(self._failed("Invalid attribute %fieldName = %fieldValue.",
                                               {"fieldName": "SKU", "fieldValue": sku}))
                elif price is None or price < 0:
                    failed.append(self._failed("Invalid attribute %fieldName = %fieldValue.",
                                               {"fieldName": "Price", "fieldValue": price}))
                elif not self._store_known(sid):
                    failed.append(self._failed("Requested store is not found. Row ID: SKU = "
                                               "%SKU, Store ID: %storeId.",
                                               {"SKU": sku, "storeId": sid}))
                else:
                    for store in self._price_stores(int(sid)):
                        p["values"].setdefault(store, {})["price"] = price
                    self.applied[str(sku)] += 1
        return 200, failed

    def _price_stores(self, sid: int) -> list[int]:
        if self.price_scope == "global" or sid == ADMIN:
            return [ADMIN]
        return self.store_ids(self.website_of[sid])

    def _special_rows(self, body: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        good, failed = [], []
        for r in self._rows(body):
            info = {"SKU": r.get("sku"), "storeId": r.get("store_id"),
                    "priceFrom": r.get("price_from") or "", "priceTo": r.get("price_to") or ""}
            p = self.products.get(str(r.get("sku")))
            price = r.get("price")
            errors = []
            if p is None or p["type_id"] not in PRICED:
                errors.append("The product that was requested doesn't exist. Verify the "
                              "product and try again. " + ROW)
            if self.price_scope == "global" and r.get("store_id") != ADMIN:
                errors.append("Could not change non global Price when price scope is "
                              "global. " + ROW)
            if not self._store_known(r.get("store_id")):
                errors.append("Requested store is not found. " + ROW)
            if price is None or (d := decimal(price)) is None or d < 0:
                errors.append("Invalid attribute Price = %price. " + ROW)
            for label, value in (("Price From", r.get("price_from")),
                                 ("Price To", r.get("price_to"))):
                if value and not _exact(str(value)):
                    errors.append(f"Invalid attribute {label} = %priceTo. " + ROW)
            if errors:
                failed.append(self._failed(errors[0], {**info, "price": price}))
            else:
                good.append(r)
        return good, failed

    def post_special_prices(self, scope: Scope, params: list[str], query: dict[str, str],
                            body: Any) -> tuple[int, Any]:
        with self.lock:
            good, failed = self._special_rows(body)
            for r in good:
                values = self.products[r["sku"]]["values"].setdefault(r["store_id"], {})
                values["special_price"] = str(decimal(r["price"]))
                for key, name in (("price_from", "special_from_date"),
                                  ("price_to", "special_to_date")):
                    if r.get(key):
                        values[name] = r[key]
                self.applied[r["sku"]] += 1
        return 200, failed

    def post_special_delete(self, scope: Scope, params: list[str], query: dict[str, str],
                            body: Any) -> tuple[int, Any]:
        with self.lock:
            good, failed = self._special_rows(body)
            for r in good:
                values = self.products[r["sku"]]["values"].get(r["store_id"], {})
                for name in ("special_price", "special_from_date", "special_to_date"):
                    values.pop(name, None)
                self.applied[r["sku"]] += 1
        return 200, failed


def _exact(text: str) -> bool:
    """SpecialPriceStorage::isCorrectDateValue: the text is exactly Y-m-d H:i:s."""
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").strftime(
            "%Y-%m-%d %H:%M:%S") == text
    except ValueError:
        return False
