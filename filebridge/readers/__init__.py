"""Readers: bytes of one file -> typed batches. One module per format."""

from filebridge.readers import csv, ebcdic, fixed, spool, xlsx, xml  # noqa: F401  (registration)
