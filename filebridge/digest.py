"""What the ledger knows a file by: its content's digest."""

from __future__ import annotations

import hashlib
from pathlib import Path


def digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=32)  # faster than sha256 here, as strong
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

