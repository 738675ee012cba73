"""Destinations: where published files are also delivered (``destinations:`` in a
profile, named by ``deliver:`` on each output). One module per kind, named in
filebridge.registry.PLUGINS (imported when a profile names it); ``delivery.py`` sends an
input's published files to the destinations they name."""
