"""Sources: where files come from and where they go afterwards. One module per kind."""

from filebridge.sources import local, sftp  # noqa: F401  (registration)
