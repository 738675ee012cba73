"""Destinations: where published files are also delivered (``destinations:`` in a
profile, named by ``deliver:`` on each output). One module per kind."""

from filebridge.destinations import local, sftp  # noqa: F401  (registration)
