"""A local (or mounted) inbox folder.

A file is a candidate when it matches a pattern; it is *complete* when its size
and mtime have not changed for ``stable_for`` and, if configured, its done-file
exists. Candidates are taken oldest first. Afterwards the file is moved to the
archive (timestamped, never overwriting) or to the error folder with a report.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from filebridge.crashpoints import crash_point
from filebridge.errors import Refused
from filebridge.options import Duration, Model, ProfilePath
from filebridge.outputs import TMP_PREFIX, fsync_dir, write_atomic
from filebridge.registry import REGISTRY
from filebridge.sources.base import SourceBase


class Ready(Model):
    """When a file counts as completely written."""

    stable_for: Duration = Field(2.0, description="size and mtime unchanged for this long "
                                 "(e.g. 10s)")
    done_file: str | None = Field(None, description="also wait for this file beside it, e.g. "
                                  "'{name}.ok' or '{stem}.done'; it is removed afterwards")


class LocalSourceOptions(Model):
    """Files dropped into a local or mounted folder."""

    kind: Literal["local"] = Field("local", description="a local or mounted folder")
    path: ProfilePath = Field(description="the inbox folder")
    pattern: list[str] = Field(["*"], description="file name patterns (glob), e.g. "
                               "['ARTICOLI_*.txt']")
    ready: Ready = Field(default_factory=Ready, description="completeness rule")
    archive: ProfilePath | None = Field(None, description="processed files go here "
                                        "(default: <inbox>/../archive)")
    errors: ProfilePath | None = Field(None, description="rejected files and their reports go "
                                       "here (default: <inbox>/../errors)")
    watch: Literal["events", "polling"] = Field("events", description="events (inotify) for "
                                                "local disks; polling for network mounts "
                                                "(SMB, NFS) where events do not arrive")
    poll_interval: Duration = Field(2.0, description="how often to look when polling")
    links: Literal["refuse", "follow"] = Field(
        "refuse", description="a symbolic link in the inbox: refuse it (moved to the error "
        "folder with a report, never read), or follow it when it leads to a file inside the "
        "inbox (links leading elsewhere are still refused)")

    @field_validator("pattern", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v


@dataclass(frozen=True)
class Seen:
    size: int
    mtime_ns: int
    since: float


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%dT%H%M%S")


def free_name(folder: Path, name: str) -> Path:
    """``name`` with a timestamp in ``folder``, never an existing file."""
    p = Path(name)
    base = f"{p.stem}.{_stamp()}"
    target = folder / f"{base}{p.suffix}"
    n = 1
    while target.exists():
        target = folder / f"{base}-{n}{p.suffix}"
        n += 1
    return target


@REGISTRY.source("local")
class LocalSource(SourceBase):
    Options = LocalSourceOptions

    def __init__(self, options: LocalSourceOptions):
        self.o = options
        self.inbox = options.path
        self.archive_dir = options.archive or options.path.parent / "archive"
        self.errors_dir = options.errors or options.path.parent / "errors"
        self._seen: dict[Path, Seen] = {}

    def folders(self) -> list[Path]:
        return [self.inbox]

    def _done_file(self, path: Path) -> Path | None:
        tmpl = self.o.ready.done_file
        return path.parent / tmpl.format(name=path.name, stem=path.stem) if tmpl else None

    def _is_done_marker(self, name: str) -> bool:
        tmpl = self.o.ready.done_file
        if not tmpl:
            return False
        glob = tmpl.format(name="*", stem="*")
        return fnmatch.fnmatch(name, glob)

    def candidates(self) -> list[Path]:
        """Matching files, oldest first (then by name)."""
        found = []
        try:
            entries = list(os.scandir(self.inbox))
        except FileNotFoundError:
            return []
        for e in entries:
            # A link is listed (to be refused, or followed by fetch) but never stat'ed
            # through: what it points to may be anything, anywhere.
            if not (e.is_symlink() or e.is_file(follow_symlinks=False)) \
                    or e.name.startswith(".") or e.name.startswith(TMP_PREFIX):
                continue
            if self._is_done_marker(e.name) and not any(
                    fnmatch.fnmatch(e.name, p) for p in self.o.pattern if p != "*"):
                continue
            if any(fnmatch.fnmatch(e.name, p) for p in self.o.pattern):
                st = e.stat(follow_symlinks=False)
                found.append((st.st_mtime_ns, e.name, Path(e.path)))
        return [p for _, _, p in sorted(found)]

    def is_ready(self, path: Path, now: float | None = None) -> bool:
        """Non-blocking: true once the file looks complete. Call repeatedly."""
        if self.link_refusal(path):
            return True  # nothing to wait for: fetch refuses it without reading
        now = time.monotonic() if now is None else now
        try:
            st = path.stat()
        except FileNotFoundError:
            self._seen.pop(path, None)
            return False
        done = self._done_file(path)
        if done is not None and not done.exists():
            return False
        prev = self._seen.get(path)
        if prev is None or (prev.size, prev.mtime_ns) != (st.st_size, st.st_mtime_ns):
            # Changed (or first sight): the clock starts now, unless the file is already
            # older than the window (dropped before we started watching).
            age = time.time() - st.st_mtime_ns / 1e9
            since = now - age if prev is None and age >= self.o.ready.stable_for else now
            self._seen[path] = Seen(st.st_size, st.st_mtime_ns, since)
            prev = self._seen[path]
        return now - prev.since >= self.o.ready.stable_for

    def wait_ready(self, path: Path, timeout: float | None = None) -> bool:
        """Blocking variant for on-demand runs: waits out ``stable_for``, but not for a
        done-file that is not there (the ERP may write it much later)."""
        if self.link_refusal(path):
            return True
        done = self._done_file(path)
        if done is not None and not done.exists():
            return False
        deadline = time.monotonic() + (timeout if timeout is not None
                                       else self.o.ready.stable_for * 3 + 5)
        while True:
            if self.is_ready(path):
                return True
            if time.monotonic() > deadline or not path.exists():
                return False
            time.sleep(min(0.2, max(self.o.ready.stable_for / 4, 0.05)))

    def _move(self, path: Path, folder: Path, target: Path | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        target = target or free_name(folder, path.name)
        shutil.move(str(path), target)
        fsync_dir(folder)
        done = self._done_file(path)
        if done is not None:
            done.unlink(missing_ok=True)
        self._seen.pop(path, None)
        return target

    def owns(self, path: Path) -> bool:
        """Files named on the command line from elsewhere are left where they are (the
        folder is compared, not the file: a link in the inbox is the inbox's)."""
        return path.absolute().parent.resolve() == self.inbox.resolve()

    # symbolic links -------------------------------------------------------------------
    def link_refusal(self, path: Path) -> str | None:
        """Why ``path`` is a link that must not be followed; None for a plain file or a
        link ``links: follow`` allows (to a regular file inside the inbox)."""
        if not path.is_symlink():
            return None
        if self.o.links == "refuse":
            return "a symbolic link, refused (links: refuse); it was not read"
        try:
            target = path.resolve(strict=True)
            inside = target.is_relative_to(self.inbox.resolve())
        except (OSError, RuntimeError):
            return "a symbolic link that leads nowhere (or loops), refused; it was not read"
        if not inside:
            return "a symbolic link leading outside the inbox, refused; it was not read"
        if not target.is_file():
            return "a symbolic link to something other than a file, refused; it was not read"
        return None

    @contextmanager
    def fetch(self, candidate: Path) -> Iterator[Path]:
        """The inbox file itself; a link that may not be followed is moved to the error
        folder with a report (the link, never what it points to) and Refused."""
        why = self.link_refusal(candidate)
        if why is not None:
            raise Refused(f"{candidate.name}: {why}; {self._set_aside(candidate, why)}")
        yield candidate

    def _set_aside(self, path: Path, why: str) -> str:
        try:
            points_to = os.readlink(path)
        except OSError:
            points_to = "?"
        report = (f"file: {path.name}\nstatus: refused\nreason: {why}\n"
                  f"link: {points_to}\nwhen: {datetime.now().isoformat(timespec='seconds')}\n")
        try:
            self.errors_dir.mkdir(parents=True, exist_ok=True)
            target = free_name(self.errors_dir, path.name)
            write_atomic(target.with_name(target.name + ".error.txt"), report.encode("utf-8"))
            try:
                os.rename(path, target)  # the link itself: rename never follows it
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
                os.symlink(points_to, target)  # another filesystem: the same link there
                path.unlink()
        except OSError as e:
            return f"it could not be moved to {self.errors_dir} ({e.strerror or e})"
        self._seen.pop(path, None)
        return f"moved to {target}"

    def archived(self, name: str, digest: str) -> str | None:
        if (self.inbox / name).exists() or not self.archive_dir.is_dir():
            return None
        from filebridge.digest import matches

        p = Path(name)  # archived as <stem>.<stamp>[-n]<suffix> (free_name)
        for f in sorted(self.archive_dir.glob(f"{glob.escape(p.stem)}.*{glob.escape(p.suffix)}"),
                        key=lambda f: f.stat().st_mtime, reverse=True):
            if matches(f, digest):
                return str(f)
        return None

    def archive(self, path: Path) -> Path:
        return self._move(path, self.archive_dir) if self.owns(path) else path

    def error_target(self, path: Path, when: float) -> str:
        return str(free_name(self.errors_dir, path.name)) if self.owns(path) else str(path)

    def quarantine(self, path: Path, report: str, target: str | None = None) -> Path:
        """The report first, then the file beside it: a file in the error folder always
        has its report (a crash in between leaves the file in the inbox, redone)."""
        self.errors_dir.mkdir(parents=True, exist_ok=True)
        if not self.owns(path):
            target_ = free_name(self.errors_dir, path.name)
            write_atomic(target_.with_name(target_.name + ".error.txt"), report.encode("utf-8"))
            return target_
        target_ = Path(target) if target else free_name(self.errors_dir, path.name)
        write_atomic(target_.with_name(target_.name + ".error.txt"), report.encode("utf-8"))
        crash_point("reject.reported")
        self._move(path, self.errors_dir, target_)
        crash_point("reject.moved")
        return target_
