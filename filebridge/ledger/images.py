"""What the ledger keeps about photos: one row per picture (the SHA-256 of its
bytes) and per web rendition, published or refused. A photo dropped again, renamed
or moved to another product has the same digest, so it is neither checked nor
copied twice.

Portable SQL only (``?`` placeholders, ``INSERT ... ON CONFLICT``): the same
statements run on the PostgreSQL ledger.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,           -- SHA-256 of the photo's bytes, hex
    variant TEXT NOT NULL,          -- the rendition: 'original' or the web size settings
    file TEXT NOT NULL,             -- the name it was last seen under
    status TEXT NOT NULL,           -- published | refused
    name TEXT,                      -- published: its name in the public folder
    reason TEXT,                    -- refused: why
    seen REAL NOT NULL,
    PRIMARY KEY (profile, digest, variant)
)
"""


@dataclass
class Image:
    digest: str
    status: str
    name: str | None
    reason: str | None


def setup(ledger: Any) -> None:
    with ledger.tx() as db:
        db.execute(SCHEMA)


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
                "reason=excluded.reason, seen=excluded.seen",
                (profile, digest, variant, file, status, name, reason, now))


def counts(ledger: Any, profile: str | None) -> dict[str, dict[str, int]]:
    """For ``status``: per profile, the pictures known, published and refused."""
    db = ledger.db
    try:
        rows = db.execute(
            "SELECT profile, status, count(DISTINCT digest) FROM images"
            + (" WHERE profile=?" if profile else "") + " GROUP BY profile, status",
            (profile,) if profile else ()).fetchall()
    except Exception as e:  # no photo ever seen: the table is not there
        if "no such table" in str(e) or "does not exist" in str(e):
            return {}
        raise
    out: dict[str, dict[str, int]] = {}
    for prof, status, n in rows:
        c = out.setdefault(prof, {"known": 0, "published": 0, "refused": 0})
        c[status] = n
    for c in out.values():
        c["known"] = c["published"] + c["refused"]
    return out
