"""A folder on an SFTP server, polled with the local source's rules.

A file is a candidate when it matches a pattern (hidden names never are); it is
complete when its size and mtime have stayed the same across polls for
``stable_for`` (our clock, never the server's) and, if configured, its done-file
and checksum file are there. Oldest first. To take one it is *claimed* (renamed
with a suffix or into a folder: the ERP cannot rewrite it underneath us and a
second poller cannot take it too), downloaded to a temporary local file, checked
(size, then checksum), and only then handed to the pipeline. Afterwards it is
moved to the archive folder (or deleted), or to the error folder with a report.

If anything fails before that, the claim is undone when the server can still be
reached, and a claim left by a crash is taken first on the next poll: the
remote file is never lost and never processed twice.

Remote names come from the server, so they are not trusted: a name with a ``/``
is skipped, control characters and backslashes become ``_``; the local copy
always lands directly in a fresh folder under ``work``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import posixpath
import shutil
import stat
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from filebridge.crashpoints import crash_point
from filebridge.errors import (
    PermanentTransferError,
    RejectedFile,
    RetryableTransferError,
    TransferError,
)
from filebridge.options import Duration, Model, ProfilePath
from filebridge.outputs import TMP_PREFIX
from filebridge.processes import pid_alive
from filebridge.registry import REGISTRY
from filebridge.sources.base import SourceBase
from filebridge.sources.local import Ready, Seen
from filebridge.transport.options import SftpKind, SftpServer

log = logging.getLogger("filebridge")

MAX_NAME = 200  # bytes: room for the temporary prefixes outputs add, under NAME_MAX 255


class Checksum(Model):
    """A checksum file the ERP writes beside each data file."""

    file: str = Field(description="its name, e.g. '{name}.sha256' or '{stem}.md5'; the data "
                      "file is not taken before it exists. Its first word is the hex digest "
                      "(sha256sum's format)")
    algorithm: Literal["md5", "sha1", "sha256", "sha512"] = Field("sha256",
                                                                  description="hash function")


class SftpReady(Ready):
    """When a remote file counts as completely written."""

    checksum: Checksum | None = Field(None, description="also wait for a checksum file, and "
                                      "reject the file when its content does not match")


class Claim(Model):
    """How a file is claimed on the server while it is processed."""

    folder: str | None = Field(None, description="move it into this folder (relative to "
                               "path; created when missing) instead of renaming it in place")
    suffix: str = Field(".processing", min_length=1, description="without folder: rename it "
                        "to its name plus this suffix")


class SftpSourceOptions(SftpServer, SftpKind):
    """Files an ERP or a warehouse drops into a folder on an SFTP server."""

    path: str = Field(min_length=1, description="the inbox folder on the server (relative "
                      "to the login folder unless it starts with /)")
    pattern: list[str] = Field(["*"], description="file name patterns (glob), e.g. "
                               "['ARTICOLI_*.txt']; names starting with . are never taken")
    ready: SftpReady = Field(default_factory=SftpReady, description="completeness rule; "
                             "stability is observed across polls")
    claim: Claim | None = Field(default_factory=Claim, description="rename the file while it "
                                "is processed; null where the server does not allow renames")
    after: Literal["archive", "delete"] = Field("archive", description="what happens to a "
                                                "processed file on the server")
    archive: str = Field("archive", description="processed files go here (relative to path; "
                         "created when missing)")
    errors: str = Field("errors", description="rejected files and their reports go here "
                        "(relative to path; created when missing)")
    poll_interval: Duration = Field(10.0, description="how often to look")
    work: ProfilePath = Field(".filebridge-work", validate_default=True, description="local "
                              "folder for downloads in progress (needs room for the largest "
                              "file)")

    @field_validator("pattern", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v


def safe_name(raw: str) -> str | None:
    """The local name for a remote one, or None if it cannot be a plain file name.

    A server may return any bytes as a name: ``../../etc/x``, ``a/b``, terminal
    escapes. Names with a separator are refused outright (no directory entry has
    one); control and format characters and backslashes become ``_``."""
    if not raw or raw in (".", "..") or "/" in raw or "\x00" in raw:
        return None
    name = "".join("_" if ch == "\\" or unicodedata.category(ch) in ("Cc", "Cf") else ch
                   for ch in raw)
    if len(name.encode("utf-8")) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        if not dot or len(suffix) > 16:
            stem, suffix = name, ""
        keep = MAX_NAME - len(suffix.encode()) - 1
        stem = stem.encode("utf-8")[:keep].decode("utf-8", "ignore")
        name = stem + ("." + suffix if suffix else "")
    return name


@dataclass(frozen=True)
class RemoteFile:
    """A candidate on the server. Equal when it is the same inbox name, claimed or not."""

    original: str                                  # its name in the inbox, as the server has it
    name: str = field(compare=False)               # the safe local name (logs, ledger, outputs)
    remote: str = field(compare=False)             # where it is on the server now
    size: int = field(compare=False)
    mtime: int = field(compare=False)
    claimed: bool = field(compare=False, default=False)  # claimed by an earlier poll


@dataclass
class _Fetched:
    file: RemoteFile
    remote: str
    checksum: str | None = None
    settled: bool = False  # archived, deleted or quarantined: nothing to undo


def _unclaimed(raw: str, suffix: str | None) -> str:
    """The inbox name of a claimed name: every claim suffix off (earlier versions
    claimed a re-taken claim again, leaving ``A.csv.processing.processing``)."""
    if not suffix:
        return raw
    while raw.endswith(suffix) and len(raw) > len(suffix):
        raw = raw[:-len(suffix)]
    return raw


def _oldest(c: RemoteFile) -> tuple[int, str]:
    return (c.mtime, c.original)


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%dT%H%M%S")


@REGISTRY.source("sftp")
class SftpSource(SourceBase):
    Options = SftpSourceOptions

    def __init__(self, options: SftpSourceOptions):
        from filebridge.transport.sftp import Session  # paramiko: only when used

        self.o = options
        self.session = Session(options)
        self.inbox = options.path.rstrip("/") or "/"
        self.settle_every = min(options.poll_interval,
                                max(0.5, options.ready.stable_for / 2))
        self._seen: dict[str, Seen] = {}
        self._listed: set[str] = set()
        self._fetched: dict[Path, _Fetched] = {}
        self._made: set[str] = set()
        self._warned: set[str] = set()

    def _remote(self, folder: str) -> str:
        return posixpath.normpath(posixpath.join(self.inbox, folder))

    @contextmanager
    def poll(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.session.close()

    # which files ------------------------------------------------------------------
    def _marker(self, tmpl: str | None, raw: str) -> str | None:
        return tmpl.format(name=raw, stem=posixpath.splitext(raw)[0]) if tmpl else None

    def _is_marker(self, raw: str) -> bool:
        ck = self.o.ready.checksum
        for tmpl in (self.o.ready.done_file, ck.file if ck else None):
            if tmpl and fnmatch.fnmatchcase(raw, tmpl.format(name="*", stem="*")) and \
                    not any(fnmatch.fnmatchcase(raw, p) for p in self.o.pattern if p != "*"):
                return True
        return False

    def _file(self, raw: str, remote: str, size: int, mtime: int,
              claimed: bool) -> RemoteFile | None:
        name = safe_name(raw)
        if name is None or name.startswith("."):
            self._skip(raw)
            return None
        return RemoteFile(raw, name, remote, size, mtime, claimed)

    def _skip(self, raw: str) -> None:
        if raw not in self._warned:  # once, not every poll
            self._warned.add(raw)
            log.warning("%s: skipped the remote name %r: not a plain file name",
                        self.session.url(self.inbox), raw)

    def candidates(self) -> list[RemoteFile]:
        """Files claimed by an earlier poll first, then matching files, oldest first."""
        entries = self.session.listdir(self.inbox)
        self._listed = {e.filename for e in entries}
        claim = self.o.claim
        suffix = claim.suffix if claim is not None and claim.folder is None else None
        claimed: list[RemoteFile] = []
        found: list[RemoteFile] = []
        for e in entries:
            raw = e.filename
            if "/" in raw or "\x00" in raw:
                self._skip(raw)  # no directory entry has one: a broken or hostile server
                continue
            if raw.startswith(".") or (e.st_mode is not None and not stat.S_ISREG(e.st_mode)):
                continue  # hidden (uploads in progress, our temporaries), folders, links
            remote = posixpath.join(self.inbox, raw)
            original = _unclaimed(raw, suffix)
            is_claim = original != raw
            if not self._wanted(original):
                continue
            c = self._file(original, remote, e.st_size or 0, e.st_mtime or 0, is_claim)
            if c is not None:
                (claimed if is_claim else found).append(c)
        if claim is not None and claim.folder is not None:
            claimed += self._claimed_in(self._remote(claim.folder))
        self._forget({c.original for c in claimed + found})
        return sorted(claimed, key=_oldest) + sorted(found, key=_oldest)

    def _wanted(self, raw: str) -> bool:
        return not self._is_marker(raw) and any(fnmatch.fnmatchcase(raw, p)
                                                for p in self.o.pattern)

    def _claimed_in(self, folder: str) -> list[RemoteFile]:
        try:
            entries = self.session.listdir(folder)
        except PermanentTransferError:
            return []  # no claim folder yet: nothing was ever claimed
        out = []
        for e in entries:
            if "/" in e.filename or "\x00" in e.filename:
                self._skip(e.filename)
            elif not e.filename.startswith(".") and self._wanted(e.filename) and (
                    e.st_mode is None or stat.S_ISREG(e.st_mode)):
                c = self._file(e.filename, posixpath.join(folder, e.filename), e.st_size or 0,
                               e.st_mtime or 0, True)
                if c is not None:
                    out.append(c)
        return out

    def _forget(self, present: set[str]) -> None:
        for gone in set(self._seen) - present:
            del self._seen[gone]

    # when complete -----------------------------------------------------------------
    def _markers_present(self, c: RemoteFile) -> bool:
        ck = self.o.ready.checksum
        for tmpl in (self.o.ready.done_file, ck.file if ck else None):
            marker = self._marker(tmpl, c.original)
            if marker is not None and marker not in self._listed:
                return False
        return True

    def _stable(self, c: RemoteFile, size: int, mtime: int, now: float | None = None) -> bool:
        # Our clock only: the server's may be off, so a file's age proves nothing.
        now = time.monotonic() if now is None else now
        prev = self._seen.get(c.original)
        if prev is None or (prev.size, prev.mtime_ns) != (size, mtime):
            self._seen[c.original] = prev = Seen(size, mtime, now)
        return now - prev.since >= self.o.ready.stable_for

    def is_ready(self, c: RemoteFile, now: float | None = None) -> bool:
        if c.claimed:
            return True  # claimed only once it was complete
        return self._markers_present(c) and self._stable(c, c.size, c.mtime, now)

    def wait_ready(self, c: RemoteFile, timeout: float | None = None) -> bool:
        """For on-demand runs: waits out ``stable_for`` (not a missing done-file)."""
        if c.claimed:
            return True
        if not self._markers_present(c):
            return False
        deadline = time.monotonic() + (timeout if timeout is not None
                                       else self.o.ready.stable_for * 3 + 5)
        while True:
            attrs = self.session.stat(c.remote)
            if attrs is None:
                return False
            if self._stable(c, attrs.st_size or 0, attrs.st_mtime or 0):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(min(1.0, max(self.o.ready.stable_for / 4, 0.1)))

    def sweep(self) -> int:
        """Download folders left by a process that died (its pid is in the name)."""
        n = 0
        prefix = TMP_PREFIX
        for d in self.o.work.glob(prefix + "*") if self.o.work.is_dir() else []:
            pid = d.name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)
                n += 1
        return n

    def fingerprint(self, c: RemoteFile) -> tuple[int, int]:
        return (c.size, c.mtime)

    # taking one -------------------------------------------------------------------
    def _claim(self, c: RemoteFile) -> str:
        claim = self.o.claim
        if claim is None or c.claimed:
            # A claim found on the server is ours from a run that died: resume it where
            # it is. Claiming it again would rename it out of the pattern (suffix) or
            # collide with itself (folder).
            return c.remote
        if claim.folder is not None:
            folder = self._remote(claim.folder)
            self._mkdir(folder)
            target = posixpath.join(folder, c.original)
        else:
            target = c.remote + claim.suffix
        if self.session.stat(target) is not None:
            raise RetryableTransferError(f"{self.session.url(c.remote)}: an earlier file of that "
                                         f"name is still claimed as {target}; it goes first")
        try:
            self.session.rename(c.remote, target)
        except PermanentTransferError as e:
            raise PermanentTransferError(f"{e} (cannot claim it; where the server allows no "
                                         "renames, set claim: null)") from None
        return target

    def _release(self, entry: _Fetched) -> None:
        """Undo a claim, best effort: the file shows in the inbox again as it was."""
        c = entry.file
        original = posixpath.join(self.inbox, c.original)
        if entry.remote == original:
            return
        try:
            self.session.rename(entry.remote, original, attempts=1)
        except Exception:  # the server is gone, or a new file took the name
            log.info("%s: left claimed as %s; taken first on the next poll",
                     c.name, entry.remote)

    @contextmanager
    def fetch(self, c: RemoteFile) -> Iterator[Path]:
        """Claim, download and check the file; yield the complete local copy."""
        expected = None if c.claimed else self._seen.get(c.original)
        entry = _Fetched(c, self._claim(c))
        crash_point("sftp.claimed")
        self.o.work.mkdir(parents=True, exist_ok=True)
        tmpdir = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=self.o.work))
        local = tmpdir / c.name  # a plain name, so always directly inside tmpdir
        try:
            attrs = self.session.download(entry.remote, local)
            if expected is not None and (expected.size, expected.mtime_ns) != (
                    attrs.st_size, attrs.st_mtime):
                self._seen.pop(c.original, None)
                raise RetryableTransferError(f"{self.session.url(c.remote)}: changed while it was "
                                             "being fetched; taken once it is stable again")
            ck = self.o.ready.checksum
            if ck is not None:
                marker = posixpath.join(self.inbox, self._marker(ck.file, c.original) or "")
                entry.checksum = self.session.read_small(marker).decode("ascii", "replace")
            self._fetched[local] = entry
            yield local
        except BaseException:
            if not entry.settled:
                self._release(entry)
            raise
        finally:
            self._fetched.pop(local, None)
            shutil.rmtree(tmpdir, ignore_errors=True)

    def verify(self, path: Path) -> None:
        entry = self._fetched.get(path)
        ck = self.o.ready.checksum
        if entry is None or ck is None or entry.checksum is None:
            return
        words = entry.checksum.split()
        expected = words[0].lower() if words else ""
        h = hashlib.new(ck.algorithm)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if expected != h.hexdigest():
            shown = expected[:64] if all(ch in "0123456789abcdef" for ch in expected) else "?"
            raise RejectedFile(f"checksum mismatch: the checksum file says {shown}, the "
                               f"file's {ck.algorithm} is {h.hexdigest()}")

    # afterwards -------------------------------------------------------------------
    def _mkdir(self, folder: str) -> None:
        if folder not in self._made:
            self.session.makedirs(folder)
            self._made.add(folder)

    def _free(self, folder: str, raw: str) -> str:
        """``raw`` with a timestamp in ``folder``, never an existing file."""
        self._mkdir(folder)
        stem, suffix = posixpath.splitext(raw)
        base = f"{stem}.{_stamp()}"
        target, n = posixpath.join(folder, base + suffix), 1
        while self.session.stat(target) is not None:
            target, n = posixpath.join(folder, f"{base}-{n}{suffix}"), n + 1
        return target

    def _settle(self, entry: _Fetched, folder: str | None, target: str | None = None
                ) -> str | None:
        """Archive (into ``folder``, at ``target`` if chosen before) or delete the
        claimed file; its new remote path."""
        c = entry.file
        if folder is None:
            self.session.remove(entry.remote)
        else:
            target = target or self._free(folder, c.original)
            self.session.rename(entry.remote, target)
        entry.settled = True
        self._seen.pop(c.original, None)
        ck = self.o.ready.checksum
        for tmpl in (self.o.ready.done_file, ck.file if ck else None):
            marker = self._marker(tmpl, c.original)
            if marker is not None:
                self.session.remove(posixpath.join(self.inbox, marker))
        return target

    def archive(self, path: Path) -> Path | str:
        entry = self._fetched.get(path)
        if entry is None:
            return path  # a local file named on the command line stays where it is
        if self.o.after == "delete":
            self._settle(entry, None)
            return f"{self.session.url(entry.remote)} (deleted)"
        return self.session.url(self._settle(entry, self._remote(self.o.archive)) or "")

    def _unurl(self, where: str) -> str:
        """A remote path from what the ledger holds (a path, or its url)."""
        label = self.session.label
        if not where.startswith(label):
            return where
        rest = where[len(label):]
        return rest.removeprefix("/~/")

    def error_target(self, path: Path, when: float) -> str:
        entry = self._fetched.get(path)
        if entry is None:
            return str(path)
        return self.session.url(self._free(self._remote(self.o.errors), entry.file.original))

    def holds(self, target: str) -> bool:
        if not target.startswith(self.session.label):
            return os.path.lexists(target)  # a local file named on the command line
        return self.session.stat(self._unurl(target)) is not None

    def quarantine(self, path: Path, report: str, target: str | None = None) -> Path | str:
        """The report first, then the file beside it (see LocalSource.quarantine)."""
        entry = self._fetched.get(path)
        if entry is None:
            return path
        folder = self._remote(self.o.errors)
        target = self._unurl(target) if target else self._free(folder, entry.file.original)
        self._mkdir(folder)
        try:
            self.session.write_bytes(target + ".error.txt", report.encode("utf-8"))
        except TransferError as e:  # the ack and the ledger carry the reason too
            log.warning("%s: no report beside it: %s", self.session.url(target), e)
        moved = self._settle(entry, folder, target) or ""
        return self.session.url(moved)
