"""The ledger: what was seen, processed and delivered. SQLite by default, PostgreSQL
for ledgers shared by several machines (``ledger: postgresql://...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from filebridge.ledger.backend import is_pg_url, safe_url
from filebridge.ledger.sqlite import Ledger, SqliteLedger

__all__ = ["Ledger", "SqliteLedger", "is_pg_url", "open_ledger", "open_target"]


def open_target(target: Path | str, password: str | None = None,
                home: Path | None = None) -> Ledger:
    """A ledger at ``target``: a PostgreSQL URL (``home``: its local folder) or the
    path of a SQLite file."""
    if is_pg_url(target):
        from filebridge.ledger.backend import PgBackend

        if home is None:
            raise ValueError(f"ledger {safe_url(str(target))}: no local folder given")
        return Ledger(PgBackend(str(target), password), home=home)
    return SqliteLedger(Path(target))


def open_ledger(profile: Any) -> Ledger:
    """The ledger a profile names (``ledger:``, else $FILEBRIDGE_LEDGER, else
    filebridge.db beside it), with its password revealed only here."""
    secret = getattr(profile, "ledger_password", None)
    return open_target(profile.ledger_path(), secret.reveal() if secret is not None else None,
                       profile.local_home)
