"""What the ledger knows a file by: its content's digest.

Two kinds, told apart by their length. A ledger made since schema version 16 uses
``xxh3-128`` (a tenth of blake2b's cpu: 0.02 s against 0.24 s for a 108 MB export);
one that already held files keeps ``blake2b-256``, so a file it processed is still
recognised when it comes again (``Ledger.digest_kind``, filebridge/ledger/schema.py).
The digest tells contents apart for exactly-once, it does not authenticate them:
whoever can drop a file in the inbox decides what is imported anyway. xxh3 is the
hash the duplicate check and the record skip already rely on.

``run FILE...`` knows its files before the job is built: :func:`ahead` digests them
on a thread meanwhile (hashing and reading release the GIL, so on a second core it
costs no wall time), and :func:`digest` takes that result when the file is the same
one still (device, inode, size and modification time) and the kind is the same.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import xxhash

_Key = tuple[int, int, int, int, str]
_AHEAD: dict[_Key, Future[str]] = {}

NEW = "xxh3-128"  # the kind a new ledger uses
OLD = "blake2b-256"  # the kind of ledgers that held files before schema version 16
_HASHES: dict[str, Callable[[], Any]] = {
    NEW: xxhash.xxh3_128,
    OLD: lambda: hashlib.blake2b(digest_size=32),
}
_KIND_BY_LENGTH = {32: NEW, 64: OLD}  # hex digits


def _key(path: Path, kind: str) -> _Key:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, kind


def _digest(path: Path, kind: str) -> str:
    h = _HASHES[kind]()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return str(h.hexdigest())


def digest(path: Path, kind: str) -> str:
    """The ``kind`` digest of ``path``'s content (taken from :func:`ahead` when it has
    it): the ledger's (``Ledger.digest_kind``), or the file would not be known."""
    ahead = _AHEAD.pop(_key(path, kind), None) if _AHEAD else None
    if ahead is not None:
        try:
            return ahead.result()
        except OSError:
            pass  # read again here: the error (if it stays) is raised where it belongs
    return _digest(path, kind)


def matches(path: Path, dig: str) -> bool:
    """Whether ``path``'s content has the digest ``dig``, of whichever kind it is."""
    kind = _KIND_BY_LENGTH.get(len(dig))
    return kind is not None and _digest(path, kind) == dig


def ahead(paths: Iterable[Path]) -> None:
    """Start digesting ``paths`` on a thread, of the kind a new ledger uses (an older
    ledger's kind is digested when asked); files that cannot be read are left to
    :func:`digest`."""
    kind = NEW
    keyed: list[tuple[Path, Future[str]]] = []
    for p in paths:
        try:
            key = _key(p, kind) if os.path.isfile(p) else None
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
                done.set_result(_digest(p, kind))
            except BaseException as e:  # handed to digest(), which would wait forever
                done.set_exception(e)

    # A daemon: a run that stops early (a profile error) does not wait for a big file.
    threading.Thread(target=work, name="digest", daemon=True).start()
