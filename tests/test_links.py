"""Symbolic links in a local inbox: refused by default (moved to the error folder
with a report, reported once, never read: not even a FIFO or /dev/zero behind one
blocks), or with ``links: follow`` followed only to a file inside the inbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_profile
from helpers import filebridge, fixed_profile, fixed_rows, ledger_files, read_csv, wait_for

pytestmark = pytest.mark.timeout(120)
SECRET = "ROOTPW42 the first line of a file nobody may send to a shop"


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "private").mkdir()
    # A file the layout would read happily: if it were followed its rows would go out.
    secret = fixed_rows(3).decode("cp1252").replace("A0000001", "ROOTPW42")
    (tmp_path / "private" / "shadow.txt").write_text(secret + SECRET + "\n", "cp1252")
    return tmp_path


def everything_written(root: Path) -> str:
    text = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink() and "private" not in p.parts and p.suffix != ".db":
            text.append(p.read_text("utf-8", errors="replace"))
    return "\n".join(text)


def test_a_link_is_refused_moved_once_and_never_read(site):
    inbox = site / "inbox"
    os.symlink(site / "private" / "shadow.txt", inbox / "LINK.txt")
    os.mkfifo(site / "private" / "pipe")
    os.symlink(site / "private" / "pipe", inbox / "PIPE.txt")  # reading it would block
    os.symlink("/dev/zero", inbox / "ZERO.txt")  # digesting it would never end
    (inbox / "OK.txt").write_bytes(fixed_rows(2))
    prof = write_profile(site, fixed_profile(site, stable_for="0s"))

    done = filebridge("run", str(prof), timeout=60)
    assert done.returncode == 3, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "LINK.txt: refused - LINK.txt: a symbolic link, refused (links: refuse)" in out
    assert "OK.txt: done" in out
    assert names(inbox) == []
    errors = names(site / "errors")
    assert len(errors) == 6 and sum(n.endswith(".error.txt") for n in errors) == 3
    moved = [site / "errors" / n for n in errors if not n.endswith(".error.txt")]
    assert all(p.is_symlink() for p in moved)  # the links themselves, targets untouched
    assert (site / "private" / "shadow.txt").exists()
    report = next(p for p in (site / "errors").iterdir() if p.name.startswith("LINK")
                  and p.name.endswith(".error.txt")).read_text()
    assert "symbolic link" in report and str(site / "private" / "shadow.txt") in report
    assert "ROOTPW42" not in everything_written(site)  # no output, ack, report or log
    assert "ROOTPW42" not in out
    assert ledger_files(site / "ledger.db") == [("OK.txt", "done")]
    again = filebridge("run", str(prof))
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_watch_reports_a_link_once(site):
    inbox = site / "inbox"
    prof = write_profile(site, fixed_profile(site, stable_for="0s"))
    (site / "errors").mkdir()
    os.chmod(site / "errors", 0o500)  # cannot be moved there: it stays, reported once
    log = site / "watch.log"
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", str(prof)],
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: "watching" in log.read_text(), timeout=30, what="the watcher")
        os.symlink(site / "private" / "shadow.txt", inbox / "LINK.txt")
        if os.geteuid() == 0:  # root writes anywhere: the link is moved, once
            wait_for(lambda: names(inbox) == [], timeout=15, what="the link to go")
        time.sleep(3)  # a few rescans (every second)
        (inbox / "OK.txt").write_bytes(fixed_rows(2))
        wait_for(lambda: ledger_files(site / "ledger.db") == [("OK.txt", "done")], timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        os.chmod(site / "errors", 0o700)
    text = log.read_text()
    assert text.count("LINK.txt: a symbolic link, refused") == 1, text
    assert "Traceback" not in text and "ROOTPW42" not in text
    assert "ROOTPW42" not in everything_written(site)


def test_follow_takes_links_inside_the_inbox_only(site):
    inbox = site / "inbox"
    (inbox / "data").mkdir()
    (inbox / "data" / "real.bin").write_bytes(fixed_rows(3, seed=7))
    os.symlink(inbox / "data" / "real.bin", inbox / "IN.txt")
    os.symlink(site / "private" / "shadow.txt", inbox / "OUT.txt")
    os.symlink("data/../../private/shadow.txt", inbox / "SNEAKY.txt")
    prof = fixed_profile(site, stable_for="0s")
    prof["source"]["links"] = "follow"
    done = filebridge("run", str(write_profile(site, prof)))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "IN.txt: done" in done.stdout
    assert "OUT.txt: refused - OUT.txt: a symbolic link leading outside the inbox" \
        in done.stdout
    assert "SNEAKY.txt: refused" in done.stdout
    assert [r["sku"] for r in read_csv(site / "out" / "IN.csv")] == \
        [f"A7{i:06d}"[:8] for i in range(1, 4)]
    assert names(inbox) == ["data"]  # the followed link archived (as a link)
    (archived,) = names(site / "archive")
    assert (site / "archive" / archived).is_symlink()
    assert (inbox / "data" / "real.bin").exists()
    assert "ROOTPW42" not in everything_written(site)
