"""When a photo in a local photo folder is complete: the local source's rule
(filebridge/sources/local.py ``Ready``). Its size and mtime unchanged for
``stable_for`` (a photo already older than that is taken at once: dropped before
the run), and its done-file there when one is configured. A run waits out
``stable_for`` for photos still fresh, as the SFTP photo folder does; one still
changing after ``stable_for * 3 + 5`` seconds, or without its done-file, is a
warning naming it and is left for a later run (pending, not refused). The folder is
read, never changed: done-files stay.

The SFTP photo folder (filebridge/photos/remote.py) waits the same way over its own
listings: :func:`wait_complete`.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Callable, Container
from pathlib import Path
from typing import TYPE_CHECKING

from filebridge.records import FileReport
from filebridge.sources.local import Ready

if TYPE_CHECKING:
    from filebridge.photos.folder import Photos


# A folder's plain files, name -> (size, mtime), and every name in it (done-files
# may be told apart from photos by name only).
Listing = tuple[dict[str, tuple[int, int]], Container[str]]
# Whether a file of that name, size and mtime has stayed so for ``stable_for`` by now.
Stable = Callable[[str, int, int, float], bool]


def marker(ready: Ready, name: str) -> str | None:
    """The done-file's name for the photo ``name``, when one is configured."""
    tmpl = ready.done_file
    return tmpl.format(name=name, stem=posixpath.splitext(name)[0]) if tmpl else None


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Plain, visible files: name -> (size, mtime in ns)."""
    out: dict[str, tuple[int, int]] = {}
    for e in os.scandir(folder):
        if e.name.startswith(".") or not e.is_file():
            continue  # hidden files: an upload still under way, or the system's own
        try:
            st = e.stat()
        except FileNotFoundError:
            continue  # gone meanwhile
        out[e.name] = (st.st_size, st.st_mtime_ns)
    return out


def complete(folder: Path, ready: Ready, photos: Photos, report: FileReport
             ) -> list[tuple[str, tuple[str, ...], int]]:
    """The complete photos of the pattern, by name: name, key, position."""
    # name -> (size, mtime, since when unchanged on the monotonic clock)
    since: dict[str, tuple[int, int, float]] = {}

    def stable(name: str, size: int, mtime: int, now: float) -> bool:
        prev = since.get(name)
        if prev is None or prev[:2] != (size, mtime):
            age = time.time() - mtime / 1e9  # one already that old is taken at once
            start = now - age if prev is None and age >= ready.stable_for else now
            since[name] = prev = (size, mtime, start)
        return now - prev[2] >= ready.stable_for

    def listing() -> Listing:
        files = _listing(folder)
        return files, files

    return wait_complete(listing, stable, ready, photos, report, nap=0.05)[0]


def wait_complete(listing: Callable[[], Listing], stable: Stable, ready: Ready,
                  photos: Photos, report: FileReport, nap: float
                  ) -> tuple[list[tuple[str, tuple[str, ...], int]], dict[str, tuple[int, int]]]:
    """The complete photos of the pattern (name, key, position), and the folder's
    last listing. Photos still changing are listed again every ``stable_for / 4``
    (at least ``nap``, at most 1 s) for up to ``stable_for * 3 + 5`` s; those still
    changing then, or without their done-file, are warnings, left for a later run."""
    files, names = listing()
    markers = {m for n in files if (m := marker(ready, n)) is not None}
    wanted: dict[str, tuple[tuple[str, ...], int]] = {}
    for name in sorted(files):
        if name in markers:
            continue  # a done-file
        matched = photos.match(name, report)
        if matched is None:
            continue
        done = marker(ready, name)
        if done is not None and done not in names:
            report.warn(None, photos.spec.field, f"photo {name}: no {done} yet; taken at "
                        "a later run")
            continue
        wanted[name] = matched
    deadline = time.monotonic() + ready.stable_for * 3 + 5
    while True:
        now = time.monotonic()
        waiting = [n for n in wanted if n in files and not stable(n, *files[n], now)]
        if not waiting or now > deadline:
            break
        time.sleep(min(1.0, max(ready.stable_for / 4, nap)))
        files, names = listing()
    out = []
    for name, (key, position) in wanted.items():
        if name not in files:
            continue  # gone meanwhile
        if name in waiting:
            report.warn(None, photos.spec.field, f"photo {name}: still being written; "
                        "taken at a later run")
            continue
        out.append((name, key, position))
    return out, files
