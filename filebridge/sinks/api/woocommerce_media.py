"""Stored photos into the WordPress media library, for the woocommerce_api client:
a ``photo:`` reference (photos without a public folder, filebridge/photos/store.py)
is uploaded once through ``POST /wp-json/wp/v2/media`` and the product is then sent
the attachment by ``id``; WooCommerce itself is never given a URL to download.

Relied on in WordPress core [code: WordPress/WordPress wp-includes/rest-api/endpoints/
class-wp-rest-attachments-controller.php; wp-includes/functions.php
wp_check_filetype_and_ext] and WooCommerce [code: woocommerce/woocommerce
includes/class-wc-rest-authentication.php]:

- The WooCommerce REST key authenticates only ``/wc/`` routes
  (``is_request_to_rest_api``): ``/wp/v2/media`` needs a WordPress user with the
  ``upload_files`` capability and one of its application passwords (HTTP Basic).
  Without them it answers 401 ``rest_cannot_create``; that stops the sink.
- The raw body is the file; ``Content-Type`` is required (``rest_upload_no_content_
  type``) and so is ``Content-Disposition: attachment; filename="..."``
  (``rest_upload_no_content_disposition`` / ``_invalid_disposition``). The file
  is checked by its extension and then its bytes (an image whose bytes are no image
  is refused: "Sorry, you are not allowed to upload this file type.", 500
  ``rest_upload_sideload_error``); such a refusal refuses the records showing it.
- The answer (201) has the attachment's ``id`` and ``source_url``; the title is the
  file name without its extension.

A picture's file name is its stored name (``<sha256>.<ext>``), so its attachment's
title is the digest: before an upload the library is searched for it
(``GET /wp/v2/media?search=``), and an upload whose answer was lost, or a crash
between the upload and the product's update, finds the attachment rather than
making a second one. An upload is never retried blindly: only after the
library was searched again and does not have it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from filebridge.errors import PermanentSinkError, RetryableSinkError
from filebridge.options import expand_env
from filebridge.photos.store import NotStored, PhotoStore
from filebridge.sinks.api.http import Http, error_text
from filebridge.sinks.api.woocommerce_taxonomy import TermError

if TYPE_CHECKING:
    import requests

    from filebridge.sinks.api.woocommerce import WooOptions

MAX_BYTES = 64 * 1024 * 1024  # well above what a host's upload_max_filesize allows


def _refusal(resp: requests.Response) -> bool:
    """An upload WordPress refused for the file itself (not retried, not the sink's
    fault): the record showing it is refused."""
    if resp.status_code not in (400, 500):
        return False
    try:
        code = str((resp.json() or {}).get("code") or "")
    except ValueError:
        return False
    return code.startswith("rest_upload_")


class WpMedia:
    def __init__(self, o: WooOptions, store: Callable[[], PhotoStore | None]):
        self.store = store
        self.http: Http | None = None
        self.once: Http | None = None
        if o.wp_user is not None and o.wp_password is not None:
            base = expand_env(o.url).rstrip("/") + "/wp-json/wp/v2"
            auth = (o.wp_user.reveal(), o.wp_password.reveal())
            self.http = Http(base, o.limits, name="woocommerce: media", auth=auth)
            self.once = Http(base, o.limits.model_copy(update={"retries": 0}),
                             name="woocommerce: media", auth=auth)
        self.lock = threading.Lock()
        self.ids: dict[str, int] = {}  # reference -> attachment id, this run
        self.ref_locks: dict[str, threading.Lock] = {}
        self.uploads = 0

    def close(self) -> None:
        for h in (self.http, self.once):
            if h is not None:
                h.close()

    def attachment(self, ref: str, stale: int | None = None) -> int:
        """The attachment id of a ``photo:`` reference: known this run, found in the
        library by its name, or uploaded now. ``stale``: an id the shop refused (the
        attachment is gone). Raises TermError when the picture cannot be had."""
        with self.lock:
            lock = self.ref_locks.setdefault(ref, threading.Lock())
        with lock:  # two products showing one picture upload it once
            with self.lock:
                got = self.ids.get(ref)
            if got is None or got == stale:
                got = self._fetch(ref, stale)
                with self.lock:
                    self.ids[ref] = got
            return got

    def _fetch(self, ref: str, stale: int | None) -> int:
        store = self.store()
        if store is None:
            raise TermError(f"image {ref}: a photo reference, but the profile's photos "
                            "have no store (photos.public is set)")
        if self.http is None or self.once is None:
            raise PermanentSinkError("woocommerce: photos without a public folder are "
                                     "uploaded to /wp/v2/media, which needs wp_user and "
                                     "wp_password (a WordPress application password)")
        try:
            data, mime, name = store.read(ref, MAX_BYTES)
        except NotStored as e:
            raise TermError(f"image {e}") from None
        stem = name.rsplit(".", 1)[0]
        found = self._find(stem, stale)
        if found is not None:
            return found
        headers = {"Content-Type": mime,
                   "Content-Disposition": f'attachment; filename="{name}"'}
        tries = self.http.limits.retries + 1
        for attempt in range(tries):
            try:
                resp = self.once.request("POST", "/media", data=data, headers=headers,
                                         ok=_refusal)
                break
            except RetryableSinkError:
                found = self._find(stem, stale)  # the answer was lost: did it arrive?
                if found is not None:
                    return found
                if attempt == tries - 1:
                    raise
        if resp.status_code != 201:
            raise TermError(f"image {ref}: WordPress refused it: {error_text(resp)}")
        with self.lock:
            self.uploads += 1
        return int(resp.json()["id"])

    def _find(self, stem: str, stale: int | None) -> int | None:
        """An attachment uploaded earlier with this picture: its title is the stored
        name's stem (``-N`` added when WordPress made the file name unique)."""
        if self.http is None:
            return None
        same = re.compile(re.escape(stem) + r"(?:-\d+)?")
        items: list[dict[str, Any]] = self.http.json(
            "GET", "/media", params={"search": stem, "media_type": "image", "per_page": 20,
                                     "_fields": "id,title"}) or []
        for a in items:
            title = a.get("title") or {}
            text = title.get("rendered") if isinstance(title, dict) else title
            if same.fullmatch(str(text or "")) and int(a["id"]) != stale:
                return int(a["id"])
        return None
