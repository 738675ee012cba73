"""Order documents for the ERP in the ledger (tables ``order_documents``,
``document_files``, and the inventory's ``sequences`` row ``documents``: the last
migration of ledger/schema.py).

Storage only: what a version is, and its kind, is filebridge/orders/document.py's.
The same exactly-once rule as movement files (ledger/inventory.py ``export``): the
documents are tied to a file number and the file recorded as *pending* in one
transaction before the file is written; a pending file is written again, same
number and content, until it is published. Portable SQL (``?``, ``ON CONFLICT``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class StoredDoc:
    id: int
    source: str
    order: str
    version: int
    kind: str
    digest: str
    body: dict[str, Any]
    personal: dict[str, Any] | None  # None: dropped after the ERP acknowledged it
    seq: int | None
    acked: float | None


_DOC = ("SELECT id, source, order_id, version, kind, digest, body, personal, seq, acked "
        "FROM order_documents WHERE inventory=? AND ")


def _doc(row: Any) -> StoredDoc:
    r = tuple(row)
    return StoredDoc(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]),
                     json.loads(r[7]) if r[7] is not None else None, r[8], r[9])


class DocumentRows:
    """The ledger's order documents of one inventory."""

    def __init__(self, ledger: Any, inventory: str):
        self.ledger, self.name = ledger, inventory

    def latest(self, source: str, order: str) -> StoredDoc | None:
        """The newest version recorded of an order (None: never)."""
        row = self.ledger.db.execute(_DOC + "source=? AND order_id=? ORDER BY version DESC "
                                     "LIMIT 1", (self.name, source, order)).fetchone()
        return None if row is None else _doc(row)

    def add(self, source: str, order: str, digest: str, body: dict[str, Any],
            personal: dict[str, Any], changed: float,
            kind_of: Callable[[StoredDoc | None], str | None]) -> int:
        """The next version of an order, unless the newest has this ``digest`` or
        ``kind_of(newest)`` says there is nothing to tell: 1 if added, else 0. In one
        transaction, so two pulls at once add a version once."""
        with self.ledger.tx() as db:
            row = db.execute(_DOC + "source=? AND order_id=? ORDER BY version DESC LIMIT 1",
                             (self.name, source, order)).fetchone()
            last = None if row is None else _doc(row)
            if last is not None and last.digest == digest:
                return 0
            kind = kind_of(last)
            if kind is None:
                return 0
            return int(db.execute(
                "INSERT INTO order_documents(inventory, source, order_id, version, kind, "
                "digest, body, personal, changed, recorded) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (self.name, source, order, (last.version if last else 0) + 1, kind, digest,
                 json.dumps(body, ensure_ascii=False), json.dumps(personal, ensure_ascii=False),
                 changed, time.time())).rowcount)

    def unexported_ids(self, limit: int) -> list[int]:
        """The first ``limit`` documents no file has carried yet, oldest first."""
        return [int(r[0]) for r in self.ledger.db.execute(
            "SELECT id FROM order_documents WHERE inventory=? AND seq IS NULL ORDER BY id "
            "LIMIT ?", (self.name, limit)).fetchall()]

    def in_file(self, seq: int) -> list[StoredDoc]:
        return [_doc(r) for r in self.ledger.db.execute(
            _DOC + "seq=? ORDER BY id", (self.name, seq)).fetchall()]

    def export(self, ids: list[int], path_of: Callable[[int, float], str],
               drop_personal: bool = False) -> tuple[int, str]:
        """In one transaction: the next document-file number, these documents tied to it,
        and the file recorded as pending at ``path_of(seq, now)``; with ``drop_personal``
        its documents' personal data are forgotten once the ERP acknowledged it (the
        acks are read by another profile: the rule travels with the file)."""
        now = time.time()
        with self.ledger.tx() as db:
            row = db.execute("SELECT seq FROM sequences WHERE inventory=? AND name='documents'",
                             (self.name,)).fetchone()
            seq = (row[0] if row else 0) + 1
            db.execute("INSERT INTO sequences VALUES (?, 'documents', ?) ON CONFLICT(inventory, "
                       "name) DO UPDATE SET seq=excluded.seq", (self.name, seq))
            db.executemany("UPDATE order_documents SET seq=?, exported=? WHERE id=? AND "
                           "inventory=?", [(seq, now, i, self.name) for i in ids])
            path = path_of(seq, now)
            db.execute("INSERT INTO document_files(inventory, seq, path, status, documents, "
                       "created, drop_personal) VALUES (?,?,?,'pending',?,?,?)",
                       (self.name, seq, path, len(ids), now, int(drop_personal)))
        return seq, path

    def pending_files(self) -> list[tuple[int, str]]:
        """(seq, path) of document files made but not yet published, in order."""
        return [(r[0], r[1]) for r in self.ledger.db.execute(
            "SELECT seq, path FROM document_files WHERE inventory=? AND status='pending' "
            "ORDER BY seq", (self.name,)).fetchall()]

    def published(self, seqs: Iterable[int], when: float) -> None:
        with self.ledger.tx() as db:
            db.executemany("UPDATE document_files SET status='published', published=? WHERE "
                           "inventory=? AND seq=?", [(when, self.name, s) for s in seqs])

    def acknowledge(self, seqs: Iterable[int], when: float) -> int:
        """Mark the documents of these published files acknowledged (those not yet) and,
        for a file made with ``drop_personal``, forget their personal data, in one
        transaction; how many were acknowledged. A number the ledger has not published
        (unknown, or still pending) acknowledges nothing."""
        n = 0
        with self.ledger.tx() as db:
            for seq in seqs:
                row = db.execute("SELECT drop_personal FROM document_files WHERE inventory=? "
                                 "AND seq=? AND status='published'", (self.name, seq)).fetchone()
                if row is None:
                    continue
                n += db.execute("UPDATE order_documents SET acked=? WHERE inventory=? AND "
                                "seq=? AND acked IS NULL", (when, self.name, seq)).rowcount
                if row[0]:
                    db.execute("UPDATE order_documents SET personal=NULL WHERE inventory=? "
                               "AND seq=?", (self.name, seq))
        return n

    def files(self, seqs: Iterable[int]) -> set[int]:
        """Those of ``seqs`` that are published document files."""
        out = set()
        for seq in seqs:
            if self.ledger.db.execute("SELECT 1 FROM document_files WHERE inventory=? AND "
                                      "seq=? AND status='published'",
                                      (self.name, seq)).fetchone():
                out.add(seq)
        return out

    def counts(self) -> dict[str, int]:
        """Documents not yet in a file, in a file awaiting the ERP's acknowledgement,
        acknowledged; and how many still hold personal data."""
        row = self.ledger.db.execute(
            "SELECT count(CASE WHEN seq IS NULL THEN 1 END), "
            "count(CASE WHEN seq IS NOT NULL AND acked IS NULL THEN 1 END), "
            "count(CASE WHEN acked IS NOT NULL THEN 1 END), "
            "count(CASE WHEN personal IS NOT NULL THEN 1 END) "
            "FROM order_documents WHERE inventory=?", (self.name,)).fetchone()
        names = ("documents_to_erp", "documents_awaiting_ack", "documents_acknowledged",
                 "documents_with_personal_data")
        return {k: int(v or 0) for k, v in zip(names, row, strict=True)}
