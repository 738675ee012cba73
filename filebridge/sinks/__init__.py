"""Sinks: mapped batches -> the shop's import files (or API calls). One module per format."""

from filebridge.sinks import csv, shopify_csv, template, woocommerce_csv  # noqa: F401  (registration)
from filebridge.sinks.api import magento, shopify, vendure, woocommerce  # noqa: F401  (registration)
