"""A loopback WooCommerce REST API v3 (``/wp-json/wc/v3/``) that holds its catalog,
for the ``woocommerce_api`` sink's tests and benchmark, at least as strict as
WooCommerce where the sink depends on it. One module per resource; each documents
its rules and where they were read:

- :mod:`.server`: routes, authentication, faults (:mod:`shops.faults`), a host-style
  rate limit, and the read-back helpers tests assert the shop's end state with:
  ``catalog()``, ``storefront(sku)`` (on ``shop.shop``), ``category_paths()``,
  ``categories_of(sku)``, ``tags_of(sku)``, ``filter_index(label)`` (layered
  navigation over a global attribute), ``images_of(sku)``, the clock ``now`` and
  ``scheduled_sales()`` (the daily sales cron); counters ``requests``, ``calls``
  (method, path, batch items), per SKU ``created``, ``applied`` and ``fetched``
  (images downloaded), per URL ``downloads``.
- :mod:`.products`: products and variations (SKUs and GTINs unique, attributes,
  prices and sale dates, categories and tags by id, images).
- :mod:`.terms`: categories, tags, global attributes and their terms
  (``wp_insert_term`` and ``wc_create_attribute`` rules).
- :mod:`.media`: images downloaded from ``src``, attachments by ``id``, alt text.
- :mod:`.orders`: orders and refunds for the order pullers.
"""

from shops.woocommerce.server import WooServer

__all__ = ["WooServer"]
