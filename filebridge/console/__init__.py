"""The operator console of ``filebridge serve`` (filebridge/console/app.py)."""
