"""Scheduled jobs in the ledger (``schedules``): per profile and job, when it was
first seen (no occurrence before is due), the occurrences taken care of, and its
last run. The timetable itself is filebridge/schedule.py."""

from __future__ import annotations

from typing import Any

COLUMNS = ("job", "anchor", "through", "due", "started", "finished", "status", "error",
           "skipped", "runs", "failures", "skips")


class Schedules:
    """The ``schedules`` rows of one profile."""

    def __init__(self, ledger: Any, profile: str):
        self.ledger, self.profile = ledger, profile

    def interrupt(self, running_here: set[str]) -> list[str]:
        """Jobs left 'running' (the watcher stopped during them), except those running in
        this process now: marked 'interrupted', and named."""
        with self.ledger.tx() as db:
            rows = db.execute("SELECT job FROM schedules WHERE profile=? AND "
                              "status='running'", (self.profile,)).fetchall()
            gone = [name for (name,) in rows if name not in running_here]
            db.executemany("UPDATE schedules SET status='interrupted' WHERE profile=? AND "
                           "job=?", [(self.profile, name) for name in gone])
        return gone

    def anchor(self, job: str, now: float) -> tuple[float, float | None]:
        """(anchor, through) of a job; a job seen for the first time is anchored at
        ``now`` (two processes at once: the first one's anchor stays)."""
        row = self.ledger.db.execute("SELECT anchor, through FROM schedules WHERE profile=? "
                                     "AND job=?", (self.profile, job)).fetchone()
        if row is not None:
            return row[0], row[1]
        with self.ledger.tx() as db:
            db.execute("INSERT INTO schedules(profile, job, anchor) VALUES (?,?,?) "
                       "ON CONFLICT DO NOTHING", (self.profile, job, now))
        return now, None

    def skipped(self, job: str, now: float, due: float) -> None:
        """The occurrence ``due`` is skipped: the previous run is still going."""
        self._write("UPDATE schedules SET through=?, skipped=?, skips=skips+1 WHERE "
                    "profile=? AND job=?", (now, due, self.profile, job))

    def started(self, job: str, now: float, due: float) -> bool:
        """The run for occurrence ``due`` starts, unless another process sharing the
        ledger started it since it was read (then False)."""
        return self._write("UPDATE schedules SET through=?, due=?, started=?, finished=NULL, "
                           "status='running', error=NULL, runs=runs+1 WHERE profile=? AND "
                           "job=? AND (through IS NULL OR through < ?)",
                           (now, due, now, self.profile, job, due)) > 0

    def finished(self, job: str, when: float, status: str, error: str | None) -> None:
        self._write("UPDATE schedules SET finished=?, status=?, error=?, failures=failures+? "
                    "WHERE profile=? AND job=?",
                    (when, status, error, int(status == "failed"), self.profile, job))

    def rows(self) -> list[dict[str, Any]]:
        rows = self.ledger.db.execute(f"SELECT {', '.join(COLUMNS)} FROM schedules WHERE "
                                      "profile=? ORDER BY job", (self.profile,)).fetchall()
        return [dict(zip(COLUMNS, r, strict=True)) for r in rows]

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        """Rows changed."""
        with self.ledger.tx() as db:
            return int(db.execute(sql, args).rowcount)
