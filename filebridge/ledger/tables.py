"""What the ledger keeps about related files (filebridge/tables/): each code table's
versions (the current one, those it replaced, those refused and why), the main files
that wait for a table or a set member, and a set's main file done but not archived.
``status`` shows the first two."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from filebridge.ledger.sqlite import Ledger


@dataclass
class Version:
    id: int
    name: str
    file: str
    seen: str
    digest: str
    status: str
    rows: int
    data: str | None
    loaded: float
    reason: str | None


_COLS = "id, name, file, seen, digest, status, rows, data, loaded, reason"


def current(ledger: Ledger, profile: str, name: str) -> Version | None:
    row = ledger.db.execute(f"SELECT {_COLS} FROM table_versions WHERE profile=? AND name=? "
                            "AND status='current' ORDER BY id DESC LIMIT 1",
                            (profile, name)).fetchone()
    return Version(*row) if row else None


def refused(ledger: Ledger, profile: str, name: str, seen: str) -> Version | None:
    row = ledger.db.execute(f"SELECT {_COLS} FROM table_versions WHERE profile=? AND name=? "
                            "AND status='refused' AND seen=? ORDER BY id DESC LIMIT 1",
                            (profile, name, seen)).fetchone()
    return Version(*row) if row else None


def install(ledger: Ledger, profile: str, name: str, file: str, seen: str, digest: str,
            rows: int, data: str) -> Version | None:
    """Make a loaded version current, in one transaction; returns the one it replaced."""
    with ledger.tx() as db:
        old = db.execute(f"SELECT {_COLS} FROM table_versions WHERE profile=? AND name=? AND "
                         "status='current'", (profile, name)).fetchone()
        db.execute("UPDATE table_versions SET status='replaced', data=NULL WHERE profile=? "
                   "AND name=? AND status='current'", (profile, name))
        db.execute("INSERT INTO table_versions(profile, name, file, seen, digest, status, rows, "
                   "data, loaded) VALUES (?,?,?,?,?, 'current', ?,?,?)",
                   (profile, name, file, seen, digest, rows, data, time.time()))
    return Version(*old) if old else None


def seen_again(ledger: Ledger, version_id: int, file: str, seen: str) -> None:
    """The same content under another name or time: still the same version."""
    with ledger.tx() as db:
        db.execute("UPDATE table_versions SET file=?, seen=? WHERE id=?", (file, seen, version_id))


def refuse(ledger: Ledger, profile: str, name: str, file: str, seen: str, digest: str,
           reason: str) -> None:
    with ledger.tx() as db:
        db.execute("INSERT INTO table_versions(profile, name, file, seen, digest, status, "
                   "loaded, reason) VALUES (?,?,?,?,?, 'refused', ?, ?)",
                   (profile, name, file, seen, digest, time.time(), reason))


def data_files(ledger: Ledger, profile: str) -> set[str]:
    return {r[0] for r in ledger.db.execute(
        "SELECT data FROM table_versions WHERE profile=? AND status='current' AND data IS NOT "
        "NULL", (profile,))}


def note_waiting(ledger: Ledger, profile: str, file: str, reason: str) -> bool:
    """Record that ``file`` waits; true when this is news (first time, or a new reason)."""
    now = time.time()
    with ledger.tx() as db:
        row = db.execute("SELECT reason FROM waiting WHERE profile=? AND file=?",
                         (profile, file)).fetchone()
        if row is None:
            db.execute("INSERT INTO waiting VALUES (?,?,?,?,?)", (profile, file, reason, now,
                                                                   now))
        else:
            db.execute("UPDATE waiting SET reason=?, seen=? WHERE profile=? AND file=?",
                       (reason, now, profile, file))
    return row is None or row[0] != reason


def clear_waiting(ledger: Ledger, profile: str, file: str) -> None:
    with ledger.tx() as db:
        db.execute("DELETE FROM waiting WHERE profile=? AND file=?", (profile, file))


def report(ledger: Ledger, profile: str | None) -> dict[str, list[dict[str, Any]]]:
    """For ``status``: code table versions (current, and refused since) and waiting files."""
    db = ledger.db
    q = ""
    args: tuple[str, ...] = ()
    if profile:
        q, args = " AND profile=?", (profile,)
    tables = []
    for prof, name, file, digest, status, rows, loaded, reason in db.execute(
            "SELECT profile, name, file, digest, status, rows, loaded, reason FROM "
            "table_versions v WHERE (status='current' OR (status='refused' AND id > coalesce("
            "(SELECT max(id) FROM table_versions c WHERE c.profile=v.profile AND "
            "c.name=v.name AND c.status='current'), 0)))" + q + " ORDER BY profile, name, id",
            args):
        tables.append({"profile": prof, "name": name, "file": file, "digest": digest,
                       "status": status, "rows": rows, "loaded": loaded, "reason": reason})
    waiting = [{"profile": p, "file": f, "reason": r, "since": s} for p, f, r, s in db.execute(
        "SELECT profile, file, reason, since FROM waiting WHERE 1=1" + q + " ORDER BY since",
        args)]
    return {"tables": tables, "waiting": waiting}


def done_unmoved(ledger: Ledger, profile: str, main: str) -> str | None:
    """The digest of main file ``main`` if the ledger has it done but not yet archived
    (a crash between archiving its set's members and itself)."""
    row = ledger.db.execute("SELECT digest FROM files WHERE profile=? AND name=? AND "
                            "status='done' AND moved_to IS NULL ORDER BY id DESC LIMIT 1",
                            (profile, main)).fetchone()
    return row[0] if row else None


def seen_key(name: str, fingerprint: Any) -> str:
    return json.dumps([name, *(fingerprint or ())])
