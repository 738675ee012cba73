"""``run FILE...`` digests its files on a thread while the job is built
(filebridge.digest.ahead): the ledger must get the same digest as a read on the
spot, and a file changed in between must be digested as it is now."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from filebridge import digest as dg


def _blake(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def test_a_file_digested_ahead_gives_the_digest_of_its_content(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"x" * 3_000_000)
    threads: list[str] = []
    real = dg._digest

    def spy(path: Path) -> str:
        threads.append(threading.current_thread().name)
        return real(path)
    monkeypatch.setattr(dg, "_digest", spy)
    dg.ahead([f, f])  # named twice: read once
    assert dg.digest(f) == _blake(f.read_bytes())
    assert threads == ["digest"]  # the thread's result was taken, not read again
    assert dg.digest(f) == _blake(f.read_bytes())  # and again, now on the spot
    assert threads == ["digest", "MainThread"]


def test_a_file_changed_after_it_was_digested_ahead_is_digested_again(
        tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"first")
    dg.ahead([f])
    dg._AHEAD[dg._key(f)].result(timeout=30)  # the thread is done with the old content
    f.write_bytes(b"second, longer")
    os.utime(f, ns=(1, 1))
    assert dg.digest(f) == _blake(b"second, longer")


def test_a_file_that_is_not_there_fails_where_it_is_digested(tmp_path: Path) -> None:
    gone = tmp_path / "gone.txt"
    dg.ahead([gone, tmp_path])  # neither is a file: nothing started
    with pytest.raises(FileNotFoundError):
        dg.digest(gone)
