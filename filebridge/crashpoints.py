"""Named points where a test can make the process die at once, as a power cut or
``kill -9`` would, to prove that every step after it is safe to lose.

``FILEBRIDGE_CRASH_AT=<point>`` makes the process SIGKILL itself the first time it
reaches ``crash_point("<point>")``; ``<point>@N`` the N-th time. The variable is
read once at import: in production (unset) a point costs one comparison with None.

Points (where they are, what has happened just before):

    sftp.claimed        sources/sftp.py: the remote file is renamed to its claim
    snapshot.saved      ledger/sqlite.py: a file's snapshots (or patches) are written in
                        the transaction that marks it done, not committed yet
    done.finished       pipeline.py: the ledger says done, the file is not archived yet
    done.archived       pipeline.py: the file is archived, the ledger does not say where
    reject.recorded     quarantine.py: the ledger says rejecting (target chosen), no report
    reject.reported     sources/local.py: the report is beside the target, the file not moved
    reject.moved        sources/local.py: the file is in the error folder, the ledger not final
    duplicate.recorded  quarantine.py: the duplicate's ledger row exists, not archived yet
    api.queued          sinks/api/sink.py: a file's changes for a shop are queued, not sent
    template.part       sinks/template.py: a part of a template output is in scratch
    products.spooled    sinks/productfile.py: a product file's spool is in scratch
    tables.loaded       tables/related.py: a set's members are read into scratch
    photos.staged       photos/folder.py: a photo's copy is written, not renamed into place
    photos.copied       photos/folder.py: a photo is published, the ledger does not know it
    photos.downloaded   photos/remote.py: a photo from SFTP is in scratch, not hashed yet
    shipment.made       shipments/sink.py: the shop made a shipment, the ledger does not know it
"""

from __future__ import annotations

import os
import signal

_AT = os.environ.get("FILEBRIDGE_CRASH_AT") or None
_NAME, _, _NTH = (_AT or "").partition("@")
_LEFT = int(_NTH) if _NTH.isdigit() else 1


def crash_point(name: str) -> None:
    """Die here (SIGKILL, no cleanup) if the environment names this point."""
    global _LEFT
    if _AT is None or name != _NAME:
        return
    _LEFT -= 1
    if _LEFT <= 0:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["crash_point"]
