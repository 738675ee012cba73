"""Stored photos into Shopify through staged uploads, for the shopify_api client: a
``photo:`` reference (photos without a public folder, filebridge/photos/store.py) is
uploaded to a staged target and productSet's ``files`` then name its
``resourceUrl`` as ``originalSource``; Shopify never downloads from us.

Relied on [doc: shopify.dev admin-graphql ``stagedUploadsCreate``, ``StagedUploadInput``,
``StagedMediaUploadTarget``; "Upload media to Shopify" (resource IMAGE, httpMethod
POST)]:

- ``stagedUploadsCreate(input: [{resource: IMAGE, filename, mimeType, httpMethod:
  POST, fileSize}])`` answers a target ``url``, a ``resourceUrl`` and
  ``parameters``; the file goes to ``url`` as a multipart form POST with every
  parameter as a form field, in order, and the file last (the storage's signed
  policy checks the fields; fields after the file are not read). The target is
  storage, not the shop: it is not sent the access token.
- A target expires (its signed policy has a lifetime): one is used at once, never
  kept for another run.
- The staged file is temporary: it becomes the product's media only through
  productSet. So a crash between the upload and productSet leaves nothing in the
  shop, and the product's media are still deduplicated by the media ids the sink
  remembers per reference (a media the product has is sent by ``id``, never staged
  again).

Each picture is staged once per run (the ``resourceUrl`` is kept in memory): the
same reference in several products of a batch is one upload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from filebridge.errors import PermanentSinkError
from filebridge.photos.store import NotStored, PhotoStore
from filebridge.sinks.api.http import Http

STAGE = ("mutation Stage($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) "
         "{ stagedTargets { url resourceUrl parameters { name value } } userErrors { field "
         "message } } }")
MAX_BYTES = 20 * 1024 * 1024  # Shopify's limit for an image


class StagedError(Exception):
    """A picture that could not be staged; the product showing it is refused."""


class StagedImages:
    def __init__(self, must: Callable[[str, str, dict[str, Any]], dict[str, Any]],
                 http: Http, store: Callable[[], PhotoStore | None]):
        self.must, self.http, self.store = must, http, store
        self.lock = threading.Lock()
        self.urls: dict[str, str] = {}  # reference -> resourceUrl, this run
        self.ref_locks: dict[str, threading.Lock] = {}
        self.uploads = 0

    def source(self, ref: str) -> str:
        """The ``originalSource`` for a ``photo:`` reference, staged on first need."""
        with self.lock:
            lock = self.ref_locks.setdefault(ref, threading.Lock())
        with lock:
            with self.lock:
                got = self.urls.get(ref)
            if got is None:
                got = self._stage(ref)
                with self.lock:
                    self.urls[ref] = got
            return got

    def _stage(self, ref: str) -> str:
        store = self.store()
        if store is None:
            raise StagedError(f"image {ref}: a photo reference, but the profile's photos "
                              "have no store (photos.public is set)")
        try:
            data, mime, name = store.read(ref, MAX_BYTES)
        except NotStored as e:
            raise StagedError(f"image {e}") from None
        answer = self.must("stagedUploadsCreate", STAGE, {"input": [{
            "resource": "IMAGE", "filename": name, "mimeType": mime, "httpMethod": "POST",
            "fileSize": str(len(data))}]}).get("stagedUploadsCreate") or {}
        errors = answer.get("userErrors") or []
        targets = answer.get("stagedTargets") or []
        if errors or not targets or not targets[0].get("resourceUrl"):
            raise StagedError(f"image {ref}: stagedUploadsCreate: " + ("; ".join(
                str(e.get("message")) for e in errors) or "no target"))
        target = targets[0]
        fields = [(p["name"], p["value"]) for p in target.get("parameters") or []]
        try:
            # requests writes ``data`` fields (in order) before ``files``: the file last.
            self.http.request("POST", target["url"], data=fields,
                              headers={"X-Shopify-Access-Token": None},
                              files={"file": (name, data, mime)})
        except PermanentSinkError as e:  # the storage refused this file (policy, size)
            raise StagedError(f"image {ref}: the staged upload was refused: {e}") from None
        with self.lock:
            self.uploads += 1
        return str(target["resourceUrl"])
