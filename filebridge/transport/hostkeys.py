"""Pinned host keys: a profile's own known_hosts file, in OpenSSH's format.

Nothing is ever added silently: an unknown key is refused, a changed key is
refused loudly, and only ``filebridge trust`` (after showing the fingerprint and
asking) writes a key into the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from filebridge.errors import PermanentTransferError
from filebridge.lazy import lazy

if TYPE_CHECKING:  # the real modules for the types; at run time, on first use
    import paramiko
else:
    paramiko = lazy("paramiko")


def host_id(host: str, port: int) -> str:
    """The host's name in known_hosts: OpenSSH writes ``[host]:port`` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def describe(key: paramiko.PKey) -> str:
    """``ssh-ed25519 SHA256:…``: what ``ssh-keygen -lf`` and ``ssh`` show."""
    return f"{key.get_name()} {key.fingerprint}"


def load(known_hosts: Path) -> paramiko.HostKeys:
    if not known_hosts.is_file():
        raise PermanentTransferError(
            f"no known_hosts file at {known_hosts}: run 'filebridge trust PROFILE' to check "
            "the server's host key and pin it")
    keys = paramiko.HostKeys()
    try:
        keys.load(str(known_hosts))
    except (OSError, UnicodeDecodeError) as e:
        raise PermanentTransferError(f"known_hosts {known_hosts} cannot be read ({e})") from None
    except paramiko.hostkeys.InvalidHostKey as e:
        raise PermanentTransferError(f"known_hosts {known_hosts}: a line is not a valid entry: "
                                     f"{e.line[:60]!r}") from None
    return keys


def pinned(known_hosts: Path, host: str, port: int) -> list[paramiko.PKey]:
    """The keys pinned for this host (hashed entries included); [] if none or no file."""
    if not known_hosts.is_file():
        return []
    found = load(known_hosts).lookup(host_id(host, port))
    return list(found.values()) if found else []


def pin(known_hosts: Path, host: str, port: int, key: paramiko.PKey, *,
        replace: bool = False) -> None:
    """Append the key for this host; with ``replace``, drop the host's old lines first.

    Written whole to a temporary file and renamed, so a crash never leaves a
    truncated known_hosts (which would lock every profile out)."""
    name = host_id(host, port)
    lines: list[str] = []
    if known_hosts.is_file():
        lines = known_hosts.read_text(encoding="utf-8").splitlines()
    if replace:
        lines = [ln for ln in lines if not _names(ln, name)]
    lines.append(f"{name} {key.get_name()} {key.get_base64()}")
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    tmp = known_hosts.with_name(f".{known_hosts.name}.tmp{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, known_hosts)


def _names(line: str, name: str) -> bool:
    """Whether a known_hosts line is about ``name`` (plain or hashed entry)."""
    if not line.strip() or line.lstrip().startswith("#"):
        return False
    try:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
    except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError):
        return False
    if entry is None:
        return False
    for h in entry.hostnames:
        if h == name or (h.startswith("|1|") and
                         paramiko.HostKeys.hash_host(name, h.split("|")[2]) == h):
            return True
    return False
