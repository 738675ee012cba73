"""``watch`` on profiles whose inbox does not exist yet: it waits for the folder without
opening an inotify instance per look (it used to leak one per profile per second, and
hit the per-user limit in about 20 s with two profiles), then watches it once made."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_profile
from helpers import drop, fixed_profile, fixed_rows, wait_for


def inotify_fds(pid: int) -> int:
    """The process's open inotify instances (/proc/PID/fd links to anon_inode:inotify)."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            pass  # closed meanwhile
    return n


def test_missing_inboxes_are_waited_for_without_leaking_inotify(tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        paths.append(write_profile(tmp_path / name, fixed_profile(tmp_path / name, name=name,
                                                                  stable_for="0.2s")))
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    log = tmp_path / "watch.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "filebridge", "watch", *map(str, paths)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        wait_for(lambda: all(str(tmp_path / n / "inbox") in log.read_text() for n in "ab")
                 or proc.poll() is not None, timeout=60, what="both inboxes reported missing")
        assert proc.poll() is None, log.read_text()
        seen = []
        for _ in range(6):  # three seconds: three looks per profile at the least
            seen.append(inotify_fds(proc.pid))
            time.sleep(0.5)
        assert seen == [0] * 6, seen
        for name in ("a", "b"):
            drop(tmp_path / name / "inbox" / f"{name.upper()}.txt", fixed_rows(2))
        for name in ("a", "b"):
            wait_for(lambda n=name: list((tmp_path / n / "archive").glob("*.txt")), timeout=60,
                     what=f"{name}'s file taken once its inbox appeared")
        assert "watching" in log.read_text()
        assert inotify_fds(proc.pid) <= 2  # at most one per profile, once watching
        assert "Traceback" not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
