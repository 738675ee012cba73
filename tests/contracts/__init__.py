"""Contract suites over the plugin registry (see harness.py)."""
