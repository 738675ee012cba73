"""A full disk while a file is converted: a clear message, exit code 9, no
traceback, nothing published or committed; the file stays in the inbox and is done
(under the same output names) once there is room.

A full disk is simulated without root or a special filesystem: the subprocess runs
under RLIMIT_FSIZE, so a write past the limit fails with EFBIG ("File too large"),
which filebridge treats like ENOSPC and EDQUOT (Python ignores SIGXFSZ)."""

from __future__ import annotations

import resource
import sqlite3
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import filebridge, fixed_profile, fixed_rows, ledger_files

pytestmark = pytest.mark.timeout(120)
LIMIT = 1 << 20  # bytes: the output CSV of ROWS records is larger, the ledger smaller
ROWS = 40_000


def small_disk() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.fixture
def prof(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "BIG.txt").write_bytes(fixed_rows(ROWS))
    return write_profile(tmp_path, fixed_profile(tmp_path, stable_for="0s"))


def _left_alone(tmp_path: Path) -> None:
    assert [p.name for p in (tmp_path / "inbox").iterdir()] == ["BIG.txt"]
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []  # no output, no temporaries
    con = sqlite3.connect(tmp_path / "ledger.db")
    ((status, reason),) = con.execute("SELECT status, reason FROM files").fetchall()
    assert status == "failed" and reason.startswith("disk full: ") \
        and "redone when there is room" in reason
    assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]


def test_run_on_a_full_disk_exits_9_and_redoes_the_file_later(tmp_path, prof):
    full = filebridge("run", str(prof), preexec_fn=small_disk)
    assert full.returncode == 9, full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    assert "the disk is full (" in full.stderr and "File too large" in full.stderr
    assert "BIG.txt: disk_full - disk full: " in full.stdout
    _left_alone(tmp_path)

    done = filebridge("run", str(prof))  # room again
    assert done.returncode == 0, done.stderr
    assert ledger_files(tmp_path / "ledger.db") == [("BIG.txt", "done")]
    lines = (tmp_path / "out" / "BIG.csv").read_text().splitlines()
    assert len(lines) == ROWS + 1


def test_watch_once_on_a_full_disk(tmp_path, prof):
    full = filebridge("watch", "--once", str(prof), preexec_fn=small_disk)
    assert full.returncode == 9, full.stderr
    assert "Traceback" not in full.stderr and "the disk is full" in full.stderr
    _left_alone(tmp_path)
