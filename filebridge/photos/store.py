"""The photo store: where checked photos (or their web sizes) are kept when the
profile's ``photos:`` has no ``public`` folder, for the shop API sinks to upload
through each shop's own API.

A record then carries ``photo:<name>`` per picture, ``<name>`` the stored file's
name: ``<digest>.<ext>`` (``<digest>-w<side>q<quality>.<ext>`` for a web size), the
digest the SHA-256 of the original's bytes. The same picture keeps its reference
(no shop hash changes when it is dropped again or renamed); a changed picture gets
a new one. An API sink resolves a reference to the stored bytes
(:meth:`PhotoStore.read`), never over HTTP; a shop file (CSV) needs a URL, so
``filebridge check`` refuses a profile without ``photos.public`` that writes one.

Files are written atomically (filebridge/outputs.py: a crash leaves a temporary
file the restart sweep removes, never half a photo under its name) and never
removed: a change queued in the outbox may name one until the shop has it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filebridge.photos.spec import PhotosSpec

REF = "photo:"
# Only names the store writes: a reference never reaches outside the folder.
NAME = re.compile(r"[0-9a-f]{64}(?:-w\d+q\d+)?\.(jpg|png|webp|gif)")
MIME = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}


class NotStored(ValueError):
    """A ``photo:`` reference the store cannot give; the message says why."""


def sha256(path: Path) -> str:
    """The digest a photo is known and stored by: SHA-256 of its bytes, in hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def is_ref(value: str) -> bool:
    return value.startswith(REF)


def ref(name: str) -> str:
    return REF + name


def store_path(spec: PhotosSpec, home: Path, profile: str) -> Path:
    """The profile's store: ``photos.store``, or ``photos/<profile>`` beside the ledger."""
    return spec.store if spec.store is not None else home / "photos" / profile


class PhotoStore:
    """The stored photos of one profile, as the API sinks read them."""

    def __init__(self, path: Path):
        self.path = path

    def locate(self, reference: str) -> tuple[Path, str, str]:
        """(file, stored name, MIME type) of a ``photo:`` reference."""
        name = reference[len(REF):] if is_ref(reference) else reference
        m = NAME.fullmatch(name)
        if m is None:
            raise NotStored(f"{reference!r} is not a photo reference (photo:<sha256>.<ext>)")
        return self.path / name, name, MIME[m.group(1)]

    def read(self, reference: str, max_bytes: int) -> tuple[bytes, str, str]:
        """(bytes, MIME type, stored name) of a stored photo."""
        path, name, mime = self.locate(reference)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise NotStored(f"{reference} is {size} bytes, over the {max_bytes} the "
                                "shop takes")
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotStored(f"{reference} is not in the photo store {self.path} (removed "
                            "by hand? the next file's photos scan stores it again)") from None
        except OSError as e:
            raise NotStored(f"{reference}: {e.strerror or e}") from None
        if not data:
            raise NotStored(f"{reference} is empty in the photo store {self.path}")
        return data, mime, name
