"""What the alerts remember (filebridge/alerts.py): when a lasting problem (a shop
or server down) was first seen, and when each alert was last sent, so a problem is
told once per window however often it is seen, by every process sharing the ledger."""

from __future__ import annotations

from filebridge.ledger.sqlite import Ledger


def trouble_since(ledger: Ledger, profile: str, key: str, now: float) -> float:
    """Note that problem ``key`` is seen at ``now``; when it was first seen."""
    with ledger.tx() as db:
        row = db.execute("SELECT since FROM alerts WHERE profile=? AND key=?",
                         (profile, key)).fetchone()
        if row is None:
            db.execute("INSERT INTO alerts(profile, key, since) VALUES (?,?,?)",
                       (profile, key, now))
            return now
        if row[0] is None:
            db.execute("UPDATE alerts SET since=? WHERE profile=? AND key=?",
                       (now, profile, key))
            return now
        return float(row[0])


def clear(ledger: Ledger, profile: str, key: str) -> bool:
    """Problem ``key`` is over; true if it was known (and so may have been told)."""
    if ledger.db.execute("SELECT 1 FROM alerts WHERE profile=? AND key=?",
                         (profile, key)).fetchone() is None:
        return False  # the usual case, every scan: no write transaction
    with ledger.tx() as db:
        row = db.execute("SELECT sent FROM alerts WHERE profile=? AND key=?",
                         (profile, key)).fetchone()
        if row is not None:
            db.execute("DELETE FROM alerts WHERE profile=? AND key=?", (profile, key))
    return row is not None and row[0] is not None


def open_troubles(ledger: Ledger, profile: str, prefix: str) -> list[str]:
    """The keys of problems starting with ``prefix`` still open."""
    return [r[0] for r in ledger.db.execute(
        "SELECT key FROM alerts WHERE profile=? AND since IS NOT NULL AND substr(key, 1, ?)=?",
        (profile, len(prefix), prefix)).fetchall()]


def claim(ledger: Ledger, profile: str, key: str, window: float, now: float) -> bool:
    """True (and the alert counts as sent at ``now``) unless one for ``key`` went out
    less than ``window`` seconds ago."""
    with ledger.tx() as db:
        row = db.execute("SELECT sent FROM alerts WHERE profile=? AND key=?",
                         (profile, key)).fetchone()
        if row is not None and row[0] is not None and now - float(row[0]) < window:
            return False
        # Alerts of finished problems (a rejected file) are kept only for their window.
        db.execute("DELETE FROM alerts WHERE profile=? AND since IS NULL AND sent < ?",
                   (profile, now - window))
        if row is None:
            db.execute("INSERT INTO alerts(profile, key, sent) VALUES (?,?,?)",
                       (profile, key, now))
        else:
            db.execute("UPDATE alerts SET sent=? WHERE profile=? AND key=?",
                       (now, profile, key))
    return True


def unclaim(ledger: Ledger, profile: str, key: str, sent: float) -> None:
    """The alert claimed at ``sent`` reached nobody: the next sighting tries again."""
    with ledger.tx() as db:
        db.execute("UPDATE alerts SET sent=NULL WHERE profile=? AND key=? AND sent=?",
                   (profile, key, sent))
