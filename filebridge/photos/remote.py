"""A photo folder on an SFTP server (``photos: {sftp: ...}``).

The connection is the SFTP source's (filebridge/transport/sftp.py: pinned host
keys, a changed key refused, secrets by reference, transient faults retried with
backoff on a fresh connection). The folder is read, never changed: no claim, no
archive, the done-files stay.

A photo is taken when it is complete by the SFTP source's rule
(filebridge/sources/sftp.py): its size and mtime unchanged for ``ready.stable_for``
on our clock, and its done-file listed when one is configured. A run waits out
``stable_for`` for photos first seen (as the source's ``wait_ready`` does on
demand); one still changing after that, or without its done-file, is a warning
and is left for a later run.

Each photo is downloaded to a fresh folder under the job's scratch root
(``photos-<pid>-…``: the restart sweep, filebridge/job.py ``_sweep_scratch``,
removes one a dead process left), hashed, checked and published from there if its
digest is new, then deleted: one photo on disk at a time, streamed in 1 MiB
chunks. A photo whose (name, size, mtime) is the one last hashed is not downloaded
again, in this process or a new one: the ledger's ``photo_files`` remembers each
name's size, mtime and digest (noted after the photos are taken, so a crash only
costs downloads). A changed size or mtime downloads it again. SFTP gives mtimes in
whole seconds: a photo rewritten within the second it was hashed, at the same
size, is not seen to change (the source's readiness rule shares that limit); a
server that gives no mtime has every photo downloaded.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from filebridge.crashpoints import crash_point
from filebridge.ledger import images as ledger_images
from filebridge.photos.ready import wait_complete
from filebridge.photos.spec import PhotoServer
from filebridge.photos.store import sha256
from filebridge.records import FileReport
from filebridge.sources.local import Seen
from filebridge.sources.sftp import safe_name
from filebridge.transport.sftp import Session

if TYPE_CHECKING:
    from filebridge.photos.folder import PhotoIndex, Photos

log = logging.getLogger("filebridge")


class RemoteFolder:
    def __init__(self, server: PhotoServer, scratch: Path):
        self.server, self.scratch = server, scratch
        self.session = Session(server)
        self.folder = server.path.rstrip("/") or "/"
        self._seen: dict[str, Seen] = {}  # name -> first seen unchanged
        self._listed: set[str] = set()    # every plain file of the last listing
        self.downloads = 0  # photos downloaded by this process (tests, the bench)

    def _list(self) -> tuple[dict[str, tuple[int, int]], set[str]]:
        """Plain files in the folder: safe name -> (size, mtime); and every name."""
        entries = self.session.listdir(self.folder)
        names = {e.filename for e in entries}
        files: dict[str, tuple[int, int]] = {}
        for e in entries:
            raw = e.filename
            if raw.startswith(".") or (e.st_mode is not None and not stat.S_ISREG(e.st_mode)):
                continue  # uploads in progress, folders, links
            if safe_name(raw) != raw:
                log.warning("%s: skipped the remote name %r: not a plain file name",
                            self.session.url(self.folder), raw)
                continue
            files[raw] = (e.st_size or 0, e.st_mtime or 0)
        return files, names

    def _stable(self, name: str, size: int, mtime: int, now: float) -> bool:
        prev = self._seen.get(name)
        if prev is None or (prev.size, prev.mtime_ns) != (size, mtime):
            self._seen[name] = prev = Seen(size, mtime, now)
        return now - prev.since >= self.server.ready.stable_for

    def _complete(self, photos: Photos, report: FileReport
                  ) -> list[tuple[str, int, int, tuple[str, ...], int]]:
        """The complete photos of the pattern: name, size, mtime, key, position."""
        out, files = wait_complete(self._list, self._stable, self.server.ready, photos,
                                   report, nap=0.1)
        for name in set(self._seen) - set(files):
            del self._seen[name]  # gone: a new file of that name starts afresh
        self._listed = set(files)
        return [(name, *files[name], key, position) for name, key, position in out]

    def scan(self, photos: Photos, report: FileReport, index: PhotoIndex,
             new: dict[str, tuple[str, str, str | None, str | None]]) -> None:
        tmp: Path | None = None
        before = self.downloads
        hashed = ledger_images.hashed(photos.ledger, photos.profile)
        noted: list[tuple[str, int, int, str]] = []
        try:
            complete = self._complete(photos, report)
            for name, size, mtime, key, position in complete:
                last = hashed.get(name)
                digest = last[2] if last is not None and mtime and last[:2] == (
                    size, mtime) else None
                row = photos.known(digest) if digest is not None else None
                if digest is not None and row is not None and (
                        photos.published(row) or row.status == "refused"):
                    photos.take(name, key, position, digest, row, Path(name), report,
                                index, new)
                    continue
                if tmp is None:
                    self.scratch.mkdir(parents=True, exist_ok=True)
                    tmp = Path(tempfile.mkdtemp(prefix=f"photos-{os.getpid()}-",
                                                dir=self.scratch))
                local = tmp / name
                attrs = self.session.download(posixpath.join(self.folder, name), local)
                self.downloads += 1
                crash_point("photos.downloaded")
                if (attrs.st_size, attrs.st_mtime) != (size, mtime):
                    self._seen.pop(name, None)
                    report.warn(None, photos.spec.field, f"photo {name}: changed while it "
                                "was downloaded; taken at a later run")
                    local.unlink(missing_ok=True)
                    continue
                digest = sha256(local)
                photos.take(name, key, position, digest, photos.known(digest), local,
                            report, index, new)
                noted.append((name, size, mtime, digest))
                local.unlink(missing_ok=True)
            # Only what the folder holds now: the memory does not grow forever.
            gone = sorted(set(hashed) - self._listed)
            if noted or gone:
                ledger_images.note_hashed(photos.ledger, photos.profile, noted, gone)
            log.info("%s: %d photo(s) complete in %s, %d downloaded", photos.profile,
                     len(complete), photos.spec.where, self.downloads - before)
        finally:
            self.session.close()  # no idle connection between input files
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

