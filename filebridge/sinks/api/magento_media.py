"""Images for the magento_api client: downloaded from the records' URLs and sent as
base64 in ``media_gallery_entries``, each picture once per product.

Relied on [code: magento/magento2 Catalog/Model/ProductRepository/
MediaGalleryProcessor.php; lib/internal/Magento/Framework/Api/ImageContentValidator.php]:

- Magento's REST takes no image URL: a new gallery entry carries ``content``
  (``base64_encoded_data``, ``type``, ``name``), and the type must be the one the bytes
  show (JPEG, PNG or GIF), so it is sniffed here, never taken from the URL.
- A save with ``media_gallery_entries`` replaces the gallery: entries given with the
  ``id`` of an image the product has are kept (label, position and roles updated,
  the file untouched), images left out are removed, entries without an ``id`` are
  uploaded. A save without the key leaves the gallery alone.
- The same bytes sent twice are stored twice (``name_1.jpg``): nothing dedupes them.

So a gallery is written only when the product's images or their labels changed
(compared with what the shop acknowledged), and then against what the product
holds: each file is named ``<stem>-<16 hex digits of its SHA-256>.<ext>``, which
Magento keeps in the stored file name (with a ``_1`` suffix at most), so an image the
product already shows is kept by ``id``, moved or relabelled, never uploaded again.
The digest of each URL is remembered in the SKU's shop state, so a URL already sent
is not downloaded again (a new picture needs a new URL). An upload whose answer was
lost is not repeated blindly: the product is read again and only what is missing is
sent.

A ``photo:<name>`` reference (photos without a public folder,
filebridge/photos/store.py) is read from the profile's photo store instead of
downloaded; the rest is the same.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from filebridge.errors import Bug, PermanentSinkError, RetryableSinkError
from filebridge.photos.store import NotStored, PhotoStore, is_ref
from filebridge.sinks.api.base import Limits
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.magento_shop import ItemError

DIGITS = 16
IN_FILE = re.compile(r"-([0-9a-f]{16})(?:_\d+)?\.[A-Za-z0-9]+$")
ROLES = ["image", "small_image", "thumbnail"]
CACHE_BYTES = 64 * 1024 * 1024  # pictures kept between a product's parent and children


class BadImage(ItemError):
    def __init__(self, url: str, reason: str):
        super().__init__(f"image {url}: {reason}")
        self.url = url


def sniff(data: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) of a JPEG, PNG or GIF; None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", "gif"
    return None


def file_name(url: str, ext: str, sha: str) -> str:
    stem = posixpath.splitext(posixpath.basename(unquote(urlsplit(url).path)))[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._")[:60] or "image"
    return f"{stem}-{sha}.{ext}"


def digest_of(entry: dict[str, Any]) -> str | None:
    m = IN_FILE.search(str(entry.get("file") or ""))
    return m.group(1) if m else None


class Images:
    def __init__(self, limits: Limits, max_bytes: int,
                 store: Callable[[], PhotoStore | None] = lambda: None):
        # An image host that is down refuses the records showing it after a few
        # tries, rather than holding the batch through the shop's whole backoff.
        self.http = Http("", limits.model_copy(update={"retries": min(limits.retries, 2)}),
                         name="magento: image download")
        self.max_bytes = max_bytes
        self.store = store  # the client's photo store (set when the sink is bound)
        self.lock = threading.Lock()
        self.digests: dict[str, str] = {}  # url -> digest, this run
        self.cache: OrderedDict[str, tuple[str, str, str, bytes]] = OrderedDict()
        self.cached = 0
        self.downloads = 0

    def close(self) -> None:
        self.http.close()

    def fetch(self, url: str) -> tuple[str, str, str, bytes]:
        """(digest, MIME type, extension, bytes) of the picture at ``url``."""
        with self.lock:
            got = self.cache.get(url)
            if got is not None:
                self.cache.move_to_end(url)
                return got
        if is_ref(url):
            data, downloaded = self.stored(url), 0
        elif not url.startswith(("http://", "https://")):
            raise BadImage(url, "not an http(s) address")
        else:
            try:
                resp = self.http.request("GET", url, stream=True)
                data = resp.raw.read(self.max_bytes + 1, decode_content=True)
                resp.close()
            except (PermanentSinkError, RetryableSinkError) as e:
                raise BadImage(url, str(e)) from None
            downloaded = 1
        if len(data) > self.max_bytes:
            raise BadImage(url, f"larger than max_image_bytes ({self.max_bytes})")
        kind = sniff(data)
        if kind is None:
            raise BadImage(url, "not a JPEG, PNG or GIF (the types Magento's image content "
                           "validator takes)")
        digest = hashlib.sha256(data).hexdigest()[:DIGITS]
        got = (digest, kind[0], kind[1], data)
        with self.lock:
            self.downloads += downloaded
            self.digests[url] = digest
            self.cache[url] = got
            self.cached += len(data)
            while self.cached > CACHE_BYTES and len(self.cache) > 1:
                _, old = self.cache.popitem(last=False)
                self.cached -= len(old[3])
        return got

    def stored(self, reference: str) -> bytes:
        """A ``photo:`` reference's bytes, from the profile's store."""
        store = self.store()
        if store is None:
            raise BadImage(reference, "a photo reference, but the profile's photos have "
                           "no store (photos.public is set)")
        try:
            return store.read(reference, self.max_bytes)[0]
        except NotStored as e:
            raise BadImage(reference, str(e).removeprefix(reference + " ")) from None

    def plan(self, wanted: list[tuple[str, str]], existing: list[dict[str, Any]],
             known: dict[str, str]) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
        """The gallery entries that give the product ``wanted`` (url, label) in order,
        keeping ``existing`` entries that show the same pictures; the number of
        uploads; url -> digest of every wanted picture. ``known``: url -> digest."""
        pool: dict[str, list[dict[str, Any]]] = {}
        for e in sorted(existing, key=lambda e: (e.get("position") or 0, e.get("id") or 0)):
            d = digest_of(e)
            if d:
                pool.setdefault(d, []).append(e)
        entries, uploads, digests = [], 0, {}
        for pos, (url, label) in enumerate(wanted, 1):
            with self.lock:
                digest = known.get(url) or self.digests.get(url)
            data = None
            if digest is None or not pool.get(digest):
                digest, mime, ext, data = self.fetch(url)
            digests[url] = digest
            entry: dict[str, Any] = {"media_type": "image", "label": label, "position": pos,
                                     "disabled": False, "types": ROLES if pos == 1 else []}
            if pool.get(digest):
                entry["id"] = pool[digest].pop(0)["id"]
            else:
                if data is None:
                    raise Bug("expected data is not None")
                entry["content"] = {"base64_encoded_data": base64.b64encode(data).decode(),
                                    "type": mime, "name": file_name(url, ext, digest)}
                uploads += 1
            entries.append(entry)
        return entries, uploads, digests
