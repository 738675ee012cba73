"""Images into Vendure assets: each URL downloaded once, each picture uploaded once.

Relied on in ``@vendure/core`` 3.7.3:

- ``createAssets(input: [CreateAssetInput!]!): [CreateAssetResult!]!`` takes the
  file as a GraphQL multipart upload (graphql-upload, ``dist/api/api.module.js``;
  the spec: github.com/jaydenseric/graphql-multipart-request-spec). Files above
  ``assetOptions.uploadMaxFileSize`` (20 MiB by default) are refused. When the
  server enables ``apiOptions.csrfPrevention``, a multipart request needs the
  ``Apollo-Require-Preflight`` header, which is always sent.
- AssetService.getPermittedMimeTypeError refuses a file whose declared type,
  file-name extension or leading bytes are not permitted (``permittedFileTypes``,
  default images, video, audio, PDF): the upload names the file with the
  extension its content type calls for, and such a refusal (``MimeTypeError``)
  refuses the record, naming the URL.
- The asset's name is the uploaded file name. ``translations`` are not sent: an
  asset created with translations lacking the request's language answers
  "Cannot return null for non-nullable field Asset.name" although the asset was
  saved (seen on 3.7.3), which would read as a failure.
- Assets have no alt text, and one asset serves every product that shows the
  same picture, so ``image_alt`` is not carried.
- ``assetIds`` keeps only ids of assets that exist in the channel, silently
  (AssetService.updateEntityAssets): ids remembered from earlier runs are
  checked before they are used, and a picture whose asset was deleted is
  uploaded again.

A picture is known by the SHA-256 of its bytes. Its asset is named
``<file stem>-<first 16 hex digits>.<ext>``, so one that a lost answer hid is
found by name (``filter: {name: {contains}}``) before anything is uploaded again.
The client remembers url -> asset id in each SKU's shop state (``remote``), so a
URL already sent is not downloaded again: a new picture must come with a new URL
(or a changed query string, ``?v=2``).

A ``photo:<name>`` reference (photos without a public folder,
filebridge/photos/store.py) is read from the profile's photo store instead of
downloaded; the rest is the same.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.lazy import lazy
from filebridge.photos.store import NotStored, is_ref
from filebridge.sinks.api.http import Http
from filebridge.sinks.api.vendure_model import ItemError

if TYPE_CHECKING:  # the real modules for the types; at run time, on first use
    import mimetypes

    import requests
else:
    mimetypes = lazy("mimetypes")  # reads the system's type files: ~35 ms at startup
    requests = lazy("requests")

if TYPE_CHECKING:
    from filebridge.sinks.api.vendure import VendureClient

CREATE = "mutation($i:[CreateAssetInput!]!){createAssets(input:$i){...on Asset{id name} " \
         "...on MimeTypeError{message mimeType}}}"
HASH_DIGITS = 16


class Assets:
    def __init__(self, client: VendureClient, max_bytes: int):
        self.c = client
        self.max_bytes = max_bytes
        # An image host that is down refuses the records showing it after a few
        # tries, rather than holding the batch through the shop's full backoff.
        limits = client.o.limits.model_copy(update={"retries": min(client.o.limits.retries, 2)})
        self.http = Http("", limits, name="vendure: image download")
        self.lock = threading.Lock()
        self.by_url: dict[str, str] = {}  # url -> asset id, this run
        self.by_hash: dict[str, str] = {}  # sha256 -> asset id, this run
        self.hash_locks: dict[str, threading.Lock] = {}
        self.checked: set[str] = set()  # remembered asset ids seen to exist this run
        # One upload at a time: Vendure makes the preview in its own (single-threaded)
        # process, so parallel uploads gain nothing, and a server on SQLite (sql.js)
        # interleaves concurrent transactions into constraint failures.
        self.upload_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def resolve(self, urls: list[str], known: dict[str, str]) -> dict[str, str | ItemError]:
        """url -> asset id (downloaded and uploaded when new), or the ItemError that
        refuses the records showing it. ``known``: url -> asset id remembered."""
        out: dict[str, str | ItemError] = {}
        urls = list(dict.fromkeys(urls))
        remembered = {u: known[u] for u in urls if u in known and u not in self.by_url}
        self._check(remembered)
        for url in urls:
            with self.lock:
                got = self.by_url.get(url)
            if got is None and url in remembered and remembered[url] in self.checked:
                got = remembered[url]
            if got is None:
                try:
                    got = self._fetch(url)
                except ItemError as e:
                    out[url] = e
                    continue
            with self.lock:
                self.by_url[url] = got
            out[url] = got
        return out

    def _check(self, remembered: dict[str, str]) -> None:
        """Which remembered asset ids still exist (one query)."""
        ids = sorted({i for i in remembered.values() if i not in self.checked})
        if not ids:
            return
        items = self.c.must("query($i:[String!]!,$n:Int!){assets(options:{take:$n,filter:"
                            "{id:{in:$i}}}){items{id}}}", {"i": ids, "n": len(ids)})
        with self.lock:
            self.checked.update(a["id"] for a in items["assets"]["items"])

    def _fetch(self, url: str) -> str:
        data, mime = self.download(url)
        sha = hashlib.sha256(data).hexdigest()
        with self.lock:
            lock = self.hash_locks.setdefault(sha, threading.Lock())
        with lock:  # two batches showing the same picture upload it once
            with self.lock:
                got = self.by_hash.get(sha)
            if got is None:
                name = file_name(url, mime, sha)
                got = self._find(sha) or self._upload(url, name, data, mime, sha)
                with self.lock:
                    self.by_hash[sha] = got
            return got

    def download(self, url: str) -> tuple[bytes, str]:
        """The image's bytes and content type; any failure is an ItemError naming
        the URL (the record is refused, never sent without its picture)."""
        if is_ref(url):
            return self.stored(url)
        if not url.startswith(("http://", "https://")):
            raise ItemError(f"image {url!r} is not an http:// or https:// address")
        try:
            resp = self.http.request("GET", url, stream=True)
            try:
                size = int(resp.headers.get("Content-Length") or 0)
                if size > self.max_bytes:
                    raise ItemError(f"image {url} is {size} bytes, more than the "
                                    f"{self.max_bytes} Vendure takes")
                chunks, total = [], 0
                for chunk in resp.iter_content(64 * 1024):
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise ItemError(f"image {url} is larger than the {self.max_bytes} "
                                        "bytes Vendure takes")
                    chunks.append(chunk)
            finally:
                resp.close()
        except (PermanentSinkError, RetryableSinkError, requests.RequestException) as e:
            raise ItemError(f"image {url} could not be downloaded: "
                            f"{str(e).replace('vendure: image download: ', '')}") from None
        data = b"".join(chunks)
        if not data:
            raise ItemError(f"image {url} is empty")
        mime = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
        return data, mime

    def stored(self, reference: str) -> tuple[bytes, str]:
        """A ``photo:`` reference's bytes and type, from the profile's store."""
        store = self.c.photos
        if store is None:
            raise ItemError(f"image {reference}: a photo reference, but the profile's "
                            "photos have no store (photos.public is set)")
        try:
            data, mime, _ = store.read(reference, self.max_bytes)
        except NotStored as e:
            raise ItemError(f"image {e}") from None
        return data, mime

    def _find(self, sha: str) -> str | None:
        """An asset uploaded earlier with this picture (its name holds the hash)."""
        tag = sha[:HASH_DIGITS]
        items = self.c.must("query($t:String!){assets(options:{take:10,filter:{name:"
                            "{contains:$t}}}){items{id name}}}", {"t": tag})
        for a in items["assets"]["items"]:
            if tag in a["name"]:
                return str(a["id"])
        return None

    def _upload(self, url: str, name: str, data: bytes, mime: str, sha: str) -> str:
        try:
            with self.upload_lock:
                answer = self.c.upload(CREATE, name, data, mime)
        except RetryableSinkError:
            found = self._find(sha)  # the answer was lost: did it arrive?
            if found is None:
                raise
            return found
        except ItemError as e:
            raise ItemError(f"image {url}: Vendure refused it: {e}") from None
        item = answer["createAssets"][0]
        if "id" not in item:
            raise ItemError(f"image {url}: Vendure refused it: {item.get('message')} "
                            f"({item.get('mimeType')})")
        return str(item["id"])


def file_name(url: str, mime: str, sha: str) -> str:
    """``<stem>-<hash>.<ext>``, the extension the content type calls for (Vendure
    checks that the name's extension is a permitted type)."""
    base = posixpath.basename(unquote(urlsplit(url).path)) or "image"
    stem, ext = posixpath.splitext(base)
    want = mimetypes.guess_extension(mime) if mime else None
    if want == ".jpe":
        want = ".jpg"
    if not ext or (want and mimetypes.guess_type("x" + ext)[0] != mime):
        ext = want or ext or ".bin"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "image"
    return f"{stem[:80]}-{sha[:HASH_DIGITS]}{ext.lower()}"


def known_images(remotes: list[dict[str, Any]]) -> dict[str, str]:
    """url -> asset id from SKUs' remembered shop state."""
    out: dict[str, str] = {}
    for r in remotes:
        out.update((r or {}).get("images") or {})
    return out
