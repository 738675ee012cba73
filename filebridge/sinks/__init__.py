"""Sinks: mapped batches -> the shop's import files (or API calls). One module per format."""

from filebridge.sinks import (  # noqa: F401  (registration)
    csv,
    magento_csv,
    prestashop_csv,
    shopify_csv,
    template,
    woocommerce_csv,
)
from filebridge.sinks.api import magento, shopify, vendure, woocommerce  # noqa: F401  (registration)
