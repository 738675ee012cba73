"""A loopback Shopify Admin GraphQL API for the shopify_api sink's tests, at least as
strict as Shopify where the sink depends on it. One module per resource; each
documents its rules and their sources:

- :mod:`.server`: routes, token, API versions (a version without a feature refuses
  the document as Shopify did then: ``productSet(identifier:)`` needs 2025-04,
  ``changeFromQuantity`` and ``@idempotent`` 2026-01, both mandatory from 2026-04),
  the GraphQL pipeline and the calculated-cost bucket (Standard plan by default:
  100 points/second, bucket 2000; requested cost priced per Shopify's documented
  rules in :mod:`shops.graphql`, actual cost refunded, THROTTLED and
  MAX_COST_EXCEEDED, ``extensions.cost`` on every executed answer).
- :mod:`.products`: productSet (upsert by id/handle, variants replaced, stock only at
  locations where an existing variant is stocked), productUpdate, productDelete,
  productVariantsBulkDelete, productVariants.
- :mod:`.inventory`: locations, nodes of inventory items, inventorySetQuantities
  (compare-and-set, idempotency, ITEM_NOT_STOCKED_AT_LOCATION).
- :mod:`.bulk`: staged uploads and bulk productSet.
- :mod:`.orders`: orders and their line items.
- :mod:`.fulfillments`: fulfillment orders, fulfillments, fulfillmentCreate.
- :mod:`.translations`: shopLocales, translatable resources with digests,
  translationsRegister (a digest that is not the current content's is refused).
- :mod:`.collections`: collections by handle, collectionCreate (a taken handle is
  refused), collectionAddProducts / collectionRemoveProducts.
- :mod:`.metafields`: metafield definitions and metafieldsSet (a value must match its
  definition's type; at most 25 a call).
- :mod:`.markets`: price lists with their currency and fixed prices; publications and
  publishablePublish.
- media on products through productSet's ``files`` (in :mod:`.products`).

Input arrays hold at most 250 items (MAX_INPUT_SIZE_EXCEEDED) [doc: shopify.dev/docs/
api/usage/limits]. Faults: ``server.faults`` (:mod:`shops.faults`). Read-back:
``catalog()``, ``variant(sku)``, ``stock(sku, location)``, counters ``applied``,
``created`` (per SKU), ``requests``, ``kinds`` (requests per root field), ``throttled``,
``largest``, ``downloads`` (per image URL); ``translations_of``, ``collection``,
``metafields_of``, ``definitions``, ``fixed_prices``, ``channels_of``; ``set_stock``
plays a web sale or a clerk behind the sink's back.
"""

from shops.shopify.base import TOKEN
from shops.shopify.server import FAST_RESTORE, STANDARD, ShopifyServer

__all__ = ["FAST_RESTORE", "STANDARD", "TOKEN", "ShopifyServer"]
