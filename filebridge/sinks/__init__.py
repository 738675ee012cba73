"""Sinks: mapped batches -> the shop's import files (or API calls). One module per format,
named in filebridge.registry.PLUGINS (imported when a profile names it)."""
