"""Readers: bytes of one file -> typed batches. One module per format, named in
filebridge.registry.PLUGINS (imported when a profile names it)."""
