"""What the ledger knows a file by: its content's digest.

``run FILE...`` knows its files before the job is built: :func:`ahead` digests them
on a thread meanwhile (hashing and reading release the GIL, so on a second core it
costs no wall time), and :func:`digest` takes that result when the file is the same
one still (device, inode, size and modification time).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

_Key = tuple[int, int, int, int]
_AHEAD: dict[_Key, Future[str]] = {}


def _key(path: Path) -> _Key:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def digest(path: Path) -> str:
    """The digest of ``path``'s content (taken from :func:`ahead` when it has it)."""
    ahead = _AHEAD.pop(_key(path), None) if _AHEAD else None
    if ahead is not None:
        try:
            return ahead.result()
        except OSError:
            pass  # read again here: the error (if it stays) is raised where it belongs
    return _digest(path)


def ahead(paths: Iterable[Path]) -> None:
    """Start digesting ``paths`` on a thread; files that cannot be read are left to
    :func:`digest`."""
    keyed: list[tuple[Path, Future[str]]] = []
    for p in paths:
        try:
            key = _key(p) if os.path.isfile(p) else None
        except OSError:
            continue
        if key is not None and key not in _AHEAD:  # a file named twice is read once
            _AHEAD[key] = Future()
            keyed.append((p, _AHEAD[key]))
    if not keyed:
        return

    def work() -> None:
        for p, done in keyed:
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(_digest(p))
            except BaseException as e:  # handed to digest(), which would wait forever
                done.set_exception(e)

    # A daemon: a run that stops early (a profile error) does not wait for a big file.
    threading.Thread(target=work, name="digest", daemon=True).start()
