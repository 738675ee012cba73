"""A folder on an SFTP server that receives files: the shop's import folder, the
ERP's inbound folder. Each file is uploaded under a hidden temporary name and
renamed over its final name in one step (posix-rename), then its done-file is
written: the other side never sees a partial file, and a re-delivery after a
crash simply replaces the same name."""

from __future__ import annotations

import logging
import posixpath
import time

from pydantic import Field

from filebridge.errors import PermanentTransferError
from filebridge.outputs import TMP_PREFIX, Staged
from filebridge.registry import REGISTRY
from filebridge.transport.options import SftpKind, SftpServer

log = logging.getLogger("filebridge")

STALE = 3600  # seconds: a temporary this old is a crashed upload's, not one in flight


class SftpDestinationOptions(SftpServer, SftpKind):
    """A folder on an SFTP server."""

    path: str = Field(min_length=1, description="the folder on the server (relative to the "
                      "login folder unless it starts with /); it must exist")


@REGISTRY.destination("sftp")
class SftpDestination:
    Options = SftpDestinationOptions

    def __init__(self, options: SftpDestinationOptions):
        from filebridge.transport.sftp import Session  # paramiko: only when used

        self.o = options
        self.session = Session(options)
        self.folder = options.path.rstrip("/") or "/"
        self._swept = False

    def send(self, files: list[Staged]) -> list[str]:
        if not self._swept:
            self._sweep()
        sent = []
        for f in files:
            final = posixpath.join(self.folder, f.final.name)
            done = f.done_path()
            self.session.upload(f.final, final,
                                posixpath.join(self.folder, done.name) if done else None)
            sent.append(self.session.url(final))
        return sent

    def _sweep(self) -> None:
        """Remove temporaries that crashed uploads left (once per process). Fresh ones
        may belong to another filebridge uploading to the same folder: left alone."""
        self._swept = True
        now = time.time()
        try:
            for e in self.session.listdir(self.folder):
                if e.filename.startswith(TMP_PREFIX) and now - (e.st_mtime or now) > STALE:
                    self.session.remove(posixpath.join(self.folder, e.filename))
        except PermanentTransferError as e:  # a drop-box folder may not be listable
            log.debug("%s: not swept: %s", self.session.url(self.folder), e)

    def remove(self, names: list[str]) -> None:
        """Delete files sent here before; one already gone is no error."""
        for name in names:
            self.session.remove(posixpath.join(self.folder, name))

    def close(self) -> None:
        self.session.close()
