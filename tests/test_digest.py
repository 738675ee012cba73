"""``run FILE...`` digests its files on a thread while the job is built
(filebridge.digest.ahead): the ledger must get the same digest as a read on the
spot, and a file changed in between must be digested as it is now. A new ledger
knows files by xxh3-128; one that held files before keeps blake2b-256."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
import xxhash

from filebridge import digest as dg


def _blake(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def _xxh3(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def test_a_file_digested_ahead_gives_the_digest_of_its_content(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"x" * 3_000_000)
    threads: list[str] = []
    real = dg._digest

    def spy(path: Path, kind: str) -> str:
        threads.append(threading.current_thread().name)
        return real(path, kind)
    monkeypatch.setattr(dg, "_digest", spy)
    dg.ahead([f, f])  # named twice: read once
    assert dg.digest(f, dg.NEW) == _xxh3(f.read_bytes())
    assert threads == ["digest"]  # the thread's result was taken, not read again
    assert dg.digest(f, dg.NEW) == _xxh3(f.read_bytes())  # and again, now on the spot
    assert threads == ["digest", "MainThread"]


def test_a_ledger_of_the_old_kind_gets_its_kind_not_the_one_digested_ahead(
        tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"y" * 100_000)
    dg.ahead([f])
    assert dg.digest(f, dg.OLD) == _blake(f.read_bytes())
    assert dg.digest(f, dg.NEW) == _xxh3(f.read_bytes())


def test_a_digest_of_either_kind_is_matched_against_a_file(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"content")
    assert dg.matches(f, _blake(b"content")) and dg.matches(f, _xxh3(b"content"))
    assert not dg.matches(f, _blake(b"other")) and not dg.matches(f, _xxh3(b"other"))
    assert not dg.matches(f, "abc")  # no kind has that length


def test_a_file_changed_after_it_was_digested_ahead_is_digested_again(
        tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"first")
    dg.ahead([f])
    dg._AHEAD[dg._key(f, dg.NEW)].result(timeout=30)  # the thread is done with the old content
    f.write_bytes(b"second, longer")
    os.utime(f, ns=(1, 1))
    assert dg.digest(f, dg.NEW) == _xxh3(b"second, longer")


def test_a_file_that_is_not_there_fails_where_it_is_digested(tmp_path: Path) -> None:
    gone = tmp_path / "gone.txt"
    dg.ahead([gone, tmp_path])  # neither is a file: nothing started
    with pytest.raises(FileNotFoundError):
        dg.digest(gone, dg.NEW)
