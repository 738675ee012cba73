"""Every step after a file's verdict is recorded before it happens, so a process
killed at any instant (SIGKILL at the named points of filebridge/crashpoints.py,
the CLI in subprocesses) leaves nothing half-done: a rejected file always has its
report and a final ledger row, a duplicate always has its ledger row, a file done
before the kill is archived without being converted again, and a killed run shows
as interrupted, never running forever."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import KILLED, filebridge, fixed_profile, fixed_rows, ledger_files

pytestmark = pytest.mark.timeout(120)
JUNK = b"\x00\x01\x02 not text at all \x00" * 10


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def prof(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return write_profile(tmp_path, fixed_profile(tmp_path, stable_for="0s"))


@pytest.mark.parametrize("point", ["reject.recorded", "reject.reported", "reject.moved"])
def test_killed_while_rejecting_a_file(tmp_path, prof, point):
    (tmp_path / "inbox" / "BAD.txt").write_bytes(JUNK)
    died = filebridge("run", str(prof), crash_at=point)
    assert died.returncode == KILLED, died.stderr
    db = tmp_path / "ledger.db"
    # Whatever the instant: the ledger already has the verdict and where the file goes.
    ((status, moved_to, reason),) = rows(db, "SELECT status, moved_to, reason FROM files")
    assert status == "rejecting" and "binary data" in reason
    assert Path(moved_to).parent == tmp_path / "errors"

    again = filebridge("run", str(prof))
    if point == "reject.moved":  # it was in place already: the sweep sees it done
        assert again.returncode == 0 and "nothing to do" in again.stdout
    else:
        assert again.returncode == 3, again.stdout + again.stderr
        assert "BAD.txt: rejected" in again.stdout
    assert names(tmp_path / "inbox") == []
    # One file in the error folder, with its one report, where the ledger said.
    target = Path(moved_to).name
    assert names(tmp_path / "errors") == [target, target + ".error.txt"]
    assert (tmp_path / "errors" / target).read_bytes() == JUNK
    report = (tmp_path / "errors" / (target + ".error.txt")).read_text()
    assert "status: rejected" in report and "binary data" in report
    assert rows(db, "SELECT status, moved_to FROM files") == [("rejected", moved_to)]
    last = filebridge("run", str(prof))
    assert last.returncode == 0 and "nothing to do" in last.stdout, last.stdout
    assert "BAD.txt" not in last.stdout, last.stdout


def test_a_rejected_file_dropped_again_is_processed_again(tmp_path, prof):
    """A finished rejection is not resumed: the same bytes dropped again (say after the
    profile was fixed, the error folder emptied) are read again."""
    (tmp_path / "inbox" / "BAD.txt").write_bytes(JUNK)
    assert filebridge("run", str(prof)).returncode == 3
    for p in (tmp_path / "errors").iterdir():
        p.unlink()
    (tmp_path / "inbox" / "BAD.txt").write_bytes(JUNK)
    again = filebridge("run", str(prof))
    assert again.returncode == 3 and "binary data" in again.stdout
    assert ledger_files(tmp_path / "ledger.db") == [("BAD.txt", "rejected")] * 2
    assert len(names(tmp_path / "errors")) == 2


def test_killed_while_skipping_a_duplicate(tmp_path, prof):
    inbox = tmp_path / "inbox"
    (inbox / "A.txt").write_bytes(fixed_rows(3))
    assert filebridge("run", str(prof)).returncode == 0
    (inbox / "B.txt").write_bytes(fixed_rows(3))  # the same content again
    died = filebridge("run", str(prof), crash_at="duplicate.recorded")
    assert died.returncode == KILLED
    assert ledger_files(tmp_path / "ledger.db") == [("A.txt", "done"), ("B.txt", "duplicate")]
    assert names(inbox) == ["B.txt"]

    again = filebridge("run", str(prof))
    assert again.returncode == 0, again.stderr
    assert "B.txt: duplicate" in again.stdout
    assert names(inbox) == [] and len(names(tmp_path / "archive")) == 2
    # Still one row for B, now saying where it went.
    assert rows(tmp_path / "ledger.db", "SELECT name, status, moved_to IS NOT NULL FROM files"
                ) == [("A.txt", "done", 1), ("B.txt", "duplicate", 1)]


def test_killed_after_done_before_the_archive(tmp_path, prof):
    (tmp_path / "inbox" / "A.txt").write_bytes(fixed_rows(4))
    died = filebridge("run", str(prof), crash_at="done.finished")
    assert died.returncode == KILLED
    out = tmp_path / "out" / "A.csv"
    written = out.stat().st_mtime_ns
    again = filebridge("run", str(prof))
    assert again.returncode == 0 and "already processed; archived" in again.stdout
    assert out.stat().st_mtime_ns == written  # not converted again
    assert names(tmp_path / "inbox") == [] and len(names(tmp_path / "archive")) == 1
    assert ledger_files(tmp_path / "ledger.db") == [("A.txt", "done")]


def test_killed_after_the_archive_before_the_ledger_says_where(tmp_path, prof):
    (tmp_path / "inbox" / "A.txt").write_bytes(fixed_rows(4))
    died = filebridge("run", str(prof), crash_at="done.archived")
    assert died.returncode == KILLED
    db = tmp_path / "ledger.db"
    assert rows(db, "SELECT status, moved_to FROM files") == [("done", None)]
    (archived,) = names(tmp_path / "archive")
    again = filebridge("run", str(prof))  # its restart sweep finds the archived file
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout
    assert rows(db, "SELECT status, moved_to FROM files") == [
        ("done", str(tmp_path / "archive" / archived))]
    assert names(tmp_path / "inbox") == [] and names(tmp_path / "archive") == [archived]


def test_a_killed_run_is_interrupted_not_running(tmp_path, prof):
    (tmp_path / "inbox" / "A.txt").write_bytes(fixed_rows(4))
    died = filebridge("run", str(prof), crash_at="done.finished")
    assert died.returncode == KILLED
    db = tmp_path / "ledger.db"
    assert rows(db, "SELECT status FROM runs") == [("running",)]  # as the kill left it
    shown = filebridge("status", "--profile", str(prof))
    assert " interrupted " in shown.stdout and " running " not in shown.stdout, shown.stdout
    assert filebridge("run", str(prof)).returncode == 0
    assert rows(db, "SELECT status FROM runs ORDER BY id") == [("interrupted",), ("done",)]
