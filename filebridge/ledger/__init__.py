"""The ledger: what was seen, processed and delivered. SQLite by default."""

from filebridge.ledger.sqlite import SqliteLedger

__all__ = ["SqliteLedger"]
