"""A photo checked before anything is published, with Pillow
(https://pillow.readthedocs.io/en/stable/reference/Image.html): the type is what the
bytes say (``Image.open`` sniffs, the name's extension is ignored), the pixel count
is checked against the limit from the header before anything is decoded (a
decompression bomb is a small file that decodes to gigabytes), then the whole
image is decoded, which is what finds a truncated file (Pillow raises "image file
is truncated" unless ``ImageFile.LOAD_TRUNCATED_IMAGES`` is set, and we never set
it). JPEGs are decoded at reduced scale (``Image.draft``): the whole entropy-coded
stream is still read, at a fraction of the memory and time. One photo at a time is
ever in memory, at most ``max_pixels`` large.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from filebridge.photos.spec import WebSize

# What every shop takes (WooCommerce's wc_rest_allowed_image_mime_types, Shopify's
# and Magento's image uploads) and its extension in the published name.
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
_SAVE = {"jpeg": "JPEG", "webp": "WEBP", "png": "PNG"}


class Refused(ValueError):
    """Not a photo we publish; the message says why."""


@dataclass
class Checked:
    format: str  # Pillow's name for it: JPEG, PNG, ...
    width: int
    height: int

    @property
    def ext(self) -> str:
        return FORMATS[self.format]


def check(path: Path, max_pixels: int) -> Checked:
    """Raise :class:`Refused` unless ``path`` is a whole image of an allowed type and
    at most ``max_pixels`` pixels."""
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own limit (and raises past twice it): ours decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format not in FORMATS:
                    raise Refused(f"a {im.format} image; shops take "
                                  + ", ".join(sorted(FORMATS)))
                w, h = im.size
                if w * h > max_pixels:
                    raise Refused(f"{w}x{h} pixels, over the limit of {max_pixels} "
                                  "(max_pixels): a decompression bomb, or far too large")
                if im.format == "JPEG":
                    im.draft(im.mode, (max(1, w // 8), max(1, h // 8)))
                im.load()
                return Checked(im.format, w, h)
    except Refused:
        raise
    except Image.DecompressionBombError as e:
        raise Refused(f"a decompression bomb: {e}") from None
    except UnidentifiedImageError:
        raise Refused("not an image (its bytes are no format Pillow knows)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise Refused(f"broken or truncated image: {e}") from None


def tag(web: WebSize | None) -> str:
    """The rendition's name in the ledger (and in the published file's name)."""
    return "original" if web is None else f"w{web.max_side}q{web.quality}-{web.format}"


def web_bytes(path: Path, checked: Checked, web: WebSize) -> tuple[bytes, str] | None:
    """The web rendition's bytes and extension, or None when the original already is
    one (right format, small enough): published as it is, never re-encoded."""
    fmt = _SAVE[web.format]
    if checked.format == fmt and max(checked.width, checked.height) <= web.max_side:
        return None
    with Image.open(path) as src:
        src.draft("RGB", (web.max_side, web.max_side))  # JPEG: decode at reduced scale
        # A camera's EXIF orientation is applied: the re-encoded file carries none.
        im = ImageOps.exif_transpose(src)
        im.thumbnail((web.max_side, web.max_side), Image.Resampling.LANCZOS)
        if fmt == "JPEG" and im.mode != "RGB":
            im = im.convert("RGB")
        out = io.BytesIO()
        opts = {"quality": web.quality} if fmt in ("JPEG", "WEBP") else {"optimize": True}
        im.save(out, fmt, **opts)
    return out.getvalue(), FORMATS[fmt]
