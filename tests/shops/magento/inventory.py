"""Multi-source inventory of the loopback Magento (global: the store in the path does
not matter).

- ``POST /V1/inventory/source-items`` validates every item first and fails the whole
  request with 400 on the first invalid one, otherwise saves them all and answers
  ``[]`` [code: magento/inventory ``SourceItemsSaveHandler``]. An unknown SKU, by
  ``unknown_skus``: ``"validate"`` (default) is invalid, as with magento/inventory's
  ``ExistentSkuValidator`` (``Validation Failed: Product with requested "sku": "X"
  was was not found.``); ``"store"`` stores an orphan row silently, as released
  versions do (magento/magento2#38154); ``"fk"`` fails the save with ``Could not
  save Source Item``, naming no SKU (reported on 2.4.6-p3, magento/inventory#889). An
  unknown source is ``Could not save Source Item`` too (the foreign key fails).
- ``GET /V1/inventory/sources/{code}``; ``GET /V1/inventory/source-items?
  searchCriteria`` (SourceItemRepositoryInterface::getList: filters on the item's own
  columns, OR within a group and AND across groups, ``eq``/``in``; pageSize and
  currentPage, a page past the last answers the last again; ``total_count``).
- Web API input limits (off by default, as in Magento): ``input_limit=N`` answers a
  request array longer than N with 400 ``Maximum items of type "…" is N``
  [doc: Adobe Commerce "API security", input limiting].
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from shops.magento.base import MagentoError, required
from shops.magento.products import Products
from shops.magento.stores import Scope

SOURCE_ITEM = "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"
FILTER = re.compile(r"searchCriteria\[filter_groups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]")


class Inventory(Products):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("POST", "V1/inventory/source-items", "post_source_items"),
        ("GET", "V1/inventory/source-items", "search_source_items"),
        ("GET", "V1/inventory/sources/{code}", "get_source"),
    ]

    def __init__(self, *, unknown_skus: str = "validate", input_limit: int | None = None,
                 sources: tuple[str, ...] = ("default", "warehouse_b"), **kw: Any):
        super().__init__(**kw)
        self.unknown_skus = unknown_skus
        self.input_limit = input_limit
        self.sources = set(sources)
        self.source_items: dict[tuple[str, str], dict[str, Any]] = {}
        self.oversized = 0

    # -- read-back ---------------------------------------------------------------------

    def stock_by_sku(self) -> dict[str, dict[str, tuple[float, int]]]:
        """SKU -> source code -> (quantity, status), for every source item."""
        out: dict[str, dict[str, tuple[float, int]]] = {}
        for (sku, src), si in self.source_items.items():
            out.setdefault(sku, {})[src] = (si["quantity"], si["status"])
        return out

    def set_source_item(self, sku: str, source: str, qty: float, status: int) -> None:
        self.source_items[(sku, source)] = {"quantity": float(qty), "status": status}

    def forget_stock(self, sku: str) -> None:
        for key in [k for k in self.source_items if k[0] == sku]:
            del self.source_items[key]

    def orphans(self) -> list[tuple[str, str]]:
        """Source items whose SKU is no product (what lenient Magento stores)."""
        with self.lock:
            return [k for k in self.source_items if k[0] not in self.products]

    # -- routes -----------------------------------------------------------------------

    def limit(self, items: list[Any], limit: int | None, kind: str) -> None:
        if limit is not None and len(items) > limit:
            with self.lock:
                self.oversized += 1
            raise MagentoError(400, 'Maximum items of type "%type" is %max',
                               {"type": kind, "max": limit})

    def post_source_items(self, scope: Scope, params: list[str], query: dict[str, str],
                          body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("sourceItems"), list):
            raise required("sourceItems")
        self.limit(body["sourceItems"], self.input_limit, SOURCE_ITEM)
        self.save_source_items(body["sourceItems"])
        return 200, []

    def get_source(self, scope: Scope, params: list[str], query: dict[str, str],
                   body: Any) -> tuple[int, Any]:
        if params[0] not in self.sources:
            raise MagentoError(404, 'Source with code "%value" does not exist.',
                               {"value": params[0]})
        return 200, {"source_code": params[0], "name": params[0], "enabled": True}

    def _check_item(self, item: Any) -> MagentoError | None:
        if not isinstance(item, dict):
            return required("sourceItems")
        sku, qty, status = item.get("sku"), item.get("quantity"), item.get("status")
        if not str(sku or "").strip():
            return MagentoError(400, 'Validation Failed: "sku" can not be empty.')
        if not str(item.get("source_code") or "").strip():
            return MagentoError(400, 'Validation Failed: "source_code" can not be empty.')
        if isinstance(qty, bool) or not isinstance(qty, int | float):
            try:
                float(str(qty))
            except ValueError:
                return MagentoError(400, 'Validation Failed: "quantity" should be numeric.')
        if status not in (0, 1):
            return MagentoError(400, 'Validation Failed: "status" should a known status.')
        if self.unknown_skus == "validate" and sku not in self.products:
            return MagentoError(400, 'Validation Failed: Product with requested "sku": '
                                f'"{sku}" was was not found.')
        return None

    def save_source_items(self, items: list[Any]) -> None:
        """SourceItemsSaveHandler: all items valid, or nothing is saved."""
        if not items:
            raise MagentoError(400, "Input data is empty")
        with self.lock:
            for item in items:
                error = self._check_item(item)
                if error:
                    raise error
            if any(i["source_code"] not in self.sources or self.unknown_skus == "fk"
                   and i["sku"] not in self.products for i in items):
                raise MagentoError(400, "Could not save Source Item")
            for i in items:
                self.set_source_item(i["sku"], i["source_code"], float(i["quantity"]),
                                     int(i["status"]))
                self.applied[i["sku"]] += 1

    def search_source_items(self, scope: Scope, params: list[str], query: dict[str, str],
                            body: Any) -> tuple[int, Any]:
        groups: dict[str, dict[str, dict[str, str]]] = {}
        for key, value in query.items():
            m = FILTER.fullmatch(key)
            if m:
                groups.setdefault(m[1], {}).setdefault(m[2], {})[m[3]] = value
        with self.lock:
            rows = [{"sku": sku, "source_code": src, "quantity": si["quantity"],
                     "status": si["status"]} for (sku, src), si in self.source_items.items()]
            for filters in groups.values():
                tests = []
                for f in filters.values():
                    field, cond = f.get("field"), f.get("condition_type", "eq")
                    if field not in ("sku", "source_code", "quantity", "status") \
                            or cond not in ("eq", "in"):  # invented wording
                        raise MagentoError(400, '"%fieldName" is not supported here',
                                           {"fieldName": f"{field} {cond}"})
                    wanted = set(f.get("value", "").split(",")) if cond == "in" \
                        else {f.get("value", "")}
                    tests.append((field, wanted))
                rows = [r for r in rows if any(str(r[fd]) in w for fd, w in tests)]
            size = int(query.get("searchCriteria[pageSize]") or 0) or len(rows) or 1
            last = max(1, math.ceil(len(rows) / size))
            page = min(max(1, int(query.get("searchCriteria[currentPage]") or 1)), last)
            items = rows[(page - 1) * size:page * size]
        return 200, {"items": items, "search_criteria": {}, "total_count": len(rows)}
