"""Staged uploads of images for the loopback Shopify [doc: shopify.dev admin-graphql
``stagedUploadsCreate``, ``StagedUploadInput``, ``StagedMediaUploadTarget``; "Upload
media to Shopify"; Google Cloud Storage "POST Object" with a signed policy document].

- ``stagedUploadsCreate`` with ``resource: IMAGE`` needs ``filename`` and an image
  ``mimeType`` (JPEG, PNG, GIF, WebP, HEIC) and ``httpMethod: POST`` (PUT targets are
  not modelled: refused); ``fileSize``, when given, is the file's exact size. The
  target: ``url`` (``/staged-uploads``), a ``resourceUrl`` and ``parameters``
  (Content-Type, success_action_status, acl, key, x-goog-* and the ``policy``).
- The target (a storage bucket with a signed policy): a multipart POST whose fields
  are every parameter, with its value, before the ``file`` (fields after the file
  are not read, so a parameter given after it is missing); else 403 AccessDenied
  "Invalid according to Policy". The policy expires ``staged_ttl`` seconds after
  the target was made (403 "Policy expired."). A file of another size than
  ``fileSize`` is 400 EntityTooLarge / EntityTooSmall; bytes that are not the
  declared image type are 400 InvalidArgument (invented: the storage takes them and
  Shopify fails the media later, asynchronously, which would pass unnoticed here).
- productSet's ``files`` naming a staged ``resourceUrl`` that nothing was uploaded to
  is refused (invented wording and code: Shopify fails such a media asynchronously).

Read-back: ``staged_files`` (resourceUrl -> bytes), ``staged_uploads`` (count).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from shops.images import image_type
from shops.shopify.base import ShopState, user_error

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic")


def _error(code: str, message: str) -> str:
    return f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>" \
           f"<Message>{message}</Message></Error>"


class StagedMedia(ShopState):
    def __init__(self, *, staged_ttl: float = 300.0, **kw: Any):
        super().__init__(**kw)
        self.staged_ttl = staged_ttl
        self.targets: dict[str, dict[str, Any]] = {}  # key -> the image target issued
        self.staged_files: dict[str, bytes] = {}  # resourceUrl -> bytes uploaded
        self.staged_uploads = 0

    def stage_image(self, i: int, inp: dict[str, Any]) -> tuple[dict[str, Any] | None,
                                                                  dict[str, Any] | None]:
        """(target, None) or (None, user error) for one IMAGE input."""
        at = ["input", str(i)]
        name, mime = str(inp.get("filename") or ""), str(inp.get("mimeType") or "")
        if not name:
            return None, user_error(at + ["filename"], "Filename can't be blank", "BLANK")
        if mime not in IMAGE_TYPES:
            return None, user_error(at + ["mimeType"], f"{mime or 'The MIME type'} is not a "
                                    "supported image type", "INVALID")  # invented wording
        if inp.get("httpMethod", "PUT") != "POST":
            return None, user_error(at + ["httpMethod"], "Only POST targets are modelled by "
                                    "this test server", "INVALID")
        size = inp.get("fileSize")
        key = f"tmp/{uuid.uuid4().hex}/{name}"
        params = [("Content-Type", mime), ("success_action_status", "201"),
                  ("acl", "private"), ("key", key),
                  ("x-goog-date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())),
                  ("x-goog-credential", "merchant-assets@shopify-tiers.iam.gserviceaccount.com"
                                        "/20261207/auto/storage/goog4_request"),
                  ("x-goog-algorithm", "GOOG4-RSA-SHA256"),
                  ("x-goog-signature", uuid.uuid4().hex * 4),
                  ("policy", uuid.uuid4().hex * 2)]
        resource = f"{self.url}/staged-uploads/{key}"
        with self.lock:
            self.targets[key] = {"params": dict(params), "mime": mime, "resource": resource,
                                 "size": int(size) if size not in (None, "") else None,
                                 "expires": time.monotonic() + self.staged_ttl}
        return {"url": f"{self.url}/staged-uploads", "resourceUrl": resource,
                "parameters": [{"name": k, "value": v} for k, v in params]}, None

    def upload_image(self, fields: list[tuple[str, bytes]]) -> tuple[int, str] | None:
        """The staged target for an image's key; None when the key is no image's."""
        got: dict[str, bytes] = {}
        for name, value in fields:
            if name == "file":
                got["file"] = value
                break  # the storage reads no field after the file
            got[name] = value
        key = got.get("key", b"").decode()
        target = self.targets.get(key)
        if target is None:
            return None
        if time.monotonic() > target["expires"]:
            return 403, _error("AccessDenied", "Invalid according to Policy: Policy expired.")
        for k, v in target["params"].items():
            if got.get(k, b"").decode() != v:
                return 403, _error("AccessDenied", "Invalid according to Policy: Policy "
                                   f"Condition failed: [\"eq\", \"${k}\", \"{v}\"]")
        data = got.get("file")
        if data is None:
            return 400, _error("InvalidArgument", "Cannot create buckets using a POST.")
        if target["size"] is not None and len(data) != target["size"]:
            return 400, _error("EntityTooLarge" if len(data) > target["size"]
                               else "EntityTooSmall", "Your proposed upload is "
                               f"{'larger' if len(data) > target['size'] else 'smaller'} "
                               "than the size the policy allows.")
        if image_type(data, IMAGE_TYPES) != target["mime"]:
            return 400, _error("InvalidArgument", f"The file is not {target['mime']}")
        with self.lock:
            self.staged_files[target["resource"]] = data
            self.staged_uploads += 1
        return 201, f"<PostResponse><Key>{key}</Key></PostResponse>"

    def staged_problem(self, files: list[dict[str, Any]]) -> tuple[list[str], str] | None:
        """(field, message) for a files entry naming a staged resourceUrl nothing was
        uploaded to."""
        prefix = f"{self.url}/staged-uploads/"
        for j, f in enumerate(files):
            src = str(f.get("originalSource") or "")
            if not f.get("id") and src.startswith(prefix) and src not in self.staged_files:
                return (["input", "files", str(j), "originalSource"],
                        "The file at the staged upload URL could not be found. Upload it "
                        "before using it")
        return None
