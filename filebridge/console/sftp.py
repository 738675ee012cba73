"""SFTP health on the console's profile page: per SFTP server a profile uses (its
source, its destinations, its photo folder, as ``filebridge trust`` lists them), the
host key pinned in its known_hosts file and what the ledger keeps about its
contacts and failures. Host, port and login name only: never a password or key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from filebridge.ledger import console as q


@dataclass
class Server:
    uses: str                       # "source", "destination erp", ...
    address: str                    # user@host:port
    known_hosts: str
    pinned: list[str] = field(default_factory=list)  # "ssh-ed25519 SHA256:..."
    pin_error: str | None = None
    failing_since: float | None = None  # from the alerts rows
    host_key_alert: float | None = None  # a changed host key was told then


def _uses(prof: Any) -> list[tuple[str, Any]]:
    uses = [("source", prof.source)] if prof.source.kind == "sftp" else []
    uses += [(f"destination {n}", d) for n, d in prof.destinations.items() if d.kind == "sftp"]
    if prof.photos is not None and prof.photos.sftp is not None:
        uses.append(("photos", prof.photos.sftp))
    return uses


def health(job: Any) -> tuple[list[Server], dict[str, Any]]:
    from filebridge.errors import TransferError
    from filebridge.transport import hostkeys

    uses = _uses(job.profile)
    if not uses:
        return [], {}
    led = q.transfer_health(job.ledger, job.name)
    troubles = led["troubles"]
    out = []
    for what, s in uses:
        srv = Server(what, f"{s.user}@{s.host}:{s.port}", str(s.known_hosts))
        try:
            srv.pinned = [hostkeys.describe(k) for k in hostkeys.pinned(s.known_hosts, s.host,
                                                                        s.port)]
        except TransferError as e:
            srv.pin_error = str(e)
        # alerts.trouble names a source "source" and every delivery "transfer"
        key = "source" if what == "source" else "transfer"
        srv.failing_since = (troubles.get(f"down:{key}") or {}).get("since")
        srv.host_key_alert = (troubles.get(f"host_key:{key}") or {}).get("sent")
        out.append(srv)
    return out, led
