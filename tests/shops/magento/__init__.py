"""A loopback Magento 2 REST server for the magento_api tests: the routes the sink
uses, with Magento's answers, and state a test can read back. One module per
resource; each documents its rules and their sources:

- :mod:`.stores`: ``/rest/<store_code>/V1`` as Magento's PathProcessor reads it
  (store view codes, ``all`` for the global scope, the default store view when the
  code is left out, 404 for an unknown code) and the scope each product attribute is
  saved at (store view, website, global; single-store mode saves all globally).
- :mod:`.products`: ProductRepository save (upsert), get, delete, search; what a
  save carries: :mod:`.attributes` (attribute sets, select options with store
  labels), :mod:`.categories` (the tree, names per store view, product links),
  :mod:`.configurable` (options and children), :mod:`.media` (images as base64).
- :mod:`.prices`: base and special price storage, and the price of the day.
- :mod:`.inventory`: source items (all-or-nothing saves, unknown SKUs by
  ``unknown_skus``), sources, source-item search, Web API input limits.
- :mod:`.bulk`: the asynchronous bulk API and its consumer.
- :mod:`.orders`: orders and OrderRepository::getList.
- :mod:`.server`: HTTP, token, routing, faults (:mod:`shops.faults`), rate limit.

Read-back: ``catalog(store)``, ``values(sku)`` (per store id), ``orphans()``,
``option_labels(code, store)``, ``label_of(code, value, store)``,
``category_paths(sku, store)``, ``configurable(sku)``, ``gallery(sku)``,
``final_price(sku, day, store)``;
counters ``requests``, ``applied[sku]``, ``creates[sku]``, ``oversized`` (requests
refused by the input limit), ``throttled`` (429s from the rate limit).
"""

from shops.magento.base import TOKEN, MagentoError
from shops.magento.server import MagentoServer

__all__ = ["TOKEN", "MagentoError", "MagentoServer"]
