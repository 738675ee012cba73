"""What the runner and the watcher ask of every source, with the defaults that fit
files already on a local disk.

A source lists *candidates* (``candidates()``, oldest first), says when one is
complete (``is_ready`` while watching, ``wait_ready`` on demand), and hands the
pipeline a complete local file with ``fetch(candidate)``. After processing it is
told to ``archive`` or ``quarantine`` that local path, and acts on the original.
Everything one scan does runs inside ``poll()``, so a remote source uses one
connection per poll.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any


class SourceBase:
    # While a file settles (not yet complete), look again this soon (seconds).
    settle_every = 0.25

    def poll(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def fetch(self, candidate: Any) -> AbstractContextManager[Path]:
        """A complete local file for the candidate; a local file is its own."""
        return nullcontext(candidate)

    def fingerprint(self, candidate: Any) -> Hashable | None:
        """What changes when the candidate is replaced; None when it is gone."""
        try:
            st = Path(candidate).stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def verify(self, path: Path) -> None:
        """Raise RejectedFile if the fetched file fails a check the source knows of."""

    def error_target(self, path: Path, when: float) -> str:
        """Where ``quarantine(path, …)`` will put the file: recorded in the ledger
        before anything moves. A file the source does not own stays where it is."""
        return str(path)

    def archived(self, name: str, digest: str) -> str | None:
        """Where a file processed under ``name`` with ``digest`` was archived, when a
        process died between the move and recording it (None: cannot tell, or the
        file is still in the inbox: its next sighting finishes the move)."""
        return None

    def holds(self, target: str) -> bool:
        """Whether something is at ``target`` (a quarantine that was recorded has
        happened, or the file stays where it is)."""
        return os.path.lexists(target)

    def sweep(self) -> int:
        """Remove what a crashed run left behind; returns how many."""
        return 0
