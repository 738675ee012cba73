"""Readers: bytes of one file -> typed batches. One module per format."""

from filebridge.readers import csv, fixed, xml, xlsx  # noqa: F401  (registration)
