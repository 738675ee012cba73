"""Shipments into Vendure: not written yet."""
