"""Atomic output files: written under a hidden temporary name in the target folder,
flushed to disk, then renamed into place (readers never see a partial file), with
an optional done-file written after the rename.

Leftover temporaries from a crash are recognisable by their prefix and removed
by :func:`sweep` before a profile runs. Their names carry the writing process (a
digest of its host and its pid), so a sweep never removes what a live process on
this host is still writing (another profile may share the folder).

Each staged file also carries the names of the destinations it is delivered to
once published (``deliver:`` on its output); see filebridge/destinations/delivery.py.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from filebridge.processes import pid_alive

TMP_PREFIX = ".filebridge-tmp-"
_HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=3).hexdigest()
FOREIGN_AGE = 3600.0  # another host's temporary this old is a crash's leftover


def _tmp_name(final: Path) -> str:
    return f"{TMP_PREFIX}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}-{final.name}"


def _leftover(p: Path) -> bool:
    """Whether temporary ``p`` was left by a process that is gone."""
    parts = p.name[len(TMP_PREFIX):].split("-", 3)
    if len(parts) < 4 or not parts[1].isdigit():
        return True  # named before temporaries carried their writer
    host, pid = parts[0], int(parts[1])
    if host != _HOST:
        try:
            return time.time() - p.stat().st_mtime > FOREIGN_AGE
        except FileNotFoundError:
            return False
    return not pid_alive(pid)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(final: Path, data: bytes) -> None:
    staged = Staged(final)
    with staged.open("wb") as f:
        f.write(data)
    staged.commit()


class Staged:
    """One output file on its way to its final name."""

    def __init__(self, final: Path, done_file: str | None = None,
                 deliver: Sequence[str] = ()):
        self.final = final
        self.done_file = done_file
        self.deliver = tuple(deliver)
        final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = final.parent / _tmp_name(final)
        self._file: IO[Any] | None = None

    def open(self, mode: str = "wb", **kw: Any) -> IO[Any]:
        self._file = open(self.tmp, mode, **kw)
        return self._file

    def sync(self) -> None:
        """What is written so far, to disk: a writer thread's call every few MiB
        (sinks/csv.py), so the commit's fsync waits for the tail only, not the file."""
        if self._file is not None and not self._file.closed:
            self._file.flush()
            os.fdatasync(self._file.fileno())

    def commit(self) -> Path:
        if self._file is not None and not self._file.closed:
            self._file.close()
        with open(self.tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.tmp, self.final)
        if (done := self.done_path()) is not None:
            write_atomic(done, b"")
        fsync_dir(self.final.parent)
        return self.final

    def done_path(self) -> Path | None:
        if not self.done_file:
            return None
        return self.final.parent / self.done_file.format(name=self.final.name,
                                                         stem=self.final.stem)

    def abort(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self.tmp.unlink(missing_ok=True)


class Outbox:
    """All the files one input produces; published together, or none of them."""

    def __init__(self) -> None:
        self.files: list[Staged] = []

    def stage(self, final: Path, done_file: str | None = None,
              deliver: Sequence[str] = ()) -> Staged:
        for s in self.files:
            if s.final == final:
                raise ValueError(f"two outputs write to {final}")
        staged = Staged(final, done_file, deliver)
        self.files.append(staged)
        return staged

    def routed(self, deliver: Sequence[str]) -> Outbox:
        """This outbox, as one output sees it: what it stages goes to ``deliver`` too."""
        return _Routed(self, deliver) if deliver else self

    def publish(self) -> list[Path]:
        return [s.commit() for s in self.files]

    def abort(self) -> None:
        for s in self.files:
            s.abort()


class _Routed(Outbox):
    def __init__(self, outbox: Outbox, deliver: Sequence[str]):
        self.outbox, self.deliver = outbox, tuple(deliver)
        self.files = outbox.files

    def stage(self, final: Path, done_file: str | None = None,
              deliver: Sequence[str] = ()) -> Staged:
        return self.outbox.stage(final, done_file, self.deliver + tuple(deliver))


def sweep(folders: list[Path]) -> int:
    """Remove temporaries a crashed run left behind; returns how many."""
    n = 0
    for folder in folders:
        if folder.is_dir():
            for p in folder.glob(TMP_PREFIX + "*"):
                if _leftover(p):
                    p.unlink(missing_ok=True)
                    n += 1
    return n
