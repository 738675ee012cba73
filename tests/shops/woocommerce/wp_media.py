"""``/wp-json/wp/v2/media`` of the loopback WooCommerce: WordPress core's REST media
controller, for uploads of the file's raw bytes, as strict as WordPress.

Read in WordPress/WordPress ``wp-includes/rest-api/endpoints/class-wp-rest-
attachments-controller.php`` (``create_item_permissions_check``, ``insert_attachment``,
``upload_from_data``, ``get_filename_from_disposition``), ``wp-includes/functions.php``
(``wp_check_filetype_and_ext``, ``wp_get_image_mime``), ``wp-admin/includes/file.php``
(``_wp_handle_upload``) and woocommerce/woocommerce ``includes/class-wc-rest-
authentication.php`` (``is_request_to_rest_api``: the consumer key opens ``/wc/``
routes only):

- Creating needs a logged-in user who may upload: HTTP Basic with a user's
  application password (spaces in it are ignored). No credentials, or the
  WooCommerce key: 401 ``rest_cannot_create``; a wrong password: 401
  ``incorrect_password``. Listing is public.
- The body is the file: empty is 400 ``rest_upload_no_data``; no Content-Type 400
  ``rest_upload_no_content_type``; no Content-Disposition 400
  ``rest_upload_no_content_disposition``; one without ``filename=`` 400
  ``rest_upload_invalid_disposition``; a ``Content-MD5`` that does not match 412
  ``rest_upload_hash_mismatch``.
- The type: the file name's extension must be an allowed type, and an image's bytes
  must be an image (``wp_get_image_mime``), else 500 ``rest_upload_sideload_error``
  "Sorry, you are not allowed to upload this file type."; an image whose bytes are
  another image type is stored under that type's extension.
- The file name is made unique (``-1``, ``-2``…); the title is the file name without
  its extension. 201 with ``id``, ``title``, ``source_url``, ``mime_type``,
  ``media_type``.
- ``GET /media?search=`` matches titles and file names; ``media_type=image``;
  ``per_page`` (1..100).
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from typing import Any

from checkers.wp_functions import sanitize_file_name

from shops.images import image_type

from .base import WooError, fields, to_int
from .media import Attachment, Media

WP_BASE = "/wp-json/wp/v2"
# get_allowed_mime_types for what a shop uploads: images, and PDF (a non-image type)
IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg",
               "gif": "image/gif", "png": "image/png", "bmp": "image/bmp",
               "tif": "image/tiff", "tiff": "image/tiff", "ico": "image/x-icon",
               "webp": "image/webp"}
OTHER_TYPES = {"pdf": "application/pdf"}
TO_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/bmp": "bmp",
          "image/tiff": "tif", "image/webp": "webp", "image/x-icon": "ico"}
NOT_ALLOWED = "Sorry, you are not allowed to upload this file type."


def image_mime(data: bytes) -> str | None:
    """``wp_get_image_mime``: what the bytes are, for the image types WordPress reads."""
    return image_type(data, TO_EXT)


def filename_from_disposition(values: list[str]) -> str | None:
    """``get_filename_from_disposition``."""
    filename = None
    for value in values:
        value = value.strip()
        if ";" not in value:
            continue
        attrs = {}
        for part in value.split(";", 1)[1].split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                attrs[k.strip()] = v.strip()
        if not attrs.get("filename"):
            continue
        filename = attrs["filename"].strip()
        if len(filename) >= 2 and filename[0] == filename[-1] == '"':
            filename = filename[1:-1]
    return filename


class WpMedia:
    def __init__(self, media: Media, users: dict[str, str]):
        self.media = media
        self.users = users  # login -> application password (without spaces)
        self.uploads = 0

    def _user(self, headers: Any) -> str | None:
        got = headers.get("Authorization") or ""
        if not got.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(got[6:]).decode().partition(":")
        except ValueError:
            return None
        if user not in self.users:
            return None  # e.g. the WooCommerce key: not a WordPress user here
        if re.sub(r"[^a-z\d]", "", password, flags=re.I) != self.users[user]:
            raise WooError(401, "incorrect_password", "The provided password is an invalid "
                           "application password.")
        return user

    def handle(self, method: str, parts: list[str], headers: Any, query: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        if parts == ["media"] and method == "GET":
            return 200, {}, self._list(query)
        if parts == ["media"] and method == "POST":
            if self._user(headers) is None:
                raise WooError(401, "rest_cannot_create", "Sorry, you are not allowed to "
                               "create posts as this user.")
            return 201, {}, self._create(headers, body)
        if len(parts) == 2 and parts[0] == "media" and parts[1].isdigit() and method == "GET":
            a = self.media.image(parts[1])
            if a is None:
                raise WooError(404, "rest_post_invalid_id", "Invalid post ID.")
            return 200, {}, fields(self.view(a), query)
        raise WooError(404, "rest_no_route", "No route was found matching the URL and "
                       "request method.")

    def _create(self, headers: Any, data: bytes) -> dict[str, Any]:
        if not data:
            raise WooError(400, "rest_upload_no_data", "No data supplied.")
        if not headers.get("Content-Type"):
            raise WooError(400, "rest_upload_no_content_type", "No Content-Type supplied.")
        disposition = headers.get_all("Content-Disposition") or []
        if not disposition:
            raise WooError(400, "rest_upload_no_content_disposition",
                           "No Content-Disposition supplied.")
        name = filename_from_disposition(disposition)
        if not name:
            raise WooError(400, "rest_upload_invalid_disposition", "Invalid "
                           "Content-Disposition supplied. Content-Disposition needs to be "
                           'formatted as `attachment; filename="image.png"` or similar.')
        md5 = headers.get("Content-MD5")
        if md5 and md5.strip() != hashlib.md5(data).hexdigest():
            raise WooError(412, "rest_upload_hash_mismatch",
                           "Content hash did not match expected.")
        name = sanitize_file_name(posixpath.basename(name))
        stem, dot, ext = name.rpartition(".")
        ext = ext.lower() if dot else ""
        if ext in IMAGE_TYPES:  # wp_check_filetype_and_ext: an image by its bytes too
            real = image_mime(data)
            if real is None:
                raise WooError(500, "rest_upload_sideload_error", NOT_ALLOWED)
            if real != IMAGE_TYPES[ext]:
                ext = TO_EXT[real]
            mime = real
        elif ext in OTHER_TYPES and data[:4] == b"%PDF":
            mime = OTHER_TYPES[ext]
        else:
            raise WooError(500, "rest_upload_sideload_error", NOT_ALLOWED)
        stem = stem or "file"
        with self.media.state.lock:
            taken = {posixpath.basename(a.file) for a in self.media.attachments.values()}
            file, n = f"{stem}.{ext}", 1
            while file in taken:  # wp_unique_filename
                file = f"{stem}-{n}.{ext}"
                n += 1
            a = Attachment(self.media.state.new_id(), "",
                           f"{self.media.site}/wp-content/uploads/2026/12/{file}",
                           file.rsplit(".", 1)[0], data=data, mime=mime)
            self.media.attachments[a.id] = a
            self.uploads += 1
        return self.view(a)

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        per = to_int(query.get("per_page", 10))
        if not 1 <= per <= 100:
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        term = (query.get("search") or "").lower()
        with self.media.state.lock:
            found = [a for a in sorted(self.media.attachments.values(), key=lambda a: -a.id)
                     if (not term or term in a.title.lower()
                         or term in posixpath.basename(a.file).lower())
                     and (query.get("media_type") != "image"
                          or (a.mime or "image/").startswith("image/"))]
        return [fields(self.view(a), query) for a in found[:per]]

    @staticmethod
    def view(a: Attachment) -> dict[str, Any]:
        mime = a.mime or "image/jpeg"
        return {"id": a.id, "title": {"rendered": a.title, "raw": a.title},
                "source_url": a.file, "mime_type": mime, "alt_text": a.alt,
                "media_type": "image" if mime.startswith("image/") else "file"}
