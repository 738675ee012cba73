"""Asynchronous bulk of the loopback Magento [doc: Adobe Commerce "Asynchronous web
endpoints", "Bulk endpoints"; GET /V1/bulk/{uuid}/detailed-status].

``POST /async/bulk/V1/products`` and ``/async/bulk/V1/inventory/source-items`` answer
202 with ``bulk_uuid`` and ``request_items``; a worker thread (the consumer) applies
the operations in the store of the request's path (``hold_bulk()`` keeps them open
until ``release_bulk()``); each operation's status is 1 done, 3 failed, 4 open. The
asynchronous input limit is 5000 items by default [doc: API security].
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
import uuid
from typing import Any, ClassVar

from shops.magento.base import MagentoError, required
from shops.magento.inventory import SOURCE_ITEM, Inventory
from shops.magento.stores import Scope

PRODUCT = "\\Magento\\Catalog\\Api\\Data\\ProductInterface"
TOPICS = {"products": "async.magento.catalog.api.productrepositoryinterface.save.post",
          "source-items": "async.magento.inventoryapi.api.sourceitemssaveinterface.execute.post"}


class Bulk(Inventory):
    ROUTES: ClassVar[list[tuple[str, str, str]]] = [
        ("POST", "async/bulk/V1/products", "post_bulk_products"),
        ("POST", "async/bulk/V1/inventory/source-items", "post_bulk_source_items"),
        ("GET", "V1/bulk/{uuid}/detailed-status", "get_bulk_status"),
    ]

    def __init__(self, *, async_input_limit: int = 5000, **kw: Any):
        super().__init__(**kw)
        self.async_input_limit = async_input_limit
        self.bulks: dict[str, list[dict[str, Any]]] = {}
        self._open = threading.Event()
        self._open.set()
        self._work: queue.Queue[tuple[str, int] | None] = queue.Queue()

    def hold_bulk(self) -> None:
        """Keep queued bulk operations open until ``release_bulk()``."""
        self._open.clear()

    def release_bulk(self) -> None:
        self._open.set()

    def post_bulk_products(self, scope: Scope, params: list[str], query: dict[str, str],
                           body: Any) -> tuple[int, Any]:
        return self._bulk(scope, "products", body)

    def post_bulk_source_items(self, scope: Scope, params: list[str], query: dict[str, str],
                               body: Any) -> tuple[int, Any]:
        return self._bulk(scope, "source-items", body)

    def _bulk(self, scope: Scope, kind: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, list):
            raise MagentoError(400, "Request body is expected to be an array.")
        self.limit(body, self.async_input_limit, PRODUCT if kind == "products" else SOURCE_ITEM)
        bulk_id = str(uuid.uuid4())
        ops = [{"id": i, "bulk_uuid": bulk_id, "topic_name": TOPICS[kind], "kind": kind,
                "scope": scope, "data": entry, "status": 4, "result_message": None,
                "error_code": None, "result_serialized_data": None}
               for i, entry in enumerate(body)]
        with self.lock:
            self.bulks[bulk_id] = ops
        for op in ops:
            self._work.put((bulk_id, op["id"]))
        items = [{"id": op["id"], "status": "accepted",
                  "data_hash": hashlib.sha256(json.dumps(op["data"]).encode()).hexdigest()}
                 for op in ops]
        return 202, {"bulk_uuid": bulk_id, "request_items": items, "errors": False}

    def work(self) -> None:
        """The consumer: applies queued operations one by one until ``stop_work``."""
        while (job := self._work.get()) is not None:
            self._open.wait()
            bulk_id, op_id = job
            with self.lock:
                op = self.bulks[bulk_id][op_id]
                try:
                    data = op["data"]
                    if op["kind"] == "products":
                        if not isinstance(data, dict) or not isinstance(data.get("product"),
                                                                        dict):
                            raise required("product")
                        p = self.save_product(op["scope"], data["product"])
                        op["result_serialized_data"] = json.dumps(
                            self.render(p, op["scope"].store_id))
                    else:
                        if not isinstance(data, dict) or not isinstance(data.get("sourceItems"),
                                                                        list):
                            raise required("sourceItems")
                        self.save_source_items(data["sourceItems"])
                    op["status"] = 1
                    op["result_message"] = f"Service execution success {op['topic_name']}"
                except MagentoError as e:
                    op["status"], op["result_message"], op["error_code"] = 3, e.rendered(), 0

    def stop_work(self) -> None:
        self._open.set()
        self._work.put(None)

    def get_bulk_status(self, scope: Scope, params: list[str], query: dict[str, str],
                        body: Any) -> tuple[int, Any]:
        bulk_id = params[0]
        with self.lock:
            ops = self.bulks.get(bulk_id)
            if ops is None:
                raise MagentoError(404, "Bulk uuid %bulkUuid not exist", {"bulkUuid": bulk_id})
            listed = [{k: v for k, v in op.items() if k not in ("kind", "data", "scope")}
                      for op in ops]
        return 200, {"operations_list": listed, "user_type": 2, "bulk_id": bulk_id,
                     "description": f"Topic {ops[0]['topic_name'] if ops else ''}",
                     "start_time": time.strftime("%Y-%m-%d %H:%M:%S"), "user_id": 1,
                     "operation_count": len(ops)}
