"""What a run report reads from the ledger (filebridge/report/): the changes a file
sent (or queued) to each shop API, beside the change sent before it for the same key."""

from __future__ import annotations

from collections.abc import Iterator

from filebridge.ledger.sqlite import Ledger


def staged_changes(ledger: Ledger, file_id: int) -> Iterator[tuple[str, str, str, str,
                                                                    str | None]]:
    """(sink, key, op, record, the record last sent before it or None) of every change
    of file ``file_id``, read as a cursor (bounded memory). The shop's state cannot
    tell: a file's changes may be sent, and the state moved, before its report."""
    cur = ledger.db.execute(
        "SELECT o.sink, o.key, o.op, o.record, (SELECT p.record FROM outbox p WHERE "
        "p.profile=o.profile AND p.sink=o.sink AND p.key=o.key AND p.id<o.id AND "
        "p.status='sent' ORDER BY p.id DESC LIMIT 1) FROM outbox o WHERE o.file_id=? "
        "ORDER BY o.sink, o.id", (file_id,))
    while rows := cur.fetchmany(1000):
        yield from rows
