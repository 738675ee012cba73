"""Uploading a file into a profile's inbox from the console: kept aside (under the
ledger's home, never in the inbox) for a preview, then, once applied, written into
the inbox atomically (a hidden temporary the source ignores, fsync'd, renamed), so the
watcher never sees half a file. Local inboxes only."""

from __future__ import annotations

import fnmatch
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from filebridge.outputs import Staged

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class UploadError(ValueError):
    status = 400


class TooLarge(UploadError):
    status = 413


def _area(job: Any) -> Path:
    return Path(job.ledger.home) / ".console-uploads" / job.name


def inbox(job: Any) -> Path | None:
    where = getattr(job.source, "inbox", None)
    return where if isinstance(where, Path) and job.profile.source.kind == "local" else None


def check_name(job: Any, filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    if not name or name.startswith(".") or "\x00" in name or len(name) > 200:
        raise UploadError(f"{filename!r}: not a file name to put in an inbox")
    patterns = list(job.profile.source.pattern)
    if not any(fnmatch.fnmatch(name, p) for p in patterns):
        raise UploadError(f"{name}: the profile takes only {', '.join(patterns)} "
                          "(source.pattern); the watcher would leave it")
    return name


KEEP_FOR = 24 * 3600.0  # an upload neither applied nor discarded is removed after a day


def _sweep(area: Path) -> None:
    if not area.is_dir():
        return
    for old in area.iterdir():
        try:
            if time.time() - old.stat().st_mtime > KEEP_FOR:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass


def keep(job: Any, name: str, data: Any, limit: int) -> tuple[str, Path]:
    """Copy an uploaded stream aside; (token, path). Refused above ``limit`` bytes."""
    _sweep(_area(job))
    token = secrets.token_urlsafe(16)
    folder = _area(job) / token
    folder.mkdir(parents=True)
    path = folder / name
    size = 0
    with open(path, "wb") as out:
        while chunk := data.read(1 << 20):
            size += len(chunk)
            if size > limit:
                out.close()
                shutil.rmtree(folder, ignore_errors=True)
                raise TooLarge(f"{name}: larger than {limit} bytes")
            out.write(chunk)
    return token, path


def kept(job: Any, token: str) -> Path:
    if not TOKEN.match(token):
        raise UploadError("no such upload")
    folder = _area(job) / token
    found = [p for p in folder.iterdir()] if folder.is_dir() else []
    if len(found) != 1:
        raise UploadError("no such upload (applied or discarded already?)")
    return found[0]


def apply(job: Any, token: str) -> Path:
    """Write the kept file into the inbox under its name, atomically; refused when a
    file of that name waits there already. The copy aside is removed."""
    src = kept(job, token)
    where = inbox(job)
    if where is None:
        raise UploadError(f"{job.name}: uploads go to a local inbox only")
    final = where / src.name
    if final.exists():
        raise UploadError(f"{final.name}: a file of that name is in the inbox already")
    staged = Staged(final, job.profile.source.ready.done_file)
    try:
        with staged.open("wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
        staged.commit()
    except BaseException:
        staged.abort()
        raise
    shutil.rmtree(src.parent, ignore_errors=True)
    return final


def discard(job: Any, token: str) -> None:
    if TOKEN.match(token):
        shutil.rmtree(_area(job) / token, ignore_errors=True)
