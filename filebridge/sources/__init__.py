"""Sources: where files come from and where they go afterwards. One module per kind,
named in filebridge.registry.PLUGINS (imported when a profile names it)."""
