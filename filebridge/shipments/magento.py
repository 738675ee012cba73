"""Shipments into Magento: not written yet."""
