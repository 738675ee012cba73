"""The media library: images WooCommerce downloads from the ``src`` it is given, and
the attachments a product or variation then points at.

Read in woocommerce/woocommerce ``includes/wc-rest-functions.php``
(``wc_rest_upload_image_from_url``, ``wc_rest_set_uploaded_image_as_attachment``,
``wc_rest_allowed_image_mime_types``) and the V3 products and variations
controllers (``set_product_images``, ``set_variation_image``):

- Every ``{"src": ...}`` is downloaded again, whether or not the same picture is
  already in the library: each send of a ``src`` is a download and a new
  attachment (:attr:`Media.downloads` counts them per URL). ``{"id": n}`` uses the
  attachment as it is; an id that is no image attachment is refused ("#n is an
  invalid image ID.", ``woocommerce_product_invalid_image_id`` /
  ``woocommerce_variation_invalid_image_id``).
- A URL that cannot be fetched (:attr:`Media.broken`, or no http(s) address) is
  "Error getting remote image <url>. Error: Not Found"; a file whose type is not an
  allowed image (jpg, jpeg, jpe, gif, png, bmp, tif, tiff, ico, webp) is "Invalid
  image: Sorry, you are not allowed to upload this file type." Either fails the
  whole product or variation (``woocommerce_product_image_upload_error``), and
  the attachments this request had already made are deleted again.
- ``alt`` (when not empty) is saved on the attachment, also for an ``id``; ``name``
  (when not empty) becomes its title, else the file's name.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from checkers.wp_functions import esc_url_raw, sanitize_file_name, sanitize_text_field

from .base import State, WooError, to_int

IMAGE_EXT = ("jpg", "jpeg", "jpe", "gif", "png", "bmp", "tif", "tiff", "ico", "webp")


@dataclass
class Attachment:
    id: int
    source: str  # the URL it was downloaded from
    file: str  # where the shop serves it
    title: str
    alt: str = ""
    parent: int = 0
    data: bytes = b""  # uploaded through /wp/v2/media (wp_media.py): the file itself
    mime: str = ""  # its type ("" for a downloaded image)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "src": self.file, "name": self.title, "alt": self.alt}


class Media:
    def __init__(self, state: State, site: str = "http://shop.example"):
        self.state = state
        self.site = site
        self.attachments: dict[int, Attachment] = {}
        self.downloads: Counter[str] = Counter()  # source URL -> times downloaded
        self.broken: set[str] = set()  # URLs whose download fails

    def upload(self, src: Any, parent: int) -> Attachment:
        """``wc_rest_upload_image_from_url`` then ``..._set_uploaded_image_as_attachment``."""
        url = esc_url_raw(str(src))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or url in self.broken:
            self.downloads[url] += parts.scheme in ("http", "https")
            raise WooError(400, "woocommerce_rest_invalid_remote_image_url",
                           f"Error getting remote image {url}. Error: Not Found")
        self.downloads[url] += 1
        name = posixpath.basename(parts.path)
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext not in IMAGE_EXT:
            raise WooError(400, "woocommerce_rest_invalid_image", "Invalid image: Sorry, you "
                           "are not allowed to upload this file type.")
        file = sanitize_file_name(name) or "image"
        taken = {posixpath.basename(a.file) for a in self.attachments.values()}
        stem, dot, suffix = file.rpartition(".")
        n = 1
        while file in taken:  # wp_unique_filename
            file = f"{stem}-{n}{dot}{suffix}"
            n += 1
        a = Attachment(self.state.new_id(), url, f"{self.site}/wp-content/uploads/2026/12/{file}",
                       file, parent=parent)
        self.attachments[a.id] = a
        return a

    def image(self, aid: Any) -> Attachment | None:
        """``wp_attachment_is_image``."""
        a = self.attachments.get(to_int(aid))
        return a if a is not None and (a.mime or "image/").startswith("image/") else None

    def resolve(self, images: list[Any], owner: int, kind: str,
                made: list[int]) -> list[int]:
        """Attachment ids for an ``images`` list (or ``[image]``), downloading each
        ``src``; ``made`` collects new attachments for the rollback of a failed
        request. Empty entries are dropped (``array_filter``)."""
        out = []
        for image in images:
            if not image:
                continue
            if not isinstance(image, dict):
                raise WooError(400, "rest_invalid_param", "Invalid parameter(s): images",
                               params={"images": "images[0] is not of type object."})
            aid = to_int(image.get("id"))
            if not aid and image.get("src"):
                try:
                    new = self.upload(image["src"], owner)
                except WooError as e:
                    raise WooError(400, f"woocommerce_{kind}_image_upload_error",
                                   e.message) from None
                made.append(new.id)
                aid = new.id
            a = self.image(aid)
            if a is None:
                raise WooError(400, f"woocommerce_{kind}_invalid_image_id",
                               f"#{aid} is an invalid image ID.")
            if image.get("alt"):
                a.alt = sanitize_text_field(str(image["alt"]))
            if image.get("name"):
                a.title = str(image["name"])
            out.append(aid)
        return out

    def rollback(self, made: list[int]) -> None:
        for aid in made:
            self.attachments.pop(aid, None)
