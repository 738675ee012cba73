"""Destinations: where published files are also delivered (``destinations:`` in a
profile, named by ``deliver:`` on each output). One module per kind;
``delivery.py`` sends an input's published files to the destinations they name."""

from filebridge.destinations import local, sftp  # noqa: F401  (registration)
