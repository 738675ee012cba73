"""Exceptions, typed by what the caller should do about them.

    FilebridgeError
    ├── ProfileError        fix the profile; nothing was touched
    ├── RejectedFile        quarantine this file with a report, go on with others
    ├── Waiting             not yet: a table or a member of its set is missing; untouched
    ├── SinkError
    │   ├── RetryableSinkError   try again later (network, 5xx, 429)
    │   └── PermanentSinkError   the destination refused; report it
    ├── TransferError       a remote server (SFTP) could not be used; the file stays
    │   ├── RetryableTransferError   dropped, timed out, refused a login: try again later
    │   └── PermanentTransferError   unknown or changed host key, no permission: a person acts
    └── LedgerError         the state store failed: abort, commit nothing

Foreign exceptions (lxml, openpyxl, OSError while reading…) are translated into
these at one seam per stage, so the runner decides with ``except`` clauses.
"""

from __future__ import annotations


class FilebridgeError(Exception):
    """Root of every error filebridge raises on purpose."""


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


class LedgerError(FilebridgeError):
    """The ledger could not be read or written: nothing may be committed."""
