"""What the ledger keeps about photos: one row per picture (the SHA-256 of its
bytes) and per web rendition, published or refused. A photo dropped again, renamed
or moved to another product has the same digest, so it is neither checked nor
copied twice.

Portable SQL only (``?`` placeholders, ``INSERT ... ON CONFLICT``): the same
statements run on the PostgreSQL ledger. The table is migration 5 of
filebridge/ledger/schema.py; ``photo_files`` (a folder's names, sizes and mtimes
with their digests, so a new process need not read an unchanged photo again) is a
later one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Image:
    digest: str
    status: str
    name: str | None
    reason: str | None


def known(ledger: Any, profile: str, variant: str, digests: list[str]) -> dict[str, Image]:
    """The ledger's rows for ``digests`` (those it has)."""
    out: dict[str, Image] = {}
    for i in range(0, len(digests), 500):
        chunk = digests[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for d, status, name, reason in ledger.db.execute(
                "SELECT digest, status, name, reason FROM images WHERE profile=? AND "
                f"variant=? AND digest IN ({marks})", (profile, variant, *chunk)):
            out[d] = Image(d, status, name, reason)
    return out


def record(ledger: Any, profile: str, variant: str,
           rows: Iterable[tuple[str, str, str, str | None, str | None]]) -> None:
    """Note (digest, file, status, name, reason) rows in one transaction."""
    now = time.time()
    with ledger.tx() as db:
        for digest, file, status, name, reason in rows:
            db.execute(
                "INSERT INTO images (profile, digest, variant, file, status, name, reason, seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (profile, digest, variant) DO UPDATE "
                "SET file=excluded.file, status=excluded.status, name=excluded.name, "
                "reason=excluded.reason, seen=excluded.seen, retired=NULL",
                (profile, digest, variant, file, status, name, reason, now))


def counts(ledger: Any, profile: str | None) -> dict[str, dict[str, int]]:
    """For ``status``: per profile, the pictures known, published and refused."""
    rows = ledger.db.execute(
        "SELECT profile, status, count(DISTINCT digest) FROM images"
        + (" WHERE profile=?" if profile else "") + " GROUP BY profile, status",
        (profile,) if profile else ()).fetchall()
    out: dict[str, dict[str, int]] = {}
    for prof, status, n in rows:
        c = out.setdefault(prof, {"known": 0, "published": 0, "refused": 0})
        c[status] = n
    for c in out.values():
        c["known"] = c["published"] + c["refused"]
    return out


def hashed(ledger: Any, profile: str) -> dict[str, tuple[int, int, str]]:
    """The photo folder's files as last hashed: name -> (size, mtime, digest)."""
    return {name: (int(size), int(mtime), digest) for name, size, mtime, digest in
            ledger.db.execute("SELECT name, size, mtime, digest FROM photo_files "
                              "WHERE profile=?", (profile,))}


def note_hashed(ledger: Any, profile: str, rows: Iterable[tuple[str, int, int, str]],
                gone: Iterable[str] = ()) -> None:
    """Note (name, size, mtime, digest) rows and forget the names ``gone`` from the
    folder, in one transaction."""
    now = time.time()
    with ledger.tx() as db:
        for name in gone:
            db.execute("DELETE FROM photo_files WHERE profile=? AND name=?", (profile, name))
        for name, size, mtime, digest in rows:
            db.execute(
                "INSERT INTO photo_files (profile, name, size, mtime, digest, seen) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (profile, name) DO UPDATE "
                "SET size=excluded.size, mtime=excluded.mtime, digest=excluded.digest, "
                "seen=excluded.seen", (profile, name, size, mtime, digest, now))


def retire(ledger: Any, profile: str, variant: str, current: set[str], now: float,
           keep: float) -> list[tuple[str, str, str]]:
    """Published photos no longer in the folder (``current``: the digests it holds)
    are retired from ``now``; one back in it is not. Those retired for ``keep``
    seconds, and those a crash left half removed, are marked ``removing`` in the same
    transaction and returned as (digest, variant, name): their files go next, then
    :func:`removed` forgets them."""
    with ledger.tx() as db:
        rows = db.execute("SELECT digest, variant, status, name, retired FROM images "
                          "WHERE profile=? AND status IN ('published', 'removing')",
                          (profile,)).fetchall()
        due: list[tuple[str, str, str]] = []
        for digest, var, status, name, retired in rows:
            used = var == variant and digest in current
            key = (profile, digest, var)
            if status == "removing" or (not used and retired is not None
                                        and retired <= now - keep):
                if status != "removing":
                    db.execute("UPDATE images SET status='removing' WHERE profile=? AND "
                               "digest=? AND variant=?", key)
                due.append((digest, var, name or ""))
            elif not used and retired is None:
                db.execute("UPDATE images SET retired=? WHERE profile=? AND digest=? AND "
                           "variant=?", (now, *key))
            elif used and retired is not None:
                db.execute("UPDATE images SET retired=NULL WHERE profile=? AND digest=? "
                           "AND variant=?", key)
    return due


def in_use(ledger: Any, name: str) -> bool:
    """Whether a published file of that name is still wanted by any profile (two
    profiles may publish to one folder)."""
    return ledger.db.execute("SELECT 1 FROM images WHERE name=? AND status='published' "
                             "AND retired IS NULL", (name,)).fetchone() is not None


def removed(ledger: Any, profile: str, rows: Iterable[tuple[str, str, str]]) -> None:
    """Forget photos whose files are gone (rows from :func:`retire`)."""
    with ledger.tx() as db:
        for digest, variant, _ in rows:
            db.execute("DELETE FROM images WHERE profile=? AND digest=? AND variant=? AND "
                       "status='removing'", (profile, digest, variant))
