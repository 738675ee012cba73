"""Product images of the loopback Magento: ``media_gallery_entries`` in a product save.

[code: magento/magento2 app/code/Magento/Catalog/Model/ProductRepository/
MediaGalleryProcessor.php ``processMediaGallery``; lib/internal/Magento/Framework/Api/
ImageContentValidator.php; Framework/File/Uploader.php ``getCorrectFileName``,
``getDispersionPath``, ``getNewFileName``]

- Leaving ``media_gallery_entries`` out keeps the gallery. Sending it replaces it: an
  entry with the ``id`` of an existing image updates that image (label, position,
  disabled, types; its file stays); an existing image not listed is removed; an entry
  without an ``id`` is a new image and needs ``content`` (else ``The image content is
  not valid.``). When the product has no image yet, every entry is new. An ``id``
  that is no image of the product is dropped.
- New content: ``base64_encoded_data`` that decodes (strictly) to an image
  ``getimagesizefromstring`` can read (a JPEG with a frame header, a PNG with its
  IHDR, a GIF with its screen size), else ``The image content must be valid base64
  encoded data.``; the sniffed type must equal ``type`` and be image/jpg, image/jpeg,
  image/gif or image/png, else ``The image MIME type is not valid or not supported.``;
  ``name`` must not hold ``\\ / ? * : " ; < > ( ) | { }``, else ``Provided image name
  contains forbidden characters.`` Magento takes no URL: the bytes come in the request.
- The file is stored as ``/<c1>/<c2>/<name>`` (the name's first two characters, other
  characters than ``a-z 0-9 _ - .`` as ``_``), with ``_1``, ``_2``… before the
  extension when that file exists: a picture sent twice is stored twice.
- ``types`` (image, small_image, thumbnail, swatch_image) set those roles; every save
  of the gallery clears the roles first.

Read-back: ``gallery(sku)`` (entries by position with the SHA-256 of their bytes),
``uploads`` (images stored).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from shops.magento.base import MagentoError, ShopState
from shops.magento.stores import ADMIN

MIMES = ("image/jpg", "image/jpeg", "image/gif", "image/png")
FORBIDDEN = re.compile(r'[\\/?*:";<>()|{}]')
ROLES = ("image", "small_image", "thumbnail", "swatch_image")


def sniff(data: bytes) -> str | None:
    """The MIME type getimagesizefromstring reports, or None when it reads no image."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return "image/gif"
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):  # a frame header (SOFn) with the size must follow
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return "image/jpeg"
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def correct_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_\-.]+", "_", name, flags=re.IGNORECASE)


class Media(ShopState):
    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.files: dict[str, bytes] = {}
        self.uploads = 0
        self.next_media = 1

    def gallery(self, sku: str) -> list[dict[str, Any]]:
        with self.lock:
            p = self.products[sku]  # type: ignore[attr-defined]
            return [{"file": m["file"], "label": m["label"], "position": m["position"],
                     "types": list(m["types"]), "disabled": m["disabled"],
                     "sha256": hashlib.sha256(self.files[m["file"]]).hexdigest()}
                    for m in sorted(p.get("media", []), key=lambda m: (m["position"], m["id"]))]

    def plan_gallery(self, existing: list[dict[str, Any]], entries: Any
                     ) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
        """The gallery after the save and the new files, or MagentoError; nothing
        is changed yet."""
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise MagentoError(400, '"%fieldName" is required. Enter and try again.',
                               {"fieldName": "media_gallery_entries"})
        by_id = {m["id"]: m for m in existing}
        kept: list[dict[str, Any]] = []
        new = entries if not existing else [e for e in entries if e.get("id") is None]
        if existing:
            listed = {e["id"]: e for e in entries if e.get("id") is not None}
            for mid, m in by_id.items():
                if mid in listed:
                    e = listed[mid]
                    kept.append({**m, **{k: e[k] for k in ("label", "position", "disabled",
                                                           "types") if k in e}})
        files: dict[str, bytes] = {}
        taken = set(self.files)
        for e in new:
            content = e.get("content")
            if not isinstance(content, dict):
                raise MagentoError(400, "The image content is not valid.")
            data = self._decode(content)
            name = correct_name(str(content.get("name")))
            stem, dot, ext = name.rpartition(".")
            stem, ext = (stem, ext) if dot else (name, "")
            head = "/" + "/".join(c if c != "." else "_" for c in name[:2].lower()) + "/"
            path, n = head + name, 0
            while path in taken:
                n += 1
                path = f"{head}{stem}_{n}{dot}{ext}"
            taken.add(path)
            files[path] = data
            kept.append({"id": None, "file": path, "label": e.get("label"),
                         "position": e.get("position") or 0, "disabled": bool(e.get("disabled")),
                         "types": list(e.get("types") or []),
                         "media_type": e.get("media_type") or "image"})
        return kept, files

    @staticmethod
    def _decode(content: dict[str, Any]) -> bytes:
        try:
            data = base64.b64decode(str(content.get("base64_encoded_data") or ""),
                                    validate=True)
        except (binascii.Error, ValueError):
            data = b""
        mime = sniff(data) if data else None
        if mime is None:
            raise MagentoError(400, "The image content must be valid base64 encoded data.")
        if mime != content.get("type") or mime not in MIMES:
            raise MagentoError(400, "The image MIME type is not valid or not supported.")
        name = str(content.get("name") or "")
        if not name or FORBIDDEN.search(name):
            raise MagentoError(400, "Provided image name contains forbidden characters.")
        return data

    def apply_gallery(self, p: dict[str, Any], media: list[dict[str, Any]],
                      files: dict[str, bytes]) -> None:
        self.files.update(files)
        self.uploads += len(files)
        for m in media:
            if m["id"] is None:
                m["id"] = self.next_media
                self.next_media += 1
        p["media"] = media
        values = p["values"].setdefault(ADMIN, {})
        for role in ROLES:
            values.pop(role, None)
        for m in media:
            for role in m["types"]:
                if role in ROLES:
                    values[role] = m["file"]

    @staticmethod
    def media_out(p: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"id": m["id"], "media_type": m["media_type"], "label": m["label"],
                 "position": m["position"], "disabled": m["disabled"],
                 "types": list(m["types"]), "file": m["file"]}
                for m in sorted(p.get("media", []), key=lambda m: (m["position"], m["id"]))]
