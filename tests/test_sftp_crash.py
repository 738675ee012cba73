"""A claim left on the SFTP server by a process killed mid-file (SIGKILL through
filebridge/crashpoints.py, a real sshd from tests/sshd.py, the CLI in subprocesses)
is resumed where it is, in both claim modes, however many times the process dies,
and the file is processed exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import KILLED, filebridge, fixed_profile, fixed_rows, ledger_files, read_csv
from sshd import Sshd

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def remote(sshd: Sshd, tmp_path: Path) -> Path:
    folder = sshd.root / tmp_path.name
    (folder / "inbox").mkdir(parents=True)
    return folder


def _profile(tmp_path: Path, sshd: Sshd, remote: Path, **source: object) -> Path:
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    prof = fixed_profile(tmp_path)
    prof["source"] = sshd.server(kh, **{
        "path": str((remote / "inbox").relative_to(sshd.root)), "pattern": ["*.txt"],
        "ready": {"stable_for": "0s"}, "poll_interval": "0.3s",
        "work": str(tmp_path / "work"), **source})
    return write_profile(tmp_path, prof)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("claim", [{"suffix": ".processing"}, {"folder": "../claimed"}],
                         ids=["suffix", "folder"])
def test_claim_left_by_kills_is_resumed_once(tmp_path, sshd, remote, claim):
    inbox = remote / "inbox"
    (inbox / "A.txt").write_bytes(fixed_rows(5))
    prof = _profile(tmp_path, sshd, remote, claim=claim)
    claimed = (inbox / "A.txt.processing") if "suffix" in claim else remote / "claimed" / "A.txt"

    for _ in range(2):  # killed twice right after claiming: the claim stays as it is
        died = filebridge("run", str(prof), crash_at="sftp.claimed")
        assert died.returncode == KILLED, died.stderr
        assert claimed.exists(), (names(inbox), names(remote / "claimed"))
        assert [p for p in inbox.iterdir() if p.name.count(".processing") > 1] == []

    done = filebridge("run", str(prof))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "A.txt: done" in done.stdout
    assert ledger_files(tmp_path / "ledger.db") == [("A.txt", "done")]
    assert names(inbox) == ["archive"] and not claimed.exists()
    assert [r["sku"] for r in read_csv(tmp_path / "out" / "A.csv")] == \
        [f"A0{i:06d}"[:8] for i in range(1, 6)]
    again = filebridge("run", str(prof))
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_claim_of_a_file_done_before_the_kill_is_archived_not_redone(tmp_path, sshd, remote):
    """Killed after the ledger said done, before the archive move: the next run only
    moves the claimed file to the archive; nothing is converted twice."""
    inbox = remote / "inbox"
    (inbox / "B.txt").write_bytes(fixed_rows(3))
    prof = _profile(tmp_path, sshd, remote)
    died = filebridge("run", str(prof), crash_at="done.finished")
    assert died.returncode == KILLED
    assert names(inbox) == ["B.txt.processing"]
    out = tmp_path / "out" / "B.csv"
    first = out.stat().st_mtime_ns

    done = filebridge("run", str(prof))
    assert done.returncode == 0, done.stderr
    assert "already processed; archived" in done.stdout
    assert names(inbox) == ["archive"] and len(names(inbox / "archive")) == 1
    assert out.stat().st_mtime_ns == first
    con = sqlite3.connect(tmp_path / "ledger.db")
    assert con.execute("SELECT status, moved_to LIKE 'sftp://%archive/B.%' FROM files"
                       ).fetchall() == [("done", 1)]


def test_claims_left_by_an_earlier_version_are_found_again(tmp_path, sshd, remote):
    """``A.txt.processing.processing`` (what a re-claim used to leave) is A.txt."""
    inbox = remote / "inbox"
    (inbox / "C.txt.processing.processing").write_bytes(fixed_rows(2))
    done = filebridge("run", str(_profile(tmp_path, sshd, remote)))
    assert done.returncode == 0, done.stderr
    assert ledger_files(tmp_path / "ledger.db") == [("C.txt", "done")]
    assert names(inbox) == ["archive"]
