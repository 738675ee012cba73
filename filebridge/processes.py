"""Whether a process is alive: how a crashed run's leftovers (ledger runs, leases,
temporary outputs, scratch and download folders, all tagged with their pid) are
told from a live process's work on this host."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (one we may not signal counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
