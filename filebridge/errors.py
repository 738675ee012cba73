"""Exceptions, typed by what the caller should do about them.

    FilebridgeError
    ├── ProfileError        fix the profile; nothing was touched
    ├── RejectedFile        quarantine this file with a report, go on with others
    │   └── OutputError     an output cannot render this file's records (a field its
    │                       columns or path need is absent, a status it cannot take)
    ├── FieldError          one row's value a shop cannot take: that row is rejected
    │                       (defined in catalog/record.py)
    ├── LayoutError         a layout file (copybook, DDS, ...) cannot be compiled
    │                       (defined in layouts/imported.py)
    ├── Refused             not an input at all (a symbolic link the profile does not
    │                       allow): moved aside with a report by its source, never read
    ├── Waiting             not yet: a table or a member of its set is missing; untouched
    ├── SinkError
    │   ├── RetryableSinkError   try again later (network, 5xx, 429)
    │   └── PermanentSinkError   the destination refused; report it
    ├── TransferError       a remote server (SFTP) could not be used; the file stays
    │   ├── RetryableTransferError   dropped, timed out, refused a login: try again later
    │   └── PermanentTransferError   unknown or changed host key, no permission: a person acts
    │       └── HostKeyChanged   the pinned host key differs (alerts tell at once)
    ├── LedgerError         the state store failed: abort, commit nothing
    └── DiskFull            no space left (or a file size limit): nothing of the file is
                            committed, it stays where it was and is redone later

A ``Bug`` (a RuntimeError, outside the tree) says an invariant of filebridge's own
code does not hold: never the input's fault, so never a rejected file.

Foreign exceptions (lxml, openpyxl, OSError while reading…) are translated into
these at one seam per stage, so the runner decides with ``except`` clauses. Anything
else is a bug: it is not turned into a quarantined file but stops the run with its
traceback, and the file stays claimed to be redone once the bug is fixed.

FieldError and LayoutError are also ValueErrors, so pydantic reports them as
profile problems where a validator raises them.
"""

from __future__ import annotations

import errno
import sqlite3


class FilebridgeError(Exception):
    """Root of every error filebridge raises on purpose."""


class Bug(RuntimeError):
    """An invariant of filebridge's own code does not hold (checked with ``if``, not
    ``assert``, so ``python -O`` keeps the check). Reported with its traceback."""


class ProfileError(FilebridgeError):
    """The profile is invalid. ``problems`` lists every one found, already located."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class RejectedFile(FilebridgeError):
    """The whole file cannot be processed (unreadable, truncated, unsafe, empty)."""

    def __init__(self, reason: str, *, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(reason if line is None else f"line {line}: {reason}")


class OutputError(RejectedFile):
    """An output cannot render this file's records: the whole file is rejected with
    the output's reason (the ERP is told, the file goes to the error folder)."""

    def __init__(self, reason: str):
        super().__init__(f"output: {reason}")


class Refused(FilebridgeError):
    """A candidate that is not a file to process: a symbolic link (``links: refuse``,
    or one leading outside the inbox). Its source moved it to the error folder with a
    report, without reading what it points to."""


class Waiting(FilebridgeError):
    """The file cannot be processed yet: a code table it joins against was never
    loaded, or a member of its set has not arrived. Nothing was claimed; it stays
    where it is and is tried again (``status`` lists it)."""


class SinkError(FilebridgeError):
    """A sink could not deliver."""


class RetryableSinkError(SinkError):
    """Temporary: the same delivery may succeed later."""


class PermanentSinkError(SinkError):
    """The destination refused the content; retrying will not help."""


class TransferError(FilebridgeError):
    """A remote server could not be used. Messages name the host and the operation,
    never a secret; nothing was processed or published because of it."""


class RetryableTransferError(TransferError):
    """Temporary: the same operation may succeed later (retried with backoff)."""


class PermanentTransferError(TransferError):
    """Retrying will not help until someone acts (host key, permissions, paths)."""


class HostKeyChanged(PermanentTransferError):
    """The server shows another host key than the one pinned (an alert, at once)."""


class LedgerError(FilebridgeError):
    """The ledger could not be read or written: nothing may be committed."""


class DiskFull(FilebridgeError):
    """A local disk (outputs, scratch, the ledger, a download) has no room left, or a
    file outgrew the size limit the process runs under. Nothing of the file being
    processed was committed; it is redone when there is room again."""


NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def disk_full(e: BaseException) -> DiskFull | None:
    """``e`` (or what caused it) as a DiskFull, if it is one: an OSError saying no
    space, quota or file too large (Arrow's IO errors are OSErrors too), or SQLite's
    SQLITE_FULL from the ledger or a scratch database."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, DiskFull):
            return cur
        if isinstance(cur, OSError) and (cur.errno in NO_SPACE or "No space left" in str(cur)):
            where = f"{cur.filename}: " if cur.filename else ""
            return DiskFull(f"{where}{cur.strerror or cur}")
        if isinstance(cur, sqlite3.Error) and (
                getattr(cur, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "disk is full" in str(cur)):
            return DiskFull(f"SQLite: {cur}")
        cur = cur.__cause__ or cur.__context__
    return None
